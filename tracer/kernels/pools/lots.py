"""Where fifo and lifo live: a pool of segments, clean and tainted, in order of arrival.

Mirrors ``LotPool`` in ``tests/oracle.py``. The segments are a list in the arena
(``arena.py``); fifo draws from the front (oldest first), lifo from the back (newest first).
What a draw takes travels as a chain of segments and is appended, in order, at the back of the
receiver's list. Every function takes the rule code (``FIFO`` or ``LIFO``) of the pool it
works on, so another rule can use this pool as its own (libr draws its lots as fifo).
"""

from __future__ import annotations

from numba import njit

from tracer.kernels.pools.arena import (
    _FREE,
    _NEXT,
    _ORIGIN,
    _PREV,
    _TAINTED,
    append_chain,
    free_pool,
    new_node,
    pool_sum,
    unlink,
)
from tracer.kernels.pools.common import _CLEAN, _HEAD, _NONE, _NT, _TAIL, FIFO


@njit(cache=True, nogil=True)
def draw(rule, ar, si, s, v):
    """Take ``v`` from the ends of the pool (fifo: front, lifo: back).

    Returns (tau, shortfall, chain head, ar); the chain keeps pool order and starts with a
    clean segment of the shortfall, if any (presumed older funds)."""
    from_front = rule == FIFO
    need = v
    tau = 0.0
    ch_h = _NONE
    ch_t = _NONE
    while need > 0.0:
        node = si[s, _HEAD] if from_front else si[s, _TAIL]
        if node == _NONE:
            break
        g_amt = ar[0]
        g_link = ar[1]
        m = g_amt[node]
        tainted = g_link[node, _TAINTED]
        if m <= need:
            need -= m
            unlink(ar, si, s, node)
            taken = node
            if tainted != 0:
                si[s, _NT] -= 1
        else:
            taken, ar = new_node(ar, need, tainted, g_link[node, _ORIGIN])
            g_amt = ar[0]
            g_link = ar[1]
            g_amt[node] = m - need
            m = need
            need = 0.0
        if tainted != 0:
            tau += m
        if from_front:  # append
            g_link[taken, _NEXT] = _NONE
            g_link[taken, _PREV] = ch_t
            if ch_t != _NONE:
                g_link[ch_t, _NEXT] = taken
            else:
                ch_h = taken
            ch_t = taken
        else:  # prepend
            g_link[taken, _PREV] = _NONE
            g_link[taken, _NEXT] = ch_h
            if ch_h != _NONE:
                g_link[ch_h, _PREV] = taken
            else:
                ch_t = taken
            ch_h = taken
    shortfall = 0.0
    if need > 0.0:
        shortfall = need
        nd, ar = new_node(ar, need, 0)
        g_link = ar[1]
        g_link[nd, _NEXT] = ch_h
        if ch_h != _NONE:
            g_link[ch_h, _PREV] = nd
        ch_h = nd
    return tau, shortfall, ch_h, ar


@njit(cache=True, nogil=True)
def draw_limited(rule, ar, si, s, v):
    """Hop-limited: take ``v`` from clean segments only (fifo: oldest first, lifo: newest
    first). Returns the shortfall."""
    from_front = rule == FIFO
    g_amt, g_link, meta = ar
    need = v
    node = si[s, _HEAD] if from_front else si[s, _TAIL]
    while node != _NONE and need > 0.0:
        nxt = g_link[node, _NEXT] if from_front else g_link[node, _PREV]
        if g_link[node, _TAINTED] == 0:
            m = g_amt[node]
            if m <= need:
                need -= m
                unlink(ar, si, s, node)
                g_link[node, _NEXT] = meta[_FREE]
                meta[_FREE] = node
            else:
                g_amt[node] = m - need
                need = 0.0
        node = nxt
    return need if need > 0.0 else 0.0


@njit(cache=True, nogil=True, inline="always")
def deliver(rule, ar, si, s, v, ch_h, is_seed, r):
    """Inflow ``r`` of ``v``: the chain it carried, or one segment (a clean transfer or a
    seed), at the back. Returns ar."""
    if ch_h == _NONE and v > 0.0:
        ch_h, ar = new_node(ar, v, 1 if is_seed else 0)
    append_chain(ar, si, s, ch_h, r, True)
    return ar


@njit(cache=True, nogil=True, inline="always")
def open_pool(rule, ar, si, sf, s, c):
    """First reached or caught up with clean balance ``c``: one clean segment. Returns ar."""
    if c > 0.0:
        nd, ar = new_node(ar, c, 0)
        si[s, _HEAD] = nd
        si[s, _TAIL] = nd
    sf[s, _CLEAN] = 0.0
    return ar


@njit(cache=True, nogil=True, inline="always")
def holds(si, s):
    return si[s, _NT] > 0


@njit(cache=True, nogil=True, inline="always")
def dormant(ar, si, sf, s):
    """No taint left: the segments become one clean balance."""
    tot = pool_sum(ar, si, s, False)
    free_pool(ar, si, s)
    sf[s, _CLEAN] = tot


@njit(cache=True, nogil=True, inline="always")
def balance(ar, si, s):
    return pool_sum(ar, si, s, True)
