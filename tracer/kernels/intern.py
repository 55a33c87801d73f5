"""A hash table from 128-bit keys (two 64-bit hashes of a string) to dense ids, kept across
calls, for interning account ids block by block.

The table is one (slots, 4) uint64 array: the two halves of the key, the id plus one (0: an
empty slot) and padding, so that a probe reads one row of 32 bytes (half a cache line) rather
than three arrays."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["intern_keys", "grow", "new_table"]

_LO, _HI, _ID = 0, 1, 2


def new_table(size: int) -> np.ndarray:
    """An empty table of ``size`` slots (a power of two)."""
    return np.zeros((size, 4), np.uint64)


@njit(cache=True, nogil=True)
def _slot(lo: np.uint64, hi: np.uint64, mask: np.int64, table: np.ndarray) -> np.int64:
    """The slot of (lo, hi): where it is, or the empty slot where it would go."""
    i = np.int64(lo ^ (hi >> np.uint64(17))) & mask
    while table[i, _ID] != 0 and (table[i, _LO] != lo or table[i, _HI] != hi):
        i = (i + 1) & mask
    return i


@njit(cache=True, nogil=True)
def intern_keys(
    lo: np.ndarray,
    hi: np.ndarray,
    table: np.ndarray,
    n_known: int,
    out: np.ndarray,
    first: np.ndarray,
    start: int,
    n_new: int,
):
    """Id of each key (lo[i], hi[i]) from ``start`` on, in ``out``: its id in the table
    (linear probing), or the next new id, inserted. ``first`` gets the positions where a new
    id was handed out, in order (``n_new`` of them so far). Stops before the table is more
    than half full. Returns (new ids so far, where it stopped: ``len(lo)`` when done); the
    caller grows the table (``grow``) and calls again from there."""
    mask = np.int64(table.shape[0] - 1)
    limit = table.shape[0] // 2
    for i in range(start, len(lo)):
        s = _slot(lo[i], hi[i], mask, table)
        if table[s, _ID] == 0:
            if n_known + n_new >= limit:
                return n_new, i
            table[s, _LO] = lo[i]
            table[s, _HI] = hi[i]
            table[s, _ID] = np.uint64(n_known + n_new + 1)
            first[n_new] = i
            n_new += 1
        out[i] = np.int32(table[s, _ID] - np.uint64(1))
    return n_new, len(lo)


@njit(cache=True, nogil=True)
def grow(table: np.ndarray, size: int) -> np.ndarray:
    """The same table with ``size`` slots (a power of two)."""
    new = np.zeros((size, 4), np.uint64)
    mask = np.int64(size - 1)
    for i in range(table.shape[0]):
        if table[i, _ID] != 0:
            s = _slot(table[i, _LO], table[i, _HI], mask, new)
            new[s, _LO] = table[i, _LO]
            new[s, _HI] = table[i, _HI]
            new[s, _ID] = table[i, _ID]
    return new
