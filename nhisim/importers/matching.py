"""Traced tool calls matched to a scenario: which operation a call is, which template a run serves.

A traced tool is a function name (``search_tickets``, ``github.create_issue``,
``mcp__github__create_issue`` as Claude Code names MCP tools). Its **operation** is guessed
from the name: the first word is the verb (``get``/``search`` read, ``create``/``update``
write, ``send`` send, ``delete`` delete, ``export``, ``run`` execute, ...), the other words
the resource; a prefix before ``.``, ``/`` or ``__`` is a namespace (an MCP server).

Against a scenario, a call resolves to one operation: the tool of the same id if it
exposes one operation (or one with the guessed action, or on the guessed resource); else
the namespace as the tool (an MCP server imported by ``nhisim import mcp``), choosing among
its operations by the guessed action and resource. An invocation serves the scenario
template of its agent whose operations overlap its own the most (Jaccard index), the
operations of what each delegates counted on both sides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nhisim.importers.common import slug
from nhisim.scenario.models import CallStep, DelegateStep, Scenario

VERBS = {
    "read": ("get", "read", "fetch", "search", "find", "query", "lookup", "retrieve", "view", "show", "describe",
             "check", "load", "inspect", "count", "summarize", "summarise", "browse"),
    "list": ("list", "enumerate", "ls"),
    "write": ("create", "update", "write", "put", "set", "add", "edit", "modify", "patch", "upload", "insert",
              "save", "append", "merge", "move", "rename", "commit", "push", "open", "close", "assign", "label",
              "comment", "issue", "refund", "tag", "mark", "resolve", "upsert", "store", "record", "log"),
    "send": ("send", "post", "reply", "notify", "email", "message", "publish", "forward", "share", "invite"),
    "delete": ("delete", "remove", "drop", "destroy", "purge", "revoke", "archive", "cancel"),
    "export": ("export", "dump", "download", "backup", "copy", "sync"),
    "execute": ("run", "execute", "exec", "invoke", "call", "trigger", "deploy", "start", "stop", "restart",
                "eval", "apply", "navigate", "click", "type", "compute", "calculate"),
    "admin": ("admin", "grant", "configure", "manage", "approve", "provision", "rotate"),
}
_VERB = {word: action for action, words in VERBS.items() for word in words}
_WORDS = re.compile(r"[A-Za-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@dataclass(frozen=True)
class OperationGuess:
    """What a tool's name says it does."""

    action: str
    resource: str  # the resource id (namespace-noun)
    namespace: str  # an MCP server or module before the function name, or ""
    noun: str  # the resource words alone
    verb_known: bool


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORDS.findall(_CAMEL.sub(" ", text))]


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def guess_operation(name: str) -> OperationGuess:
    """The action and resource a tool's name suggests (an unknown verb: ``execute``)."""
    parts = [p for p in re.split(r"__|[./:]", name) if p]
    function = parts[-1] if parts else name
    namespace = "-".join(slug(p) for p in parts[:-1] if p.lower() != "mcp")
    words = _words(function)
    action = _VERB.get(words[0]) if words else None
    rest = words[1:] if action else words
    noun = "-".join(_singular(w) for w in rest) or (words[0] if words else "target")
    resource = slug(f"{namespace}-{noun}" if namespace else noun, "target")
    return OperationGuess(action or "execute", resource, namespace, noun, action is not None)


class OperationResolver:
    """Traced tool names resolved to a scenario's operations (``tool:action:resource`` keys)."""

    def __init__(self, scenario: Scenario) -> None:
        self.ops: dict[str, list[tuple[str, str, str]]] = {}
        for tool in scenario.tools:
            for op in tool.operations:
                key = (tool.id, op.action, op.resource)
                if key not in self.ops.setdefault(tool.id, []):
                    self.ops[tool.id].append(key)
        self._cache: dict[str, tuple[tuple[str, str, str] | None, str]] = {}

    def resolve(self, name: str) -> tuple[tuple[str, str, str] | None, str]:
        """(operation, '') for a traced tool name, or (None, why it matches none)."""
        if name not in self._cache:
            self._cache[name] = self._resolve(name)
        return self._cache[name]

    def _resolve(self, name: str) -> tuple[tuple[str, str, str] | None, str]:
        guess = guess_operation(name)
        own = self.ops.get(slug(name, "tool"))
        if own:
            return self._choose(own, guess, slug(name, "tool"))
        if guess.namespace and guess.namespace in self.ops:
            return self._choose(self.ops[guess.namespace], guess, guess.namespace)
        return None, f"no tool {slug(name, 'tool')!r}" + (f" or {guess.namespace!r}" if guess.namespace else "") \
            + " in the scenario"

    @staticmethod
    def _choose(ops: list[tuple[str, str, str]], guess: OperationGuess, tool: str
                ) -> tuple[tuple[str, str, str] | None, str]:
        if len(ops) == 1:
            return ops[0], ""
        by_action = [op for op in ops if op[1] == guess.action]
        by_noun = [op for op in (by_action or ops) if guess.noun and guess.noun in op[2]]
        for pool in (by_noun, by_action):
            if len(pool) == 1:
                return pool[0], ""
        shown = ", ".join(":".join(op) for op in ops[:4])
        return None, f"tool {tool!r} exposes several operations ({shown}) and the name does not tell which"


def template_operations(scenario: Scenario) -> dict[str, set[tuple[str, str, str]]]:
    """Each task template's call operations, those of the sub-tasks it delegates included."""
    tasks = scenario.index().tasks

    def walk(task_id: str, seen: frozenset[str]) -> set[tuple[str, str, str]]:
        ops: set[tuple[str, str, str]] = set()
        for step in tasks[task_id].steps:
            if isinstance(step, CallStep):
                ops.add(step.call.key)
            elif isinstance(step, DelegateStep) and step.delegate.task not in seen and step.delegate.task in tasks:
                ops |= walk(step.delegate.task, seen | {step.delegate.task})
        return ops

    return {task.id: walk(task.id, frozenset({task.id})) for task in scenario.tasks}


def served_templates(scenario: Scenario, agent: str) -> list[str]:
    """The templates an agent runs: those it serves, then those delegated to it."""
    ix = scenario.index()
    served = list(ix.agents[agent].tasks) if agent in ix.agents else []
    for task in scenario.tasks:
        for step in task.steps:
            if isinstance(step, DelegateStep) and step.delegate.agent == agent and step.delegate.task not in served:
                served.append(step.delegate.task)
    return served


def best_template(candidates: list[str], operations: dict[str, set], observed: set) -> tuple[str | None, float]:
    """The candidate whose operations overlap ``observed`` the most (Jaccard index), and the index."""
    best, score = None, 0.0
    for task in candidates:
        ops = operations.get(task, set())
        union = ops | observed
        value = len(ops & observed) / len(union) if union else 0.0
        if value > score:
            best, score = task, value
    return best, score
