"""Where poison lives: a balance and a flag; once poisoned, every outflow is wholly tainted.

Mirrors ``PoisonPool`` in ``tests/oracle.py``. The balance is ``sf[s, _TAINT]``, the flag
``si[s, _NT]``; no arena, no allocations.
"""

from __future__ import annotations

from numba import njit

from tracer.kernels.pools.common import _CLEAN, _NT, _TAINT


@njit(cache=True, nogil=True)
def _debit(sf, s, v):
    """Take ``v`` from the balance; returns the shortfall."""
    shortfall = 0.0
    bal = sf[s, _TAINT]
    if v > bal:
        shortfall = v - bal
        sf[s, _TAINT] = 0.0
    else:
        sf[s, _TAINT] = bal - v
    return shortfall


@njit(cache=True, nogil=True)
def draw(si, sf, s, v):
    """Returns (tau, shortfall)."""
    shortfall = _debit(sf, s, v)
    tau = v if si[s, _NT] != 0 else 0.0
    return tau, shortfall


@njit(cache=True, nogil=True)
def draw_limited(sf, s, v):
    """Hop-limited: the outflow carries no taint. Returns the shortfall."""
    return _debit(sf, s, v)


@njit(cache=True, nogil=True)
def deliver(si, sf, s, v, tau):
    sf[s, _TAINT] += v
    if tau > 0.0:
        si[s, _NT] = 1


@njit(cache=True, nogil=True)
def open_pool(sf, s, c):
    sf[s, _TAINT] = c


@njit(cache=True, nogil=True)
def holds(si, s):
    return si[s, _NT] != 0


@njit(cache=True, nogil=True)
def dormant(sf, s):
    sf[s, _CLEAN] = sf[s, _TAINT]


@njit(cache=True, nogil=True)
def balance(si, sf, s):
    return sf[s, _TAINT] if si[s, _NT] != 0 else 0.0
