"""Rows put in time order as a stable sort puts them (``nhisim.sim.ordering``)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from nhisim.sim.ordering import stable_argsort

# few distinct times, so that most rows tie (as a task's rows at one moment do); -0.0, inf and NaN too
_times = st.sampled_from([0.0, -0.0, 1.0, 1.5, 2.0, 1e9, np.inf, np.nan]) | st.floats(0, 10, allow_nan=False)


@given(st.lists(_times, max_size=300))
def test_ties_keep_the_order_the_rows_were_written_in(values):
    times = np.array(values, dtype=float)
    assert stable_argsort(times).tolist() == np.argsort(times, kind="stable").tolist()


def test_a_window_of_rows_in_pairs_at_one_moment():
    rng = np.random.default_rng(7)
    times = np.repeat(rng.random(50_000) * 86_400, 2)[rng.permutation(100_000)]
    assert (stable_argsort(times) == np.argsort(times, kind="stable")).all()
