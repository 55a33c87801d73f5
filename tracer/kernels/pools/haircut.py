"""Where haircut lives: clean and tainted sums; an outflow carries taint pro rata.

Mirrors ``HaircutPool`` in ``tests/oracle.py``. The sums are ``sf[s, _CLEAN]`` and
``sf[s, _TAINT]``. For the allocations, the taint is also kept as lots in the arena (one per
tainted inflow, ``arena.py``), each drawn down pro rata. The clean-only draw and the inflow's
sums are shared with libr (``libr.py``), as ``LibrPool`` extends ``HaircutPool``.
"""

from __future__ import annotations

from numba import njit

from tracer.kernels.pools.arena import (
    _NEXT, _ORIGIN, append_chain, free_chain, free_pool, new_node,
)
from tracer.kernels.pools.common import _CLEAN, _HEAD, _NONE, _NT, _TAINT, record3


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
    (all of it when the pool is left with none), recorded unless the outflow is dust."""
    g_amt, g_link, _ = ar
    al_out, al_in, al_amt = al
    frac = tau / t_before
    node = si[s, _HEAD]
    while node != _NONE:
        nxt = g_link[node, _NEXT]
        share = g_amt[node] if sf[s, _TAINT] == 0.0 else g_amt[node] * frac
        if not dusted:
            al_out, al_in, al_amt, an = record3(al_out, al_in, al_amt, an, r,
                                                g_link[node, _ORIGIN], share)
        g_amt[node] -= share
        node = nxt
    return (al_out, al_in, al_amt), an


@njit(cache=True, nogil=True)
def add_sums(sf, s, v, tau):
    """An inflow of ``v`` carrying ``tau`` (haircut, libr)."""
    sf[s, _TAINT] += tau
    sf[s, _CLEAN] += v - tau


@njit(cache=True, nogil=True, inline="always")
def deliver(ar, si, sf, s, v, tau, ch_h, r):
    """Inflow ``r`` of ``v`` carrying ``tau``: the sums, and one lot of its taint. Returns ar."""
    add_sums(sf, s, v, tau)
    free_chain(ar, ch_h)
    ch_h = _NONE
    if tau > 0.0:  # one lot
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
