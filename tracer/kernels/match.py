"""Where the match rule lives: reservations of paired inflows, drawn by their outflows.

An account reached under ``match`` has its statement paired once (``pairing.pair_account``);
the pairing is kept per edge (net factor, group, reserve) in a store shared by all accounts of
one trace, and each group keeps a reservation: an amount, its taint, and the lots of taint its
inflows brought (for the allocations). What no group explains goes to the *fallback* pool,
which is the pool of another rule (``tracer.kernels.trace``'s dispatch). Semantics:
docs/semantics.md, "match".

Store layout (growable arrays, returned when grown):

- ``ef`` (float64, n x 2): per edge of a paired account, its net factor and (inflows) reserve;
  ``ei`` (int64): its group, global id, or -1. An account's in-edges start at its ``in_base``,
  its out-edges at its ``out_base`` (positions in its CSR lists).
- ``gf`` (float64, n x 5): per group R, T, held amount, held taint, S; ``gi`` (int64, n x 3):
  member outflows left, first and last lot of taint.
- ``lf`` (float64): a lot's taint; ``li`` (int64, n x 2): its inflow (edge rank) and next lot.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tracer.kernels.heap import _grow
from tracer.kernels.pairing import pair_account

__all__ = [
    "new_store",
    "open_account",
    "catch_up_match",
    "reserve_inflow",
    "draw_reserved",
    "net_value",
    "group_taint",
    "lots_drawn",
]

_NONE = -1
_F, _RES = 0, 1  # ef columns
_R, _T, _AMT, _TAINT, _S = 0, 1, 2, 3, 4  # gf columns
_LEFT, _HEAD, _TAIL = 0, 1, 2  # gi columns


@njit(cache=True, nogil=True)
def new_store(paired):
    """Empty store (tiny when the rule is not match)."""
    n = 64 if paired else 1
    ef = np.empty((n, 2), np.float64)
    ei = np.empty(n, np.int64)
    gf = np.empty((n, 5), np.float64)
    gi = np.empty((n, 3), np.int64)
    lf = np.empty(n, np.float64)
    li = np.empty((n, 2), np.int64)
    return ef, ei, gf, gi, lf, li


@njit(cache=True, nogil=True)
def open_account(g, src, dst, ts, value, acc, window, cut, over, width, ef, ei, ne, gf, gi, ng):
    """Pair the statement of ``acc`` and append it to the store.

    Returns (in_base, out_base, group_base, groups, ef, ei, ne, gf, gi, ng)."""
    fwd_indptr, fwd_edges, rev_indptr, rev_edges = g
    f_in, in_group, in_res, f_out, out_group, g_s, g_t, g_r, g_outs = pair_account(
        fwd_indptr,
        fwd_edges,
        rev_indptr,
        rev_edges,
        src,
        dst,
        ts,
        value,
        acc,
        window,
        cut,
        over,
        width,
    )
    n_in = f_in.shape[0]
    n_out = f_out.shape[0]
    ef = _grow(ef, ne + n_in + n_out)
    ei = _grow(ei, ne + n_in + n_out)
    in_base = ne
    out_base = ne + n_in
    for k in range(n_in):
        ef[in_base + k, _F] = f_in[k]
        ef[in_base + k, _RES] = in_res[k]
        ei[in_base + k] = in_group[k] + ng if in_group[k] >= 0 else _NONE
    for k in range(n_out):
        ef[out_base + k, _F] = f_out[k]
        ef[out_base + k, _RES] = 0.0
        ei[out_base + k] = out_group[k] + ng if out_group[k] >= 0 else _NONE
    k_groups = g_r.shape[0]
    gf = _grow(gf, ng + k_groups)
    gi = _grow(gi, ng + k_groups)
    for k in range(k_groups):
        gf[ng + k, _R] = g_r[k]
        gf[ng + k, _T] = g_t[k]
        gf[ng + k, _AMT] = 0.0
        gf[ng + k, _TAINT] = 0.0
        gf[ng + k, _S] = g_s[k]
        gi[ng + k, _LEFT] = g_outs[k]
        gi[ng + k, _HEAD] = _NONE
        gi[ng + k, _TAIL] = _NONE
    return in_base, out_base, ng, k_groups, ef, ei, ne + n_in + n_out, gf, gi, ng + k_groups


@njit(cache=True, nogil=True)
def _take(gf, gi, gid, n):
    """An outflow of net value ``n`` draws its share of the group's reservation.

    Returns (amount drawn, taint drawn, fraction of the held taint drawn)."""
    gi[gid, _LEFT] -= 1
    held = gf[gid, _AMT]
    tainted = gf[gid, _TAINT]
    if gi[gid, _LEFT] <= 0:
        x = held
        t = tainted
        frac = 1.0
        gf[gid, _AMT] = 0.0
        gf[gid, _TAINT] = 0.0
    else:
        x = n * gf[gid, _R] / gf[gid, _T]
        if x > held:
            x = held
        t = tainted * x / held if held > 0.0 else 0.0
        frac = t / tainted if tainted > 0.0 else 0.0
        gf[gid, _AMT] = held - x
        gf[gid, _TAINT] = tainted - t
    return x, t, frac


@njit(cache=True, nogil=True)
def catch_up_match(g, value, seeds, acc, c, i, o, until, first, in_base, out_base, ef, ei, gf, gi):
    """As the trace kernel's clean catch-up, under match: replay the events of an untainted
    account with rank < ``until``; its fallback pool is the clean sum ``c``, its groups'
    reservations are clean. Returns (c, i, o, shortfalls after rank ``first``)."""
    fwd_indptr, fwd_edges, rev_indptr, rev_edges = g
    i_end = rev_indptr[acc + 1]
    o_end = fwd_indptr[acc + 1]
    i0 = rev_indptr[acc]
    o0 = fwd_indptr[acc]
    unexp = 0.0
    while True:
        ri = rev_edges[i] if i < i_end else until
        ro = fwd_edges[o] if o < o_end else until
        if ri < until and ri < ro:
            k = in_base + (i - i0)
            n = value[ri] * ef[k, _F]
            if n > 0.0:
                gid = ei[k]
                if gid >= 0:
                    x = ef[k, _RES]
                    if x > n:
                        x = n
                    gf[gid, _AMT] += x
                    c += n - x
                else:
                    c += n
            i += 1
        elif ro < until:
            if not _is_seed(seeds, ro):
                k = out_base + (o - o0)
                v = value[ro]
                f = ef[k, _F]
                if v > 0.0 and f > 0.0:
                    n = v * f
                    gid = ei[k]
                    if gid >= 0:
                        x, _, _ = _take(gf, gi, gid, n)
                        n = n - x
                        if n < 0.0:
                            n = 0.0
                    if n > c:
                        if ro > first:
                            unexp += n - c
                        c = 0.0
                    else:
                        c -= n
            o += 1
        else:
            break
    return c, i, o, unexp


@njit(cache=True, nogil=True)
def _is_seed(seeds, rank):
    """Whether edge ``rank`` is one of the (sorted) seeds; shared with the trace loop."""
    i = np.searchsorted(seeds, rank)
    return i < seeds.shape[0] and seeds[i] == rank


@njit(cache=True, nogil=True)
def reserve_inflow(k, r, v, tau, ef, ei, gf, gi, lf, li, nl):
    """An inflow (store position ``k``, edge rank ``r``) of value ``v`` carrying ``tau``.

    Returns (amount for the fallback pool, its taint, 1 if a group got its first taint,
    lf, li, nl). A return brings nothing but a seed's taint."""
    n = v * ef[k, _F]
    if not n > 0.0:
        return (tau, tau, 0, lf, li, nl) if tau > 0.0 else (0.0, 0.0, 0, lf, li, nl)
    if tau > n:
        n = tau
    gid = ei[k]
    if gid < 0:
        return n, tau, 0, lf, li, nl
    x = ef[k, _RES]
    if x > n:
        x = n
    t = tau * x / n
    gf[gid, _AMT] += x
    first = 0
    if t > 0.0:
        if gf[gid, _TAINT] == 0.0 and gi[gid, _HEAD] == _NONE:
            first = 1
        gf[gid, _TAINT] += t
        lf = _grow(lf, nl + 1)
        li = _grow(li, nl + 1)
        lf[nl] = t
        li[nl, 0] = r
        li[nl, 1] = _NONE
        if gi[gid, _TAIL] != _NONE:
            li[gi[gid, _TAIL], 1] = nl
        else:
            gi[gid, _HEAD] = nl
        gi[gid, _TAIL] = nl
        nl += 1
    return n - x, tau - t, first, lf, li, nl


