"""The match rule's reading of one account's statement: which outflows forward which inflows.

``pair_account`` looks at every transfer of one account (its in- and out-edges, in time order)
and pairs them as docs/semantics.md ("match") states, independently of any taint:

1. *Netting*: transfers with one counterparty at one instant in both directions (a Bitcoin
   transaction's change back to its sender) are netted; the smaller direction is a return.
2. *Payments*: what is left, grouped by counterparty and instant (the legs of one Bitcoin
   transaction), each with its net amount.
3. *One to one*: each out-payment, in order, takes the unpaired in-payment before it, within the
   window, whose amount it matches best (ratio out/in within [1 - cut, 1 + over]).
4. *Groups*: each out-payment still unpaired looks for the fewest k newest unpaired
   in-payments and m out-payments (itself and the next ones) whose sums match, k, m <= width.

The result is per edge (positions in the account's CSR lists): a net factor, a group id, and
for inflows the amount reserved in the group; per group S (in), T (out), R = min(S, T) and the
number of member outflows. The trace kernel then moves taint through the groups.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["pair_account", "PASS1_CANDIDATES"]

PASS1_CANDIDATES = 256  # in-payments looked at, newest first, for a one-to-one pairing
_NO = -1


@njit(cache=True, nogil=True)
def _payments(edges, other, ts, value, factor):
    """Group edges (sorted by rank) with factor > 0 by (instant, counterparty).

    Returns (payment of each edge or -1, first, last, ts, amount, counterparty) with payments
    sorted by (ts, counterparty)."""
    n = edges.shape[0]
    cp = np.empty(n, np.int64)
    t = np.empty(n, np.int64)
    for k in range(n):
        cp[k] = other[edges[k]]
        t[k] = ts[edges[k]]
    distinct = True  # no two edges at one instant: each is its own payment, in rank order
    for k in range(1, n):
        if t[k] == t[k - 1]:
            distinct = False
            break
    if distinct:
        order = np.arange(n)
    else:
        order = np.argsort(cp, kind="mergesort")
        order = order[np.argsort(t[order], kind="mergesort")]  # by (ts, counterparty, rank)
    pay = np.full(n, _NO, np.int64)
    p_first = np.empty(n, np.int64)
    p_last = np.empty(n, np.int64)
    p_ts = np.empty(n, np.int64)
    p_amt = np.zeros(n, np.float64)
    p_cp = np.empty(n, np.int64)
    np_ = 0
    for q in range(n):
        k = order[q]
        if factor[k] <= 0.0:
            continue
        e = edges[k]
        if np_ > 0 and p_ts[np_ - 1] == t[k] and p_cp[np_ - 1] == cp[k]:
            p = np_ - 1
            if e < p_first[p]:
                p_first[p] = e
            if e > p_last[p]:
                p_last[p] = e
        else:
            p = np_
            np_ += 1
            p_first[p] = e
            p_last[p] = e
            p_ts[p] = t[k]
            p_cp[p] = cp[k]
        p_amt[p] += value[e] * factor[k]
        pay[k] = p
    return pay, p_first[:np_], p_last[:np_], p_ts[:np_], p_amt[:np_], p_cp[:np_]


@njit(cache=True, nogil=True)
def _net(ins, outs, src, dst, ts, value):
    """Net factors of the in- and out-edges (1 unless netted, 0 for a return), whether any
    transfer was netted, and (when none was) the payments of both sides, which are then final."""
    f_in = np.ones(ins.shape[0], np.float64)
    f_out = np.ones(outs.shape[0], np.float64)
    for k in range(ins.shape[0]):
        if not value[ins[k]] > 0.0:
            f_in[k] = 0.0
    for k in range(outs.shape[0]):
        if not value[outs[k]] > 0.0:
            f_out[k] = 0.0
    pay_in = _payments(ins, src, ts, value, f_in)
    pay_out = _payments(outs, dst, ts, value, f_out)
    pi, _, _, ti, ai, ci = pay_in
    po, _, _, to, ao, co = pay_out
    # payments sorted by (ts, counterparty) on both sides: a merge finds the common keys
    netted = False
    a = 0
    b = 0
    ratio_in = np.full(ti.shape[0], -1.0)
    ratio_out = np.full(to.shape[0], -1.0)
    while a < ti.shape[0] and b < to.shape[0]:
        if ti[a] < to[b] or (ti[a] == to[b] and ci[a] < co[b]):
            a += 1
        elif to[b] < ti[a] or (ti[a] == to[b] and co[b] < ci[a]):
            b += 1
        else:
            netted = True
            total_in = ai[a]
            total_out = ao[b]
            if total_out <= total_in:
                ratio_out[b] = 0.0
                ratio_in[a] = (total_in - total_out) / total_in
            else:
                ratio_in[a] = 0.0
                ratio_out[b] = (total_out - total_in) / total_out
            a += 1
            b += 1
    for k in range(ins.shape[0]):
        if pi[k] >= 0 and ratio_in[pi[k]] >= 0.0:
            f_in[k] = ratio_in[pi[k]]
    for k in range(outs.shape[0]):
        if po[k] >= 0 and ratio_out[po[k]] >= 0.0:
            f_out[k] = ratio_out[po[k]]
    return f_in, f_out, netted, pay_in, pay_out


@njit(cache=True, nogil=True)
def _in_order(first):
    """Payments renumbered in order of their first edge: (order, position of each)."""
    ordered = True
    for k in range(1, first.shape[0]):
        if first[k] < first[k - 1]:
            ordered = False
            break
    order = np.arange(first.shape[0]) if ordered else np.argsort(first, kind="mergesort")
    pos = np.empty(first.shape[0], np.int64)
    for k in range(order.shape[0]):
        pos[order[k]] = k
    return order, pos


@njit(cache=True, nogil=True)
def pair_account(
    fwd_indptr, fwd_edges, rev_indptr, rev_edges, src, dst, ts, value, acc, window, cut, over, width
):
    """Pair the statement of account ``acc``.

    Returns (in_factor, in_group, in_reserve, out_factor, out_group, g_S, g_T, g_R, g_outs):
    per in-edge and out-edge of ``acc`` (CSR positions from its indptr), the net factor and the
    group (-1: none), the amount each inflow reserves in its group; per group its sums and the
    number of member outflows."""
    ins = np.asarray(rev_edges[rev_indptr[acc] : rev_indptr[acc + 1]]).astype(np.int64)
    outs = np.asarray(fwd_edges[fwd_indptr[acc] : fwd_indptr[acc + 1]]).astype(np.int64)
    f_in, f_out, netted, pay_in, pay_out = _net(ins, outs, src, dst, ts, value)
    if netted:
        pay_in = _payments(ins, src, ts, value, f_in)
        pay_out = _payments(outs, dst, ts, value, f_out)
    pi, i_first, i_last, i_ts, i_amt, _ = pay_in
    po, o_first, o_last, o_ts, o_amt, _ = pay_out
    io, ipos = _in_order(i_first)  # in-payments in order: io[k] is the k-th
    oo, opos = _in_order(o_first)
    ni = io.shape[0]
    no = oo.shape[0]
    # payment arrays in order
    I_first = i_first[io]
    I_last = i_last[io]
    I_ts = i_ts[io]
    I_amt = i_amt[io]
    O_first = o_first[oo]
    O_ts = o_ts[oo]
    O_amt = o_amt[oo]
    grp_in = np.full(ni, _NO, np.int64)
    grp_out = np.full(no, _NO, np.int64)
    g_S = np.empty(max(no, 1), np.float64)
    g_T = np.empty(max(no, 1), np.float64)
    ng = 0
    lo = 1.0 - cut
    hi = 1.0 + over

    # linked list of the unpaired in-payments added so far (newest at ``top``), and of the
    # unpaired out-payments (``onext``: the next unpaired one after each, -1 at the end)
    prev = np.empty(ni, np.int64)
    nxt = np.empty(ni, np.int64)
    onext = np.empty(no, np.int64)
    oprev = np.empty(no, np.int64)
    cand = np.empty(max(PASS1_CANDIDATES, width, 1), np.int64)
    for sweep in range(2):
        top = _NO
        j = 0
        for k in range(ni):
            prev[k] = _NO
            nxt[k] = _NO
        last = _NO
        for k in range(no - 1, -1, -1):
            oprev[k] = _NO
            onext[k] = _NO
            if grp_out[k] == _NO:
                onext[k] = last
                if last != _NO:
                    oprev[last] = k
                last = k
        for o in range(no):
            while j < ni and I_first[j] < O_first[o]:
                if grp_in[j] == _NO:
                    prev[j] = top
                    nxt[j] = _NO
                    if top != _NO:
                        nxt[top] = j
                    top = j
                j += 1
            if grp_out[o] != _NO:
                continue
            limit = PASS1_CANDIDATES if sweep == 0 else width
            nc = 0
            i = top
            while i != _NO and nc < limit:
                if I_last[i] < O_first[o]:
                    if O_ts[o] - I_ts[i] > window:
                        break
                    cand[nc] = i
                    nc += 1
                i = prev[i]
            if nc == 0:
                continue
            chosen_k = 0
            chosen_m = 0
            if sweep == 0:
                best = _NO
                best_d = 0.0
                for q in range(nc):
                    i = cand[q]
                    r = O_amt[o] / I_amt[i]
                    if lo <= r <= hi:
                        d = 1.0 - r if r <= 1.0 else 3.0 * (r - 1.0)
                        if best == _NO or d < best_d:
                            best = q
                            best_d = d
                if best == _NO:
                    continue
                cand[0] = cand[best]
                chosen_k = 1
                chosen_m = 1
                outs_m = np.empty(1, np.int64)
                outs_m[0] = o
            else:
                outs_m = np.empty(width, np.int64)
                nm = 0
                o2 = o  # unpaired: on the list
                while o2 != _NO and nm < width:
                    if O_ts[o2] - O_ts[o] > window:
                        break
                    outs_m[nm] = o2
                    nm += 1
                    o2 = onext[o2]
                S = 0.0
                for k in range(1, nc + 1):
                    S += I_amt[cand[k - 1]]
                    T = 0.0
                    for m in range(1, nm + 1):
                        T += O_amt[outs_m[m - 1]]
                        r = T / S
                        if lo <= r <= hi:
                            if chosen_k == 0 or k + m < chosen_k + chosen_m:
                                chosen_k = k
                                chosen_m = m
                            break
                        if r > hi:
                            break
                if chosen_k == 0:
                    continue
            # form the group
            S = 0.0
            for q in range(chosen_k):
                S += I_amt[cand[q]]
            T = 0.0
            for q in range(chosen_m):
                T += O_amt[outs_m[q]]
            g_S[ng] = S
            g_T[ng] = T
            for q in range(chosen_k):
                i = cand[q]
                grp_in[i] = ng
                # unlink
                p = prev[i]
                n_ = nxt[i]
                if p != _NO:
                    nxt[p] = n_
                if n_ != _NO:
                    prev[n_] = p
                else:
                    top = p
            for q in range(chosen_m):
                o2 = outs_m[q]
                grp_out[o2] = ng
                p = oprev[o2]
                n_ = onext[o2]
                if p != _NO:
                    onext[p] = n_
                if n_ != _NO:
                    oprev[n_] = p
            ng += 1

    g_R = np.minimum(g_S[:ng], g_T[:ng])
    g_outs = np.zeros(ng, np.int64)
    in_group = np.full(ins.shape[0], _NO, np.int64)
    in_reserve = np.zeros(ins.shape[0], np.float64)
    for k in range(ins.shape[0]):
        if pi[k] >= 0:
            gid = grp_in[ipos[pi[k]]]
            if gid != _NO:
                in_group[k] = gid
                in_reserve[k] = value[ins[k]] * f_in[k] * g_R[gid] / g_S[gid]
    out_group = np.full(outs.shape[0], _NO, np.int64)
    for k in range(outs.shape[0]):
        if po[k] >= 0:
            gid = grp_out[opos[po[k]]]
            if gid != _NO:
                out_group[k] = gid
                g_outs[gid] += 1
    return (
        f_in,
        in_group,
        in_reserve,
        f_out,
        out_group,
        g_S[:ng].copy(),
        g_T[:ng].copy(),
        g_R,
        g_outs,
    )
