"""Temporal reach: where money can go from seed transfers (forward), and which accounts could
have sent money that reached an account (backward)."""

from __future__ import annotations

import numpy as np
from numba import njit

from tracer.kernels.heap import _grow, _heap_pop, _heap_push

__all__ = ["upstream", "earliest_arrival", "SCAN_AFTER"]


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


# The search switches to a scan once its work (accounts settled plus out-edges looked at)
# reaches this share of the transfers left to scan (after the earliest seed, before the
# horizon). A unit of search work costs some 20 times what an edge costs the scan (random reads
# and the heap against one sequential pass), so a search that would cover much of the graph is
# cut short after about a tenth of the scan's cost, and a search that stays small never scans.
SCAN_AFTER = 1 / 256


@njit(cache=True, nogil=True)
def _push(hr, hs, hn, e, b):
    hr = _grow(hr, hn + 1)
    hs = _grow(hs, hn + 1)
    hn = _heap_push(hr, hs, hn, e, b)
    return hr, hs, hn


@njit(cache=True, nogil=True)
def _add(acc, at, k, b, e):
    """Account ``b`` reached by edge ``e``: append it to the result (growing)."""
    acc = _grow(acc, k + 1)
    at = _grow(at, k + 1)
    acc[k] = b
    at[k] = e
    return acc, at, k + 1


@njit(cache=True, nogil=True)
def _scan_span(src, dst, value, check_value, lo, hi, bits, acc, at, k):
    """Edges ``lo``..``hi - 1`` (no seed among them) for ``_scan``. Indices are unsigned, so
    numba leaves out its test for negative ones: a quarter of the time of the loop."""
    one = np.uint64(1)
    for i in range(np.uint64(hi - lo)):
        e = np.uint64(lo) + i
        a = np.uint32(src[e])
        if (bits[a >> 6] >> (a & 63)) & one:  # reached, by an earlier edge
            b = np.uint32(dst[e])
            if not (bits[b >> 6] >> (b & 63)) & one and (not check_value or value[e] > 0.0):
                bits[b >> 6] |= one << (b & 63)
                acc[k] = b
                at[k] = e
                k += 1
    return k


@njit(cache=True, nogil=True)
def _scan(src, dst, value, check_value, seeds, first, end_rank, bits, acc, at, k):
    """Edges ``first``..``end_rank - 1`` in rank order: an edge carries money on if it is a
    seed or leaves a reached account, and moves a positive value; the first edge to bring
    money to an account is its arrival, appended to ``acc``/``at`` (room for every account
    left). ``bits``: uint64, one bit per account, set for every account reached before
    ``first`` (the first ``k`` of ``acc``), no other. Returns the number of accounts reached."""
    one = np.uint64(1)
    j = np.searchsorted(seeds, first)
    lo = first
    while lo < end_rank:
        hi = end_rank
        if j < seeds.shape[0] and seeds[j] < end_rank:
            hi = seeds[j]
        if hi > lo:
            k = _scan_span(src, dst, value, check_value, lo, hi, bits, acc, at, k)
        if hi == end_rank:
            break
        b = dst[hi]  # a seed
        if not (bits[b >> 6] >> (b & 63)) & one and value[hi] > 0.0:
            bits[b >> 6] |= one << (b & 63)
            acc[k] = b
            at[k] = hi
            k += 1
        j += 1
        lo = hi + 1
    return k


@njit(cache=True, nogil=True)
def earliest_arrival(
    fwd_indptr, fwd_edges, fwd_dst, src, dst, value, check_value, seeds, end_rank, arrival, budget
):
    """Accounts that money from the seed edges (ascending ranks) can reach by time-respecting
    paths, with the rank of the first transfer that brings it.

    A transfer carries money on if it leaves a reached account after the money arrived and
    moves a positive value (``check_value`` False: the graph has no transfer without one, so
    the look-up is skipped). Label-setting on a heap of edge ranks (an account is pushed only
    when its tentative arrival improves) until its work (accounts settled plus out-edges
    looked at) reaches ``budget``; then the accounts settled so far (all those reached before
    the next rank on the heap) are kept, and a scan of the edges in rank order from that rank
    finds the rest. ``arrival``: int64 scratch, one per account, all -1; restored before
    returning. Returns (accounts, arrival ranks), in order of arrival."""
    hr = np.empty(4096, np.int64)
    hs = np.empty(4096, np.int64)
    hn = 0
    for e in seeds:
        if e < end_rank and value[e] > 0.0:
            b = dst[e]
            if arrival[b] < 0:  # seeds ascend: the first into b is its earliest
                arrival[b] = e
                hr, hs, hn = _push(hr, hs, hn, e, b)
    acc = np.empty(4096, np.int64)
    at = np.empty(4096, np.int64)
    k = 0
    work = 0
    while hn > 0 and work < budget:
        r = hr[0]
        a = hs[0]
        hn = _heap_pop(hr, hs, hn)
        if r > arrival[a]:
            continue  # stale: improved since
        acc, at, k = _add(acc, at, k, a, r)  # settled: pops come in order of arrival
        lo = fwd_indptr[a]
        hi = fwd_indptr[a + 1]
        while lo < hi:  # first out-edge after r
            mid = (lo + hi) >> 1
            if fwd_edges[mid] <= r:
                lo = mid + 1
            else:
                hi = mid
        hi = fwd_indptr[a + 1]
        work += 1
        for p in range(lo, hi):
            e = fwd_edges[p]
            if e >= end_rank:
                break
            work += 1
            b = fwd_dst[p]
            cur = arrival[b]
            if (cur < 0 or e < cur) and (not check_value or value[e] > 0.0):
                arrival[b] = e
                hr, hs, hn = _push(hr, hs, hn, e, b)
    for i in range(k):
        arrival[acc[i]] = -1
    for i in range(hn):  # over budget: what is not settled yet is left to the scan
        arrival[hs[i]] = -1
    if hn == 0:
        return acc[:k].copy(), at[:k].copy()
    # Over budget. The scan appends to room for every account it can reach (pages it does not
    # touch cost nothing), and keeps one bit per account in the first words of the scratch.
    first = hr[0]
    room = k + min(arrival.shape[0] - k, end_rank - first)
    acc_all = np.empty(room, np.int64)
    at_all = np.empty(room, np.int64)
    acc_all[:k] = acc[:k]
    at_all[:k] = at[:k]
    bits = arrival[: (arrival.shape[0] + 63) >> 6].view(np.uint64)
    bits[:] = 0
    for i in range(k):
        bits[acc[i] >> 6] |= np.uint64(1) << (acc[i] & 63)
    k = _scan(src, dst, value, check_value, seeds, first, end_rank, bits, acc_all, at_all, k)
    arrival[: bits.shape[0]] = -1
    return acc_all[:k], at_all[:k]
