"""Temporal reach: where money can go from seed transfers (forward), and which accounts could
have sent money that reached an account (backward)."""

from __future__ import annotations

import numpy as np
from numba import njit

from tracer.kernels.trace import _grow, _heap_pop, _heap_push

__all__ = ["upstream", "earliest_arrival"]


@njit(cache=True, nogil=True)
def upstream(rev_indptr, rev_edges, src, n, target, last_rank, max_hops):
    """Accounts with a time-respecting path to ``target`` that arrives by edge rank
    ``last_rank`` (inclusive).

    Returns (accounts, bound, hops): ``bound`` is the latest rank at which the account can
    send money that still reaches the target; ``hops`` the fewest transfers on the way
    (1: it paid the target directly). ``max_hops`` 0 means no limit. A max-heap on the bound
    settles each account once, with its latest bound, touching only the in-edges of accounts
    in the result.
    """
    bound = np.full(n, -1, np.int64)
    hops = np.zeros(n, np.int64)
    done = np.zeros(n, np.bool_)
    hr = np.empty(64, np.int64)
    hs = np.empty(64, np.int64)
    hn = 0
    bound[target] = last_rank + 1  # inflows strictly before the end
    hn = _heap_push(hr, hs, hn, -(last_rank + 1), target)
    order = np.empty(64, np.int64)
    k = 0
    while hn > 0:
        b = -hr[0]
        a = hs[0]
        hn = _heap_pop(hr, hs, hn)
        if done[a] or b != bound[a]:
            continue
        done[a] = True
        order = _grow(order, k + 1)
        order[k] = a
        k += 1
        if max_hops > 0 and hops[a] >= max_hops:
            continue
        lo = rev_indptr[a]
        hi = rev_indptr[a + 1]
        # in-edges are in rank order: those before the bound
        end = lo + np.searchsorted(rev_edges[lo:hi], b)
        for p in range(lo, end):
            e = rev_edges[p]
            x = src[e]
            if done[x]:
                continue
            if e > bound[x]:
                bound[x] = e
                hops[x] = hops[a] + 1
                hr = _grow(hr, hn + 1)
                hs = _grow(hs, hn + 1)
                hn = _heap_push(hr, hs, hn, -e, x)
            elif e == bound[x] and hops[a] + 1 < hops[x]:
                hops[x] = hops[a] + 1
    accs = order[1:k].copy()  # the target itself is not its own source
    return accs, bound[accs], hops[accs]


@njit(cache=True, nogil=True)
def _arrive(arrival, acc, k, hr, hs, hn, b, e):
    """Money reaches account ``b`` by edge ``e``, earlier than known: record it (first touch
    listed in ``acc``) and queue ``b``."""
    if arrival[b] < 0:
        acc = _grow(acc, k + 1)
        acc[k] = b
        k += 1
    arrival[b] = e
    hr = _grow(hr, hn + 1)
    hs = _grow(hs, hn + 1)
    hn = _heap_push(hr, hs, hn, e, b)
    return acc, k, hr, hs, hn


@njit(cache=True, nogil=True)
def earliest_arrival(fwd_indptr, fwd_edges, fwd_dst, dst, value, check_value, seeds, end_rank,
                     arrival):
    """Accounts that money from the seed edges can reach by time-respecting paths, with the
    rank of the first transfer that brings it (label-setting on a heap of edge ranks; an
    account is pushed only when its tentative arrival improves).

    A transfer carries money on if it leaves a reached account after the money arrived and
    moves a positive value (``check_value`` False: the graph has no transfer without one, so
    the look-up is skipped). ``arrival``: int64 scratch, one per account, all -1; restored
    before returning. Returns (accounts, arrival ranks), in order of first touch."""
    hr = np.empty(4096, np.int64)
    hs = np.empty(4096, np.int64)
    hn = 0
    acc = np.empty(4096, np.int64)
    k = 0
    for e in seeds:
        if e < end_rank and value[e] > 0.0:
            b = dst[e]
            if arrival[b] < 0 or e < arrival[b]:
                acc, k, hr, hs, hn = _arrive(arrival, acc, k, hr, hs, hn, b, e)
    while hn > 0:
        r = hr[0]
        a = hs[0]
        hn = _heap_pop(hr, hs, hn)
        if r > arrival[a]:
            continue  # stale: improved since
        lo = fwd_indptr[a]
        hi = fwd_indptr[a + 1]
        while lo < hi:  # first out-edge after r
            mid = (lo + hi) >> 1
            if fwd_edges[mid] <= r:
                lo = mid + 1
            else:
                hi = mid
        hi = fwd_indptr[a + 1]
        for p in range(lo, hi):
            e = fwd_edges[p]
            if e >= end_rank:
                break
            b = fwd_dst[p]
            cur = arrival[b]
            if (cur < 0 or e < cur) and (not check_value or value[e] > 0.0):
                acc, k, hr, hs, hn = _arrive(arrival, acc, k, hr, hs, hn, b, e)
    at = np.empty(k, np.int64)
    for i in range(k):
        at[i] = arrival[acc[i]]
        arrival[acc[i]] = -1
    return acc[:k].copy(), at
