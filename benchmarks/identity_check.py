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
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
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
    """{scenario/strategy/engine/seed: {"events": digest, "metrics": digest, "rows": n}}."""
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
                    metrics = _metrics_digests(compute_metrics(log.columns()))
                    if streamed is not None:  # gathered as the log was flushed: each must equal the whole log's
                        for name, digest in _metrics_digests(compute_metrics(streamed)).items():
                            if digest != metrics.get(name):
                                metrics[name] = "gathered as the log was flushed, it differs from the whole log's"
                    out[f"{path.stem}/{strategy}/{engine}/{seed}"] = {
                        "events": event_digest,
                        "decisions": decision_digest,
                        "metrics": metrics,
                        "rows": len(frame),
                    }
    return out


PARTS = ("rows", "events", "decisions", "metrics")


def compare(before: dict, after: dict, parts: tuple[str, ...] = PARTS) -> list[str]:
    problems = []
    for key in sorted(set(before) | set(after)):
        if key not in after:
            problems.append(f"{key}: missing after")
        elif key not in before:
            problems.append(f"{key}: new run (not in the reference)")
        else:
            for part in parts:
                if part not in before[key]:
                    continue
                was, now = before[key][part], after[key][part]
                if isinstance(was, dict) and isinstance(now, dict):  # metrics: a metric added since is no difference
                    changed = sorted(name for name in was.keys() & now.keys() if was[name] != now[name])
                    if changed or was.keys() - now.keys():
                        problems.append(f"{key}: {part} differ ({', '.join(changed or sorted(was.keys() - now.keys()))})")
                elif was != now:
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
        Path(args.write).write_text(json.dumps(after, indent=1, sort_keys=True) + "\n")
        print(f"{len(after)} runs written to {args.write}")
        return 0
    problems = compare(before, after, parts)
    for line in problems:
        print(line)
    print(f"{len(after)} runs compared, {len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
