"""Sweep results read back: one row per run, a success over an error, in the sweep's order."""

from __future__ import annotations

import math

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from nhisim.experiments.store import tidy_runs

SCHEMA = pa.schema([pa.field("point", pa.int64()), pa.field("strategy", pa.string()),
                    pa.field("replication", pa.int64()), pa.field("score", pa.float64()),
                    pa.field("error", pa.string())])
NAMED = ["zsp", "rbac", "intent"]  # the sweep's order, not alphabetical

rows = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(NAMED + ["custom", "another"]), st.integers(0, 2),
                          st.booleans()), max_size=40)


def _expected(parts: list[list[tuple]], strategies: list[str] | None) -> list[tuple]:
    """Plainly: the first success of each run key, or else its first error; then sorted."""
    kept: dict[tuple, tuple] = {}
    for part in parts:
        for row in part:
            key = row[:3]
            if key not in kept or (kept[key][4] is not None and row[4] is None):
                kept[key] = row
    names = strategies or sorted({row[1] for row in kept.values()})
    rank = {name: i for i, name in enumerate(names)}
    return sorted(kept.values(), key=lambda r: (r[0], r[2], rank.get(r[1], len(rank)), r[1]))


@settings(max_examples=150, deadline=None)
@given(st.lists(rows, max_size=4), st.sampled_from([NAMED, None]), st.booleans())
def test_one_row_per_run_the_first_success_else_the_first_error(raw_parts, strategies, with_schema):
    serial = iter(range(10_000))  # each row's score says which row it was
    parts = [[(p, s, r, float(next(serial)), "boom" if failed else None) for p, s, r, failed in part]
             for part in raw_parts]
    tables = [pa.Table.from_pylist([dict(zip(SCHEMA.names, row, strict=True)) for row in part], schema=SCHEMA)
              for part in parts]
    frame = tidy_runs(tables, SCHEMA if with_schema else None, strategies)
    expected = _expected(parts, strategies)
    if not expected:
        assert frame.empty
        return
    got = [(int(p), s, int(r), float(x), None if e is None or (isinstance(e, float) and math.isnan(e)) else e)
           for p, s, r, x, e in frame[SCHEMA.names].itertuples(index=False)]
    assert got == expected
    assert list(frame.index) == list(range(len(frame)))
