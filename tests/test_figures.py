"""Figures: each is drawn, and what it shows is checked (panels, labels, series, legend), not just that it runs."""

from __future__ import annotations

import math
import os
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import report_fixtures as R
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle

from nhisim.errors import InputError
from nhisim.reports import figures as F
from nhisim.reports.format import HEADLINE, label


def visible_axes(fig: Figure) -> list:
    """The data panels (not colour bars, not hidden spare cells)."""
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def legend_texts(fig: Figure) -> list[str]:
    texts = []
    for legend in fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]:
        texts += [t.get_text() for t in legend.get_texts()]
    return texts


def all_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def bars(ax) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle) and p.get_height() > 0]


@pytest.fixture(scope="module")
def comparison():
    return R.comparison()


def test_strategy_comparison_one_panel_per_metric_one_bar_per_strategy(comparison):
    metrics = ["blast_radius", "exposure_window_s", "legit_denied", "task_success_rate", "attribution"]
    fig = F.strategy_comparison(comparison, metrics)
    assert isinstance(fig, Figure)
    axes = visible_axes(fig)
    assert len(axes) == len(metrics)
    summary = comparison.summary(metrics).set_index(["strategy", "metric"])
    for ax, metric in zip(axes, metrics, strict=True):
        assert ax.get_title().startswith(label(metric))
        assert ax.get_ylabel()  # a unit on every panel
        ticks = [t.get_text().split("\n")[0] for t in ax.get_xticklabels()]
        assert ticks == list(comparison.strategies)
        positive = [s for s in comparison.strategies if summary.loc[(s, metric), "mean"] > 0]
        assert len(bars(ax)) == len(positive), metric
    by_metric = dict(zip(metrics, axes, strict=True))
    assert by_metric["exposure_window_s"].get_ylabel() in ("s", "min", "h", "d")
    assert by_metric["task_success_rate"].get_ylabel() == "%"
    assert by_metric["legit_denied"].get_ylabel() == "requests"
    # attribution has no meaning without malicious actions allowed: said n/a, not drawn as 0
    assert "n/a" in all_texts(by_metric["attribution"])
    # the baseline is labelled, and significant differences are starred
    assert any("(baseline)" in t.get_text() for t in axes[0].get_xticklabels())
    assert any(t.endswith("*") for t in all_texts(by_metric["blast_radius"]))
    assert any("significantly different from the baseline" in t.get_text() for t in fig.texts)
    assert comparison.scenario.name in fig.get_suptitle()


def test_strategy_comparison_default_metrics_and_colours(comparison):
    fig = F.strategy_comparison(comparison)
    axes = visible_axes(fig)
    assert len(axes) == len(HEADLINE)
    blast = axes[0]
    colours = [matplotlib.colors.to_hex(b.get_facecolor()) for b in bars(blast)]
    assert colours[0].upper() == F.STRATEGY_COLOURS["shared_account"]  # Okabe-Ito, fixed per preset
    with pytest.raises(InputError, match="unknown metric"):
        F.strategy_comparison(comparison, ["blast_raduis"])


def test_exposure_cdf_one_step_line_per_strategy_log_axis(comparison):
    fig = F.exposure_cdf(comparison)
    (ax,) = visible_axes(fig)
    assert ax.get_xscale() == "log"
    assert "exposure window" in ax.get_xlabel()
    assert "share of runs" in ax.get_ylabel()
    texts = legend_texts(fig)
    assert len(texts) == len(comparison.strategies) + 1  # + the horizon line
    for strategy in comparison.strategies:
        assert any(t.startswith(f"{strategy} (n=3)") for t in texts)
    assert any("horizon" in t for t in texts)
    lines = [line for line in ax.get_lines() if line.get_label() and not line.get_label().startswith("_")]
    curves = [line for line in lines if "horizon" not in line.get_label()]
    assert len(curves) == len(comparison.strategies)
    for line in curves:  # each curve is a CDF: from 0, non-decreasing, to 1 (every window closed)
        y = np.asarray(line.get_ydata())
        assert y[0] == 0 and np.all(np.diff(y) >= 0) and y[-1] == pytest.approx(1.0)
    assert ax.get_xticklabels()[0].get_text() == "≤1 s"


