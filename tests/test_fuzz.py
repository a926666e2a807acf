"""Fuzzing the command line, part 1: what goes in (scenario files, values, work).

Three classes of hostile input, each seeded (``NHISIM_FUZZ_SEED``, default 0) and sized
for CI (``NHISIM_FUZZ_SCALE``, default 1; the two fuzz files together run in about a
minute on two cores), with its counts printed:

- **scenario files**: a bundled scenario mutated (a value swapped for a hostile one: zero,
  huge, infinite, NaN, a rate per zero time, a 5000-digit number, control text, Rich
  markup, deep nesting; a key removed or misspelt; a type changed; an item duplicated;
  raw characters such as NUL, ESC, brackets and tabs put into the text), through
  ``validate`` and ``run``;
- **command-line values**: hostile ``--set`` and ``--grid`` values at any path of a
  scenario, and hostile counts (``-r``, ``--workers``, ``--n``);
- **heavy work**: inputs that would hang or fill memory if let through: endless or
  enormous horizons and rates, delegation fan-outs, grids of millions of points,
  devices and pipes named as scenario files.

Every outcome must be exit 0 or 2, with no traceback, no line over the length bound, no
raw control character on the terminal, within a per-input deadline and memory bound
(:mod:`fuzz_helpers`). The output side (file names, output paths, extends/policies
reach, injection into reports and exports, clipping) is ``test_fuzz_outputs.py``;
signals are in ``test_hardening.py``.
"""

from __future__ import annotations

import copy
import glob
import math
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from fuzz_helpers import INJECTIONS, Fuzzer, Tally, count, fan_out
from test_bad_input import BASE

from nhisim.scenario import workload

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted(glob.glob(str(ROOT / "scenarios" / "*.yaml")))

HOSTILE: list[Any] = [
    0, -1, 1, 10**400, "9" * 5000, 1e308, -1e308, math.inf, -math.inf, math.nan, "0s", "1ms", "never",
    "5/0s", "1/0h", "1000000/s", "1e12", "-3/h", "", "x" * 100_000, None, True, [], {}, [[[]]],
    "\x1b[2J\x1b]0;pwn\x07", "[/] [bold]x", "\udc80", "\x00", "a:b:c", "../../../../etc/passwd", "/etc/passwd",
    {"fixed": "never"}, {"exponential": 0}, {"uniform": ["1h", "1s"]}, {"lognormal": {"median": "1h", "sigma": 1e200}},
    {"empirical": []}, "!!python/object/apply:os.system ['true']", *INJECTIONS[:6],
]
RAW = ["\x00", "\x1b", "\x07", "\t", "[", "]", "{", ":", "&a", "*a", "!!str", "\ufeff", "- ", "'", '"', "\\", "\n  ",
       "\u202e", "\ud800"]
# --set / --grid values as typed: YAML scalars, flow collections, nesting, huge numbers, units, control text
TYPED = ["0", "-1", "1e308", ".inf", "-.inf", ".nan", "9" * 5000, "0s", "1ms", "never", "5/0s", "1/0h", "1000000/s",
         "[", "]", "{a: ", "[" * 3000 + "]" * 3000, "{a: " * 500 + "}" * 500, "!!python/object/apply:os.system [true]",
         "x" * 100_000, "'\\x1b[2J'", '"\\e]0;pwn\\x07"', '"\\udc80"', "[/]", "'[bold]x'", "null", "~", "true", "",
         "a,b", "1h,2h", "{fixed: never}", "{uniform: [1h, 1s]}", "&a [*a]", "*a"]
COUNTS = ["0", "-1", "1", "2", "9" * 400, "1e3", "x", "1000001", "2000000000"]


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


def mutate(data: dict, rng) -> dict | str:
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


def _dump(mutant: dict | str) -> str:
    if isinstance(mutant, str):
        return mutant
    try:
        return yaml.safe_dump(mutant, sort_keys=False, allow_unicode=True)
    except (RecursionError, yaml.YAMLError):
        return yaml.dump(mutant, Dumper=yaml.Dumper)  # pure Python, for the 3000-deep mutants


@pytest.fixture
def fuzz(tmp_path, monkeypatch, capsys) -> Fuzzer:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(workload.FORCE_ENV, raising=False)
    monkeypatch.delenv("NHISIM_ALLOW_PATHS", raising=False)
    # heavy inputs are refused by the work estimate well before they take long
    monkeypatch.setenv(workload.MAX_EVENTS_ENV, "50000")
    (tmp_path / "base.yaml").write_text(BASE)
    fuzzer = Fuzzer(capsys)
    warm = fuzzer.run(Tally("warm-up"), ["run", "base.yaml"])  # imports the CLI, pandas and the engine: no hang
    assert warm is not None and warm[0] == 0, warm
    return fuzzer


