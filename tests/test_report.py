"""Reports: key findings, the HTML and Markdown documents, results folders, and the report/demo commands."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import report_fixtures as R
from cli_helpers import run_cli

import nhisim
from nhisim.errors import InputError
from nhisim.experiments import Comparison, compare
from nhisim.metrics import METRIC_COLUMNS
from nhisim.reports.findings import findings_text, grouped, key_findings
from nhisim.reports.html import write_report
from nhisim.reports.results import load_results


@pytest.fixture(scope="module")
def comparison():
    return R.comparison()


# --------------------------------------------------------------------------- findings


def synthetic(values: dict[str, list[float]], metric: str = "exposure_window_s", baseline: str = "rbac") -> Comparison:
    """A comparison whose runs hold the given values of one metric (other metrics NaN)."""
    rows = []
    for strategy, vals in values.items():
        for r, v in enumerate(vals):
            row = dict.fromkeys(METRIC_COLUMNS, np.nan)
            row.update({"scenario": "s", "strategy": strategy, "seed": r, "replication": r, metric: v})
            rows.append(row)
    runs = pd.DataFrame(rows)
    reps = len(next(iter(values.values())))
    return Comparison(R.estate(), list(values), baseline, 1, reps, runs, {})


def test_findings_state_values_with_intervals_and_only_significant_claims():
    days = 86400.0
    c = synthetic({"rbac": [8 * days, 9 * days, 10 * days, 9.5 * days, 9.5 * days],
                   "zsp": [8 * days, 11 * days, 9 * days, 10 * days, 8.5 * days],
                   "intent": [0.0] * 5})
    texts = findings_text(c, metrics=["exposure_window_s"])
    head = texts[0]
    assert head.startswith("Exposure window: under rbac the attacker's access stayed usable for 9.2 d (95% CI ")
    assert "under intent 0 s" in head
    diff = next(t for t in texts if t.startswith("Against the baseline rbac"))
    assert "intent cuts it by 9.2 d" in diff and "(better)" in diff
    assert "zsp shows no significant difference" in diff  # noisy, paired CI includes 0: no claim
    assert "zsp cuts" not in diff and "zsp raises" not in diff
    assert any(t.startswith("Lowest exposure window: intent") for t in texts)


def test_findings_say_undefined_not_zero_and_no_claims_from_one_replication():
    none = synthetic({"rbac": [np.nan, np.nan], "intent": [np.nan, np.nan]})
    texts = findings_text(none, metrics=["exposure_window_s"])
    assert texts == ["Exposure window: undefined under every strategy — no run had a compromise."]
    one = synthetic({"rbac": [100.0], "intent": [0.0]})
    texts = findings_text(one, metrics=["exposure_window_s"])
    assert not any("cuts" in t or "raises" in t or "significantly" in t for t in texts)
    assert any("Only 1 replication" in t for t in texts)


def test_findings_of_a_real_comparison_group_by_metric(comparison):
    findings = key_findings(comparison)
    assert findings[0].metric == "exposure_window_s" and findings[0].kind == "headline"
    groups = grouped(findings)
    assert all(f.metric == head.metric for head, details in groups for f in details)
    blast = next(f.text for f in findings if f.metric == "blast_radius" and f.kind == "difference")
    assert "intent cuts it by 190" in blast
    # overreach attempts have no better direction: never called better or worse
    assert not any(f.metric == "overreach_attempts" and f.kind == "difference" for f in findings)


# --------------------------------------------------------------------------- documents


def test_html_report_is_self_contained_and_complete(comparison, tmp_path):
    path = write_report(comparison, tmp_path / "r.html", scenario_file=None)
    assert path == tmp_path / "r.html"
    html = path.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "<section id='findings'>" in html and "95% CI" in html
    images = re.findall(r"<img src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    assert len(images) == 4 + len(comparison.strategies)  # comparison, CDF, trade-off, graph + timelines
    assert all(len(i) > 1000 for i in images)
    assert html.count("<tr id='metric-") == len(METRIC_COLUMNS)
    for tag in ("L7", "T9", "NHI2"):
        assert f"<b>{tag}</b>" in html
    assert "Secret Leakage" in html  # tag titles from the threat catalog
    assert not re.search(r"(src|href)=['\"]https?:", html)  # nothing to fetch
    assert "<script" not in html
    for needle in ("base seed", "run seeds", "baseline", f"nhisim {nhisim.__version__}", "Strategies' knobs",
                   "sender constrained", "Replay (replication 0)"):
        assert needle in html, needle


def test_html_report_names_the_scenario_file_and_its_header(comparison, tmp_path):
    file = R.write_estate(tmp_path)
    (tmp_path / "out").mkdir()
    html = write_report(comparison, tmp_path / "out", scenario_file=file, format="html", figures=[])
    assert html == tmp_path / "out" / "report.html"  # a folder gets report.html
    text = html.read_text()
    assert "<img" not in text
    assert "What it shows: support-bot&#x27;s key leaks into logs at 2 h." in text


def test_markdown_report_with_figures_beside_it(comparison, tmp_path):
    path = write_report(comparison, tmp_path / "report.md", figures=["comparison", "timeline_rbac"], dpi=50)
    text = path.read_text()
    assert "## Key findings" in text and "## Results" in text and "| metric |" in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links == ["report_files/comparison.png", "report_files/timeline_rbac.png"]
    for link in links:
        png = tmp_path / link
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "report_files").is_dir()
    with pytest.raises(InputError, match="unknown report format"):
        write_report(comparison, tmp_path / "x.pdf", format="pdf")


def test_markdown_module_writes_markdown_only(comparison, tmp_path):
    from nhisim.reports import markdown

    path = markdown.write_report(comparison, tmp_path / "m.md", figures=[])
    assert path == tmp_path / "m.md" and path.read_text(encoding="utf-8").startswith("# nhisim report")
    with pytest.raises(InputError, match="writes Markdown"):
        markdown.write_report(comparison, tmp_path / "r.html", format="html", figures=[])


# --------------------------------------------------------------------------- results folders and the CLI


@pytest.fixture(scope="module")
def results_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("results")
    file = R.write_estate(folder)
    from nhisim.cli.app import main

    with pytest.raises(SystemExit) as info:
        main(["compare", str(file), "-r", "2", "--strategies", "rbac,intent", "--out", str(folder / "out"),
              "--executor", "serial"])
    assert info.value.code in (0, None)
    return folder / "out", file


def test_results_folder_rebuilds_the_comparison(results_folder):
    folder, file = results_folder
    assert (folder / "comparison.json").is_file()
    rebuilt, scenario_file = load_results(folder)
    assert Path(scenario_file) == file.resolve()
    original = compare(file, strategies=["rbac", "intent"], replications=2)
    pd.testing.assert_frame_equal(rebuilt.runs.reset_index(drop=True), original.runs, check_dtype=False)
    assert rebuilt.baseline == original.baseline and rebuilt.strategies == original.strategies
    assert set(rebuilt.run_events) == {("rbac", 0), ("intent", 0)}  # only the replication a report draws
    assert rebuilt.summary().equals(original.summary())


def _report_files(comparison, folder: Path, replication: int) -> tuple[str, dict[str, bytes]]:
    """The Markdown text of ``comparison``'s report (without its date) and its figures' PNG bytes."""
    folder.mkdir()
    path = write_report(comparison, folder / "report.md", format="md", replication=replication)
    text = re.sub(r"\d{4}-\d\d-\d\d[ T][\d:.]+\S*", "", path.read_text())
    return text, {png.name: png.read_bytes() for png in folder.rglob("*.png")}


def _missing_as_none(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).where(frame.notna(), None)


def test_a_results_folder_reads_only_the_stories_a_report_draws(results_folder, tmp_path):
    """``nhisim report DIR`` reads of events.parquet only the stories of the replication it draws (a
    large estate's logs would not fit in memory): the rows a comparison keeping stories keeps, and a
    report the same, text and figures, as from the whole logs."""
    folder, file = results_folder
    whole, _ = load_results(folder, replication=1)
    told, _ = load_results(folder, replication=1, event_rows="story")
    kept = compare(file, strategies=["rbac", "intent"], replications=2, keep_events={1}, event_rows="story")
    assert set(told.run_events) == set(kept.run_events) == {("rbac", 1), ("intent", 1)}
    for key, story in told.run_events.items():
        assert story.attrs["rows"] == "story" and len(story) < len(whole.run_events[key])
        pd.testing.assert_frame_equal(_missing_as_none(story), _missing_as_none(kept.run_events[key]))
        metrics = pd.Series(story.attrs["metrics"])
        assert metrics.equals(pd.Series(kept.run_events[key].attrs["metrics"]).astype(float))
    assert _report_files(whole, tmp_path / "whole", 1) == _report_files(told, tmp_path / "story", 1)


def test_report_command_on_a_results_folder(results_folder, capsys):
    folder, _ = results_folder
    code, out, err = run_cli(["report", str(folder)], capsys)
    assert code == 0, err
    assert (folder / "report.html").is_file()
    assert f"wrote {folder / 'report.html'}" in out
    code, out, _ = run_cli(["report", str(folder), "--format", "md", "--out", str(folder / "md" / "r.md")], capsys)
    assert code == 0 and (folder / "md" / "r.md").is_file() and (folder / "md" / "r_files").is_dir()


def test_a_results_folder_written_before_a_metric_existed_still_reports(results_folder, tmp_path, capsys):
    import shutil

    folder, _ = results_folder
    old = tmp_path / "older"
    shutil.copytree(folder, old, ignore=shutil.ignore_patterns("report*", "md"))
    runs = pd.read_parquet(old / "runs.parquet")
    runs.drop(columns=["attribution"]).to_parquet(old / "runs.parquet", index=False)  # as an older nhisim wrote it
    rebuilt, _ = load_results(old)
    assert list(rebuilt.runs.columns) == list(runs.columns) and rebuilt.runs["attribution"].isna().all()
    assert rebuilt.summary(["attribution"])["mean"].isna().all()
    code, out, err = run_cli(["report", str(old)], capsys)
    assert code == 0, err
    html = (old / "report.html").read_text(encoding="utf-8")
    assert html.count("<tr id='metric-") == len(METRIC_COLUMNS)
    row = re.search(r"<tr id='metric-attribution'>.*?</tr>", html, flags=re.S).group(0)
    assert "n/a" in row


def test_report_command_on_a_scenario_file(tmp_path, capsys, monkeypatch):
    file = R.write_estate(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["report", str(file), "-r", "2", "--strategies", "rbac,intent", "--workers", "1"],
                             capsys)
    assert code == 0, err
    target = tmp_path / "reports" / "report-estate.html"
    assert target.is_file() and "id='findings'" in target.read_text()


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d / "missing", "no such file or folder"),
    (lambda d: d, "no runs.parquet here"),
    (lambda d: (d / "notes.txt").write_text("hi") and d / "notes.txt", "not a results folder nor a scenario file"),
])
def test_report_command_bad_source_exits_2_with_a_message(tmp_path, capsys, make, message):
    source = make(tmp_path)
    code, out, err = run_cli(["report", str(source)], capsys)
    assert code == 2
    assert message in err and "Traceback" not in err + out


def test_report_command_folder_without_comparison_json(results_folder, tmp_path, capsys):
    folder, _ = results_folder
    (tmp_path / "runs.parquet").write_bytes((folder / "runs.parquet").read_bytes())
    code, _, err = run_cli(["report", str(tmp_path)], capsys)
    assert code == 2 and "no comparison.json here" in err
    code, _, err = run_cli(["report", str(folder), "--format", "pdf"], capsys)
    assert code == 2 and "unknown report format 'pdf'" in err


def test_demo_command_writes_the_report_and_prints_the_table(tmp_path, capsys):
    file = R.write_estate(tmp_path)
    code, out, err = run_cli(["demo", "--scenario", str(file), "-r", "2", "--out", str(tmp_path / "d"),
                              "--workers", "2"], capsys)
    assert code == 0, err
    assert (tmp_path / "d" / "demo.html").is_file()
    assert "paired replications" in out and "blast radius" in out  # the summary table
    assert f"report: {tmp_path / 'd' / 'demo.html'}" in out


def test_demo_finds_the_enterprise_estate_from_anywhere(tmp_path, monkeypatch):
    from nhisim.cli.commands_report import find_demo_scenario

    monkeypatch.chdir(tmp_path)
    if not (R.ROOT / "scenarios" / "enterprise.yaml").is_file():
        with pytest.raises(InputError, match="enterprise.yaml was not found"):
            find_demo_scenario()
        return
    assert find_demo_scenario() == R.ROOT / "scenarios" / "enterprise.yaml"


def test_parallel_comparison_equals_serial():
    from nhisim.cli.commands_report import compare_with_progress

    model = R.estate()
    parallel = compare_with_progress(model, ["rbac", "intent"], 2, workers=2, quiet=True)
    serial = compare(model, strategies=["rbac", "intent"], replications=2, event_rows="story")
    pd.testing.assert_frame_equal(parallel.runs, serial.runs)
    assert set(parallel.run_events) == {("rbac", 0), ("intent", 0)}  # what the report draws: replication 0's story
    for key, events in parallel.run_events.items():
        pd.testing.assert_frame_equal(events, serial.run_events[key])


# --------------------------------------------------------------------------- sweep folders


LEAK = str(Path(__file__).resolve().parents[1] / "scenarios" / "leaked_key.yaml")


@pytest.fixture(scope="module")
def sweep_folders(tmp_path_factory):
    """A 2 × 2 grid and a small Sobol sample, swept through the CLI as a user would."""
    from nhisim.cli.app import main  # a module-scoped fixture has no capsys: run main itself

    root = tmp_path_factory.mktemp("sweeps")
    common = ["--strategies", "rbac,zsp", "--executor", "serial", "-q", "--set", "run.horizon=1d"]
    for name, argv in {
        "grid": ["--grid", "strategies.zsp.ttl=5m,1h", "--grid", "detection.monitoring=basic,advanced", "-r", "2"],
        "sobol": ["--sample", "sobol", "--n", "4", "--bounds", "strategies.rbac.rotation=1h:7d", "--bounds",
                  "attacker.rate=1/h:1/min", "-r", "1"],
    }.items():
        with pytest.raises(SystemExit) as info:
            main(["sweep", LEAK, *argv, *common, "--out", str(root / name)])
        assert info.value.code in (0, None)
    return root


def _sections(html: str) -> dict[str, str]:
    return dict(re.findall(r"<section id='(\w+)'>(.*?)</section>", html, flags=re.S))


def test_report_on_a_sweep_folder(sweep_folders, capsys):
    from nhisim.experiments.store import read_runs

    folder = sweep_folders / "grid"
    code, out, err = run_cli(["report", str(folder)], capsys)
    assert code == 0, err
    assert f"wrote {folder / 'report.html'}" in out
    sections = _sections((folder / "report.html").read_text(encoding="utf-8"))
    assert list(sections) == ["sweep", "heatmaps", "tradeoff", "sensitivity", "points", "provenance"]
    assert "strategies.zsp.ttl" in sections["sweep"] and "grid: 5m, 1h" in sections["sweep"]
    assert sections["heatmaps"].count("<img src='data:image/png;base64,") == 4  # one per headline metric
    assert "fig-heatmap_blast_radius" in sections["heatmaps"]
    assert sections["tradeoff"].count("<img ") == 1
    assert "--sample sobol" in sections["sensitivity"]  # a grid has no indices: the report says what would
    runs = read_runs(folder)
    for strategy in ("rbac", "zsp"):  # every point, its values and means
        assert f"<caption>{strategy}</caption>" in sections["points"]
    assert sections["points"].count("<tr><td style='text-align:right'>") == 2 * runs["point"].nunique()
    manifest = runs.attrs["sweep"]
    for fact in (manifest["nhisim_version"], str(manifest["replication_seeds"][0]), manifest["fingerprint"]["points"],
                 "session started"):
        assert fact in sections["provenance"]


def test_sweep_report_in_markdown_and_on_stdout(sweep_folders, tmp_path, capsys):
    folder = sweep_folders / "grid"
    code, _, err = run_cli(["report", str(folder), "--out", str(tmp_path / "sweep.md")], capsys)
    assert code == 0, err
    text = (tmp_path / "sweep.md").read_text()
    assert text.startswith("# nhisim sweep report: ") and "## Heat maps" in text and "## Provenance" in text
    pictures = sorted(p.name for p in (tmp_path / "sweep_files").iterdir())
    assert pictures == sorted([f"heatmap_{m}.png" for m in ("blast_radius", "exposure_window_s",
                                                            "time_to_revoke_s", "task_success_rate")]
                              + ["tradeoff.png"])
    assert "](sweep_files/tradeoff.png)" in text
    code, out, _ = run_cli(["report", str(folder), "--format", "md", "--out", "-"], capsys)
    assert code == 0 and out.startswith("# nhisim sweep report: ") and "](data:image/png;base64," in out


def test_sweep_report_shows_the_sensitivity_indices_and_their_warnings(sweep_folders, capsys):
    from nhisim.experiments.sensitivity import sensitivity
    from nhisim.experiments.store import read_runs

    folder = sweep_folders / "sobol"
    code, out, err = run_cli(["report", str(folder), "--json"], capsys)
    assert code == 0, err
    sections = _sections((folder / "report.html").read_text(encoding="utf-8"))
    assert "No heat map: the swept values are a sample" in sections["heatmaps"]
    text = sections["sensitivity"]
    assert "Sobol indices" in text and "<th scope='col'>S1</th>" in text
    table = sensitivity(read_runs(folder), "exposure_window_s")
    warnings = {w for note in table["note"] for w in note.split("; ") if w}
    assert warnings, "four base samples are too few for trustworthy indices"
    for warning in warnings:  # beside the table, escaped as HTML
        assert f"<li>{warning.replace(chr(39), '&#x27;')}</li>" in text
    assert "sample design" in sections["provenance"] and "sobol, n = 4" in sections["provenance"]


def test_a_report_keeps_only_the_event_logs_it_draws(tmp_path):
    """A comparison made for a report keeps the logs of the replication it draws (a large estate's logs
    of every run would fill memory), and of those only their stories (nhisim.metrics.story: what a
    report tells); the runs, the report's text and its figures are those of a comparison that kept
    every whole log."""
    leak = Path(__file__).resolve().parents[1] / "scenarios" / "leaked_key.yaml"
    options = dict(strategies=["rbac", "zsp"], replications=3, overrides={"run.horizon": "12h"})
    every = compare(leak, **options)
    drawn = compare(leak, **options, keep_events={1})
    told = compare(leak, **options, keep_events={1}, event_rows="story")
    assert set(drawn.run_events) == {("rbac", 1), ("zsp", 1)} and drawn.runs.equals(every.runs)
    assert all(drawn.run_events[key].equals(every.run_events[key]) for key in drawn.run_events)
    assert set(told.run_events) == set(drawn.run_events) and told.runs.equals(every.runs)
    for key, story in told.run_events.items():  # no routine work: its tasks, their allowed calls
        assert len(story) < len(drawn.run_events[key]) and not story["event"].isin(["task_start", "task_end"]).any()
        assert not (story["event"].eq("request") & story["decision"].eq("allow") & ~story["malicious"]).any()
    reports = [_report_files(made, tmp_path / str(i), 1) for i, made in enumerate((every, drawn, told))]
    assert reports[0] == reports[1] == reports[2] and "Attack timeline under zsp" in reports[0][0]
    assert any("timeline" in name for name in reports[0][1])
