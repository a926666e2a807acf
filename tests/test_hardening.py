"""Input that validates yet cannot run: numbers the model cannot use, runs that would never
finish, and messages that must stay one screen whatever the input.

Each class is tested across its members (every unit, every bounded field, every part of
the work estimate), through the real command line in this process: exit code 2, a
one-screen message naming the file, the location and what is wrong, never a traceback.
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import math
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run_cli
from fuzz_helpers import fan_out
from hypothesis import given, settings
from hypothesis import strategies as st
from test_bad_input import BASE

from nhisim.errors import InputError, Problem, clip
from nhisim.scenario import workload
from nhisim.scenario.loader import load_scenario, parse_override
from nhisim.scenario.strategy import resolve_strategy, scenario_strategy
from nhisim.scenario.units import _UNIT_SECONDS, MAX_RATE, MAX_SECONDS, parse_duration, parse_rate

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted(glob.glob(str(ROOT / "scenarios" / "*.yaml")))


@pytest.fixture
def base(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for env in (workload.FORCE_ENV, workload.MAX_EVENTS_ENV):
        monkeypatch.delenv(env, raising=False)
    path = tmp_path / "base.yaml"
    path.write_text(BASE)
    return path


def _refused(argv: list[str], capsys, *expect: str) -> str:
    code, out, err = run_cli(argv, capsys)
    assert "Traceback" not in out + err, out + err
    assert code == 2, out + err
    lines = err.splitlines()
    assert 2 <= len(lines) < 25 and all(len(line) < 600 for line in lines), err
    for text in expect:
        assert text in err, f"{text!r} not in:\n{err}"
    return err


# ----------------------------------------------------------------- class 1: numbers the model cannot use

@pytest.mark.parametrize("unit", sorted(_UNIT_SECONDS))
@pytest.mark.parametrize("count", ["1", "5", "0.5"])
def test_a_rate_per_zero_time_is_refused_in_every_unit(count, unit):
    with pytest.raises(ValueError, match="per no time at all"):
        parse_rate(f"{count}/0{unit}")
    with pytest.raises(ValueError, match="per no time at all"):
        parse_rate(f"{count}/0.0{unit}")


@given(st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                 st.from_regex(r"-?\d{1,400}(\.\d{1,5})?\s?(ms|s|m|h|d|w)?(/\d{0,400}(ms|s|min|h|d))?", fullmatch=True)))
@settings(max_examples=300, deadline=None)
def test_units_raise_only_value_errors_and_return_usable_numbers(value):
    """Whatever the number, a unit parser returns a bounded float or raises ValueError (told as bad input)."""
    for parse, bound in ((parse_duration, MAX_SECONDS), (parse_rate, MAX_RATE)):
        try:
            result = parse(value)
        except ValueError:
            continue
        assert result >= 0 and not math.isnan(result)
        assert result <= bound or (parse is parse_duration and math.isinf(result))


HUGE = "9" * 400
NUMBERS = {
    "horizon 0": ("run.horizon=0", "run.horizon", "must be longer than zero"),
    "horizon huge": (f"run.horizon={HUGE}", "run.horizon", "too large a number"),
    "duration over the longest": ("tasks.t.deadline=1.0e+300", "deadline", "over the longest duration"),
    "rate per 0h": ("tasks.t.arrival_rate=1/0h", "arrival_rate", "per no time at all"),
    "rate per 0s": ("tasks.t.arrival_rate=5/0s", "arrival_rate", "per no time at all"),
    "rate inf": ("tasks.t.arrival_rate=.inf", "arrival_rate", "over the fastest rate"),
    "attacker rate inf": ("attacker.rate=.inf", "attacker.rate", "over the fastest rate"),
    "records 400 digits": (f"resources.db.records={HUGE}", "records", "less than or equal to"),
    "sensitivity weight inf": ("weights.sensitivity.high=.inf", "weights.sensitivity.high", "less than or equal to"),
    "damage weight 1e308": ("weights.action_damage.read=1.0e308", "weights.action_damage.read", "less than or equal"),
    "multiplier inf": ("agents.bot.behaviour.task_rate_multiplier=.inf", "task_rate_multiplier", "less than or equal"),
    "rotation 0": ("strategies.rbac.rotation=0", "strategies.rbac.rotation", "must be longer than zero"),
    "identity ttl 0": ("strategies.zsp.identity_ttl=0s", "strategies.zsp.identity_ttl", "must be longer than zero"),
    "retry without delay": ("issuer.retry_after=0", "issuer.retry_after", "must be longer than zero"),
    "retries unbounded": ("issuer.max_retries=1000000000", "issuer.max_retries", "less than or equal"),
    "replications 1e9": ("run.replications=1000000000", "run.replications", "less than or equal"),
    "seed 400 digits": (f"run.seed={HUGE}", "run.seed", "less than or equal"),
    "sigma huge": ("detection.manual_revocation_latency={lognormal: {median: 1h, sigma: 1.0e+200}}", "sigma",
                   "less than or equal"),
    "5000-digit integer": ("run.seed=" + "9" * 5000, "--set", "more than 4,300 digits"),
}


@pytest.mark.parametrize("name", list(NUMBERS))
def test_numbers_the_model_cannot_use_are_bad_input(name, base, capsys):
    override, location, what = NUMBERS[name]
    for command in ("validate", "run"):
        err = _refused([command, "base.yaml", "--set", override], capsys, location, what)
        assert "base.yaml" in err or location == "--set"


def test_a_5000_digit_integer_in_the_file_is_bad_input(base, capsys):
    base.write_text(BASE + "run:\n  seed: " + "9" * 5000 + "\n")
    err = _refused(["validate", "base.yaml"], capsys, "base.yaml", "more than 4,300 digits")
    assert "set_int_max_str_digits" not in err  # Python's own advice is no use to a scenario author


def test_a_grid_value_per_zero_time_is_bad_input(base, capsys, tmp_path):
    _refused(["sweep", "base.yaml", "--grid", "tasks.t.arrival_rate=1/h,5/0s", "--out", str(tmp_path / "s"),
              "-r", "1", "--executor", "serial", "-q"], capsys, "5/0s", "per no time at all")


# ----------------------------------------------------------------- class 2: runs that would never finish

HEAVY = {
    "horizon 1e12 s": (["run.horizon=1.0e+12"], "attacker attempts"),  # an upper bound: until detected
    "arrival rate 1e6/s": (["tasks.t.arrival_rate=1000000"], "tool calls"),
    "multiplier 1e6": (["agents.bot.behaviour.task_rate_multiplier=1000000"], "tool calls"),
    "attacker 1e6/s": (["attacker.rate=1000000"], "attacker attempts"),
    "rotation 1 ms": (["strategies.rbac.rotation=1ms"], "key rotations"),
    "identity renewed every ms": (["strategies.zsp.identity_ttl=1ms"], "identity renewals"),
    "retry every ms in an outage": (["issuer.retry_after=1ms", "threats.0={kind: issuer_outage, window: "
                                     "{start: 1h, duration: 1h}}"], "issuer retries"),
}


@pytest.mark.parametrize("name", list(HEAVY))
def test_runs_that_cannot_finish_are_refused_before_they_start(name, base, capsys):
    sets, part = HEAVY[name]
    strategy = "zsp" if "identity" in name or "retry" in name else "rbac"
    argv = ["run", "base.yaml", "-s", strategy]
    for s in sets:
        argv += ["--set", s]
    _refused(argv, capsys, "error: run too large", "base.yaml", part, "over the limit of 10,000,000",
             "--force")


@pytest.mark.parametrize("horizon", ["never", ".inf"])
def test_an_endless_run_is_refused_even_with_force(horizon, base, capsys):
    """An infinite horizon validates (a scenario may be analysed statically) but cannot run."""
    assert math.isinf(load_scenario(base, dict([parse_override(f"run.horizon={horizon}")])).run.horizon)
    for argv in (["run", "base.yaml"], ["run", "base.yaml", "--force"], ["compare", "base.yaml", "--force", "-r", "1"]):
        _refused([*argv, "--set", f"run.horizon={horizon}"], capsys, "run too large", "would never end",
                 "run.horizon: 8h")


def test_a_billion_replications_are_refused_before_the_run_list_is_built(base, capsys):
    # the most the command line takes (more is refused by the option itself)
    _refused(["compare", "base.yaml", "-r", "1000000", "--executor", "serial"], capsys,
             "error: run too large", "1,000,000 replications", "per comparison", "--force")


def test_a_heavy_sweep_is_refused(base, capsys, tmp_path):
    _refused(["sweep", "base.yaml", "--grid", "run.horizon=1h,1.0e+11", "--out", str(tmp_path / "s"), "-r", "1",
              "--executor", "serial", "-q"], capsys, "error: run too large", "base.yaml", "events")


def test_force_and_the_limit_variable(base, capsys, monkeypatch):
    """The limit is documented and movable: a tiny limit refuses the base file, --force runs it anyway."""
    monkeypatch.setenv(workload.MAX_EVENTS_ENV, "10")
    _refused(["run", "base.yaml"], capsys, "over the limit of 10 per run")
    code, out, err = run_cli(["run", "base.yaml", "--force"], capsys)
    assert code == 0, err
    assert "policy evaluations" in out
    monkeypatch.setenv(workload.MAX_EVENTS_ENV, "lots")
    _refused(["run", "base.yaml"], capsys, workload.MAX_EVENTS_ENV, "positive whole number")


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: Path(p).stem)
def test_every_bundled_scenario_is_well_under_the_limits(path):
    scenario = load_scenario(path)
    strategies = [scenario_strategy(scenario, name) for name in scenario.strategies]
    for strategy in strategies:
        assert workload.estimate_run(scenario, strategy).total < workload.MAX_RUN_EVENTS / 100
    total = workload.check_job(scenario, strategies, scenario.run.replications * 10)
    assert total < workload.MAX_RUN_EVENTS * workload.JOB_FACTOR / 10


def test_the_estimate_follows_the_work():
    """Twice the horizon, twice the work; an idle task (rate 0) costs nothing even over a long horizon."""
    scenario = load_scenario(ROOT / "scenarios" / "enterprise.yaml")
    rbac = resolve_strategy("rbac")
    one = workload.estimate_run(scenario, rbac)
    two = workload.estimate_run(scenario, rbac, horizon=2 * scenario.run.horizon)
    assert two.tool_calls == pytest.approx(2 * one.tool_calls) and one.tool_calls > 0
    assert two.attacker_attempts == pytest.approx(2 * one.attacker_attempts)


# ----------------------------------------------------------------- class 7: huge values in messages

def test_huge_keys_and_ids_are_clipped_in_messages(base, capsys):
    key = "k" * 100_000
    err = _refused(["validate", "base.yaml", "--set", f"{key}=1"], capsys, "unknown path", "100,000 characters")
    assert len(err) < 2000
    base.write_text(BASE + f"agents:\n  - {{id: bot, owner: {'x' * 100_000}}}\n")
    err = _refused(["validate", "base.yaml"], capsys, "at most 200 characters", "100,003 characters")
    assert len(err) < 2000


@given(st.text(min_size=0, max_size=3000), st.text(max_size=3000), st.text(max_size=3000))
@settings(max_examples=100, deadline=None)
def test_every_problem_renders_on_one_screen(message, location, suggestion):
    text = InputError([Problem(message, location, 3, suggestion)] * 30, file="f.yaml").render()
    lines = text.splitlines()
    assert len(lines) <= 21 and all(len(line) < 600 for line in lines)


def test_clip_keeps_both_ends_and_the_length():
    value = "start-" + "x" * 1000 + "-end"
    assert clip(value).startswith("start-") and clip(value).endswith("(1,010 characters)")
    assert "-end" in clip(value) and clip("short") == "short"


def test_deeply_nested_set_value_is_bad_input():
    with pytest.raises(InputError, match="nested too deeply"):
        parse_override("title=" + "[" * 3000 + "]" * 3000)
    with pytest.raises(InputError, match="nested too deeply"):
        parse_override("title=" + "{a: " * 3000 + "}" * 3000)


# ----------------------------------------------------------------- class 3: control characters and surrogates

CONTROL = [c for c in range(0x00, 0xA0) if c < 0x20 and c not in (0x09, 0x0A, 0x0D) or 0x7F <= c <= 0x9F and c != 0x85]


@pytest.mark.parametrize("code", CONTROL, ids=lambda c: f"U+{c:04X}")
def test_every_control_character_in_a_file_is_told_with_its_line(code, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: x\ntitle: a{chr(code)}b\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_scenario(path)
    text = info.value.render()
    assert f"{path}:2:" in text and "control character" in text and "column 9" in text  # "title: a" is 8 columns
    assert "position" not in text and "ReaderError" not in text


@pytest.mark.parametrize("escape", ["\\e[2J", "\\x1b]0;title\\x07", "\\0", "\\x9b31m", "\\udc80", "\\ud800x",
                                    "\\r"])
@pytest.mark.parametrize("where", ["title", "description", "humans.alice.title", "resources.db.description"])
def test_escapes_that_write_control_text_are_refused_wherever_the_text_is(escape, where, base, capsys):
    _refused(["validate", "base.yaml", "--set", f'{where}="ok {escape} ok"'], capsys,
             "base.yaml", "scenario text is plain")


def test_tabs_and_newlines_stay_allowed_in_text(base):
    scenario = load_scenario(base, {"description": "one\ttwo\nthree"})
    assert scenario.description == "one\ttwo\nthree"


def test_a_nul_byte_file_is_bad_input_through_the_cli(base, capsys):
    base.write_bytes(b"name: x\x00\x00\n")
    _refused(["validate", "base.yaml"], capsys, "base.yaml:1", "NUL", "binary or UTF-16")


# ----------------------------------------------------------------- class 5: injection

MARKUP_TITLES = ["[/]", "[/x] closes nothing", "[bold]x[/bold]", "[link=file:///etc/passwd]y[/link]", "a [red", "]["]


@pytest.mark.parametrize("title", MARKUP_TITLES)
def test_rich_markup_in_a_title_is_printed_not_obeyed(title, base, capsys):
    code, out, err = run_cli(["replay", "base.yaml", "--set", f"title={title!r}"], capsys)
    assert code == 0 and "Traceback" not in out + err, err
    assert out.splitlines()[0].startswith(title), out.splitlines()[0]


def test_report_md_shows_scenario_text_literally(base, capsys, tmp_path):
    hostile = "*x* <script>alert(1)</script> [a](http://e.vil) ![i](x.png) `code` | cell ~~s~~ &amp;"
    base.write_text(BASE + f"title: {hostile!r}\ndescription: {hostile!r}\n"
                    "strategies: {rbac: {base: rbac, description: '<img src=x onerror=alert(1)>'}}\n")
    code, out, err = run_cli(["report", "base.yaml", "--out", str(tmp_path / "r.md"), "-r", "2"], capsys)
    assert code == 0, err
    text = (tmp_path / "r.md").read_text()
    for raw in ("<script>", "<img", "[a](", "![i](", "*x*", "`code`", "~~s~~", "&amp;"):
        assert not re.search(r"(?<!\\)" + re.escape(raw), text), raw  # only ever backslash-escaped
    assert "\\<script\\>alert(1)\\</script\\>" in text and "\\[a\\](http://e.vil)" in text


def test_plain_drops_every_control_character_and_escapes_markup():
    from rich.console import Console

    from nhisim.cli.common import plain

    text = "".join(chr(c) for c in range(0xA0)) + "[/][link=x]"
    shown = plain(text)
    assert not any(ord(c) < 0x20 and c not in "\t\n" or 0x7F <= ord(c) < 0xA0 for c in shown)
    console = Console(record=True, width=400)
    console.print(shown)  # would raise MarkupError for "[/]" unescaped
    assert "[/][link=x]" in console.export_text()


@pytest.mark.parametrize("option", ["--set", "--grid"])
@pytest.mark.parametrize("opening", ["[", "{a: "])
def test_values_nested_3000_deep_are_bad_input(option, opening, base, capsys, tmp_path):
    closing = "]" if opening == "[" else "}"
    value = "title=" + opening * 3000 + closing * 3000
    argv = (["validate", "base.yaml", "--set", value] if option == "--set" else
            ["sweep", "base.yaml", "--grid", value, "--out", str(tmp_path / "s"), "-q"])
    _refused(argv, capsys, "nested too deeply")


# ----------------------------------------------------------------- class 4: output paths

def _writers(out: str) -> dict[str, list[str]]:
    """Every command that writes a file, given ``out`` (a stem; each adds its own suffix)."""
    return {
        "report": ["report", "base.yaml", "-r", "2", "--out", out + ".md"],
        "run": ["run", "base.yaml", "--events", out + ".parquet"],
        "schema": ["schema", "--out", out + ".json"],
        "generate": ["generate", "--agents", "3", "--out", out + ".yaml"],
        "graph": ["graph", "base.yaml", "--out", out + ".graphml"],
        "demo": ["demo", "-r", "2", "--out", out],
        "compare": ["compare", "base.yaml", "-r", "2", "--executor", "serial", "--out", out],
    }


UNWRITABLE = {
    "under a file": lambda tmp: str(tmp / "afile" / "x"),
    "under a missing parent of a file": lambda tmp: str(tmp / "afile" / "missing" / "x"),
    "on a read-only file system": lambda tmp: "/proc/nhisim-test/x",  # refused even to root
}


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux /proc for a path even root cannot write")
@pytest.mark.parametrize("where", list(UNWRITABLE))
@pytest.mark.parametrize("command", list(_writers("x")))
def test_every_writer_refuses_a_path_it_cannot_write_before_working(command, where, base, capsys, tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    argv = _writers(UNWRITABLE[where](tmp_path))[command]
    err = _refused(argv, capsys, "--out" if "--out" in argv else "--events")
    assert "cannot write" in err or "is a file, not a folder" in err


@pytest.mark.parametrize("command", ["report", "run", "schema", "generate", "graph"])
def test_a_folder_where_a_file_is_expected_is_refused(command, base, capsys, tmp_path):
    argv = _writers(str(tmp_path / "x"))[command]
    Path(argv[argv.index("--out" if "--out" in argv else "--events") + 1]).mkdir()
    _refused(argv, capsys, "is a folder")


def test_a_missing_parent_is_created(base, capsys, tmp_path):
    code, _, err = run_cli(["schema", "--out", str(tmp_path / "new" / "deeper" / "s.json")], capsys)
    assert code == 0, err
    assert (tmp_path / "new" / "deeper" / "s.json").read_text().startswith("{")


def test_a_refused_command_leaves_no_probe_file(base, capsys, tmp_path):
    base.write_text("name: [\n")
    _refused(["graph", "base.yaml", "--out", str(tmp_path / "g.graphml")], capsys, "YAML syntax error")
    assert not (tmp_path / "g.graphml").exists()


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def test_compare_never_writes_over_results(base, capsys, tmp_path):
    folder = str(tmp_path / "cmp")
    argv = ["compare", "base.yaml", "-r", "2", "--executor", "serial", "--json", "--out", folder]
    assert run_cli(argv, capsys)[0] == 0
    before = (tmp_path / "cmp" / "runs.parquet").read_bytes()
    _refused(argv + ["--seed", "7"], capsys, "holds an earlier comparison", "--overwrite")
    assert (tmp_path / "cmp" / "runs.parquet").read_bytes() == before
    assert run_cli(argv + ["--seed", "7", "--overwrite"], capsys)[0] == 0
    assert (tmp_path / "cmp" / "runs.parquet").read_bytes() != before

    sweep = str(tmp_path / "sweep")
    code, _, err = run_cli(["sweep", "base.yaml", "--grid", "run.seed=1,2", "-r", "1", "--executor", "serial",
                            "-q", "--out", sweep], capsys)
    assert code == 0, err
    kept = _snapshot(tmp_path / "sweep")
    for extra in ([], ["--overwrite"]):
        _refused(["compare", "base.yaml", "-r", "2", "--out", sweep, *extra], capsys, "sweep's results folder")
    assert _snapshot(tmp_path / "sweep") == kept


def test_a_lone_surrogate_in_a_key_is_printed_as_its_escape(base, capsys):
    """Found by tests/test_fuzz.py: an unknown key "\\udc80" made printing the error raise."""
    base.write_text(BASE + '"a\\udc80b": 1\n')
    err = _refused(["validate", "base.yaml"], capsys, "valid string", "a\\udc80b")
    err.encode("utf-8")


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: Path(p).stem)
def test_the_estimate_is_within_a_factor_of_the_events_a_run_logs(path):
    """Calibration: the estimate counts the work a run does (delegated sub-tasks included; found by
    tests/test_fuzz.py, where a delegation chain ran seven times what tool calls alone predicted)."""
    from nhisim.experiments.run import simulate

    scenario = load_scenario(path)
    for name in scenario.strategies:
        estimate = workload.estimate_run(scenario, scenario_strategy(scenario, name)).total
        events = len(simulate(scenario, name, scenario.run.seed).events)
        assert estimate / 4 <= events <= estimate * 4, (name, estimate, events)


@pytest.mark.parametrize("argv", [
    ["compare", "base.yaml", "-r", HUGE, "--executor", "serial"],
    ["compare", "base.yaml", "-r", "2", "--workers", HUGE],
    ["sweep", "base.yaml", "--sample", "lhs", "--n", HUGE, "--bounds", "run.horizon=1h:2h", "--out", "s", "-q"],
    ["sweep", "base.yaml", "--grid", "run.seed=1,2", "-r", "2000000", "--out", "s", "-q"],
    ["generate", "--agents", HUGE, "--out", "g.yaml"],
    ["generate", "--depth", "1000", "--out", "g.yaml"],
    ["report", "base.yaml", "-r", HUGE, "--out", "r.md"],
], ids=["compare -r", "compare --workers", "sweep --n", "sweep -r", "generate --agents", "generate --depth",
        "report -r"])
def test_command_line_counts_are_bounded(argv, base, capsys):
    """A count on the command line is refused past what can run, before anything is built or started."""
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and "Traceback" not in out + err, err
    assert "less than or equal to" in " ".join(re.sub("[│╭╮╰╯─]", " ", err).split())  # Rich wraps its box


# ----------------------------------------------------------------- class 2 (cont.): sizes known before building

def test_a_huge_grid_is_refused_from_its_size_before_a_point_is_built(base, monkeypatch):
    """300×300×300 values: refused from the sizes alone (no point, no product scanned), even with --force."""
    import tracemalloc

    sweep_module = importlib.import_module("nhisim.experiments.sweep")  # the module, not the function
    monkeypatch.setenv(workload.FORCE_ENV, "1")
    grid = {"run.seed": list(range(300)), "issuer.max_retries": list(range(300)), "attacker.rate": list(range(300))}
    checked = []
    monkeypatch.setattr(sweep_module, "_invalid", lambda *a, **k: checked.append(a) or None)
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="27,000,000 points") as info:
            sweep_module.plan_sweep(base, grid, replications=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.title == "sweep too large" and "--sample lhs" in info.value.render()
    assert not checked and peak < 20_000_000, peak  # 27 million points would be gigabytes


def test_grid_values_are_checked_per_axis_not_per_point(base, monkeypatch):
    """Each value is validated with a few combinations built around it: 600 values, about 600 checks."""
    sweep_module = importlib.import_module("nhisim.experiments.sweep")
    monkeypatch.setenv(workload.FORCE_ENV, "1")
    real = sweep_module._invalid
    checked = []
    monkeypatch.setattr(sweep_module, "_invalid", lambda *a, **k: checked.append(a) or real(*a, **k))
    plan = sweep_module.plan_sweep(base, {"run.seed": list(range(300)), "issuer.max_retries": list(range(300))},
                                   strategies=["rbac"], replications=1)
    assert len(plan.points) == 90_000
    assert len(checked) <= 600 + 8


def test_the_sweep_estimate_sees_a_heavy_value_wherever_it_is_in_the_grid(base, capsys, tmp_path):
    """A long horizon on the first axis: the estimate's points are spread over the whole sweep."""
    seeds = ",".join(str(i) for i in range(300))
    _refused(["sweep", "base.yaml", "--grid", "run.horizon=1h,1.0e+8", "--grid", f"run.seed={seeds}", "-r", "1",
              "--out", str(tmp_path / "s"), "-q"], capsys, "run too large", "600 points", "--force")


