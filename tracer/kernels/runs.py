"""Merging sorted runs: the global order of an ingest's staged parts, each sorted by (ts, seq),
without sorting them again (``tracer.ingest.parts``), and the tx ids' order from blocks sorted
one at a time (``tracer.graph.edges``)."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["merge_runs", "merge_text_runs"]


@njit(cache=True, nogil=True, inline="always")
def _before(t, s, pos, a, b):
    """Whether run ``a``'s next row comes before run ``b``'s: by (t, s), then the earlier run."""
    i, j = pos[a], pos[b]
    if t[i] != t[j]:
        return t[i] < t[j]
    if s[i] != s[j]:
        return s[i] < s[j]
    return a < b


@njit(cache=True, nogil=True, inline="always")
def _sift_down(heap, n, t, s, pos):
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and _before(t, s, pos, heap[c + 1], heap[c]):
            c += 1
        if not _before(t, s, pos, heap[c], heap[i]):
            break
        heap[c], heap[i] = heap[i], heap[c]
        i = c


@njit(cache=True, nogil=True)
def merge_runs(t, s, alive, starts, n_live):
    """Rows ``starts[r]:starts[r + 1]`` of ``t``, ``s`` are run ``r``, sorted by (t, s). Returns
    the positions of the ``n_live`` rows where ``alive`` is set, in (t, s) order with ties in
    position order (what a stable sort of all rows would give), and ``tie``: whether each row
    of that order has the (t, s) of the row before it. A heap of the runs' next rows: time
    n log(runs), memory the output."""
    k = starts.shape[0] - 1
    pos = starts[:-1].copy()
    heap = np.empty(max(k, 1), np.int64)
    n = 0
    for r in range(k):
        i = pos[r]
        while i < starts[r + 1] and not alive[i]:
            i += 1
        pos[r] = i
        if i < starts[r + 1]:  # pushed, then sifted up
            heap[n] = r
            c = n
            n += 1
            while c > 0:
                p = (c - 1) >> 1
                if not _before(t, s, pos, heap[c], heap[p]):
                    break
                heap[c], heap[p] = heap[p], heap[c]
                c = p
    out = np.empty(n_live, np.int64)
    tie = np.zeros(n_live, np.bool_)
    for j in range(n_live):
        r = heap[0]
        i = pos[r]
        out[j] = i
        if j > 0 and t[i] == t[out[j - 1]] and s[i] == s[out[j - 1]]:
            tie[j] = True
        i += 1
        while i < starts[r + 1] and not alive[i]:
            i += 1
        pos[r] = i
        if i >= starts[r + 1]:  # the run is done: the last entry takes its place
            n -= 1
            heap[0] = heap[n]
        _sift_down(heap, n, t, s, pos)
    return out, tie


@njit(cache=True, nogil=True, inline="always")
def _text_before(offsets, data, runs, pos, a, b):
    """Whether run ``a``'s next string comes before run ``b``'s: bytewise, then the earlier
    run (strings ``offsets[i]:offsets[i + 1]`` of ``data``)."""
    x, y = runs[pos[a]], runs[pos[b]]
    i, i_end = offsets[x], offsets[x + 1]
    j, j_end = offsets[y], offsets[y + 1]
    while i < i_end and j < j_end:
        if data[i] != data[j]:
            return data[i] < data[j]
        i += 1
        j += 1
    if (i_end - i) != (j_end - j):
        return i == i_end  # the shorter is a prefix of the longer
    return a < b


@njit(cache=True, nogil=True, inline="always")
def _text_sift_down(heap, n, offsets, data, runs, pos):
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and _text_before(offsets, data, runs, pos, heap[c + 1], heap[c]):
            c += 1
        if not _text_before(offsets, data, runs, pos, heap[c], heap[i]):
            break
        heap[c], heap[i] = heap[i], heap[c]
        i = c


@njit(cache=True, nogil=True)
def merge_text_runs(offsets, data, runs, starts):
    """``runs[starts[r]:starts[r + 1]]`` lists string ids in bytewise order of their strings
    (``offsets``, ``data``: Arrow's buffers of a large string array). Returns every id of
    ``runs`` in bytewise order, equal strings in run order (what a stable sort of all strings
    gives when each run is a stretch of them), in the dtype of ``runs``."""
    k = starts.shape[0] - 1
    pos = starts[:-1].copy()
    heap = np.empty(max(k, 1), np.int64)
    n = 0
    for r in range(k):
        if pos[r] < starts[r + 1]:
            heap[n] = r
            c = n
            n += 1
            while c > 0:
                p = (c - 1) >> 1
                if not _text_before(offsets, data, runs, pos, heap[c], heap[p]):
                    break
                heap[c], heap[p] = heap[p], heap[c]
                c = p
    out = np.empty(runs.shape[0], runs.dtype)
    for j in range(runs.shape[0]):
        r = heap[0]
        out[j] = runs[pos[r]]
        pos[r] += 1
        if pos[r] >= starts[r + 1]:
            n -= 1
            heap[0] = heap[n]
        _text_sift_down(heap, n, offsets, data, runs, pos)
    return out
