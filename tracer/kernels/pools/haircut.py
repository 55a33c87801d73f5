"""Where haircut lives: clean and tainted sums; an outflow carries taint pro rata.

Mirrors ``HaircutPool`` in ``tests/oracle.py``. The sums are ``sf[s, _CLEAN]`` and
``sf[s, _TAINT]``. For the allocations, the taint is also kept as lots in the arena (one per
tainted inflow, ``arena.py``), each drawn down pro rata. A pool keeps at most ``MAX_LOTS``
lots: a tainted inflow to a pool that holds that many first merges them into one, credited
to the largest of them (``fold``). So an outflow records at most ``MAX_LOTS`` allocations and
the work is linear in the events, however many tainted inflows an account receives; the
allocations of an outflow still add up to its taint exactly. The clean-only draw and the
inflow's sums are shared with libr (``libr.py``), as ``LibrPool`` extends ``HaircutPool``.
"""

from __future__ import annotations

from numba import njit

from tracer.kernels.pools.arena import (
    _NEXT,
    _ORIGIN,
    _PREV,
    append_chain,
    free_chain,
    free_pool,
    new_node,
)
from tracer.kernels.pools.common import _CLEAN, _HEAD, _NONE, _NT, _TAIL, _TAINT, record3

MAX_LOTS = 16  # lots of taint a pool keeps; beyond, they are merged (``fold``)


@njit(cache=True, nogil=True)
def draw(sf, s, v):
    """Returns (tau, shortfall)."""
    tau = 0.0
    shortfall = 0.0
    c = sf[s, _CLEAN]
    t = sf[s, _TAINT]
    bal = c + t
    if v >= bal:
        shortfall = v - bal
        tau = t
        sf[s, _CLEAN] = 0.0
        sf[s, _TAINT] = 0.0
    else:
        tau = (t * v) / bal
        sf[s, _TAINT] = t - tau
        c2 = c - (v - tau)
        sf[s, _CLEAN] = c2 if c2 > 0.0 else 0.0
    return tau, shortfall


@njit(cache=True, nogil=True)
def draw_limited(sf, s, v):
    """Hop-limited (haircut, libr): take ``v`` from the clean sum only. Returns the shortfall."""
    shortfall = 0.0
    c = sf[s, _CLEAN]
    if v > c:
        shortfall = v - c
        sf[s, _CLEAN] = 0.0
    else:
        sf[s, _CLEAN] = c - v
    return shortfall


@njit(cache=True, nogil=True, inline="always")
def allocate(ar, si, sf, s, r, tau, t_before, dusted, al, an):
    """Outflow ``r`` drew ``tau`` of the ``t_before`` taint held: each lot gives its share
    (all of it when the pool is left with none, and the lots are dropped), recorded unless
    the outflow is dust or the share is 0."""
    g_amt, g_link, _ = ar
    al_out, al_in, al_amt = al
    frac = tau / t_before
    empty = sf[s, _TAINT] == 0.0
    node = si[s, _HEAD]
    while node != _NONE:
        nxt = g_link[node, _NEXT]
        share = g_amt[node] if empty else g_amt[node] * frac
        if not dusted and share > 0.0:
            al_out, al_in, al_amt, an = record3(
                al_out, al_in, al_amt, an, r, g_link[node, _ORIGIN], share
            )
        g_amt[node] -= share
        node = nxt
    if empty:  # under match the account may stay active: it holds no lot
        free_pool(ar, si, s)
        si[s, _NT] = 0
    return (al_out, al_in, al_amt), an


@njit(cache=True, nogil=True)
def add_sums(sf, s, v, tau):
    """An inflow of ``v`` carrying ``tau`` (haircut, libr)."""
    sf[s, _TAINT] += tau
    sf[s, _CLEAN] += v - tau


@njit(cache=True, nogil=True)
def fold(ar, si, s):
    """Merge slot ``s``'s lots into one: their sum, credited to the largest lot's inflow (the
    oldest of equal ones). Nothing is lost: the pro rata share of the merged lot is the sum of
    the shares of the lots merged."""
    g_amt, g_link, _ = ar
    head = si[s, _HEAD]
    if head == _NONE:
        return
    tot = g_amt[head]
    best = head
    node = g_link[head, _NEXT]
    while node != _NONE:
        tot += g_amt[node]
        if g_amt[node] > g_amt[best]:
            best = node
        node = g_link[node, _NEXT]
    g_link[head, _ORIGIN] = g_link[best, _ORIGIN]
    g_amt[head] = tot
    free_chain(ar, g_link[head, _NEXT])
    g_link[head, _NEXT] = _NONE
    g_link[head, _PREV] = _NONE
    si[s, _TAIL] = head
    si[s, _NT] = 1


@njit(cache=True, nogil=True, inline="always")
def deliver(ar, si, sf, s, v, tau, ch_h, r):
    """Inflow ``r`` of ``v`` carrying ``tau``: the sums, and one lot of its taint (the pool's
    lots merged first if it holds ``MAX_LOTS``). Returns ar."""
    add_sums(sf, s, v, tau)
    free_chain(ar, ch_h)
    ch_h = _NONE
    if tau > 0.0:  # one lot
        if si[s, _NT] >= MAX_LOTS:
            fold(ar, si, s)
        ch_h, ar = new_node(ar, tau, 1)
    append_chain(ar, si, s, ch_h, r, False)
    return ar


@njit(cache=True, nogil=True)
def open_pool(sf, s, c):
    sf[s, _CLEAN] = c


@njit(cache=True, nogil=True)
def holds(sf, s):
    return sf[s, _TAINT] != 0.0


@njit(cache=True, nogil=True)
def dormant(ar, si, s):
    """No taint left (haircut, libr): drop the lots, empty or not; the clean sum stays."""
    free_pool(ar, si, s)
    si[s, _NT] = 0


@njit(cache=True, nogil=True)
def balance(sf, s):
    return sf[s, _TAINT]
