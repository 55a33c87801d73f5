"""Merging sorted runs (``merge_runs``) gives what a stable sort of the live rows gives."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.kernels.runs import merge_runs

keys = st.tuples(st.integers(0, 4), st.integers(0, 3))
runs = st.lists(st.lists(keys, max_size=12).map(sorted), max_size=6)


@settings(max_examples=200, deadline=None)
@given(runs=runs, data=st.data())
def test_merged_runs_are_the_stable_sort_of_the_live_rows(runs, data):
    rows = [k for run in runs for k in run]
    alive = np.array(data.draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows))))
    alive = alive.astype(bool) if len(rows) else np.zeros(0, bool)
    t = np.array([k[0] for k in rows], np.int64)
    s = np.array([k[1] for k in rows], np.int64)
    starts = np.cumsum([0, *map(len, runs)]).astype(np.int64)
    live = [i for i in range(len(rows)) if alive[i]]
    want = sorted(live, key=lambda i: (rows[i], i))  # Python's sort is stable
    out, tie = merge_runs(t, s, alive, starts, len(live))
    assert out.tolist() == want
    assert tie.tolist() == [j > 0 and rows[want[j]] == rows[want[j - 1]] for j in range(len(want))]


def test_no_runs():
    empty = np.zeros(0, np.int64)
    out, tie = merge_runs(empty, empty, np.zeros(0, bool), np.zeros(1, np.int64), 0)
    assert len(out) == 0 and len(tie) == 0
