"""Where libr lives: clean funds (a sum) are spent first, then lots of taint oldest first.

Mirrors ``LibrPool`` in ``tests/oracle.py``. The clean sum is ``sf[s, _CLEAN]``; the taint is
lots in the arena (``arena.py``), drawn as a fifo pool of tainted segments (``lots.py``). The
clean-only draw, the inflow's sums and going dormant are haircut's (``haircut.py``).
"""

from __future__ import annotations

from numba import njit

from tracer.kernels.pools import lots
from tracer.kernels.pools.arena import append_chain, new_node, pool_sum
from tracer.kernels.pools.common import _CLEAN, _NONE, _NT, FIFO
from tracer.kernels.pools.haircut import add_sums


@njit(cache=True, nogil=True, inline="always")
def draw(ar, si, sf, s, v):
    """Returns (tau, shortfall, chain of the tainted lots taken, ar)."""
    c = sf[s, _CLEAN]
    if v <= c:
        sf[s, _CLEAN] = c - v
        return 0.0, 0.0, _NONE, ar
    sf[s, _CLEAN] = 0.0
    return lots.draw(FIFO, ar, si, s, v - c)


@njit(cache=True, nogil=True, inline="always")
def deliver(ar, si, sf, s, v, tau, ch_h, is_seed, r):
    """Inflow ``r`` of ``v`` carrying ``tau``: the sums, and the lots it carried (a seed: one
    lot). Returns ar."""
    add_sums(sf, s, v, tau)
    if ch_h == _NONE and v > 0.0 and is_seed:
        ch_h, ar = new_node(ar, v, 1)
    append_chain(ar, si, s, ch_h, r, False)
    return ar


@njit(cache=True, nogil=True, inline="always")
def holds(si, s):
    return si[s, _NT] > 0


@njit(cache=True, nogil=True, inline="always")
def balance(ar, si, s):
    return pool_sum(ar, si, s, True)