@njit(cache=True, nogil=True)
def net_value(k, v, ef):
    """An outflow's net value (0 for a return or a transfer without value)."""
    if not v > 0.0:
        return 0.0
    return v * ef[k, _F]


@njit(cache=True, nogil=True)
def draw_reserved(k, v, ef, ei, gf, gi, lf, li):
    """An outflow (store position ``k``) of value ``v``: its share of its group's reservation.

    Returns (net value, amount left for the fallback pool, taint drawn, group or -1, fraction of
    the group's lots drawn, 1 if the group's taint is now gone). A return has net value 0."""
    f = ef[k, _F]
    if not v > 0.0:
        return 0.0, 0.0, 0.0, _NONE, 0.0, 0
    n = v * f
    if f == 0.0:
        return 0.0, 0.0, 0.0, _NONE, 0.0, 0
    gid = ei[k]
    if gid < 0:
        return n, n, 0.0, _NONE, 0.0, 0
    had = gi[gid, _HEAD] != _NONE
    x, t, frac = _take(gf, gi, gid, n)
    gone = 0
    if had and gi[gid, _LEFT] <= 0:
        gone = 1
    rest = n - x
    if rest < 0.0:
        rest = 0.0
    return n, rest, t, gid, frac, gone


@njit(cache=True, nogil=True)
def group_taint(gf, base, count):
    """Taint held in the reservations of one account's groups."""
    total = 0.0
    for gid in range(base, base + count):
        total += gf[gid, _TAINT]
    return total


@njit(cache=True, nogil=True)
def lots_drawn(gid, frac, gf, lf, li, gi, out_rank, record, al_out, al_in, al_amt, al_ratio, an):
    """The lots of taint behind a draw of ``frac`` of a group's taint, taken from them pro
    rata (all of them when ``frac`` is 1) and, if ``record``, written as allocations of the
    outflow ``out_rank`` with the group's ratio T / S. Returns the allocation arrays and count."""
    lot = gi[gid, _HEAD]
    ratio = gf[gid, _T] / gf[gid, _S] if gf[gid, _S] > 0.0 else np.nan
    while lot != _NONE:
        share = lf[lot] if frac >= 1.0 else lf[lot] * frac
        if record and share > 0.0:
            al_out = _grow(al_out, an + 1)
            al_in = _grow(al_in, an + 1)
            al_amt = _grow(al_amt, an + 1)
            al_ratio = _grow(al_ratio, an + 1)
            al_out[an] = out_rank
            al_in[an] = li[lot, 0]
            al_amt[an] = share
            al_ratio[an] = ratio
            an += 1
        lf[lot] -= share
        lot = li[lot, 1]
    if frac >= 1.0:
        gi[gid, _HEAD] = _NONE
        gi[gid, _TAIL] = _NONE
    return al_out, al_in, al_amt, al_ratio, an
