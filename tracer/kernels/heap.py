"""Growable arrays and a binary min-heap of (rank, slot), shared by the trace and reach kernels."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["_grow", "_heap_push", "_heap_pop"]


@njit(cache=True, nogil=True, inline="always")
def _grow(a, need):
    """``a`` with room for ``need`` rows along axis 0 (doubling), contents kept."""
    if need <= a.shape[0]:
        return a
    shape = (max(need, 2 * a.shape[0]),) + a.shape[1:]
    b = np.empty(shape, dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True, nogil=True, inline="always")
def _heap_push(hr, hs, n, rank, slot):
    """Push (rank, slot) on the heap of ``n`` entries (room for one more); returns n + 1."""
    i = n
    hr[i] = rank
    hs[i] = slot
    while i > 0:
        p = (i - 1) >> 1
        if hr[p] <= hr[i]:
            break
        hr[p], hr[i] = hr[i], hr[p]
        hs[p], hs[i] = hs[i], hs[p]
        i = p
    return n + 1


@njit(cache=True, nogil=True)
def _heap_pop(hr, hs, n):
    """Drop the top entry (read it from ``hr[0], hs[0]`` first); returns n - 1."""
    n -= 1
    hr[0] = hr[n]
    hs[0] = hs[n]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= n:
            break
        c = left
        if left + 1 < n and hr[left + 1] < hr[left]:
            c = left + 1
        if hr[i] <= hr[c]:
            break
        hr[c], hr[i] = hr[i], hr[c]
        hs[c], hs[i] = hs[i], hs[c]
        i = c
    return n
