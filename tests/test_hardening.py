"""Input that validates yet cannot run: numbers the model cannot use, runs that would never
finish, and messages that must stay one screen whatever the input.

Each class is tested across its members (every unit, every bounded field, every part of
the work estimate), through the real command line in this process: exit code 2, a
one-screen message naming the file, the location and what is wrong, never a traceback.
"""

from __future__ import annotations

import glob
import math
import re
from pathlib import Path

import pytest
from cli_helpers import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from test_bad_input import BASE

from nhisim.errors import InputError, Problem, clip
from nhisim.scenario import workload
from nhisim.scenario.loader import load_scenario, parse_override
from nhisim.scenario.strategy import resolve_strategy
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
    strategies = [resolve_strategy(spec, name=name, scenario=scenario) for name, spec in scenario.strategies.items()]
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
    for name, spec in scenario.strategies.items():
        estimate = workload.estimate_run(scenario, resolve_strategy(spec, name=name, scenario=scenario)).total
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
