"""Top-k evidence chains through the allocation DAG, by carried value.

A chain is a seed flow followed by flows each funded (an allocation) by the one before; it
carries the smallest of its seed's taint and the allocated amounts along it (its
bottleneck). Dynamic programming in time order keeps the k best chains ending at every flow,
so the work is O(allocations x k), whatever the degree of the accounts.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["best_chains", "chains_into"]


@njit(cache=True, nogil=True)
def _insert(vals, pf, pj, k, value, f, j):
    """Insert (value, f, j) into a row of k best, kept sorted down (ties: earlier stays)."""
    if value <= vals[k - 1]:
        return
    i = k - 1
    while i > 0 and vals[i - 1] < value:
        vals[i] = vals[i - 1]
        pf[i] = pf[i - 1]
        pj[i] = pj[i - 1]
        i -= 1
    vals[i] = value
    pf[i] = f
    pj[i] = j


@njit(cache=True, nogil=True)
def best_chains(n_flows, is_seed, tau, al_out, al_in, al_amt, k):
    """For every flow, the k best chains ending with it.

    Flows are indexed 0..n_flows-1 in replay order; allocations (out flow, in flow, amount)
    are sorted by out flow and have in < out. Returns (value, pred_flow, pred_slot), each
    (n_flows, k); value -1 marks an empty slot, pred_flow -1 a chain's seed."""
    value = np.full((n_flows, k), -1.0)
    pred_f = np.full((n_flows, k), -1, np.int64)
    pred_j = np.full((n_flows, k), -1, np.int64)
    a = 0
    n_al = al_out.shape[0]
    for f in range(n_flows):
        if is_seed[f]:
            value[f, 0] = tau[f]
        while a < n_al and al_out[a] == f:
            i = al_in[a]
            x = al_amt[a]
            for j in range(k):
                v = value[i, j]
                if v < 0.0:
                    break
                _insert(value[f], pred_f[f], pred_j[f], k, min(v, x), i, j)
            a += 1
    return value, pred_f, pred_j


@njit(cache=True, nogil=True)
def _amount(al_out, al_in, al_amt, f, i):
    """Allocated amount from flow i to flow f (allocations sorted by (out, in))."""
    lo = np.searchsorted(al_out, f)
    hi = np.searchsorted(al_out, f, side="right")
    while lo < hi:
        mid = (lo + hi) // 2
        if al_in[mid] < i:
            lo = mid + 1
        else:
            hi = mid
    return al_amt[lo]


@njit(cache=True, nogil=True)
def chains_into(group_ptr, group_flows, value, pred_f, pred_j, tau, al_out, al_in, al_amt, k):
    """The k best chains into each group of flows (the flows into one endpoint).

    Groups: ``group_flows[group_ptr[g]:group_ptr[g+1]]``. Returns (group of each chain, chain
    value, offsets, flow indices, hop amounts): chain c is flows[offsets[c]:offsets[c+1]],
    seed first; its hop amounts are the seed's taint, then the allocated amount of each link.
    """
    n_groups = group_ptr.shape[0] - 1
    kk = value.shape[1]
    c_group = np.empty(n_groups * k, np.int64)
    c_value = np.empty(n_groups * k, np.float64)
    c_f = np.empty(n_groups * k, np.int64)
    c_j = np.empty(n_groups * k, np.int64)
    n = 0
    best = np.empty(k)
    bf = np.empty(k, np.int64)
    bj = np.empty(k, np.int64)
    for g in range(n_groups):
        best[:] = -1.0
        for q in range(group_ptr[g], group_ptr[g + 1]):
            f = group_flows[q]
            for j in range(kk):
                v = value[f, j]
                if v < 0.0:
                    break
                _insert(best, bf, bj, k, v, f, j)
        for c in range(k):
            if best[c] < 0.0:
                break
            c_group[n] = g
            c_value[n] = best[c]
            c_f[n] = bf[c]
            c_j[n] = bj[c]
            n += 1
    offsets = np.zeros(n + 1, np.int64)
    for c in range(n):
        length = 0
        f, j = c_f[c], c_j[c]
        while f >= 0:
            length += 1
            f, j = pred_f[f, j], pred_j[f, j]
        offsets[c + 1] = offsets[c] + length
    flows = np.empty(offsets[n], np.int64)
    amounts = np.empty(offsets[n], np.float64)
    for c in range(n):
        f, j = c_f[c], c_j[c]
        pos = offsets[c + 1] - 1
        while f >= 0:
            flows[pos] = f
            pf = pred_f[f, j]
            amounts[pos] = tau[f] if pf < 0 else _amount(al_out, al_in, al_amt, f, pf)
            pos -= 1
            f, j = pf, pred_j[f, j]
    return c_group[:n].copy(), c_value[:n].copy(), offsets, flows, amounts
