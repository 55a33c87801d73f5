"""Merging sorted runs (``merge_runs``) gives what a stable sort of the live rows gives."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.kernels.runs import merge_runs, merge_text_runs

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


@settings(max_examples=200, deadline=None)
@given(
    texts=st.lists(st.text(alphabet=st.sampled_from("ab\x00é\U0001f600"), max_size=4), max_size=30),
    cuts=st.lists(st.integers(0, 30), max_size=5),
)
def test_merged_text_runs_are_the_bytewise_stable_sort(texts, cuts):
    encoded = [t.encode() for t in texts]
    offsets = np.cumsum([0, *map(len, encoded)]).astype(np.int64)
    data = np.frombuffer(b"".join(encoded) + b"\0", np.uint8)
    bounds = sorted({0, len(texts), *(c for c in cuts if c <= len(texts))})
    runs = np.concatenate(
        [
            np.array(sorted(range(lo, hi), key=lambda i: encoded[i]), np.int32)
            for lo, hi in zip(bounds, bounds[1:], strict=False)
        ]
        or [np.zeros(0, np.int32)]
    )
    out = merge_text_runs(offsets, data, runs, np.array(bounds, np.int64))
    assert out.dtype == np.int32
    assert out.tolist() == sorted(range(len(texts)), key=lambda i: encoded[i])
