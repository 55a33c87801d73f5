"""The steps of a pool, by rule code: the only place the event loop's rule is looked at.

Each function takes the code of the pool it works on and calls that rule's module
(``poison.py``, ``haircut.py``, ``libr.py``, ``lots.py`` for fifo and lifo). A rule whose
account keeps another rule's pool for part of its funds (match, with its *fallback*) calls
these with the fallback's code.

The steps, as in ``tests/oracle.py``'s pool classes:

- ``new_arena``: the arena for a trace under the rule (a token one if it keeps no lots);
- ``open_pool``: an account first reached, or caught up after being dormant, with clean
  balance ``c``;
- ``draw`` / ``draw_limited``: an outflow of ``v`` in normal mode / past ``max_hops``
  (clean funds only, no taint carried);
- ``allocate``: record which inflows' taint an outflow carried;
- ``deliver``: an inflow to an active account;
- ``holds`` / ``dormant``: whether the account still holds taint; if not, keep only its clean
  balance (``sf[s, _CLEAN]``) while it is dormant;
- ``balance``: the tainted balance at the end.
"""

from __future__ import annotations

from numba import njit

from tracer.kernels.pools import haircut, libr, lots, poison
from tracer.kernels.pools.arena import new_arena as _arena
from tracer.kernels.pools.arena import record_chain
from tracer.kernels.pools.common import _NONE, HAIRCUT, LIBR, POISON


@njit(cache=True, nogil=True, inline="always")
def new_arena(rule):
    return _arena(1 if rule == POISON else 256)


@njit(cache=True, nogil=True, inline="always")
def open_pool(rule, ar, si, sf, s, c):
    """Returns ar."""
    if rule == POISON:
        poison.open_pool(sf, s, c)
    elif rule == HAIRCUT or rule == LIBR:
        haircut.open_pool(sf, s, c)
    else:
        ar = lots.open_pool(rule, ar, si, sf, s, c)
    return ar


@njit(cache=True, nogil=True, inline="always")
def draw(rule, ar, si, sf, s, v):
    """Returns (tau, shortfall, chain carried or -1, ar)."""
    if rule == POISON:
        tau, shortfall = poison.draw(si, sf, s, v)
        return tau, shortfall, _NONE, ar
    if rule == HAIRCUT:
        tau, shortfall = haircut.draw(sf, s, v)
        return tau, shortfall, _NONE, ar
    if rule == LIBR:
        return libr.draw(ar, si, sf, s, v)
    return lots.draw(rule, ar, si, s, v)


@njit(cache=True, nogil=True, inline="always")
def draw_limited(rule, ar, si, sf, s, v):
    """Returns the shortfall."""
    if rule == POISON:
        return poison.draw_limited(sf, s, v)
    if rule == HAIRCUT or rule == LIBR:
        return haircut.draw_limited(sf, s, v)
    return lots.draw_limited(rule, ar, si, s, v)


@njit(cache=True, nogil=True, inline="always")
def allocate(rule, ar, si, sf, s, r, tau, t_before, ch_h, dusted, al, an):
    """Outflow ``r`` carried ``tau`` (chain ``ch_h``), drawn from ``t_before`` of taint held.
    Records nothing for dust, except that haircut's lots still give their share. Returns
    (al, an)."""
    if tau > 0.0:
        if rule == HAIRCUT:
            al, an = haircut.allocate(ar, si, sf, s, r, tau, t_before, dusted, al, an)
        elif rule != POISON and not dusted:
            al, an = record_chain(ar, al, an, r, ch_h)
    return al, an


@njit(cache=True, nogil=True, inline="always")
def deliver(rule, ar, si, sf, s, v, tau, ch_h, is_seed, r):
    """Inflow ``r`` of ``v`` carrying ``tau`` (chain ``ch_h``, now owned by the pool).
    Returns ar."""
    if rule == POISON:
        poison.deliver(si, sf, s, v, tau)
    elif rule == HAIRCUT:
        ar = haircut.deliver(ar, si, sf, s, v, tau, ch_h, r)
    elif rule == LIBR:
        ar = libr.deliver(ar, si, sf, s, v, tau, ch_h, is_seed, r)
    else:
        ar = lots.deliver(rule, ar, si, s, v, ch_h, is_seed, r)
    return ar


@njit(cache=True, nogil=True, inline="always")
def holds(rule, si, sf, s):
    if rule == POISON:
        return poison.holds(si, s)
    if rule == HAIRCUT:
        return haircut.holds(sf, s)
    if rule == LIBR:
        return libr.holds(si, s)
    return lots.holds(si, s)


@njit(cache=True, nogil=True, inline="always")
def dormant(rule, ar, si, sf, s):
    if rule == POISON:
        poison.dormant(sf, s)
    elif rule == HAIRCUT or rule == LIBR:
        haircut.dormant(ar, si, s)
    else:
        lots.dormant(ar, si, sf, s)


@njit(cache=True, nogil=True, inline="always")
def balance(rule, ar, si, sf, s):
    if rule == POISON:
        return poison.balance(si, sf, s)
    if rule == HAIRCUT:
        return haircut.balance(sf, s)
    if rule == LIBR:
        return libr.balance(ar, si, s)
    return lots.balance(ar, si, s)
