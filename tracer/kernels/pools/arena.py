"""The segment arena: the lots (segments) of every pool that keeps them, as linked lists.

A node is an amount (``g_amt``) and four ints (``g_link``): next, previous, tainted (0/1) and
origin (the edge rank the taint arrived by, -1 if none). ``meta`` holds the number of nodes
used and the head of the free list. An arena is the tuple ``ar = (g_amt, g_link, meta)``;
functions that may add a node return it, since the arrays grow. A pool's list runs from
``si[s, _HEAD]`` (oldest) to ``si[s, _TAIL]`` (newest). A *chain* is a list of nodes not in
any pool: what a draw carried, on its way to the receiver.

Used by fifo and lifo (``lots.py``: clean and tainted segments), libr (``libr.py``: lots of
taint) and haircut (``haircut.py``: lots of taint, for pro rata allocations).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tracer.kernels.heap import _grow
from tracer.kernels.pools.common import _HEAD, _NONE, _NT, _TAIL, record

_NEXT, _PREV, _TAINTED, _ORIGIN = 0, 1, 2, 3
_USED, _FREE = 0, 1  # meta


@njit(cache=True, nogil=True)
def new_arena(n):
    """An empty arena with room for ``n`` nodes (at least 1)."""
    meta = np.empty(2, np.int64)
    meta[_USED] = 0
    meta[_FREE] = _NONE
    return np.empty(n, np.float64), np.empty((n, 4), np.int64), meta


@njit(cache=True, nogil=True)
def new_node(ar, amt, tainted, origin=-1):
    """A node outside any list. Returns (node, ar)."""
    g_amt, g_link, meta = ar
    if meta[_FREE] != _NONE:
        nd = meta[_FREE]
        meta[_FREE] = g_link[nd, _NEXT]
    else:
        g_amt = _grow(g_amt, meta[_USED] + 1)
        g_link = _grow(g_link, meta[_USED] + 1)
        nd = meta[_USED]
        meta[_USED] += 1
    g_amt[nd] = amt
    g_link[nd, _NEXT] = _NONE
    g_link[nd, _PREV] = _NONE
    g_link[nd, _TAINTED] = tainted
    g_link[nd, _ORIGIN] = origin
    return nd, (g_amt, g_link, meta)


@njit(cache=True, nogil=True)
def free_chain(ar, node):
    """Return the nodes from ``node`` on (by next) to the free list."""
    g_link = ar[1]
    meta = ar[2]
    g_free = meta[_FREE]
    while node != _NONE:
        nxt = g_link[node, _NEXT]
        g_link[node, _NEXT] = g_free
        g_free = node
        node = nxt
    meta[_FREE] = g_free


@njit(cache=True, nogil=True)
def free_pool(ar, si, s):
    """Empty slot ``s``'s list."""
    free_chain(ar, si[s, _HEAD])
    si[s, _HEAD] = _NONE
    si[s, _TAIL] = _NONE


@njit(cache=True, nogil=True)
def unlink(ar, si, s, node):
    """Take ``node`` out of slot ``s``'s list."""
    g_link = ar[1]
    p = g_link[node, _PREV]
    q = g_link[node, _NEXT]
    if p != _NONE:
        g_link[p, _NEXT] = q
    else:
        si[s, _HEAD] = q
    if q != _NONE:
        g_link[q, _PREV] = p
    else:
        si[s, _TAIL] = p


@njit(cache=True, nogil=True)
def pool_sum(ar, si, s, tainted_only):
    """The amounts in slot ``s``'s list (its tainted segments only, or all), oldest first."""
    g_amt, g_link, _ = ar
    tot = 0.0
    node = si[s, _HEAD]
    while node != _NONE:
        if not tainted_only or g_link[node, _TAINTED] != 0:
            tot += g_amt[node]
        node = g_link[node, _NEXT]
    return tot


@njit(cache=True, nogil=True)
def clean_chain(ar, node):
    """Dust: every segment of the chain arrives clean."""
    g_link = ar[1]
    while node != _NONE:
        g_link[node, _TAINTED] = 0
        node = g_link[node, _NEXT]


@njit(cache=True, nogil=True, inline="always")
def record_chain(ar, al, an, r, node):
    """Allocations of outflow ``r``: one per tainted segment of the chain it carried."""
    g_amt, g_link, _ = ar
    while node != _NONE:
        if g_link[node, _TAINTED] != 0:
            al, an = record(al, an, r, g_link[node, _ORIGIN], g_amt[node])
        node = g_link[node, _NEXT]
    return al, an


@njit(cache=True, nogil=True)
def append_chain(ar, si, s, node, r, keep_clean):
    """Append a chain at the back of slot ``s``'s list. Its tainted segments now come from edge
    ``r``; adjacent segments of the same kind (and, if tainted, origin) merge. Without
    ``keep_clean`` (libr, haircut: clean funds are a sum), clean segments are dropped."""
    g_amt, g_link, meta = ar
    g_free = meta[_FREE]
    while node != _NONE:
        nxt = g_link[node, _NEXT]
        tainted = g_link[node, _TAINTED] != 0
        if tainted:
            g_link[node, _ORIGIN] = r
        tl = si[s, _TAIL]
        if not tainted and not keep_clean:
            g_link[node, _NEXT] = g_free
            g_free = node
        elif (
            tl != _NONE
            and (g_link[tl, _TAINTED] != 0) == tainted
            and (not tainted or g_link[tl, _ORIGIN] == r)
        ):
            g_amt[tl] += g_amt[node]
            g_link[node, _NEXT] = g_free
            g_free = node
        else:
            g_link[node, _PREV] = tl
            g_link[node, _NEXT] = _NONE
            if tl != _NONE:
                g_link[tl, _NEXT] = node
            else:
                si[s, _HEAD] = node
            si[s, _TAIL] = node
            if tainted:
                si[s, _NT] += 1
        node = nxt
    meta[_FREE] = g_free
