"""A run's story (nhisim.metrics.story) tells what its whole event log tells.

A report keeps of each run it draws only the rows that tell the attack and its effects, so
a large estate's report does not hold millions of rows of routine work. These tests check,
on every pack scenario × strategy, that the replay, the attacker's reach, the incidents and
the attack timeline read from the story exactly what they read from the whole log.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nhisim.errors import InputError
from nhisim.experiments.run import as_scenario, simulate
from nhisim.metrics import compute_metrics
from nhisim.metrics.lifecycle import RunLog
from nhisim.reports.figures import attack_timeline
from nhisim.reports.figures.reach import _reach_graph, attacker_reach
from nhisim.reports.narrate import narrate

PACK = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))
ROUTINE = ("task_start", "approval")


def _same_metrics(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        (isinstance(a[k], float) and math.isnan(a[k]) and isinstance(b[k], float) and math.isnan(b[k])) or a[k] == b[k]
        for k in a)


def _rows(frame: pd.DataFrame) -> list[str]:
    """Each row as text, a missing value as None whatever its column's dtype (a column that is
    all missing in a story is ``object``, where the whole log's is ``str``)."""
    plain = frame.astype(object).where(frame.notna(), None)
    return list(map(repr, plain.itertuples(index=False)))


def _drawn(figure) -> list:
    """What a figure draws, axes by axes: its lines, markers, bars and words (rendering it would
    compare the same, several times slower)."""
    drawn = []
    for ax in figure.axes:
        drawn.append([(line.get_xdata(orig=False).tolist(), line.get_ydata(orig=False).tolist(), line.get_marker(),
                       line.get_color()) for line in ax.lines])
        drawn.append([(c.get_offsets().tolist(), [p.vertices.tolist() for p in c.get_paths()]) for c in ax.collections])
        drawn.append([(patch.get_extents().bounds, patch.get_facecolor()) for patch in ax.patches])
        drawn.append([text.get_text() for text in (*ax.texts, *ax.get_yticklabels(), ax.title)])
        drawn.append((ax.get_xlim(), ax.get_ylim()))
        legend = ax.get_legend()
        drawn.append([text.get_text() for text in legend.get_texts()] if legend else None)
    return drawn


@pytest.mark.parametrize("path", PACK, ids=[p.stem for p in PACK])
def test_the_story_tells_what_the_whole_log_tells(path):
    scenario = as_scenario(path)
    reach_graph = _reach_graph(scenario)[0]
    for strategy in scenario.strategies:
        whole = simulate(scenario, strategy, 3)
        story = simulate(scenario, strategy, 3, event_rows="story")
        full, told = whole.events, story.events
        assert _same_metrics(story.metrics, whole.metrics)
        assert told.attrs["rows"] == "story" and _same_metrics(told.attrs["metrics"], whole.metrics)
        # the story is the whole log's rows, fewer of them, in the same order, none of them routine
        rows = _rows(full)
        position = {row: i for i, row in reversed(list(enumerate(rows)))}
        kept = [position[row] for row in _rows(told)]
        assert kept == sorted(kept) and len(told) < len(full)
        assert not told["event"].isin(ROUTINE).any()
        for kind in ("compromise", "acquire", "detect", "quarantine", "release", "give_up", "run_end", "outage"):
            assert (told["event"] == kind).sum() == (full["event"] == kind).sum(), kind
        assert told["malicious"].sum() == full["malicious"].sum()
        # what the report reads of it
        assert narrate(told, scenario, strategy) == narrate(full, scenario, strategy)
        assert attacker_reach(told, reach_graph) == attacker_reach(full, reach_graph)
        whole_log, story_log = RunLog(full), RunLog(told)
        assert story_log.incidents == whole_log.incidents
        assert all(story_log.credential_end[c] == whole_log.credential_end[c] for c in story_log.credential_end)
        if whole_log.incidents:
            assert _drawn(attack_timeline(told)) == _drawn(attack_timeline(full))


def test_a_story_refuses_to_give_metrics_it_cannot_compute():
    """The story lacks the routine rows the utility and cost metrics count: its metrics are those the
    run computed from the whole log, in its attrs, and computing them again is refused, not wrong."""
    story = simulate(as_scenario(PACK[0]), "rbac", 0, event_rows="story")
    with pytest.raises(InputError, match="story"):
        compute_metrics(story.events)
    assert set(story.events.attrs["metrics"]) == set(story.metrics)


def test_an_unknown_kind_of_event_rows_is_refused():
    with pytest.raises(ValueError, match="event_rows"):
        simulate(as_scenario(PACK[0]), "rbac", 0, event_rows="some")
    from nhisim.experiments import compare

    with pytest.raises(InputError, match="event_rows"):
        compare(PACK[0], strategies=["rbac"], replications=1, event_rows="some")


def test_keep_only_keeps_the_rows_asked_for_and_streams_every_row():
    """EventLog.keep_only: consumers see every row; the log keeps those selected, in time order."""
    from nhisim.sim.eventlog import EventLog

    log = EventLog()
    seen = []
    log.stream_to(lambda chunk: seen.append(chunk.rows))
    log.keep_only(lambda chunk: chunk.equals("event", "detect"))
    for i in range(10_000):
        log.add(float(i), "detect" if i % 3 == 0 else "reinstate", reason=str(i))
    log.flush()
    columns = log.columns()
    assert sum(seen) == len(log) == 10_000
    assert columns["reason"].tolist() == [str(i) for i in range(0, 10_000, 3)]
    assert log.columns(("t",), np.array([0, 2]))["t"].tolist() == [0.0, 6.0]
    frame = pd.DataFrame(log.columns(("t", "event"), log.columns(("t",))["t"] > 9990))
    assert frame["t"].tolist() == [9993.0, 9996.0, 9999.0]