def test_exposure_cdf_is_honest_about_infinite_and_missing_windows(comparison):
    import dataclasses

    runs = comparison.runs.copy()
    rbac = runs.index[runs["strategy"] == "rbac"]
    runs.loc[rbac[0], "exposure_window_s"] = math.inf  # a window that never closed
    runs.loc[runs["strategy"] == "intent", "exposure_window_s"] = math.nan  # no compromise at all
    fig = F.exposure_cdf(dataclasses.replace(comparison, runs=runs))
    (ax,) = visible_axes(fig)
    texts = legend_texts(fig)
    assert any(t.startswith("rbac (n=3), 1 never closed (∞)") for t in texts)
    assert any(t.startswith("intent: no compromise") for t in texts)
    rbac_line = next(line for line in ax.get_lines() if line.get_label().startswith("rbac"))
    assert max(rbac_line.get_ydata()) == pytest.approx(2 / 3)  # stays below 1: one run never closed
    quiet = F.exposure_cdf(R.quiet_comparison())
    assert any("no compromise in any run" in t for t in all_texts(visible_axes(quiet)[0]))


def test_attack_timeline_rows_marks_and_legend(comparison):
    events = comparison.run_events[("rbac", 0)]
    fig = F.attack_timeline(events)
    (ax,) = visible_axes(fig)
    acquired = events.loc[events["event"] == "acquire", "credential"].unique()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == len(acquired)
    for cred in acquired:
        assert any(lbl.startswith(f"{cred} ·") for lbl in labels)
    malicious = events[(events["event"] == "request") & events["malicious"]]
    allowed = int((malicious["decision"].astype(str) == "allow").sum())
    texts = legend_texts(fig)
    assert f"malicious request allowed ({allowed})" in texts
    for entry in ("credential lifetime", "usable by the attacker", "compromise", "revoked by the response",
                  "revocation effective everywhere"):
        assert any(t.startswith(entry) for t in texts), entry
    assert any(t.startswith("detection") for t in texts)
    triangles = [c for c in ax.collections if isinstance(c, PathCollection) and len(c.get_offsets()) == allowed]
    assert triangles  # one marker per allowed malicious request
    compromise = float(events.loc[events["event"] == "compromise", "t"].iloc[0])
    assert any(list(line.get_xdata()) == [compromise, compromise] for line in ax.get_lines())
    assert "time in the run" in ax.get_xlabel()
    assert ax.get_ylabel() == "credential"
    assert "rbac" in fig.get_suptitle()


def test_attack_timeline_under_intent_shows_the_stolen_credential_useless(comparison):
    fig = F.attack_timeline(comparison.run_events[("intent", 0)])
    texts = legend_texts(fig)
    assert not any(t.startswith("malicious request allowed") for t in texts)
    assert any(t.startswith("malicious request denied") for t in texts)
    assert "stolen but useless" in texts
    (ax,) = visible_axes(fig)
    assert any(t.startswith("stolen, but") for t in all_texts(ax))


def test_attack_timeline_without_compromise_and_with_benign_rows(comparison):
    quiet = R.quiet_comparison()
    fig = F.attack_timeline(quiet.run_events[("rbac", 0)])
    assert "no compromise in this run" in all_texts(visible_axes(fig)[0])
    fig = F.attack_timeline(comparison.run_events[("zsp", 0)], benign=True, max_benign=3)
    (ax,) = visible_axes(fig)
    acquired = comparison.run_events[("zsp", 0)].query("event == 'acquire'")["credential"].nunique()
    assert len(ax.get_yticklabels()) == acquired + 3


def test_attack_timeline_wants_one_run(comparison):
    with pytest.raises(InputError, match="several runs"):
        F.attack_timeline(comparison.events)
    with pytest.raises(InputError, match="no incident"):
        F.attack_timeline(comparison.run_events[("rbac", 0)], incident="nope")


def test_delegation_reach_one_panel_per_strategy_with_the_attack_overlaid(comparison):
    fig = F.delegation_reach(comparison.scenario, comparison)
    axes = visible_axes(fig)
    assert len(axes) == len(comparison.strategies)
    for ax, strategy in zip(axes, comparison.strategies, strict=True):
        assert ax.get_title().startswith(strategy + "\n")
    by_strategy = dict(zip(comparison.strategies, axes, strict=True))
    assert "reached 3 of 3 resources" in by_strategy["rbac"].get_title()
    assert "reached 0 of 3 resources" in by_strategy["intent"].get_title()

    def attack_edges(ax) -> int:
        hex_attack = F.ATTACK.lower()
        return sum(len(c.get_segments()) for c in ax.collections if isinstance(c, LineCollection)
                   and any(matplotlib.colors.to_hex(colour) == hex_attack for colour in c.get_edgecolor()))

    assert attack_edges(by_strategy["rbac"]) == 3  # support-bot → crm-db, tickets, kb
    assert attack_edges(by_strategy["intent"]) == 0
    # every agent and resource is labelled; the delegation arrow is drawn
    labels = {t.get_text() for t in by_strategy["rbac"].texts}
    assert {"triage-bot", "support-bot", "svc-int", "crm-db (critical)"} <= labels
    texts = legend_texts(fig)
    for entry in ("agent", "shared account", "resource", "reached by the attacker", "may delegate to",
                  "attacker's successful access"):
        assert entry in texts