def test_a_delegation_fan_out_is_estimated_per_template():
    """A chain of 60 templates, each a call and two hand-offs to the next: 2**61 - 3 steps per arrival,
    computed in 60 steps, not 2**60."""
    chain = 60
    steps = [types.SimpleNamespace(delegate=None)]
    tasks = {}
    for i in reversed(range(chain)):
        hand_off = [types.SimpleNamespace(delegate=types.SimpleNamespace(task=f"t{i + 1}"))] * 2 if i + 1 < chain else []
        tasks[f"t{i}"] = types.SimpleNamespace(steps=steps + hand_off)
    assert workload.steps_per_arrival(tasks)["t0"] == 2.0 ** (chain + 1) - 3
    tasks["t59"].steps = [*tasks["t59"].steps, types.SimpleNamespace(delegate=types.SimpleNamespace(task="t0"))]
    assert workload.steps_per_arrival(tasks)["t0"] < math.inf  # a cycle ends where the engine stops it


@pytest.mark.parametrize("agents", [22, 2000])
def test_a_delegation_fan_out_is_refused_at_once_with_the_force_hint(agents, base, capsys):
    base.write_text(fan_out(agents))
    assert run_cli(["validate", "base.yaml"], capsys)[0] == 0
    err = _refused(["run", "base.yaml"], capsys, "run too large", "tool calls", "--force")
    assert "would never end" not in err  # the horizon is finite: huge, not endless
    if agents == 2000:
        assert "more than 1e308" in err


