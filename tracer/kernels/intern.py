"""A hash table from 128-bit keys (two 64-bit hashes of a string) to dense ids, kept across
calls, for interning account ids block by block."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["intern_keys", "grow"]


@njit(cache=True, nogil=True)
def _slot(lo: np.uint64, hi: np.uint64, mask: np.int64, key_lo: np.ndarray, key_hi: np.ndarray,
          ids: np.ndarray) -> np.int64:
    """The slot of (lo, hi): where it is, or the empty slot where it would go."""
    i = np.int64(lo ^ (hi >> np.uint64(17))) & mask
    while ids[i] >= 0 and (key_lo[i] != lo or key_hi[i] != hi):
        i = (i + 1) & mask
    return i


@njit(cache=True, nogil=True)
def intern_keys(lo: np.ndarray, hi: np.ndarray, key_lo: np.ndarray, key_hi: np.ndarray,
                ids: np.ndarray, n_known: int, out: np.ndarray, first: np.ndarray) -> int:
    """Id of each key (lo[i], hi[i]) in ``out``: its id in the table (slots with ``ids`` -1 are
    empty; linear probing), or the next new id, inserted. ``first`` gets the positions where a
    new id was handed out, in order. Returns the number of new ids. The caller keeps the table
    at most half full (``grow``)."""
    mask = np.int64(len(ids) - 1)
    n_new = 0
    for i in range(len(lo)):
        s = _slot(lo[i], hi[i], mask, key_lo, key_hi, ids)
        if ids[s] < 0:
            key_lo[s] = lo[i]
            key_hi[s] = hi[i]
            ids[s] = n_known + n_new
            first[n_new] = i
            n_new += 1
        out[i] = ids[s]
    return n_new


@njit(cache=True, nogil=True)
def grow(key_lo: np.ndarray, key_hi: np.ndarray, ids: np.ndarray, size: int):
    """The same table with ``size`` slots (a power of two)."""
    new_lo = np.zeros(size, np.uint64)
    new_hi = np.zeros(size, np.uint64)
    new_ids = np.full(size, -1, np.int32)
    mask = np.int64(size - 1)
    for i in range(len(ids)):
        if ids[i] >= 0:
            s = _slot(key_lo[i], key_hi[i], mask, new_lo, new_hi, new_ids)
            new_lo[s] = key_lo[i]
            new_hi[s] = key_hi[i]
            new_ids[s] = ids[i]
    return new_lo, new_hi, new_ids
