"""The order of a chunk's rows in the files: by time, then a scrambled key, then tie-breakers.

Times are whole seconds, so one int64 holds a row's second, the top bits of its key and its
position; a radix sort of those numbers (numba, on the bits above the position) gives the
order, except among rows equal on the first two (rare), which are then ordered on their full
keys. Other times fall back to ``numpy.lexsort``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["sort_rows", "scramble"]

_DIGIT = 11  # bits per radix pass
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def scramble(values: np.ndarray, salt: int) -> np.ndarray:
    """``ids.mix64(values ^ salt) >> 1`` as int64 (not negative), in one pass."""
    return _scramble(np.ascontiguousarray(values, np.int64), np.uint64(salt & (2**64 - 1)))


def sort_rows(ts: np.ndarray, key: np.ndarray, *more: np.ndarray) -> np.ndarray:
    """Row order by ``(ts, key, *more)`` (int64 arrays; ``key`` not negative)."""
    n = ts.shape[0]
    if n < 2:
        return np.arange(n)
    secs, frac = np.divmod(ts - ts.min(), 1_000_000)
    span, low = int(secs.max()).bit_length(), (n - 1).bit_length()
    bits = 63 - span - low  # of the key
    if frac.any() or bits < 8 or key.min() < 0:
        return np.lexsort((*reversed(more), key, ts))
    packed = (secs << (63 - span)) | ((key >> (63 - bits)) << low) | np.arange(n)
    packed = _radix(packed, low, 63)
    perm = packed & ((1 << low) - 1)
    head = packed >> low
    tie = np.flatnonzero(head[1:] == head[:-1])
    if tie.size:
        at = np.unique(np.concatenate([tie, tie + 1]))
        rows = perm[at]
        perm[at] = rows[
            np.lexsort((*(m[rows] for m in reversed(more)), key[rows], ts[rows], head[at]))
        ]
    return perm


@njit(cache=True, nogil=True)
def _radix(values, lo, hi):
    """``values`` (non-negative int64) sorted on bits ``lo..hi`` (stable: least significant
    digit first)."""
    n = values.shape[0]
    src = values.copy()
    dst = np.empty_like(src)
    size = 1 << _DIGIT
    mask = size - 1
    count = np.empty(size + 1, np.int64)
    shift = lo
    while shift < hi:
        count[:] = 0
        for i in range(n):
            count[((src[i] >> shift) & mask) + 1] += 1
        for d in range(size):
            count[d + 1] += count[d]
        for i in range(n):
            d = (src[i] >> shift) & mask
            dst[count[d]] = src[i]
            count[d] += 1
        src, dst = dst, src
        shift += _DIGIT
    return src


@njit(cache=True, nogil=True)
def _scramble(values, salt):
    out = np.empty(values.shape[0], np.int64)
    for i in range(values.shape[0]):
        z = (np.uint64(values[i]) ^ salt) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        out[i] = np.int64((z ^ (z >> np.uint64(31))) >> np.uint64(1))
    return out