# ----------------------------------------------------------------- class 3 (cont.): file names that are not UTF-8

NOT_UTF8 = os.fsdecode(b"sur\xff")


@pytest.fixture
def not_utf8(base, tmp_path) -> str:
    name = NOT_UTF8 + ".yaml"
    try:
        (tmp_path / name).write_text(BASE)
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    return name


def test_a_file_name_that_is_not_utf8_is_carried_safely(not_utf8, capsys, tmp_path):
    """Into results, reports (HTML, Markdown, their names), check results and messages: shown as \\xff."""
    def ok(argv: list[str], codes: tuple[int, ...] = (0,)) -> str:
        code, out, err = run_cli(argv, capsys)
        assert code in codes and "Traceback" not in out + err, out + err
        (out + err).encode("utf-8")
        return out + err

    ok(["compare", not_utf8, "-r", "1", "--strategies", "rbac", "--executor", "serial", "--out", "cmps", "-q"])
    ok(["report", "cmps", "-f", "md", "-o", "cmps/r.md"])
    ok(["report", "cmps", "-o", "cmps/r.html"])
    assert "sur\\\\xff.yaml" in (tmp_path / "cmps" / "r.md").read_text(encoding="utf-8")  # Markdown-escaped
    assert "sur\\xff.yaml" in (tmp_path / "cmps" / "r.html").read_text(encoding="utf-8")
    shown = ok(["report", "cmps", "-f", "md", "-o", NOT_UTF8 + ".md"])
    assert "sur\\xff.md" in shown
    assert "sur%FF_files/" in (tmp_path / (NOT_UTF8 + ".md")).read_text(encoding="utf-8")  # a working link
    ok(["demo", "--scenario", not_utf8, "-r", "1", "--workers", "1", "--out", "d"])
    ok(["check", not_utf8, "-n", "5", "--jobs", "1"], codes=(0, 1))  # 1: a check that fails, not an error
    err = _refused(["validate", NOT_UTF8 + "-missing.yaml"], capsys, "sur\\xff-missing.yaml", "file not found")
    err.encode("utf-8")