def test_delegation_reach_accepts_a_mapping_and_focuses_big_estates(comparison):
    from nhisim.experiments import run
    from nhisim.scenario.loader import validate_data

    fig = F.delegation_reach(comparison.scenario, {"rbac": comparison.run_events[("rbac", 0)]})
    assert len(visible_axes(fig)) == 1
    assert "agents shown" not in fig.get_suptitle()
    data = R.estate_data()
    data["agents"] = data["agents"] + [{"id": "idle-bot", "owner": "alice", "roles": ["triage"], "tools": ["tix"]}]
    bigger = validate_data(data, file="<bigger>")
    result = run(bigger, "rbac")
    fig = F.delegation_reach(bigger, [result], max_agents=2)
    assert "2 of 3 agents shown" in fig.get_suptitle()
    labels = {t.get_text() for t in visible_axes(fig)[0].texts}
    assert {"support-bot", "triage-bot"} <= labels and "idle-bot" not in labels
    everyone = F.delegation_reach(bigger, [result], max_agents=None)
    assert "idle-bot" in {t.get_text() for t in visible_axes(everyone)[0].texts}
    with pytest.raises(InputError, match="no event log"):
        F.delegation_reach(comparison.scenario, comparison, replication=99)


def test_a_focused_delegation_reach_draws_the_same_in_every_process(tmp_path):
    """A big estate's reach figure, drawn around the attack, is the same picture whatever a process's
    string hashing (networkx lists a small subgraph's nodes in the order of a set: the edges were
    drawn, and the agents ordered, differently from one run of a report to the next)."""
    import subprocess
    import sys

    script = tmp_path / "draw.py"
    script.write_text(
        "import hashlib, io, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import report_fixtures as R\n"
        "from nhisim.experiments import run\n"
        "from nhisim.reports import figures as F\n"
        "from nhisim.scenario.loader import validate_data\n"
        "data = R.estate_data()\n"
        "data['agents'] += [{'id': f'idle-{i}', 'owner': 'alice', 'roles': ['triage'], 'tools': ['tix']}\n"
        "                   for i in range(40)]\n"
        "bigger = validate_data(data, file='<bigger>')\n"
        "fig = F.delegation_reach(bigger, [run(bigger, 'rbac')], max_agents=4)\n"
        "png = io.BytesIO()\n"
        "fig.savefig(png, format='png', dpi=20)\n"
        "print(hashlib.sha256(png.getvalue()).hexdigest())\n")
    drawn = {subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in (1, 2, 3)}
    assert len(drawn) == 1


@pytest.fixture
def sweep_frame() -> pd.DataFrame:
    rows = []
    for strategy in ("zsp", "intent"):
        for ttl in (60.0, 300.0, 3600.0):
            for delay in (600.0, 3600.0):
                for rep in range(2):
                    value = ttl / 60 + delay / 600 + rep if strategy == "zsp" else 0.0
                    rows.append({"strategies.zsp.ttl": ttl, "detection.delay": delay, "strategy": strategy,
                                 "replication": rep, "blast_radius": value})
    frame = pd.DataFrame(rows)
    mask = (frame["strategy"] == "zsp") & (frame["strategies.zsp.ttl"] == 3600.0) & (frame["detection.delay"] == 600.0)
    frame.loc[mask, "blast_radius"] = math.inf
    mask = (frame["strategy"] == "zsp") & (frame["strategies.zsp.ttl"] == 60.0) & (frame["detection.delay"] == 3600.0)
    frame.loc[mask, "blast_radius"] = math.nan
    return frame