@pytest.mark.timeout(240)
def test_fuzz_scenario_files(fuzz, tmp_path, capsys):
    """Mutants of the bundled scenarios, control characters and surrogates included, through validate and run."""
    tally = Tally("scenario files")
    bases = {Path(p).name: yaml.safe_load(Path(p).read_text()) for p in BUNDLED}
    unwritable = 0
    for i in range(count(200)):
        name = fuzz.pick(sorted(bases))
        try:
            text = _dump(mutate(bases[name], fuzz.rng))
            (tmp_path / f"m{i}.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
        except (RecursionError, yaml.YAMLError):
            unwritable += 1
            continue
        for command in ("validate", "run"):
            fuzz.run(tally, [command, f"m{i}.yaml"])
    tally.report(capsys)
    assert tally.exits[0] and tally.exits[2]  # the mutants reach both outcomes
    assert unwritable < count(200) * 0.1


@pytest.mark.timeout(240)
def test_fuzz_command_line_values(fuzz, tmp_path, capsys):
    """Hostile --set and --grid values at any path, and hostile counts, as typed on a command line."""
    tally = Tally("command-line values")
    paths = [".".join(str(p) for p in path) for path in _leaves(yaml.safe_load(BASE))]
    paths += ["run.horizon", "attacker.rate", "issuer.retry_after", "strategies.zsp.ttl", "strategies.rbac.rotation",
              "weights.sensitivity.high", "title", "description", "nowhere.at.all", "agents.nobody.x", "x" * 10_000]
    for _ in range(count(50)):
        setting = f"{fuzz.pick(paths)}={fuzz.pick(TYPED)}"
        fuzz.run(tally, [fuzz.pick(["validate", "run", "analyze"]), "base.yaml", "--set", setting])
    for i in range(count(10)):
        path = fuzz.pick(["run.seed", "attacker.rate", "strategies.zsp.ttl", "title", "run.horizon", "nowhere"])
        values = ",".join(fuzz.pick(TYPED)[:2000] for _ in range(fuzz.rng.randint(1, 3)))
        fuzz.run(tally, ["sweep", "base.yaml", "--grid", f"{path}={values}", "-r", "1", "--strategies", "rbac",
                         "--executor", "serial", "-q", "--out", f"g{i}"])
    for i in range(count(15)):
        option, command = fuzz.pick([("-r", ["compare", "base.yaml", "--executor", "serial", "-q"]),
                                     ("--workers", ["compare", "base.yaml", "-r", "1", "-q"]),
                                     ("--n", ["sweep", "base.yaml", "--sample", "lhs", "--bounds",
                                              "attacker.rate=1/h:6/h", "-r", "1", "--strategies", "rbac",
                                              "--executor", "serial", "-q", "--out", f"n{i}"]),
                                     ("--seed", ["run", "base.yaml"])])
        fuzz.run(tally, [*command, option, fuzz.pick(COUNTS)])
    tally.report(capsys)
    assert tally.exits[0] and tally.exits[2]


@pytest.mark.timeout(240)
def test_fuzz_heavy_work(fuzz, tmp_path, capsys):
    """What would hang or fill memory if let through: refused (exit 2) or bounded, never past the deadline."""
    tally = Tally("heavy work")
    heavy_sets = ["run.horizon=1.0e+12", "run.horizon=1.0e+18", "run.horizon=.inf", "run.horizon=never",
                  "tasks.t.arrival_rate=1000000/s", "attacker.rate=.inf", "attacker.rate=1000000",
                  "agents.bot.behaviour.task_rate_multiplier=1.0e+12", "strategies.rbac.rotation=1ms",
                  "strategies.zsp.identity_ttl=1ms", "issuer.retry_after=1ms", "run.replications=1000000000",
                  "issuer.max_retries=1000000000"]
    for _ in range(count(15)):
        command = fuzz.pick([["run", "base.yaml", "-s", fuzz.pick(["rbac", "zsp", "intent"])],
                             ["compare", "base.yaml", "--executor", "serial", "-q"],
                             ["whatif", "base.yaml", "--set", "run.seed=2", "-r", "2"]])
        fuzz.run(tally, [*command, "--set", fuzz.pick(heavy_sets)])
    for i in range(count(6)):
        (tmp_path / f"fan{i}.yaml").write_text(fan_out(fuzz.rng.randint(5, 400), fuzz.rng.randint(1, 4)))
        fuzz.run(tally, [fuzz.pick(["run", "validate", "analyze"]), f"fan{i}.yaml"])
    for i in range(count(6)):
        forced = fuzz.rng.random() < 0.5  # then only past the memory caps, which --force does not lift
        sizes = [fuzz.rng.randint(101, 400) if forced else fuzz.rng.randint(50, 400) for _ in range(3)]
        axes = [f"run.seed={','.join(str(v) for v in range(sizes[0]))}",
                f"issuer.max_retries={','.join(str(v) for v in range(sizes[1]))}",
                f"attacker.rate={','.join(f'{v + 1}/h' for v in range(sizes[2]))}"]
        grid = [a for axis in axes[: 3 if forced else fuzz.rng.randint(2, 3)] for a in ("--grid", axis)]
        fuzz.run(tally, ["sweep", "base.yaml", *grid, "-r", "1", "-q", "--out", f"big{i}", "--executor", "serial",
                         *(["--force"] if forced else [])])
    for i in range(count(3)):
        fuzz.run(tally, ["sweep", "base.yaml", "--sample", fuzz.pick(["lhs", "sobol", "morris", "random"]),
                         "--n", str(2 ** fuzz.rng.randint(15, 20)), "--bounds", "attacker.rate=1/h:6/h",
                         "--bounds", "run.seed=1:1000", "-r", "1", "-q", "--out", f"sample{i}"])
    devices = [d for d in ("/dev/zero", "/dev/urandom", "/dev/null") if os.path.exists(d)]
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.yaml")
        (tmp_path / "via-pipe.yaml").write_text("extends: pipe.yaml\nname: x\n")
        devices.append("via-pipe.yaml")
        (tmp_path / "via-dev.yaml").write_text("extends: /dev/zero\nname: x\n")
        devices.append("via-dev.yaml")
    for device in devices:
        fuzz.run(tally, ["validate", device])
    tally.report(capsys)
    assert tally.exits[2]