# ----------------------------------------------------------------- class 4 (cont.): one writer per folder

def test_compare_holds_the_folder_lock_sweeps_hold(base, capsys, tmp_path):
    from nhisim.files import FolderLock

    out = tmp_path / "busy"
    out.mkdir()
    with FolderLock(out, "sweep"):
        _refused(["compare", "base.yaml", "-r", "1", "--executor", "serial", "--out", str(out)], capsys,
                 "folder in use", "another nhisim command is writing to this folder (sweep, pid")
    assert sorted(p.name for p in out.iterdir()) == [".nhisim.lock"]
    with FolderLock(out, "comparison"):
        _refused(["sweep", "base.yaml", "--grid", "run.seed=1,2", "-r", "1", "--executor", "serial", "-q",
                  "--out", str(out)], capsys, "folder in use", "(comparison, pid")


def test_results_that_appear_during_a_compare_are_kept_and_so_is_the_comparison(base, capsys, tmp_path, monkeypatch):
    """Something that takes no lock writes a sweep's manifest into --out while compare runs: neither is lost."""
    from nhisim.cli import commands_sim

    out = tmp_path / "cmp"
    real = commands_sim.run_comparisons

    def meanwhile(*args, **kwargs):
        done = real(*args, **kwargs)
        (out / "manifest.json").write_text("{}")
        return done

    monkeypatch.setattr(commands_sim, "run_comparisons", meanwhile)
    code, stdout, err = run_cli(["compare", "base.yaml", "-r", "2", "--executor", "serial", "--out", str(out)], capsys)
    assert code == 0, err
    assert (out / "manifest.json").read_text() == "{}" and not (out / "runs.parquet").exists()
    assert "saved in" in err and str(tmp_path / "cmp-2") in err
    assert (tmp_path / "cmp-2" / "runs.parquet").is_file() and (tmp_path / "cmp-2" / "comparison.json").is_file()
    assert "cmp-2/runs.parquet" in "".join(stdout.splitlines())


