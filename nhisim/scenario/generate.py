"""Synthetic agent estates: a plausible, valid scenario built from a handful of knobs.

:func:`generate_estate` builds an organisation's agent estate deterministically from a
seed (its own ``random.Random``, nothing global), so that a researcher can sweep the size
of the estate, the depth and fan-out of delegation, the share of agents behind shared
service accounts and how over-privileged roles are, and get the same estate back from
the same arguments.

What comes out:

- **resources** from a catalogue of familiar systems (CRM, billing ledger, payroll,
  source repository, secrets vault, ...), mostly in prod, some in dev and staging, with
  a realistic mix of sensitivities and record counts;
- **tools** (APIs, MCP servers, CLIs) each fronting a few resources and exposing several
  operations on each (read always; write, list, export, delete, send, execute, admin
  more rarely);
- **departments** and **teams** of agents (teams live in the agents' descriptions and
  ids: the scenario language has no team object). Each team has a few *job functions*:
  a small set of operations its work needs. Each function becomes a task template
  (``<team>-<verb>``) and a least-privilege role (``<team>-<verb>-access``);
- **humans**: one lead per team (owner of its agents), sometimes an analyst who requests
  work, and a pool of approvers;
- **agents** serving one or two task templates, holding the roles of those functions,
  plus a team ``<team>-standing`` role of extra grants when ``over_privilege > 1``;
- **delegation**: a forest of trees with the given fan-out and depth. A root
  (``...-orchestrator-N``) serves an ``<agent>-orchestration`` task that calls some of
  its own operations and delegates ``<child>-subtask`` to each child; each child serves
  its sub-task (arrival rate 0), which in turn delegates to its own children;
- **shared accounts**: a share of the agents grouped (mostly within a team) into
  service accounts of 2-6 holders; each account's roles are the union of its holders'.

Over-privilege: an agent's *needs* are the operations in the intents of the tasks it
serves; its *scope* is the union of its roles' grants. Function roles give exactly the
needs; the team's standing role adds extra operations (first on tools the team already
uses, then on its department's tools, then anywhere) sized so that the team's mean ratio
``scope / needs`` is ``over_privilege`` (capped by how many operations exist).
``over_privilege=1`` gives a least-privilege estate.

:func:`estate_to_yaml` writes any scenario as YAML a person can read (grants as
``tool:action:resource``, rates as ``4/h``) that loads back to an equal scenario.

The catalogues the generator draws from (systems, departments, actions, rates) are in
:mod:`nhisim.scenario.estate_parts`; the YAML writer is :mod:`nhisim.scenario.readable_yaml`.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections import deque
from collections.abc import Sequence
from random import Random
from typing import Any

from nhisim.memory import without_collector
from nhisim.scenario.estate_parts import (
    ACTION_RANK,
    DEADLINES,
    DELEGATION_SHARE,
    DEPARTMENT_NAMES,
    DEPARTMENT_WEIGHTS,
    DEPARTMENTS,
    DOMAIN,
    ENVIRONMENT_WEIGHTS,
    ENVIRONMENTS,
    EXPOSED,
    EXPOSED_BY_KIND,
    GENERIC_TOOLS,
    NEEDED,
    ORCHESTRATION_RATES,
    RESOURCE_INFO,
    RESOURCES,
    SERVICE,
    TASK_RATE_WEIGHTS,
    TASK_RATES,
    TOOL_KINDS,
)
from nhisim.scenario.models import SENSITIVITY_LEVELS, Scenario
from nhisim.scenario.readable_yaml import estate_to_yaml

__all__ = ["generate_estate", "estate_to_yaml"]

# --------------------------------------------------------------------------- helpers


def _weighted_sample(rng: Random, items: Sequence[Any], weights: Sequence[float], k: int) -> list[Any]:
    """``k`` distinct items, drawn with probability proportional to weight (Efraimidis-Spirakis)."""
    keyed = [(rng.random() ** (1.0 / w), i) for i, w in enumerate(weights)]
    keyed.sort(reverse=True)
    return [items[i] for _, i in keyed[:k]]


def _weighted_few(rng: Random, items: Sequence[Any], cum_weights: Sequence[float], k: int) -> list[Any]:
    """``k`` distinct items (k small, items many) drawn by weight; fast for large pools."""
    if k >= len(items):
        return list(items)
    picked: dict[Any, None] = {}
    for _ in range(20 * k):
        picked[rng.choices(items, cum_weights=cum_weights)[0]] = None
        if len(picked) == k:
            return list(picked)
    rest = [x for x in items if x not in picked]
    picked.update(dict.fromkeys(rng.sample(rest, k - len(picked))))
    return list(picked)


def _unique(name: str, taken: dict[str, int]) -> str:
    """``name``, or ``name-2``, ``name-3``, ... if already taken."""
    n = taken.get(name, 0) + 1
    taken[name] = n
    return name if n == 1 else f"{name}-{n}"


def _shift(level: str, by: int) -> str:
    i = min(max(SENSITIVITY_LEVELS.index(level) + by, 0), len(SENSITIVITY_LEVELS) - 1)
    return SENSITIVITY_LEVELS[i]


def _round2(x: float) -> int:
    """An integer rounded to two significant figures (records counts look like 12000, 340)."""
    if x < 10:
        return int(round(x))
    digits = int(math.floor(math.log10(x))) - 1
    return int(round(x, -digits))


def _tree_shape(fanout: int, depth: int, n: int) -> list[tuple[int, ...]]:
    """The first ``n`` nodes (as paths from the root) of a tree with this fan-out and depth.

    One chain from the root down to ``depth`` comes first, so that a tree cut short by
    the number of agents still reaches the full depth; then the rest breadth first.
    Every node's parent comes before it.
    """
    chain = [(0,) * k for k in range(depth + 1)]
    if n <= len(chain):
        return chain[:n]
    nodes = list(chain)
    in_chain = set(chain)
    queue: deque[tuple[int, ...]] = deque([()])
    while queue and len(nodes) < n:
        path = queue.popleft()
        if len(path) >= depth:
            continue
        for i in range(fanout):
            child = path + (i,)
            if child not in in_chain:
                nodes.append(child)
                if len(nodes) >= n:
                    break
            queue.append(child)
    return nodes


def _tree_size(fanout: int, depth: int, cap: int) -> int:
    size, level = 0, 1
    for _ in range(depth + 1):
        size += level
        if size >= cap:
            return cap
        level *= fanout
    return size


def _whole(name: str, value: Any, low: int | None) -> int:
    """``value`` as an int (numpy integers welcome), at least ``low``; else a clear ValueError."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if low is not None and number < low:
        raise ValueError(f"{name} must be >= {low}, got {number}")
    return number


