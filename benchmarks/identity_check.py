"""Prove that a change left behaviour alone: identical event logs and metrics, run by run.

Runs every scenario of the pack × every strategy it declares × several seeds, with the
native and the Cedar evaluator, and records for each run a digest of its whole event log
(every column, every row, in order) and of its metrics. ``--write`` stores the digests;
``--check`` recomputes them and lists every run that differs; ``--ref REV`` does both
against a git revision (checked out in a temporary worktree) in one go::

    python benchmarks/identity_check.py --ref HEAD~3          # this tree vs three commits ago
    python benchmarks/identity_check.py --write before.json    # digests of this tree
    python benchmarks/identity_check.py --check before.json    # this tree vs stored digests

A refactoring that claims "behaviour unchanged" must leave every digest equal. A change
of wording alone (a reason sentence) changes the ``events`` digest but not ``decisions``
(every column but ``reason``) nor ``metrics``: ``--parts decisions,metrics`` compares
only those. Metrics are compared one by one over the names both sides computed: a metric
added since the reference is no difference.

A written file also keeps each run's metric values and the platform it was written on
(``_platform``: machine, C library, Python): ``tests/test_identity.py`` checks this tree
against ``tests/data/identity.json`` in CI, digests and all on the platform that wrote it,
and the metric values (to a relative 1e-9) anywhere else, where the C library's ``log``
and ``exp`` may round the last bit of a random draw differently. A change meant to move
results records them again, and its commit says why::

    python benchmarks/identity_check.py --write tests/data/identity.json --seeds 1 --engines native
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _digest_values(values) -> str:
    h = hashlib.sha256()
    for value in values:
        if isinstance(value, float) and math.isnan(value):
            value = "nan"
        h.update(repr(value).encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


def _metrics_digests(metrics: dict) -> dict[str, str]:
    """One digest per metric, of its value, not its Python type: a metric may come as a float or a NumPy float."""
    return {name: _digest_values([float(value)]) for name, value in sorted(metrics.items())}


def platform_fingerprint() -> str:
    """What decides the last bit of a run's numbers: the machine, its C library (``log``, ``exp``) and Python."""
    libc = " ".join(part for part in platform.libc_ver() if part) or "unknown libc"
    return f"{platform.system()} {platform.machine()}, {libc}, Python {platform.python_version()}"


def _metric_values(metrics: dict) -> dict[str, float | None]:
    """Each metric's value as a plain float (JSON has no NaN: a NaN is None)."""
    return {name: (None if math.isnan(float(value)) else float(value)) for name, value in sorted(metrics.items())}


def _stream_metrics(log):
    """A digest gathering the metrics as the run flushes ``log`` (None for a revision without one)."""
    try:
        from nhisim.metrics import LogDigest
    except ImportError:
        return None
    digest = LogDigest()
    log.stream_to(digest.add)
    return digest


def run_digests(scenario_dir: Path, seeds: int, engines: list[str], only: list[str] | None = None) -> dict:
    """{scenario/strategy/engine/seed: {"events": digest, "decisions": digest, "values": {metric: value},
    "streamed_apart": [metrics gathered chunk by chunk that differ from the whole log's], "rows": n}}."""
    from nhisim.metrics import compute_metrics
    from nhisim.scenario.loader import load_scenario
    from nhisim.sim.engine import Simulation

    out: dict[str, dict] = {}
    for path in sorted(scenario_dir.glob("*.yaml")):
        if only and path.stem not in only:
            continue
        scenario = load_scenario(path)
        for strategy in scenario.strategies:
            for engine in engines:
                for seed in range(seeds):
                    sim = Simulation(scenario, strategy, seed=seed, engine=engine)
                    streamed = _stream_metrics(sim.log)
                    log = sim.run()
                    frame = log.to_frame()  # flushes the log: every chunk has been streamed
                    columns = {name: frame[name].tolist() for name in frame.columns}
                    event_digest = _digest_values(
                        [name for name in columns] + [v for name in columns for v in columns[name]])
                    decided = [name for name in columns if name != "reason"]
                    decision_digest = _digest_values(decided + [v for name in decided for v in columns[name]])
                    values = compute_metrics(log.columns())
                    whole = _metrics_digests(values)
                    # gathered as the log was flushed, each metric must equal the whole log's
                    streamed_apart = [] if streamed is None else sorted(
                        name for name, digest in _metrics_digests(compute_metrics(streamed)).items()
                        if digest != whole.get(name))
                    out[f"{path.stem}/{strategy}/{engine}/{seed}"] = {
                        "events": event_digest,
                        "decisions": decision_digest,
                        "values": _metric_values(values),
                        "streamed_apart": streamed_apart,
                        "rows": len(frame),
                    }
    return out