# ----------------------------------------------------------------- class 4 (cont.): output checked before the work

class NoWork(Exception):
    """Raised if a command starts its runs."""


@pytest.fixture
def no_work(monkeypatch):
    import nhisim.experiments
    import nhisim.experiments.whatif

    def refuse(*args, **kwargs):
        raise NoWork

    monkeypatch.setattr(nhisim.experiments, "compare", refuse)
    monkeypatch.setattr(nhisim.experiments.whatif, "whatif", refuse)


@pytest.mark.parametrize("argv", [
    ["demo", "-r", "1", "--out", "afile/o"],
    ["demo", "-r", "1", "--out", "/proc/nhisim-test/o"],
    ["whatif", "base.yaml", "--set", "run.seed=2", "-r", "1", "--report", "afile/x.html"],
    ["whatif", "base.yaml", "--set", "run.seed=2", "-r", "1", "--report", "/proc/nhisim-test/x.md"],
    ["report", "base.yaml", "-r", "1", "--out", "afile/x.md"],
    ["report", "base.yaml", "-r", "1", "--out", "/proc/nhisim-test/x.html"],
], ids=["demo under a file", "demo read-only", "whatif under a file", "whatif read-only", "report under a file",
        "report read-only"])
def test_an_unwritable_output_is_refused_before_the_runs(argv, base, capsys, tmp_path, no_work):
    if "/proc/" in " ".join(argv) and not Path("/proc/self").exists():
        pytest.skip("needs Linux /proc for a path even root cannot write")
    (tmp_path / "afile").write_text("not a folder")
    err = _refused(argv, capsys, "--report" if "--report" in argv else "--out")
    assert "cannot write" in err or "is a file, not a folder" in err


def test_whatif_has_the_force_its_message_suggests(base, capsys, monkeypatch):
    err = _refused(["whatif", "base.yaml", "--set", "run.horizon=1000000000000", "-r", "2"], capsys,
                   "run too large", "--force")
    monkeypatch.setenv(workload.MAX_EVENTS_ENV, "10")
    _refused(["whatif", "base.yaml", "--set", "run.seed=2", "-r", "2"], capsys, "run too large", "--force")
    code, out, err = run_cli(["whatif", "base.yaml", "--set", "run.seed=2", "-r", "2", "--force"], capsys)
    assert code == 0, err


def test_a_report_into_a_folder_suggests_a_file_of_its_format(base, capsys, tmp_path):
    (tmp_path / "adir.md").mkdir()
    _refused(["report", "base.yaml", "-r", "1", "-f", "md", "-o", "adir.md"], capsys, "adir.md/report.md")


# ----------------------------------------------------------------- class 4 (cont.): whole files or none

WRITES = {
    "events parquet": ["run", "enterprise.yaml", "--events", "out/e.parquet"],
    "events csv": ["run", "enterprise.yaml", "--events", "out/e.csv"],
    "compare results": ["compare", "enterprise.yaml", "-r", "2", "--executor", "serial", "--out", "out",
                        "--overwrite", "-q"],
    "report": ["report", "enterprise.yaml", "-r", "1", "--workers", "1", "--out", "out/r.html"],
    "graph": ["graph", "enterprise.yaml", "--out", "out/g.graphml"],
}