def _number(name: str, value: Any, low: float, high: float) -> float:
    """``value`` as a float within ``[low, high]`` (finite); else a clear ValueError."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not (low <= number <= high and math.isfinite(number)):
        bounds = f"between {low:g} and {high:g}" if math.isfinite(high) else f">= {low:g}"
        raise ValueError(f"{name} must be {bounds}, got {value!r}")
    return number


# --------------------------------------------------------------------------- the generator


@without_collector  # hundreds of thousands of containers, none of them garbage
def generate_estate(
    agents: int = 50,
    tools: int = 10,
    resources: int = 20,
    fanout: int = 2,
    depth: int = 3,
    shared_share: float = 0.2,
    over_privilege: float = 2.0,
    discovery_probability: float = 0.02,
    seed: int = 0,
    name: str | None = None,
    threats: list[Any] | None = None,
    delegation_share: float = DELEGATION_SHARE,
) -> Scenario:
    """Build a plausible, valid agent estate, the same every time for the same arguments.

    Parameters
    ----------
    agents, tools, resources:
        how many of each (exactly).
    fanout, depth:
        shape of the delegation trees: each orchestrator delegates to ``fanout`` agents,
        down to ``depth`` hops (0 for no delegation). The longest ``may_delegate_to``
        chain is ``depth`` whenever there are more than ``depth`` agents.
    shared_share:
        share of the agents that hold a shared service account (groups of 2-6).
    over_privilege:
        mean ratio of an agent's role scope to the operations its tasks need
        (1 = least privilege; capped by how many operations the tools expose).
    discovery_probability:
        every agent's chance per task of trying an operation outside the task's intent.
    seed:
        everything random is drawn from ``random.Random(seed)``.
    name:
        the scenario's name (default ``estate-<agents>a-s<seed>``).
    threats:
        threat entries (dicts or models) passed through to the scenario; none by default.
    delegation_share:
        share of the agents placed in delegation trees (at least one full chain when
        delegation is on).
    """
    agents = _whole("agents", agents, 0)
    tools = _whole("tools", tools, 1 if agents else 0)
    resources = _whole("resources", resources, 1 if tools else 0)
    fanout = _whole("fanout", fanout, 0)
    depth = _whole("depth", depth, 0)
    seed = _whole("seed", seed, None)
    shared_share = _number("shared_share", shared_share, 0.0, 1.0)
    over_privilege = _number("over_privilege", over_privilege, 1.0, math.inf)
    discovery_probability = _number("discovery_probability", discovery_probability, 0.0, 1.0)
    delegation_share = _number("delegation_share", delegation_share, 0.0, 1.0)

    rng = Random(seed)
    params = dict(
        agents=agents, tools=tools, resources=resources, fanout=fanout, depth=depth,
        shared_share=shared_share, over_privilege=over_privilege,
        discovery_probability=discovery_probability, seed=seed,
    )
    if delegation_share != DELEGATION_SHARE:
        params["delegation_share"] = delegation_share
    call = "generate_estate(" + ", ".join(f"{k}={v!r}" for k, v in params.items()) + ")"

    # ---- resources
    res_ids: list[str] = []
    res_base: dict[str, str] = {}
    res_sens: dict[str, str] = {}
    res_env: dict[str, str] = {}
    resource_rows: list[dict[str, Any]] = []
    taken: dict[str, int] = {}
    catalogue = [r[0] for r in RESOURCES]
    for i in range(resources):
        if i % len(catalogue) == 0:
            rng.shuffle(catalogue)
        base = catalogue[i % len(catalogue)]
        kind, sens, (lo, hi) = RESOURCE_INFO[base]
        env = rng.choices(ENVIRONMENTS, ENVIRONMENT_WEIGHTS)[0] if i >= 3 else "prod"
        u = rng.random()
        sens = _shift(sens, -1 if u < 0.15 else (1 if u > 0.85 else 0))
        if env != "prod":
            sens = _shift(sens, -1)
        records = _round2(10 ** rng.uniform(lo, hi))
        if env != "prod":
            records = _round2(max(records / 100, 10))
        rid = _unique(base if env == "prod" else f"{base}-{env}", taken)
        res_ids.append(rid)
        res_base[rid], res_sens[rid], res_env[rid] = base, sens, env
        row: dict[str, Any] = {"id": rid, "kind": kind, "sensitivity": sens, "records": records}
        if env != "prod":
            row["environment"] = env
        resource_rows.append(row)

    # ---- tools: tool t fronts resource t (or another interface to resource t % resources);
    # the other resources go behind a tool of the same system, else of the same domain
    tool_res: list[list[str]] = [[res_ids[t % resources]] for t in range(tools)]
    by_base: dict[str, list[int]] = {}
    by_domain: dict[str, list[int]] = {}
    for t in range(min(tools, resources)):
        by_base.setdefault(res_base[res_ids[t]], []).append(t)
        by_domain.setdefault(DOMAIN[res_base[res_ids[t]]], []).append(t)
    res_by_domain: dict[str, list[str]] = {}
    for rid in res_ids:
        res_by_domain.setdefault(DOMAIN[res_base[rid]], []).append(rid)
    for rid in res_ids[tools:]:
        base = res_base[rid]
        candidates = by_base.get(base) or by_domain.get(DOMAIN[base])
        t = rng.choice(candidates) if candidates else rng.randrange(tools)
        tool_res[t].append(rid)
    for t in range(tools):
        if rng.random() < 0.25:
            extra = rng.choice(res_by_domain[DOMAIN[res_base[tool_res[t][0]]]])
            if extra not in tool_res[t]:
                tool_res[t].append(extra)
    tool_ids: list[str] = []
    tool_ops: dict[str, list[tuple[str, str, str]]] = {}
    tool_rows: list[dict[str, Any]] = []
    taken = {}
    for t in range(tools):
        kind = TOOL_KINDS[rng.randrange(3)] if t >= resources else ("api" if rng.random() < 0.6 else "mcp")
        primary = tool_res[t][0]
        if len({DOMAIN[res_base[r]] for r in tool_res[t]}) > 1:  # reaches across systems: a generic tool
            tid = _unique(GENERIC_TOOLS[t % len(GENERIC_TOOLS)], taken)
            kind = tid.rsplit("-", 1)[1] if tid.rsplit("-", 1)[1] in TOOL_KINDS else kind
        else:
            tid = _unique(f"{res_base[primary]}-{kind}", taken)
        ops: list[tuple[str, str, str]] = []
        for rid in tool_res[t]:
            boost = EXPOSED_BY_KIND.get(RESOURCE_INFO[res_base[rid]][0], {})
            actions = ["read"] + [a for a, p in EXPOSED.items() if rng.random() < boost.get(a, p)]
            actions.sort(key=ACTION_RANK.__getitem__)
            ops.extend((tid, a, rid) for a in actions)
        tool_ids.append(tid)
        tool_ops[tid] = ops
        tool_rows.append({
            "id": tid,
            "kind": kind,
            "operations": [{"action": a, "resource": r} for _, a, r in ops],
        })
    all_ops = [op for tid in tool_ids for op in tool_ops[tid]]

    # ---- departments: the tools each one works through (weighted by its resources)
    dept_ops: dict[str, list[tuple[str, str, str]]] = {}
    dept_cum_weights: dict[str, list[float]] = {}
    n_home = min(tools, max(2, math.ceil(0.3 * tools)))
    for dept, (_, affinity, _, _, _) in DEPARTMENTS.items():
        aff = set(affinity)
        weights = [1.0 + 8.0 * sum(res_base[r] in aff for r in tool_res[t]) for t in range(tools)]
        home = _weighted_sample(rng, tool_ids, weights, n_home)
        dept_ops[dept] = [op for tid in home for op in tool_ops[tid]]
        dept_cum_weights[dept] = list(itertools.accumulate(
            NEEDED.get(a, 1.0) * (6.0 if res_base[r] in aff else 1.0) for _, a, r in dept_ops[dept]
        ))

    # ---- teams: consecutive runs of agents, each in a department, with 2-4 job functions
    teams: list[dict[str, Any]] = []
    agent_team: list[int] = []
    taken = {}
    while len(agent_team) < agents:
        size = min(rng.randint(3, 10), agents - len(agent_team))
        dept = rng.choices(DEPARTMENT_NAMES, DEPARTMENT_WEIGHTS)[0]
        _, _, team_words, verbs, outbound = DEPARTMENTS[dept]
        team_id = _unique(f"{dept}-{rng.choice(team_words)}", taken)
        pool = dept_ops[dept]
        pool_weights = dept_cum_weights[dept]
        functions = []
        for verb in rng.sample(verbs, min(len(verbs), rng.randint(2, 4))):
            k = min(len(pool), rng.choices((1, 2, 3, 4), (2, 4, 3, 1))[0])
            ops = _weighted_few(rng, pool, pool_weights, k)
            ops.sort(key=lambda op: (ACTION_RANK.get(op[1], 99), op[0], op[2]))
            functions.append({"verb": verb, "ops": ops, "used": False, "team_task": False})
        teams.append({
            "id": team_id, "dept": dept, "outbound": outbound, "functions": functions,
            "members": list(range(len(agent_team), len(agent_team) + size)),
        })
        agent_team.extend([len(teams) - 1] * size)

    # ---- delegation forest
    parent: dict[int, int] = {}
    children: dict[int, list[int]] = {}
    in_tree: set[int] = set()
    if fanout >= 1 and depth >= 1 and agents >= 2 and delegation_share > 0:
        budget = min(agents, max(round(delegation_share * agents), depth + 1))
        # trees mostly stay within a department: lay them out over the chosen agents sorted by it
        dept_rank = {d: i for i, d in enumerate(rng.sample(DEPARTMENT_NAMES, len(DEPARTMENT_NAMES)))}
        chosen = rng.sample(range(agents), budget)
        chosen.sort(key=lambda a: (dept_rank[teams[agent_team[a]]["dept"]], agent_team[a]))
        tree_size = _tree_size(fanout, depth, budget)
        pos = 0
        while budget - pos >= 2:
            shape = _tree_shape(fanout, depth, min(tree_size, budget - pos))
            where = {path: chosen[pos + i] for i, path in enumerate(shape)}
            for path, a in where.items():
                in_tree.add(a)
                if path:
                    p = where[path[:-1]]
                    parent[a] = p
                    children.setdefault(p, []).append(a)
            pos += len(shape)

    # ---- what each agent does
    served: list[list[tuple[str, int]]] = []  # (template kind, function index) per agent
    for a in range(agents):
        functions = teams[agent_team[a]]["functions"]
        idx = list(range(len(functions)))
        if a in in_tree:
            first = rng.choice(idx)
            jobs = [("tree", first)]
            others = [i for i in idx if i != first]
            if others and rng.random() < 0.4:
                jobs.append(("team", rng.choice(others)))
        else:
            jobs = [("team", i) for i in rng.sample(idx, 1 if rng.random() < 0.6 else min(2, len(idx)))]
        for kind, i in jobs:
            functions[i]["used"] = True
            if kind == "team":
                functions[i]["team_task"] = True
        served.append(jobs)

    def needs_of(a: int) -> list[tuple[str, str, str]]:
        functions = teams[agent_team[a]]["functions"]
        return list(dict.fromkeys(op for _, i in served[a] for op in functions[i]["ops"]))

    agent_needs = [needs_of(a) for a in range(agents)]

    # ---- standing (over-privileged) team roles
    op_index = {op: i for i, op in enumerate(all_ops)}
    for team in teams:
        team["extras"] = []
        if over_privilege <= 1.0 or not team["members"]:
            continue
        union = {op for a in team["members"] for op in agent_needs[a]}
        inverse = sum(1.0 / len(agent_needs[a]) for a in team["members"]) / len(team["members"])
        want = max(1, round((over_privilege - 1.0) / inverse))
        used_tools = list(dict.fromkeys(op[0] for op in sorted(union, key=op_index.__getitem__)))
        extras: list[tuple[str, str, str]] = []
        seen = set(union)
        pools = (
            [op for tid in used_tools for op in tool_ops[tid]],
            dept_ops[team["dept"]],
            all_ops,
        )
        for pool in pools:
            if len(extras) >= want:
                break
            candidates = [op for op in pool if op not in seen]
            picked = rng.sample(candidates, min(len(candidates), want - len(extras)))
            extras.extend(picked)
            seen.update(picked)
        team["extras"] = sorted(extras, key=op_index.__getitem__)

    # ---- humans
    human_rows: list[dict[str, Any]] = []
    for team in teams:
        label = team["id"]
        team["lead"] = f"{label}-lead"
        human_rows.append({"id": team["lead"], "title": f"{team['dept']} team lead ({label})"})
        if rng.random() < 0.5:
            team["analyst"] = f"{label}-analyst"
            human_rows.append({"id": team["analyst"], "title": f"{team['dept']} analyst ({label})"})
        else:
            team["analyst"] = None
    if agents:
        for k in range(max(1, len(teams) // 8)):
            human_rows.append({"id": f"approver-{k + 1}", "title": "change approver", "approver": True})

    # ---- agent ids
    agent_ids: list[str] = []
    for team in teams:
        for j, a in enumerate(team["members"], start=1):
            kind = "orchestrator" if a in children and a not in parent else "agent"
            agent_ids.append(f"{team['id']}-{kind}-{j}")

    # ---- tasks and roles
    def grant(op: tuple[str, str, str]) -> str:
        return f"{op[0]}:{op[1]}:{op[2]}"

    def call_step(op: tuple[str, str, str], outbound: str) -> dict[str, Any]:
        step: dict[str, Any] = {"call": grant(op), "duration": rng.choice(SERVICE.get(op[1], ({"exponential": 10},)))}
        if op[1] == "send" and outbound != "internal":
            step["destination"] = outbound
        if op[1] in ("delete", "admin") and res_sens[op[2]] == "critical" and rng.random() < 0.5:
            step["approval"] = True
        return step

    def requester(team: dict[str, Any]) -> str:
        return team["analyst"] or team["lead"]

    def task_row(tid: str, team: dict[str, Any], ops: list[tuple[str, str, str]], rate: str | None,
                 delegates: list[int], description: str, requested_by: str) -> dict[str, Any]:
        before = [op for op in ops if op[1] in ("list", "read", "execute")]
        after = [op for op in ops if op[1] not in ("list", "read", "execute")]
        steps = [call_step(op, team["outbound"]) for op in before]
        steps += [{"delegate": {"agent": agent_ids[c], "task": f"{agent_ids[c]}-subtask"}} for c in delegates]
        steps += [call_step(op, team["outbound"]) for op in after]
        destinations = list(dict.fromkeys(s.get("destination", "internal") for s in steps if "call" in s))
        ceiling = max((res_sens[op[2]] for op in ops), key=SENSITIVITY_LEVELS.index)
        row: dict[str, Any] = {"id": tid, "requested_by": requested_by}
        if rate is not None:
            row["arrival_rate"] = rate
        row["intent"] = {"operations": [grant(op) for op in ops], "sensitivity_ceiling": ceiling,
                         "destinations": destinations}
        row["steps"] = steps
        if rng.random() < 0.25:
            row["deadline"] = rng.choice(DEADLINES)
        row["description"] = description
        return row

    role_rows: list[dict[str, Any]] = []
    task_rows: list[dict[str, Any]] = []
    for team in teams:
        for f in team["functions"]:
            f["role"] = f"{team['id']}-{f['verb']}-access"
            f["task"] = f"{team['id']}-{f['verb']}"
            if f["used"]:
                role_rows.append({"id": f["role"], "grants": [grant(op) for op in f["ops"]],
                                  "description": f"what {f['task']} needs"})
            if f["team_task"]:
                rate = rng.choices(TASK_RATES, TASK_RATE_WEIGHTS)[0]
                task_rows.append(task_row(f["task"], team, f["ops"], rate, [],
                                          f"{team['dept']}: {f['verb']} ({team['id']})", requester(team)))
        if team["extras"]:
            team["standing"] = f"{team['id']}-standing"
            role_rows.append({"id": team["standing"], "grants": [grant(op) for op in team["extras"]],
                              "description": f"broad standing access granted to every agent of {team['id']}"})
        else:
            team["standing"] = None
        for a in team["members"]:
            for kind, i in served[a]:
                if kind != "tree":
                    continue
                f = team["functions"][i]
                if a in parent:
                    tid, rate = f"{agent_ids[a]}-subtask", None
                    text = f"{f['verb']} sub-task delegated by {agent_ids[parent[a]]}"
                else:
                    tid, rate = f"{agent_ids[a]}-orchestration", rng.choice(ORCHESTRATION_RATES)
                    text = f"{f['verb']} workflow orchestrated by {agent_ids[a]}"
                root = a
                while root in parent:
                    root = parent[root]
                task_rows.append(task_row(tid, team, f["ops"], rate, children.get(a, []), text,
                                          requester(teams[agent_team[root]])))

    # ---- agents
    agent_rows: list[dict[str, Any]] = []
    agent_roles: list[list[str]] = []
    agent_env: list[str] = []
    for a in range(agents):
        team = teams[agent_team[a]]
        functions = team["functions"]
        roles = list(dict.fromkeys(functions[i]["role"] for _, i in served[a]))
        if team["standing"]:
            roles.append(team["standing"])
        tasks = []
        for kind, i in served[a]:
            if kind == "team":
                tasks.append(functions[i]["task"])
            else:
                tasks.append(f"{agent_ids[a]}-subtask" if a in parent else f"{agent_ids[a]}-orchestration")
        envs = {res_env[op[2]] for op in agent_needs[a]}
        env = "prod" if "prod" in envs else min(envs, key=ENVIRONMENTS.index)
        if a in children and a not in parent:
            place = f"orchestrator (delegates to {len(children[a])})"
        elif a in parent:
            place = f"worker for {agent_ids[parent[a]]}"
        else:
            place = "agent"
        row: dict[str, Any] = {
            "id": agent_ids[a],
            "owner": team["analyst"] if team["analyst"] and rng.random() < 0.2 else team["lead"],
            "roles": roles,
            "tools": list(dict.fromkeys(op[0] for op in agent_needs[a])),
            "tasks": tasks,
        }
        if a in children:
            row["may_delegate_to"] = [agent_ids[c] for c in children[a]]
        if env != "prod":
            row["environment"] = env
        if discovery_probability:
            row["behaviour"] = {"discovery_probability": discovery_probability}
        row["description"] = f"{team['dept']} department, team {team['id']}: {place}"
        agent_rows.append(row)
        agent_roles.append(roles)
        agent_env.append(env)

    # ---- shared accounts
    account_rows: list[dict[str, Any]] = []
    holders_total = round(shared_share * agents)
    if holders_total == 1:
        holders_total = 2 if agents >= 2 else 0
    if holders_total:
        holders = sorted(rng.sample(range(agents), holders_total), key=lambda a: (agent_team[a], a))
        taken = {}
        pos = 0
        while pos < holders_total:
            left = holders_total - pos
            size = left if left <= 6 else rng.randint(2, 6)
            if left - size == 1:
                size = size - 1 if size > 2 else size + 1
            group = holders[pos:pos + size]
            pos += size
            team = teams[agent_team[group[0]]]
            account_rows.append({
                "id": _unique(f"{team['id']}-svc", taken),
                "holders": [agent_ids[a] for a in group],
                "roles": list(dict.fromkeys(r for a in group for r in agent_roles[a])),
                "environments": sorted({agent_env[a] for a in group}, key=ENVIRONMENTS.index),
                "description": f"service account shared by {len(group)} agents",
            })

    data: dict[str, Any] = {
        "name": name or f"estate-{agents}a-s{seed}",
        "title": f"Synthetic agent estate: {agents} agents, {len(teams)} teams, {tools} tools, {resources} resources",
        "description": f"Generated by nhisim.scenario.generate.{call}",
        "resources": resource_rows,
        "tools": tool_rows,
        "roles": role_rows,
        "humans": human_rows,
        "agents": agent_rows,
        "shared_accounts": account_rows,
        "tasks": task_rows,
        "threats": [t.model_dump() if hasattr(t, "model_dump") else t for t in (threats or [])],
    }
    return Scenario.model_validate(data)
