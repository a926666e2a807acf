"""The story of a run: the rows of its event log that tell the attack and its effects.

A report tells one run per strategy (its attack timeline, the attacker's reach, the
replay), and what it reads is a small part of the log: on a large estate, nearly every
row is routine work. A *story log* keeps only the rows that tell something, so the report
of a 10,000-agent day does not hold millions of rows it never reads.

Routine rows, left out: a benign run's

* request allowed within its task's intent (an allowed overreach, out of intent, is kept);
* task start, task that ended ``ok``, and human approval (a failed task is kept);
* credential issued, rotated, or revoked by its lifecycle (not by a response), unless a
  kept row names the credential (the attacker acquired it, presented it, or a denied
  request presented it): then its whole lifecycle is kept, so its life and end are known.

Everything else is kept: every malicious row, every denial and refusal, discoveries,
re-declarations, goal switches, compromises, detections, responses, quarantines,
outages, retirements and the run's end. The attack timeline, the reach figure and the
replay read from a story log exactly what they read from the whole log (a test checks
this on every pack scenario × strategy). A story log's frame says so in its ``attrs``
(``rows: story``) and carries the run's metrics (``attrs["metrics"]``), computed from the
whole log as it was written: the metrics cannot be computed again from the story alone.

The same selection is written three times, each tested against the others: on a chunk of
a running log (:func:`unroutine`, then :func:`story_rows` at the end), and as filters on a
stored log (:func:`unroutine_filter`, :func:`lifecycle_filter`), which ``nhisim report DIR``
reads ``events.parquet`` with.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from nhisim.errors import InputError
from nhisim.sim.eventlog import COLUMNS, EventLog, LogChunk

ALL, STORY = "all", "story"  # what a kept log holds: every row, or its story (the attrs["rows"] of its frame)
EVENT_ROWS = (ALL, STORY)
SELECTING = ("event", "malicious", "decision", "code", "credential")  # the columns story_rows reads


def check_event_rows(event_rows: str) -> None:
    """Refuse a kind of kept log other than :data:`EVENT_ROWS`."""
    if event_rows not in EVENT_ROWS:
        raise InputError.single(f"event_rows is {event_rows!r}", location="event_rows",
                                suggestion=f"one of {', '.join(EVENT_ROWS)}")


def unroutine(chunk: LogChunk) -> np.ndarray:
    """The rows of a flushed chunk a story may need: all but routine work (lifecycle rows stay,
    as whether a row names their credential is known only at the end)."""
    equals = chunk.equals
    routine = (equals("event", "request") & equals("decision", "allow") & (chunk.in_intent() != 0)) \
        | equals("event", "task_start") | (equals("event", "task_end") & equals("decision", "ok")) \
        | equals("event", "approval")
    return ~(routine & ~chunk.flags())


def unroutine_filter() -> Any:
    """:func:`unroutine` as a filter on a stored log (a ``pyarrow.compute`` expression over the
    columns of ``events.parquet``): read with it, a file yields only the rows a story may need."""
    import pyarrow.compute as pc

    event, decision = pc.field("event"), pc.field("decision")
    return ((pc.field("malicious") == True) | ~event.isin(["request", "task_start", "task_end", "approval"])  # noqa: E712
            | ((event == "request") & ((decision != "allow") | (pc.field("in_intent") == False)))  # noqa: E712
            | ((event == "task_end") & (decision != "ok")))


def lifecycle_filter(named: Collection[str]) -> Any:
    """The rows :func:`story_rows` keeps of those :func:`unroutine_filter` reads, as a filter: the
    lifecycle rows of the credentials in ``named`` and every other row."""
    import pyarrow.compute as pc

    event, malicious = pc.field("event"), pc.field("malicious")
    cycle = (malicious == False) & (((event == "issue") & (pc.field("decision") == "allow"))  # noqa: E712
                                    | (event == "rotate") | ((event == "revoke") & (pc.field("code") != "response")))
    return ~cycle | pc.field("credential").isin(sorted(named)) if named else ~cycle


def named_credentials(columns: Mapping[str, np.ndarray]) -> set[str]:
    """The credentials a log's rows other than lifecycle rows name."""
    return credentials_in(columns["credential"][~lifecycle(columns)].tolist())


def credentials_in(values: Iterable[str | None]) -> set[str]:
    """The credentials a credential column's values name (a compromise hands over several: ``a|b``)."""
    named: set[str] = set()
    for value in set(values):
        if isinstance(value, str) and value:  # not None, nor the NaN a stored log reads back
            named.update(value.split("|"))
    return named


def lifecycle(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Benign lifecycle rows: a credential issued, rotated, or revoked other than by a response."""
    event, decision, code = columns["event"], columns["decision"], columns["code"]
    return ~columns["malicious"] & (((event == "issue") & (decision == "allow")) | (event == "rotate")
                                     | ((event == "revoke") & (code != "response")))


def story_rows(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Which rows of a log without routine work (its :data:`SELECTING` columns) its story keeps:
    all but the lifecycle rows of credentials that no other row names."""
    cycle = lifecycle(columns)
    credential = columns["credential"]
    named = named_credentials(columns)
    if not named:
        return ~cycle
    return ~cycle | np.fromiter(map(named.__contains__, credential), dtype=bool, count=len(credential))


def keep_story(log: EventLog) -> None:
    """Make ``log`` keep only what a story may need (before the run)."""
    log.keep_only(unroutine)


def story_columns(log: EventLog) -> dict[str, np.ndarray]:
    """The story of a log that kept it (:func:`keep_story`), by column, sorted by time."""
    selection = story_rows(log.columns(SELECTING))
    return log.columns(COLUMNS, np.flatnonzero(selection))


def story_frame(log: EventLog, metrics: Mapping[str, float]) -> pd.DataFrame:
    """The story of a log that kept it, as a frame whose ``attrs`` hold the run's ids, ``rows:
    story`` and ``metrics`` (those of the whole log)."""
    frame = pd.DataFrame(story_columns(log), copy=False)
    frame.attrs.update(log.meta)
    frame.attrs["rows"] = STORY
    frame.attrs["metrics"] = dict(metrics)
    return frame


def is_story(events: object) -> bool:
    """Whether ``events`` is a story log's frame (not a whole log)."""
    return isinstance(events, pd.DataFrame) and events.attrs.get("rows") == STORY


__all__ = ["ALL", "EVENT_ROWS", "SELECTING", "STORY", "check_event_rows", "credentials_in", "is_story", "keep_story",
           "lifecycle", "lifecycle_filter", "named_credentials", "story_columns", "story_frame", "story_rows",
           "unroutine", "unroutine_filter"]
