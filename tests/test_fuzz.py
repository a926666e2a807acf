"""Fuzzing the command line with mutants of the bundled scenarios.

Each input is a bundled ``scenarios/*.yaml`` mutated by a seeded generator: a value swapped
for a hostile one (zero, huge, infinite, NaN, a rate per zero time, a 5000-digit number,
control text, Rich markup, deep nesting), a key removed or misspelt, a type changed, a
list item duplicated, or raw characters (NUL, ESC, brackets, tabs) put into the text. Each
goes through ``nhisim validate`` and a short ``nhisim run`` in this process. Every outcome
must be exit 0 or 2, with no traceback, within a per-input deadline.

The run is deterministic (``NHISIM_FUZZ_SEED``, default 0) and sized for CI
(``NHISIM_FUZZ_INPUTS``, default 400: about half a minute); the counts are printed.
"""

from __future__ import annotations

import copy
import glob
import math
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_helpers import run_cli

from nhisim.scenario import workload

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted(glob.glob(str(ROOT / "scenarios" / "*.yaml")))
SEED = int(os.environ.get("NHISIM_FUZZ_SEED", "0"))
INPUTS = int(os.environ.get("NHISIM_FUZZ_INPUTS", "400"))
DEADLINE_S = 10.0  # per command; a bundled scenario validates in ~30 ms and runs in ~50 ms

HOSTILE: list[Any] = [
    0, -1, 1, 10**400, "9" * 5000, 1e308, -1e308, math.inf, -math.inf, math.nan, "0s", "1ms", "never",
    "5/0s", "1/0h", "1000000/s", "1e12", "-3/h", "", "x" * 100_000, None, True, [], {}, [[[]]],
    "\x1b[2J\x1b]0;pwn\x07", "[/] [bold]x", "\udc80", "\x00", "a:b:c", "../../../../etc/passwd", "/etc/passwd",
    {"fixed": "never"}, {"exponential": 0}, {"uniform": ["1h", "1s"]}, {"lognormal": {"median": "1h", "sigma": 1e200}},
    {"empirical": []}, "!!python/object/apply:os.system ['true']",
]
RAW = ["\x00", "\x1b", "\x07", "\t", "[", "]", "{", ":", "&a", "*a", "!!str", "\ufeff", "- ", "'", '"', "\\", "\n  "]


def _leaves(node: Any, path: tuple = ()) -> list[tuple]:
    """Every key path in ``node`` (containers included: replacing a section is a mutation too)."""
    out = [path] if path else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _leaves(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _leaves(value, path + (i,))
    return out


def _parent(data: Any, path: tuple) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def mutate(data: dict, rng: random.Random) -> dict | str:
    """One mutant of ``data``: a mapping, or (for raw-text mutations) the YAML text."""
    data = copy.deepcopy(data)
    op = rng.choice(["value", "value", "value", "delete", "rename", "type", "duplicate", "deep", "raw", "raw"])
    if op == "raw":
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(text))
            text = text[:at] + rng.choice(RAW) + text[at:]
        return text
    path = rng.choice(_leaves(data))
    parent, key = _parent(data, path), path[-1]
    if op == "value":
        parent[key] = copy.deepcopy(rng.choice(HOSTILE))
    elif op == "delete":
        del parent[key]
    elif op == "rename" and isinstance(parent, dict):
        parent[str(key)[::-1] or "x"] = parent.pop(key)
    elif op == "type":
        value = parent[key]
        parent[key] = rng.choice([[value], {"v": value}, str(value), 1.5])
    elif op == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))
    elif op == "deep":
        nested: Any = "x"
        for _ in range(rng.choice([50, 500, 3000])):
            nested = [nested]
        parent[key] = nested
    return data


class Hang(Exception):
    """A command ran past its deadline."""


def _alarm(signum, frame):  # noqa: ARG001  (signal handler signature)
    raise Hang


def _dump(mutant: dict | str) -> str:
    if isinstance(mutant, str):
        return mutant
    try:
        return yaml.safe_dump(mutant, sort_keys=False, allow_unicode=True)
    except (RecursionError, yaml.YAMLError):
        return yaml.dump(mutant, Dumper=yaml.Dumper)  # pure Python, for the 3000-deep mutants


@pytest.mark.timeout(240)
@pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="the per-input deadline needs SIGALRM")
def test_fuzz_validate_and_run_never_trace_back_or_hang(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(workload.FORCE_ENV, raising=False)
    # heavy mutants are refused by the work estimate well before they take long
    monkeypatch.setenv(workload.MAX_EVENTS_ENV, "50000")
    rng = random.Random(SEED)
    bases = {Path(p).name: yaml.safe_load(Path(p).read_text()) for p in BUNDLED}
    # warm up: the first command imports the CLI, pandas and the engine, which is no hang
    warm = tmp_path / "warm.yaml"
    warm.write_text(Path(BUNDLED[0]).read_text())
    assert run_cli(["run", warm.name], capsys)[0] == 0
    counts: Counter[str] = Counter()
    failures: list[str] = []
    previous = signal.signal(signal.SIGALRM, _alarm)
    started = time.perf_counter()
    try:
        for i in range(INPUTS):
            name = rng.choice(sorted(bases))
            file = tmp_path / f"m{i}.yaml"
            try:
                text = _dump(mutate(bases[name], rng))
                file.write_text(text, encoding="utf-8", errors="surrogatepass")
            except (RecursionError, yaml.YAMLError):
                counts["unwritable mutants"] += 1
                continue
            counts["inputs"] += 1
            for argv in (["validate", file.name], ["run", file.name]):
                signal.setitimer(signal.ITIMER_REAL, DEADLINE_S)
                try:
                    code, out, err = run_cli(argv, capsys)
                except Hang:
                    counts["hangs"] += 1
                    failures.append(f"hang: {argv[0]} {name} mutant {i}")
                    continue
                except Exception as exc:  # noqa: BLE001  (a traceback: what this test hunts)
                    counts["tracebacks"] += 1
                    failures.append(f"traceback: {argv[0]} {name} mutant {i}: {type(exc).__name__}: {exc!s:.200}")
                    continue
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                counts[f"{argv[0]} exit {code}"] += 1
                if "Traceback" in out + err:
                    counts["tracebacks"] += 1
                    failures.append(f"traceback text: {argv[0]} {name} mutant {i}")
                elif code not in (0, 2):
                    counts["odd exits"] += 1
                    failures.append(f"exit {code}: {argv[0]} {name} mutant {i}: {err[:200]}")
    finally:
        signal.signal(signal.SIGALRM, previous)
    seconds = time.perf_counter() - started
    with capsys.disabled():
        print(f"\nfuzz (seed {SEED}): {counts['inputs']} inputs in {seconds:.0f} s, {counts['tracebacks']} tracebacks, "
              f"{counts['hangs']} hangs, {counts['odd exits']} odd exits; " +
              ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()) if " exit " in k or k.startswith("unwritable")))
    assert counts["inputs"] >= INPUTS * 0.9
    assert counts["validate exit 2"] > 0 and counts["run exit 0"] > 0  # the mutants reach both outcomes
    assert not failures, "\n".join(failures[:20])
