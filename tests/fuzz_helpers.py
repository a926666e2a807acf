"""What the fuzz tests share: running one hostile input through the CLI, and counting outcomes per class.

Every input runs through ``nhisim.cli.app.main`` in the test process under a deadline
(``SIGALRM``) and a memory watch (the growth of the process's peak resident size). An
outcome is bad when it is a traceback (raised or printed), a hang (past the deadline),
an odd exit (not 0 or 2), a line longer than :data:`MAX_LINE` characters, a raw control
or bidirectional character reaching the terminal, or a peak-memory jump over
:data:`MAX_GROWTH_MB`; a class may add its own check.
"""

from __future__ import annotations

import os
import random
import re
import resource
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from cli_helpers import run_cli
from test_bad_input import BASE

SEED = int(os.environ.get("NHISIM_FUZZ_SEED", "0"))
SCALE = float(os.environ.get("NHISIM_FUZZ_SCALE", "1"))  # more inputs per class (CI: 1, about a minute in all)
DEADLINE_S = 10.0  # per command; a bundled scenario validates in ~30 ms and runs in ~50 ms
MAX_LINE = 5000  # characters in one output line: a path may be 4096, a 100,000-character value must be clipped
MAX_GROWTH_MB = 400  # how much one input may raise the process's peak memory
VERBOSE = bool(os.environ.get("NHISIM_FUZZ_VERBOSE"))  # each input on stderr as it starts (to find a culprit)
RAW_TERMINAL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")

# text that means something to a reader of its own: a terminal, Rich, Markdown, HTML, Cedar, XML, JSON, YAML
INJECTIONS = [
    "\x1b[2J\x1b]0;pwn\x07", "\u202eexe.txt", "a\u2066b\u2069c\u200f", "[/]", "[bold]x[/bold]", "[link=file:///etc]y",
    "*x* _y_ `z` ~~s~~ | cell |", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[a](http://e.vil)",
    "![i](x.png)", "&amp; &lt;", 'x\npermit (principal, action, resource);\n// ', '"); permit (principal, action, '
    'resource); @a("', "*/ permit (principal, action, resource); /*", '</data><node id="pwn"/><data>',
    '"},{"kinds":["pwn"]', "{{ x }} {% y %}", "%s %n %x", "\\e[2J", "line\nbreak", "tab\there", "\u2028\u2029",
]


def count(base: int) -> int:
    """How many inputs a class tries (``base`` scaled by ``NHISIM_FUZZ_SCALE``)."""
    return max(1, round(base * SCALE))


@dataclass
class Tally:
    """The outcomes of one class of hostile input."""

    name: str
    inputs: int = 0
    tracebacks: int = 0
    hangs: int = 0
    odd_exits: int = 0
    long_lines: int = 0
    raw_text: int = 0
    memory: int = 0
    other: int = 0
    exits: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def line(self) -> str:
        exits = ", ".join(f"exit {k}: {v}" for k, v in sorted(self.exits.items()))
        return (f"fuzz {self.name}: {self.inputs} inputs, {self.tracebacks} tracebacks, {self.hangs} hangs, "
                f"{self.odd_exits} odd exits, {self.long_lines} long lines, {self.raw_text} raw control text, "
                f"{self.memory} memory jumps, {self.other} other failures ({exits})")

    def report(self, capsys) -> None:
        with capsys.disabled():
            print("\n" + self.line())
        assert self.inputs > 0
        assert not self.failures, "\n".join(self.failures[:20])


class Hang(BaseException):
    """A command ran past its deadline (not an Exception: a sweep records a run's exceptions and goes on)."""


def _alarm(signum, frame):  # noqa: ARG001  (a signal handler's signature)
    raise Hang


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class Fuzzer:
    """Runs inputs through the CLI in this process, counting outcomes into tallies."""

    def __init__(self, capsys) -> None:
        if not hasattr(signal, "SIGALRM"):
            pytest.skip("the per-input deadline needs SIGALRM")
        self.capsys = capsys
        self.rng = random.Random(SEED)

    def run(self, tally: Tally, argv: list[str], expect: tuple[int, ...] = (0, 2),
            check: Callable[[int, str, str], str | None] | None = None) -> tuple[int, str, str] | None:
        """One input; None if it hung or raised."""
        tally.inputs += 1
        what = " ".join(a[:60] for a in argv)[:300]
        if VERBOSE:
            print(f"fuzz input: {what!r}", file=sys.__stderr__, flush=True)
        peak = _peak_mb()
        environment = dict(os.environ)  # --force and --allow-path set variables for the worker processes
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, DEADLINE_S)
        started = time.perf_counter()
        try:
            code, out, err = run_cli(argv, self.capsys)
        except Hang:
            tally.hangs += 1
            tally.failures.append(f"hang ({DEADLINE_S:.0f} s): {what!r}")
            return None
        except Exception as exc:  # noqa: BLE001  (a traceback: what this hunts)
            tally.tracebacks += 1
            tally.failures.append(f"traceback: {what!r}: {type(exc).__name__}: {exc!s:.200}")
            return None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            os.environ.clear()
            os.environ.update(environment)
        tally.exits[code] += 1
        if VERBOSE:
            print(f"  exit {code} in {time.perf_counter() - started:.2f} s", file=sys.__stderr__, flush=True)
        text = out + err
        growth = _peak_mb() - peak
        if "Traceback" in text:
            tally.tracebacks += 1
            tally.failures.append(f"traceback text: {what!r}: {err[-300:]!r}")
        elif code not in expect:
            tally.odd_exits += 1
            tally.failures.append(f"exit {code}: {what!r}: {err[-300:]!r}")
        elif any(len(line) > MAX_LINE for line in text.splitlines()):
            tally.long_lines += 1
            tally.failures.append(f"a line of {max(map(len, text.splitlines())):,} characters: {what!r}")
        elif RAW_TERMINAL.search(text):
            tally.raw_text += 1
            tally.failures.append(f"raw control text {RAW_TERMINAL.search(text).group()!r}: {what!r}")
        elif growth > MAX_GROWTH_MB:
            tally.memory += 1
            tally.failures.append(f"peak memory up {growth:.0f} MB in {time.perf_counter() - started:.1f} s: {what!r}")
        elif check is not None and (problem := check(code, out, err)):
            tally.other += 1
            tally.failures.append(f"{problem}: {what!r}")
        return code, out, err

    def pick(self, options):
        return self.rng.choice(list(options))


def fan_out(agents: int, hand_offs: int = 2) -> str:
    """A chain of ``agents`` agents, each task a call and ``hand_offs`` hand-offs to the next: 2**N work per arrival."""
    lines = [BASE.split("agents:")[0], "agents:"]
    for i in range(agents):
        more = f", may_delegate_to: [a{i + 1}]" if i + 1 < agents else ""
        lines.append(f"  - {{id: a{i}, owner: alice, roles: [reader], tasks: [t{i}]{more}}}")
    lines.append("tasks:")
    for i in range(agents):
        lines += [f"  - id: t{i}", "    arrival_rate: 6/h", "    steps:", "      - {call: 'api:read:db', duration: 10s}"]
        if i + 1 < agents:
            lines += [f"      - delegate: {{agent: a{i + 1}, task: t{i + 1}}}"] * hand_offs
    return "\n".join(lines) + "\n"


__all__ = ["INJECTIONS", "MAX_LINE", "SEED", "Fuzzer", "Tally", "count", "fan_out"]
