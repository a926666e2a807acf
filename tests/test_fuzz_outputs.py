"""Fuzzing the command line, part 2: what comes out (files, paths, reports, exports, messages).

Five classes of hostile input, seeded and counted like ``test_fuzz.py``:

- **file names**: scenario files, results folders and reports named with control
  characters, escape sequences, bidirectional overrides, undecodable bytes, Rich markup
  and spaces, through validate, run --events, compare --out, report and graph;
- **output paths**: every writer aimed at a read-only place, under a missing parent,
  under a file, at a folder where a file goes (and the reverse), at a name too long for
  the file system, at another command's results: refused (exit 2) or written, never a
  temporary file left behind;
- **extends/policies reach**: ``extends:`` and ``policies:`` naming ``../..``, absolute
  paths, symlinks out, pipes, folders, the pack, files in the tree: a file outside is
  never read (its marker never shows) unless allowed;
- **injection**: titles and descriptions holding terminal escapes, Rich markup,
  Markdown, HTML, Cedar, XML and JSON syntax, through replay, policy export, graph
  exports and a Markdown report: the Cedar file keeps its policies, GraphML and JSON
  read back, report.md holds no live HTML, the terminal no raw control text;
- **clipping**: 100,000-character keys, ids, values, paths and file names: every line
  of output stays under the bound.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from fuzz_helpers import INJECTIONS, Fuzzer, Tally, count
from test_bad_input import BASE

from nhisim.scenario import workload

ROOT = Path(__file__).resolve().parent.parent
PACK_FILE = ROOT / "scenarios" / "leaked_key.yaml"
NAME_PARTS = ["\x1b[2J", "\x1b]0;pwn\x07", "\u202e", "\u2066", "\u200f", "[/]", "[bold]", " ", "'", '"', "\t", "%",
              "*", "?", "-", "é", "日本", "\U0001f600", os.fsdecode(b"\xff"), os.fsdecode(b"\xc3("), "\\", "~", "$HOME",
              "..", "\n"]
MARKER = "nhisim-outside-marker-7f3a"


@pytest.fixture
def fuzz(tmp_path, monkeypatch, capsys) -> Fuzzer:
    monkeypatch.chdir(tmp_path)
    for name in (workload.FORCE_ENV, "NHISIM_ALLOW_PATHS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(workload.MAX_EVENTS_ENV, "50000")
    (tmp_path / "base.yaml").write_text(BASE)
    fuzzer = Fuzzer(capsys)
    warm = fuzzer.run(Tally("warm-up"), ["run", "base.yaml"])
    assert warm is not None and warm[0] == 0, warm
    return fuzzer


def _name(fuzz: Fuzzer) -> str:
    return "".join(fuzz.pick(NAME_PARTS + ["a", "b", "x"]) for _ in range(fuzz.rng.randint(1, 6))).replace("/", "_")


def _no_temporary_files(root: Path) -> str | None:
    left = [p for p in root.rglob("*") if p.name.startswith(".nhisim-") and p.name.endswith(".tmp")]
    return f"temporary files left: {left[:3]}" if left else None


@pytest.mark.timeout(240)
def test_fuzz_file_names(fuzz, tmp_path, capsys):
    tally = Tally("file names")
    made = 0
    for i in range(count(25)):
        stem = f"{i}{_name(fuzz)}"
        try:
            (tmp_path / f"{stem}.yaml").write_text(BASE)
        except (OSError, UnicodeEncodeError):  # a file system that refuses the name: nothing to try
            continue
        made += 1
        scenario = f"{stem}.yaml"
        argv = fuzz.pick([["validate", scenario], ["run", scenario, "--events", f"{stem}.parquet"],
                          ["run", scenario, "--events", f"{stem}.csv"],
                          ["compare", scenario, "-r", "1", "--strategies", "rbac", "--executor", "serial", "-q",
                           "--out", f"{stem}-cmp"],
                          ["graph", scenario, "--out", f"{stem}.graphml"], ["schema", "--out", f"{stem}.json"],
                          ["validate", f"{stem}-missing.yaml"]])
        fuzz.run(tally, argv, check=lambda code, out, err: _no_temporary_files(tmp_path))
    fuzz.run(tally, ["compare", "base.yaml", "-r", "1", "--strategies", "rbac", "--executor", "serial", "-q", "--out",
                     "named"])
    for _ in range(count(2)):  # reports are slow (figures): a few
        fuzz.run(tally, ["report", "named", "-f", fuzz.pick(["md", "html"]), "-o", f"{_name(fuzz)}.report"])
    tally.report(capsys)
    assert made and tally.exits[0]


def _writers(out: str) -> list[list[str]]:
    return [["run", "base.yaml", "--events", out + ".parquet"], ["run", "base.yaml", "--events", out + ".csv"],
            ["schema", "--out", out + ".json"], ["generate", "--agents", "3", "--out", out + ".yaml"],
            ["graph", "base.yaml", "--out", out + ".graphml"], ["graph", "base.yaml", "--out", out + ".json"],
            ["policy", "export", "base.yaml", "-s", "rbac", "--out", out],
            ["compare", "base.yaml", "-r", "1", "--strategies", "rbac", "--executor", "serial", "-q", "--out", out],
            ["sweep", "base.yaml", "--grid", "run.seed=1,2", "-r", "1", "--strategies", "rbac", "--executor",
             "serial", "-q", "--out", out],
            ["whatif", "base.yaml", "--set", "run.seed=3", "-r", "1", "--strategies", "rbac", "--report", out + ".md"],
            ["report", "base.yaml", "-r", "1", "--strategies", "rbac", "--workers", "1", "--out", out + ".html"]]


@pytest.mark.timeout(240)
def test_fuzz_output_paths(fuzz, tmp_path, capsys):
    tally = Tally("output paths")
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "adir.json").mkdir()
    (tmp_path / "adir.md").mkdir()
    (tmp_path / "adir.html").mkdir()
    readonly = "/proc/nhisim-fuzz/x" if Path("/proc/self").exists() else "/nonexistent-root/x"
    assert fuzz.run(tally, ["sweep", "base.yaml", "--grid", "run.seed=1,2", "-r", "1", "--strategies", "rbac",
                            "--executor", "serial", "-q", "--out", "a-sweep"])[0] == 0
    assert fuzz.run(tally, ["compare", "base.yaml", "-r", "1", "--strategies", "rbac", "--executor", "serial", "-q",
                            "--out", "a-comparison"])[0] == 0
    # results: a sweep's chunks, a comparison's files (the same sweep again may resume: its manifest grows)
    kept = {p: p.stat().st_mtime_ns for p in [*(tmp_path / "a-sweep" / "runs.parquet").glob("part-*"),
                                              *(tmp_path / "a-comparison").iterdir()] if p.name != ".nhisim.lock"}
    places = [readonly, "afile/x", "afile/deeper/x", "missing/parent/deep/x", "adir", "a-sweep", "a-comparison",
              "k" * 300, "ok", os.fsdecode(b"bad\xffname"), "\x1b[2Jesc", "with space/x", "./././x"]
    for _ in range(count(45)):
        argv = fuzz.pick(_writers(fuzz.pick(places)))
        fuzz.run(tally, argv, check=lambda code, out, err: _no_temporary_files(tmp_path))
    changed = [str(p) for p, mtime in kept.items() if not p.exists() or p.stat().st_mtime_ns != mtime]
    if changed:  # results are never written over by another command
        tally.other += 1
        tally.failures.append(f"earlier results changed: {changed[:3]}")
    tally.report(capsys)
    assert tally.exits[0] and tally.exits[2]


@pytest.mark.timeout(240)
def test_fuzz_extends_and_policies_reach(fuzz, tmp_path, capsys):
    tally = Tally("extends/policies reach")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "base.yaml").write_text(BASE)
    (tree / "sub" / "base.yaml").write_text(BASE)
    (tree / "own.cedar").write_text("permit (principal, action, resource);\n")
    (tmp_path / "outside.yaml").write_text(f"name: x\ndescription: {MARKER}\n")
    (tmp_path / "outside.cedar").write_text(f"permit (principal, action, resource) when {{ {MARKER} }};\n")
    (tree / "sub" / "link-out.yaml").symlink_to(tmp_path / "outside.yaml")
    (tree / "sub" / "link-in.yaml").symlink_to(tree / "base.yaml")
    (tree / "sub" / "link-dir").symlink_to(tmp_path)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tree / "sub" / "pipe.yaml")
    targets = ["../../outside.yaml", f"{tmp_path}/outside.yaml", "link-out.yaml", "link-dir/outside.yaml",
               "link-in.yaml", "base.yaml", "../base.yaml", str(PACK_FILE), "pipe.yaml", ".", "/", "/dev/zero",
               "/etc/passwd", "../" * 40 + "etc/passwd", "nowhere.yaml", "", "x" * 5000, "../sub/../../outside.yaml"]
    policies = ["../../outside.cedar", f"{tmp_path}/outside.cedar", "../own.cedar", "../../tree/own.cedar",
                "pipe.yaml", ".", "/dev/zero", "/etc/passwd", "nowhere.cedar"]

    def never_read(code: int, out: str, err: str) -> str | None:
        return "a file outside the tree was read" if MARKER in out + err else None

    (tree / "sub" / "in-tree.yaml").write_text("extends: base.yaml\nname: in-tree\n")
    (tree / "sub" / "from-pack.yaml").write_text(f"extends: {json.dumps(str(PACK_FILE))}\nname: from-pack\n")
    for control in ("in-tree.yaml", "from-pack.yaml"):  # what must still work
        fuzz.run(tally, ["validate", f"tree/sub/{control}"], expect=(0,))
    for i in range(count(30)):
        if fuzz.rng.random() < 0.6:
            text = f"extends: {json.dumps(fuzz.pick(targets))}\nname: s{i}\n"
        else:
            text = (f"extends: base.yaml\nname: s{i}\nstrategies: {{mine: {{base: rbac, engine: cedar, "
                    f"policies: [{json.dumps(fuzz.pick(policies))}]}}}}\n")
        (tree / "sub" / f"s{i}.yaml").write_text(text)
        file = f"tree/sub/s{i}.yaml"
        argv = fuzz.pick([["validate", file], ["run", file, "-s", "mine"], ["policy", "validate", file],
                          ["policy", "export", file, "-s", "mine", "--out", f"p{i}"]])
        fuzz.run(tally, argv, check=never_read)
    tally.report(capsys)
    assert tally.exits[0] and tally.exits[2]


@pytest.mark.timeout(240)
def test_fuzz_injection(fuzz, tmp_path, capsys):
    import cedarpy
    import networkx as nx

    tally = Tally("injection")
    data = yaml.safe_load(BASE)

    def cedar_policies(folder: Path) -> int:
        return len(json.loads(cedarpy.policies_to_json_str((folder / "rbac.cedar").read_text()))["staticPolicies"])

    assert fuzz.run(tally, ["policy", "export", "base.yaml", "-s", "rbac", "--out", "clean"])[0] == 0
    clean = cedar_policies(tmp_path / "clean")

    def exported(folder: Path) -> str | None:
        if (folder / "rbac.cedar").exists() and cedar_policies(folder) != clean:
            return "scenario text added a Cedar policy"
        return None

    def readable(path: Path) -> str | None:
        try:
            if path.suffix == ".graphml":
                nx.read_graphml(path)
            else:
                json.loads(path.read_text())
        except Exception as exc:  # noqa: BLE001  (what is being checked)
            return f"an export no longer parses: {exc!s:.100}"
        return None

    def live_markup(path: Path) -> str | None:
        text = path.read_text() if path.exists() else ""
        # escaped, each of these has a backslash inside it or before it
        raw = [s for s in (r"(?<!\\)<script", r"(?<!\\)<img", r"\[a\]\(http", r"\[i\]\(x", "`z`", r"\*x\*")
               if re.search(s, text)]
        return f"report.md holds live markup {raw}" if raw else None

    for i in range(count(30)):
        hostile = "".join(fuzz.pick(INJECTIONS) for _ in range(fuzz.rng.randint(1, 3)))
        mutant = json.loads(json.dumps(data))
        for key in ("title", "description"):
            if fuzz.rng.random() < 0.7:
                mutant[key] = hostile
        mutant["strategies"] = {"rbac": {"base": "rbac", "description": hostile}}
        mutant["resources"][0]["description"] = hostile
        mutant["humans"][0]["title"] = hostile
        (tmp_path / f"i{i}.yaml").write_text(yaml.safe_dump(mutant, allow_unicode=True))
        which = fuzz.pick(["replay", "narrate", "side", "policy", "graphml", "opengraph", "whatif"])
        if which in ("replay", "narrate", "side"):
            fuzz.run(tally, ["replay", f"i{i}.yaml", *(["--narrate"] if which == "narrate" else []),
                             *(["--vs", "intent"] if which == "side" else [])])
        elif which == "policy":
            fuzz.run(tally, ["policy", "export", f"i{i}.yaml", "-s", "rbac", "--out", f"p{i}"],
                     check=lambda code, out, err, i=i: exported(tmp_path / f"p{i}"))
        elif which == "whatif":
            fuzz.run(tally, ["whatif", f"i{i}.yaml", "--set", f"title={json.dumps(hostile)}", "-r", "1",
                             "--strategies", "rbac"])
        else:
            suffix = ".graphml" if which == "graphml" else ".json"
            fuzz.run(tally, ["graph", f"i{i}.yaml", "--out", f"g{i}{suffix}"],
                     check=lambda code, out, err, i=i, suffix=suffix: None if code else readable(tmp_path / f"g{i}{suffix}"))
    for i in range(count(2)):  # a Markdown report: slow (figures), so a few
        fuzz.run(tally, ["report", f"i{i}.yaml", "-r", "1", "--strategies", "rbac", "--workers", "1", "--out",
                         f"r{i}.md"], check=lambda code, out, err, i=i: live_markup(tmp_path / f"r{i}.md"))
    tally.report(capsys)
    assert tally.exits[0]


@pytest.mark.timeout(240)
def test_fuzz_clipping(fuzz, tmp_path, capsys):
    tally = Tally("clipping")
    huge = ["k" * 100_000, "é" * 50_000, "[" * 20_000, "x " * 30_000, "9" * 4000, "a/" * 2000]
    for i in range(count(30)):
        value = fuzz.pick(huge)
        kind = fuzz.pick(["key", "id", "value", "set path", "set value", "grid", "name", "strategy", "out"])
        if kind in ("key", "id", "value"):
            data = yaml.safe_load(BASE)
            if kind == "key":
                data[value[:100_000]] = 1
            elif kind == "id":
                data["agents"][0]["id"] = value
            else:
                data["agents"][0]["owner"] = value
            (tmp_path / f"c{i}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
            argv = [fuzz.pick(["validate", "run"]), f"c{i}.yaml"]
        elif kind == "set path":
            argv = ["validate", "base.yaml", "--set", f"{value}=1"]
        elif kind == "set value":
            argv = ["run", "base.yaml", "--set", f"agents.bot.owner={value}"]
        elif kind == "grid":
            argv = ["sweep", "base.yaml", "--grid", f"title={value[:20_000]},b", "-r", "1", "--strategies", "rbac",
                    "--executor", "serial", "-q", "--out", f"s{i}"]
        elif kind == "name":
            argv = ["validate", value]
        elif kind == "strategy":
            argv = ["run", "base.yaml", "-s", value]
        else:  # one long name (thousands of nested folders would outlive pytest's recursive clean-up)
            argv = ["schema", "--out", value.replace("/", "_") + ".json"]
        fuzz.run(tally, argv)
    tally.report(capsys)
    assert tally.exits[2]