PARTS = ("rows", "events", "decisions", "metrics")


def metric_digests(run: dict) -> dict[str, str]:
    """A run's metric digests: from its values (this script's files), or as stored (files of older revisions)."""
    if "values" in run:
        return _metrics_digests({name: math.nan if value is None else value for name, value in run["values"].items()})
    return run.get("metrics", {})


def compare(before: dict, after: dict, parts: tuple[str, ...] = PARTS) -> list[str]:
    """Every difference between two sets of runs, one line each (none: behaviour unchanged)."""
    problems = []
    for key in sorted((set(before) | set(after)) - {"_platform"}):
        if key not in after:
            problems.append(f"{key}: missing after")
            continue
        if key not in before:
            problems.append(f"{key}: new run (not in the reference)")
            continue
        if after[key].get("streamed_apart"):
            problems.append(f"{key}: metrics gathered as the log was flushed differ from the whole log's "
                            f"({', '.join(after[key]['streamed_apart'])})")
        for part in parts:
            if part == "metrics":  # one by one: a metric added since the reference is no difference
                was, now = metric_digests(before[key]), metric_digests(after[key])
                changed = sorted(name for name in was.keys() & now.keys() if was[name] != now[name])
                if changed or was.keys() - now.keys():
                    problems.append(f"{key}: metrics differ ({', '.join(changed or sorted(was.keys() - now.keys()))})")
            elif part in before[key] and before[key][part] != after[key][part]:
                problems.append(f"{key}: {part} differ")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--write", metavar="FILE", help="store this tree's digests")
    what.add_argument("--check", metavar="FILE", help="compare this tree with stored digests")
    what.add_argument("--ref", metavar="REV", help="compare this tree with a git revision")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--engines", default="native,cedar")
    parser.add_argument("--scenarios", default="", help="comma-separated scenario names (default: the whole pack)")
    parser.add_argument("--scenario-dir", default=str(ROOT / "scenarios"))
    parser.add_argument("--parts", default=",".join(PARTS),
                        help="digests compared: rows, events, decisions (every column but reason), metrics")
    args = parser.parse_args(argv)
    parts = tuple(p for p in args.parts.split(",") if p)
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown part {unknown[0]!r}; choose from {', '.join(PARTS)}")
    engines = [e for e in args.engines.split(",") if e]
    only = [s for s in args.scenarios.split(",") if s] or None
    if args.ref:
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(tmp) / "ref"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), args.ref],
                           check=True)
            try:
                ref_file = Path(tmp) / "ref.json"
                env = dict(os.environ, PYTHONPATH=str(tree))
                subprocess.run([sys.executable, str(Path(__file__).resolve()), "--write", str(ref_file),
                                "--seeds", str(args.seeds), "--engines", args.engines, "--scenarios", args.scenarios,
                                "--scenario-dir", args.scenario_dir], check=True, env=env, cwd=tree)
                before = json.loads(ref_file.read_text())
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)
    elif args.check:
        before = json.loads(Path(args.check).read_text())
    after = run_digests(Path(args.scenario_dir), args.seeds, engines, only)
    if args.write:
        runs = len(after)
        after["_platform"] = platform_fingerprint()
        Path(args.write).write_text(json.dumps(after, indent=1, sort_keys=True) + "\n")
        print(f"{runs} runs written to {args.write}")
        return 0
    problems = compare(before, after, parts)
    for line in problems:
        print(line)
    print(f"{len(after)} runs compared, {len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