@pytest.mark.skipif(not hasattr(__import__("resource"), "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
@pytest.mark.parametrize("what", list(WRITES))
def test_a_write_that_fails_leaves_the_old_file_and_no_fragment(what, tmp_path):
    """A file-size limit (as good as a full disk) stops each write midway: the old file stays whole,
    no truncated or temporary file is left, and the message names the file."""
    import shutil

    shutil.copy(ROOT / "scenarios" / "enterprise.yaml", tmp_path)
    (tmp_path / "out").mkdir()
    argv = WRITES[what]
    target = tmp_path / (argv[argv.index("--out" if "--out" in argv else "--events") + 1])
    old = target / "runs.parquet" if target.is_dir() else target
    old.write_bytes(b"the old file")
    limit = 4096  # bytes per file: every one of these is larger
    code = (f"import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit})); "
            "from nhisim.cli.app import main; main(sys.argv[1:])")
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "file system error" in done.stderr, done.stderr
    assert f"{old.parent.name if what == 'compare results' else old.name}:" in done.stderr  # the file, or its folder
    assert old.read_bytes() == b"the old file"
    left = sorted(p.name for p in (tmp_path / "out").rglob("*") if p.name != ".nhisim.lock")
    assert left == [old.name], left


def test_files_put_in_place_together_or_not_at_all(tmp_path):
    from nhisim.files import whole_files, written

    (tmp_path / "a").write_text("old a")
    with pytest.raises(OSError) as info:
        with whole_files(tmp_path / "a", tmp_path / "b") as (a, b):
            a.write_text("new a")
            raise OSError(28, "No space left on device")
    assert info.value.filename == str(tmp_path)  # the targets' folder, never a temporary file
    assert (tmp_path / "a").read_text() == "old a" and sorted(os.listdir(tmp_path)) == ["a"]
    with whole_files(tmp_path / "a", tmp_path / "new" / "b") as (a, b):
        a.write_text("new a")
        b.write_text("new b")
    assert (tmp_path / "a").read_text() == "new a" and (tmp_path / "new" / "b").read_text() == "new b"
    assert written()[-2:] == [tmp_path / "a", tmp_path / "new" / "b"]
    assert sorted(os.listdir(tmp_path)) == ["a", "new"]


# ----------------------------------------------------------------- class 5: Ctrl-C and SIGTERM

def _children(pid: int) -> list[int]:
    try:
        return [int(c) for task in Path(f"/proc/{pid}/task").iterdir()
                for c in (task / "children").read_text().split()]
    except OSError:
        return []


def _catches_sigterm(pid: int) -> bool:
    """Whether the process has a handler for SIGTERM (Python has none of its own: nhisim's is installed)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(caught & (1 << (15 - 1)))


def _when(moment: str, proc: subprocess.Popen, out: Path) -> None:
    """Wait for a moment of the command's life (never a fixed sleep): ``early`` is as soon as nhisim
    handles signals (it is then importing pandas and the engine); ``working`` is once its worker
    processes are up and, for a sweep, a chunk is saved."""
    import time

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if moment == "early" and _catches_sigterm(proc.pid):
            return
        if moment == "working" and len(_children(proc.pid)) >= 2 and (
                out.name != "sweep" or any((out / "runs.parquet").glob("part-*"))):
            return
        time.sleep(0.002 if moment == "early" else 0.02)
    pytest.fail(f"the command never got to the moment {moment!r}")


def _group_gone(pgid: int) -> bool:
    """Whether every process of the group has ended (waiting a little: a worker notices its parent die)."""
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


SIGNALLED = {
    "compare": ["compare", "enterprise.yaml", "-r", "40", "--executor", "processes", "--workers", "2", "--out"],
    "sweep": ["sweep", "enterprise.yaml", "--grid", "run.seed=1,2,3,4,5,6,7,8", "-r", "5", "--executor", "processes",
              "--workers", "2", "--chunk-size", "4", "--out"],
}


@pytest.mark.skipif(not Path("/proc/self/task").exists() or os.name != "posix", reason="needs POSIX signals and /proc")
@pytest.mark.parametrize("moment", ["early", "working"])
@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("command", list(SIGNALLED))
def test_a_signal_stops_the_command_with_its_exit_code_and_one_line(command, signame, moment, tmp_path):
    """Sent to the whole process group, as a terminal's Ctrl-C is: exit 130 (SIGINT) or 143 (SIGTERM),
    exactly one line on stderr saying what was kept, no traceback from the command or its workers."""
    import shutil
    import signal

    shutil.copy(ROOT / "scenarios" / "enterprise.yaml", tmp_path)
    out = tmp_path / command
    proc = subprocess.Popen([sys.executable, "-m", "nhisim", *SIGNALLED[command], str(out)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        _when(moment, proc, out)
        os.killpg(proc.pid, getattr(signal, signame))
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    if proc.returncode == 0 and moment == "working":
        pytest.skip("the command finished before the signal")  # a very fast machine: nothing to observe
    assert proc.returncode == {"SIGINT": 130, "SIGTERM": 143}[signame], stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stdout + stderr and "Bad file descriptor" not in stderr, stderr
    name = "Ctrl-C" if signame == "SIGINT" else "SIGTERM"
    assert re.fullmatch(rf"interrupted \({name}\): (nothing was written|nothing was saved \(\d+ of \d+ runs had "
                        r"finished; .*\)|\d+ of \d+ runs are saved in .*; run the same command again to finish|kept .*)",
                        lines[0]), lines[0]
    if command == "sweep" and "are saved in" in lines[0]:
        saved = int(lines[0].split("): ")[1].split(" of ")[0])
        kept = pd.read_parquet(out / "runs.parquet") if saved else []
        assert len(kept) == saved  # the line tells the truth
    assert _group_gone(proc.pid)  # no worker outlives the command


def test_an_interrupt_raised_anywhere_is_told_in_one_line(base, capsys, monkeypatch):
    """In this process: Ctrl-C while loading the scenario (or anywhere) is exit 130 and one line."""
    import nhisim.scenario.loader

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(nhisim.scenario.loader, "read_yaml", interrupted)
    for argv in (["validate", "base.yaml"], ["run", "base.yaml"], ["compare", "base.yaml", "-r", "1"]):
        code, out, err = run_cli(argv, capsys)
        assert code == 130 and err == "interrupted (Ctrl-C): nothing was written\n", err


def test_an_interrupted_json_command_still_prints_its_envelope(base, capsys, monkeypatch):
    """--json promises one envelope: an interruption gives ok false, the kept line as its error, exit 130."""
    import json

    import nhisim.scenario.loader

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(nhisim.scenario.loader, "read_yaml", interrupted)
    for argv in (["validate", "base.yaml", "--json"], ["compare", "base.yaml", "-r", "1", "--json"]):
        code, out, err = run_cli(argv, capsys)
        assert code == 130 and err == "interrupted (Ctrl-C): nothing was written\n", err
        envelope = json.loads(out)
        assert envelope["command"] == argv[0] and envelope["ok"] is False
        assert envelope["error"]["title"] == "interrupted" and envelope["error"]["message"] == err.strip()


def test_a_json_failure_after_the_apps_own_options_names_its_command(base, capsys, monkeypatch):
    import json

    monkeypatch.setenv("NHISIM_ALLOW_PATHS", "")  # --allow-path sets it for the process: restored after the test
    code, out, _ = run_cli(["--allow-path", str(base.parent), "validate", "missing.yaml", "--json"], capsys)
    envelope = json.loads(out)
    assert code == 2 and envelope["command"] == "validate" and envelope["inputs"]["files"] == ["missing.yaml"]


# ----------------------------------------------------------------- class 6 (cont.): injection into exported files

INJECTED = ['x\npermit (principal, action, resource);\n// ', 'x\r\npermit (principal, action, resource);',
            'x\u2028permit (principal, action, resource);', '"); permit (principal, action, resource); @a("',
            '*/ permit (principal, action, resource); /*', '</data><node id="pwn"/><data>', '"},{"kind":"pwn"']


@pytest.mark.parametrize("text", INJECTED, ids=range(len(INJECTED)))
def test_scenario_text_cannot_change_an_exported_file(text, base, capsys, tmp_path):
    """A description or title holding Cedar, XML or JSON syntax stays text in every export:
    the Cedar file has its policies and no more, GraphML and OpenGraph read back the same graph."""
    import json

    import cedarpy
    import networkx as nx
    import yaml

    def policies(folder: Path) -> int:
        return len(json.loads(cedarpy.policies_to_json_str((folder / "rbac.cedar").read_text()))["staticPolicies"])

    assert run_cli(["policy", "export", "base.yaml", "-s", "rbac", "--out", "clean"], capsys)[0] == 0
    assert run_cli(["graph", "base.yaml", "--out", "clean.graphml"], capsys)[0] == 0
    data = yaml.safe_load(BASE)
    data["title"] = data["description"] = text.replace("\r", "")  # scenario text: tab and newline only
    data["strategies"] = {"rbac": {"base": "rbac", "description": text.replace("\r", "")}}
    data["resources"][0]["description"] = text.replace("\r", "")
    base.write_text(yaml.safe_dump(data, allow_unicode=True))
    code, out, err = run_cli(["policy", "export", "base.yaml", "-s", "rbac", "--out", "hostile"], capsys)
    assert code == 0, err
    assert policies(tmp_path / "hostile") == policies(tmp_path / "clean")
    cedarpy.Schema.from_str((tmp_path / "hostile" / "schema.cedarschema").read_text())
    json.loads((tmp_path / "hostile" / "entities.json").read_text())
    for fmt, suffix in (("graphml", ".graphml"), ("opengraph", ".json")):
        assert run_cli(["graph", "base.yaml", "--format", fmt, "--out", f"hostile{suffix}"], capsys)[0] == 0
    clean, hostile = nx.read_graphml(tmp_path / "clean.graphml"), nx.read_graphml(tmp_path / "hostile.graphml")
    assert (hostile.number_of_nodes(), hostile.number_of_edges()) == (clean.number_of_nodes(), clean.number_of_edges())
    graph = json.loads((tmp_path / "hostile.json").read_text())["graph"]
    assert all("pwn" not in str(node.get("kinds")) for node in graph["nodes"])


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_any_text_is_one_cedar_string_and_one_comment_line(text):
    import json

    import cedarpy

    from nhisim.sim.cedar_export import cedar_string, comment_line

    source = f"{comment_line(text)}\n@reason({cedar_string(text)})\npermit (principal, action, resource);\n"
    parsed = json.loads(cedarpy.policies_to_json_str(source))["staticPolicies"]
    assert len(parsed) == 1 and next(iter(parsed.values()))["annotations"]["reason"] == text


@pytest.mark.parametrize("text", INJECTED, ids=range(len(INJECTED)))
def test_an_argument_constraint_cannot_write_policies(text):
    """A constraint's value is a Cedar string in the condition and one line in the comment above it."""
    import json

    import cedarpy

    from nhisim.sim.cedar import policy_bundle

    def policies(overrides: dict | None) -> list[dict]:
        scenario = load_scenario(ROOT / "scenarios" / "payment_limits.yaml", overrides)
        parsed = json.loads(cedarpy.policies_to_json_str(policy_bundle(scenario, "intent")["intent.cedar"]))
        return [p["annotations"]["id"] for p in parsed["staticPolicies"].values()]

    text = text.replace("\r", "")  # scenario text: tab and newline only
    hostile = {"tasks.pay-invoice.intent.constraints": {"payments-api:send:bank": [f"recipient like *{text}",
                                                                                   f"recipient != {text}"]}}
    assert policies(hostile) == policies(None)


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_any_text_is_the_same_value_in_a_json_envelope_and_shown_on_a_terminal(text):
    import json

    from nhisim.cli.envelope import dumps

    out = dumps({"title": text, text[:20]: [text]})
    assert json.loads(out) == {"title": text, text[:20]: [text]}
    assert not RAW_TERMINAL.search(out) and not re.search("[\ud800-\udfff\u2028\u2029]", out)


# ----------------------------------------------------------------- class 6 (cont.): terminal output

RAW_TERMINAL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def test_file_names_and_text_reach_the_terminal_shown_not_obeyed(base, capsys, tmp_path):
    """Escape sequences and bidi overrides in file names and titles: printed as visible escapes."""
    evil = "e\x1b]0;PWN\x07\x1b[2J"
    (tmp_path / f"{evil}.yaml").write_text(BASE)
    runs = [
        (["validate", f"{evil}.yaml"], 0), (["validate", f"{evil}-missing.yaml"], 2),
        (["sweep", "base.yaml", "--grid", "run.seed=1,2", "-r", "1", "--executor", "serial", "-q", "--out",
          f"s{evil}"], 0),
        (["generate", "--agents", "3", "--out", f"g{evil}.yaml"], 0),
        (["whatif", "base.yaml", "--set", "run.seed=3", "-r", "2", "--strategies", "rbac", "--report",
          f"w{evil}.html"], 0),
        (["policy", "export", "base.yaml", "-s", "rbac", "--out", f"p{evil}"], 0),
        (["replay", "base.yaml", "--set", "title='a\u202eb\u2066c\u200f[/]'"], 0),
        (["whatif", "base.yaml", "--set", "title='[/]\u202e'", "-r", "2", "--strategies", "rbac"], 0),
        (["schema", "--out", f"{evil}/\u202e.json"], 0),
    ]
    for argv, expected in runs:
        code, out, err = run_cli(argv, capsys)
        assert code == expected and "Traceback" not in out + err, (argv, out + err)
        assert not RAW_TERMINAL.search(out + err.replace("\n", "")), (argv, out + err)
        if argv[0] != "schema" and ("--out" in argv or "--report" in argv or argv[0] == "validate"):
            assert "\\x1b]0;PWN\\x07\\x1b[2J" in "".join((out + err).splitlines()), (argv, out + err)
    code, out, err = run_cli(["replay", "base.yaml", "--set", "title='a\u202eb'"], capsys)
    assert out.startswith("a\\u202eb")


# ----------------------------------------------------------------- class 7 (cont.): clipping

def test_a_huge_file_name_is_clipped_in_messages(base, capsys):
    err = _refused(["schema", "--out", "k" * 100_000 + ".json"], capsys, "(100,005 characters)")
    assert len(err) < 2000


def test_os_errors_name_their_file_clipped():
    from nhisim.cli.common import os_error

    text = os_error(OSError(28, "No space left on device", "/x/" + "k" * 100_000)).render()
    assert len(text) < 600 and "No space left on device" in text and "characters)" in text
    assert os_error(OSError(13, "Permission denied", b"/x/a\xffb")).render().startswith("/x/a\\xffb:")


# ----------------------------------------------------------------- class 8: extends: and policies: reach

@pytest.fixture
def tree(tmp_path, monkeypatch) -> Path:
    """scenarios/ (the tree a scenario may read), shared/ beside it (which it may not), a secret elsewhere."""
    monkeypatch.delenv("NHISIM_ALLOW_PATHS", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenarios" / "sub").mkdir(parents=True)
    (tmp_path / "shared").mkdir()
    (tmp_path / "scenarios" / "base.yaml").write_text(BASE)
    (tmp_path / "scenarios" / "sub" / "base.yaml").write_text(BASE)
    (tmp_path / "shared" / "base.yaml").write_text(BASE)
    (tmp_path / "secret.txt").write_text("name: x\nsecret: hunter2\n")
    (tmp_path / "scenarios" / "own.cedar").write_text("permit (principal, action, resource);\n")
    (tmp_path / "shared" / "other.cedar").write_text("permit (principal, action, resource);\n")
    return tmp_path


OUTSIDE = {
    "parent folders": "extends: ../../secret.txt\n",
    "absolute path": "extends: {root}/secret.txt\n",
    "sibling folder": "extends: ../../shared/base.yaml\n",
    "symlink out": "extends: link.yaml\n",
    "policies absolute": "extends: base.yaml\nstrategies: {{mine: {{base: rbac, engine: cedar, "
                         "policies: [{root}/shared/other.cedar]}}}}\n",
    "policies relative": "extends: base.yaml\nstrategies: {{mine: {{base: rbac, engine: cedar, "
                         "policies: [../../shared/other.cedar]}}}}\n",
}


@pytest.mark.parametrize("case", list(OUTSIDE))
def test_extends_and_policies_cannot_leave_the_scenario_folder(case, tree, capsys):
    (tree / "scenarios" / "sub" / "link.yaml").symlink_to(tree / "secret.txt")
    (tree / "scenarios" / "sub" / "s.yaml").write_text(OUTSIDE[case].format(root=tree))
    key = "strategies.mine.policies.0" if "policies" in case else "extends"
    for command in (["validate"], ["run"], ["graph", "--out", "g.svg"]):
        err = _refused([command[0], "scenarios/sub/s.yaml", *command[1:]], capsys, "scenarios/sub/s.yaml:",
                       key, "outside the scenario's folder", "--allow-path", "NHISIM_ALLOW_PATHS")
        assert "hunter2" not in err
    allowed = str(tree / "shared") if "shared" in OUTSIDE[case] else str(tree)
    code, out, err = run_cli(["--allow-path", allowed, "validate", "scenarios/sub/s.yaml"], capsys)
    assert "outside the scenario's folder" not in err and "Traceback" not in out + err, err
    with pytest.raises(InputError) if "secret" in OUTSIDE[case] or "link" in OUTSIDE[case] else \
            contextlib.nullcontext():  # allowed, the secret is read and refused as a scenario, not quoted
        load_scenario(tree / "scenarios" / "sub" / "s.yaml", allow_paths=[allowed])


def test_files_in_the_tree_and_the_pack_stay_reachable(tree, capsys, monkeypatch):
    pack = ROOT / "scenarios" / "leaked_key.yaml"
    (tree / "scenarios" / "sub" / "up.yaml").write_text("extends: ../base.yaml\nname: up\n")
    (tree / "scenarios" / "down.yaml").write_text("extends: sub/up.yaml\nname: down\nstrategies: {mine: {base: rbac, "
                                                   "engine: cedar, policies: [own.cedar]}}\n")
    (tree / "scenarios" / "packed.yaml").write_text(f"extends: {pack}\nname: packed\n")
    assert load_scenario(tree / "scenarios" / "down.yaml").name == "down"
    assert load_scenario(tree / "scenarios" / "packed.yaml").name == "packed"
    for path in BUNDLED:
        load_scenario(path)
    (tree / "scenarios" / "far.yaml").write_text("extends: ../shared/base.yaml\nname: far\n")
    with pytest.raises(InputError, match="outside the scenario's folder"):
        load_scenario(tree / "scenarios" / "far.yaml")
    monkeypatch.setenv("NHISIM_ALLOW_PATHS", os.pathsep.join(["/nowhere", str(tree / "shared")]))
    assert load_scenario(tree / "scenarios" / "far.yaml").name == "far"
    code, out, err = run_cli(["run", "scenarios/down.yaml", "-s", "mine"], capsys)
    assert code == 0, err


def test_a_missing_file_outside_is_refused_before_its_existence_is_told(tree, capsys):
    (tree / "scenarios" / "probe.yaml").write_text("extends: /etc/nhisim-no-such-file.yaml\nname: p\n")
    err = _refused(["validate", "scenarios/probe.yaml"], capsys, "outside the scenario's folder")
    assert "does not exist" not in err


# ----------------------------------------------------------------- found by the fuzz tests (other seeds)

def test_a_value_that_contains_itself_is_bad_input(base, capsys, tmp_path):
    """A YAML alias inside its own anchor (&a [*a]) can be neither printed nor compared: told, not traced."""
    for argv in (["validate", "base.yaml", "--set", "title=&a [*a]"],
                 ["sweep", "base.yaml", "--grid", "title=&a [*a]", "-r", "1", "-q", "--out", str(tmp_path / "s")]):
        _refused(argv, capsys, "contains itself", "&a [*a]")


def test_a_location_of_many_short_words_is_clipped(base, capsys):
    """Clipping each word is not enough: 30,000 one-letter words make one 60,000-character location."""
    err = _refused(["validate", "base.yaml", "--set", "x " * 30_000 + "=1"], capsys, "unknown path")
    assert max(map(len, err.splitlines())) < 600


def test_an_output_thousands_of_folders_deep_is_made_without_recursion(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    deep = "a/" * 1500 + "schema.json"  # pathlib's mkdir(parents=True) would recurse 1500 times
    try:
        code, out, err = run_cli(["schema", "--out", deep], capsys)
        assert code == 0 and "Traceback" not in out + err, err
        assert (tmp_path / deep).read_text().startswith("{")
    finally:  # bottom up without recursion: pytest's own clean-up (shutil.rmtree) recurses too
        (tmp_path / deep).unlink(missing_ok=True)
        chain = [tmp_path / "a"]
        while (chain[-1] / "a").is_dir():
            chain.append(chain[-1] / "a")
        for folder in reversed(chain if chain[0].is_dir() else []):
            folder.rmdir()
    (tmp_path / "afile").write_text("x")
    from nhisim.files import make_folders

    with pytest.raises(NotADirectoryError):
        make_folders(tmp_path / "afile" / "b" / "c")
