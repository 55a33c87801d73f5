"""Union-find over account ids."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["components"]


@njit(cache=True, nogil=True)
def _find(parent, x):
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:  # path compression
        nxt = parent[x]
        parent[x] = root
        x = nxt
    return root


@njit(cache=True, nogil=True)
def components(n, a, b):
    """Component of each of ``n`` ids after joining every pair (a[i], b[i]); a component is
    named by its smallest id, so the result does not depend on the order of the pairs."""
    parent = np.arange(n, dtype=np.int64)
    for i in range(a.shape[0]):
        ra = _find(parent, a[i])
        rb = _find(parent, b[i])
        if ra < rb:
            parent[rb] = ra
        elif rb < ra:
            parent[ra] = rb
    out = np.empty(n, np.int64)
    for x in range(n):
        out[x] = _find(parent, x)
    return out
