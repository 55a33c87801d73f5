"""Compressed sparse rows from edges already in time order (counting sort, stable)."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["csr_by"]


@njit(cache=True, nogil=True)
def csr_by(keys, n, out_edges):
    """Group edge ids 0..len(keys)-1 by ``keys`` (ids < n), keeping edge order within a group.

    Fills ``out_edges`` (len(keys)) and returns ``indptr`` (n + 1, int64). Because edges are
    numbered in global time order, each group comes out sorted by (ts, seq, tx_id).
    """
    indptr = np.zeros(n + 1, np.int64)
    for k in keys:
        indptr[k + 1] += 1
    for i in range(n):
        indptr[i + 1] += indptr[i]
    fill = indptr[:-1].copy()
    for e in range(keys.shape[0]):
        k = keys[e]
        out_edges[fill[k]] = e
        fill[k] += 1
    return indptr