def test_sweep_heatmap_grid_per_strategy(sweep_frame):
    fig = F.sweep_heatmap(sweep_frame, "strategies.zsp.ttl", "detection.delay", "blast_radius")
    axes = visible_axes(fig)
    assert [ax.get_title() for ax in axes] == ["zsp", "intent"]
    colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(colorbars) == 1 and "blast radius" in colorbars[0].get_ylabel()
    for ax in axes:
        images = [im for im in ax.get_images() if isinstance(im, AxesImage)]
        assert len(images) == 1 and images[0].get_array().shape == (2, 3)
        assert ax.get_xlabel() == "strategies.zsp.ttl" and ax.get_ylabel() == "detection.delay"
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1.0 min", "5.0 min", "1.0 h"]
        assert len(ax.texts) == 6  # one annotation per cell
    zsp = all_texts(axes[0])
    assert "∞" in zsp and "n/a" in zsp
    # the mean over replications: ttl 5 min, delay 10 min → 5 + 1 + mean(0, 1) = 6.5
    assert "6.5" in zsp
    one = F.sweep_heatmap(sweep_frame, "strategies.zsp.ttl", "detection.delay", "blast_radius", strategy="intent")
    assert len(visible_axes(one)) == 1
    with pytest.raises(InputError, match="not in the sweep results"):
        F.sweep_heatmap(sweep_frame, "strategies.zsp.tll", "detection.delay", "blast_radius")
    with pytest.raises(InputError, match="no runs of strategy"):
        F.sweep_heatmap(sweep_frame, "strategies.zsp.ttl", "detection.delay", "blast_radius", strategy="rbca")


def test_tradeoff_one_point_per_strategy_with_intervals(comparison):
    fig = F.tradeoff(comparison, "blast_radius", "legit_denied")
    (ax,) = visible_axes(fig)
    containers = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(containers) == len(comparison.strategies)
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == list(comparison.strategies)
    assert legend.get_title().get_text().startswith("better: lower left")
    assert ax.get_xlabel() == "legit denied (requests)"
    assert ax.get_ylabel().startswith("blast radius")
    names = " ".join(all_texts(ax))
    for strategy in comparison.strategies:
        assert strategy in names  # every point is named (coinciding points share one label)
    shares = F.tradeoff(comparison, "exposure_window_s", "task_success_rate")
    (ax,) = visible_axes(shares)
    assert ax.get_xlabel() == "task success (%)" and ax.get_xlim()[1] <= 110
    assert ax.get_legend().get_title().get_text().startswith("better: lower right")


def test_sweep_heatmap_orders_durations_and_keeps_the_grid_order_of_words():
    frame = pd.DataFrame({"strategies.zsp.ttl": ["5m", "1h", "30s", "5m", "1h", "30s"],
                          "detection.monitoring": ["basic"] * 3 + ["advanced"] * 3,
                          "blast_radius": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    fig = F.sweep_heatmap(frame, "strategies.zsp.ttl", "detection.monitoring", "blast_radius")
    (ax,) = visible_axes(fig)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["30s", "5m", "1h"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["basic", "advanced"]
    assert ax.get_images()[0].get_array()[0].tolist() == [3.0, 1.0, 2.0]


def test_sweep_heatmap_cells_and_colour_bar_share_one_unit():
    # exposure windows from 40 s to a day: one unit (hours, from the largest) for the bar and every cell
    frame = pd.DataFrame({"ttl": ["5m", "1h", "5m", "1h"], "ttl_s": [300.0, 3600.0, 300.0, 3600.0],
                          "monitoring": ["basic", "basic", "advanced", "advanced"],
                          "exposure_window_s": [40.0, 900.0, 7200.0, 86400.0]})
    fig = F.sweep_heatmap(frame, "ttl", "monitoring", "exposure_window_s")
    (ax,) = visible_axes(fig)
    (bar,) = [a for a in fig.axes if a.get_label() == "<colorbar>"]
    assert bar.get_ylabel() == "exposure window (h)"
    assert sorted(all_texts(ax)) == sorted(["0.0111 h", "0.25 h", "2 h", "24 h"])
    # a share: percent on the bar and in the cells
    shares = frame.assign(task_success_rate=[0.5, 0.25, 1.0, 0.0])
    fig = F.sweep_heatmap(shares, "ttl", "monitoring", "task_success_rate")
    (ax,) = visible_axes(fig)
    assert [a for a in fig.axes if a.get_label() == "<colorbar>"][0].get_ylabel() == "task success (%)"
    assert sorted(all_texts(ax)) == ["0%", "100%", "25%", "50%"]


def test_sweep_heatmap_orders_a_text_parameter_by_its_numeric_twin():
    # "a" and "b" read as no duration: the twin (seconds) orders them
    frame = pd.DataFrame({"p": ["b", "a"], "p_s": [10.0, 20.0], "q": ["x", "x"], "blast_radius": [1.0, 2.0]})
    (ax,) = visible_axes(F.sweep_heatmap(frame, "p", "q", "blast_radius"))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["b", "a"]
