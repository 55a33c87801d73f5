"""The forward tracing kernel: replay, in global order, only the accounts the taint reaches.

Every rule shares one event loop. Edges are numbered by their rank in the global order
(ts, seq, tx_id), so an edge id *is* its position in time. An account enters the replay when
taint first reaches it; its clean balance at that moment is rebuilt from its own history
(``_catch_up``). While it holds taint it is *active*: a heap keyed by the rank of each active
account's next event drives the replay. When it holds no taint any more it goes *dormant*: its
events are skipped until taint reaches it again, when its clean balance is caught up. Work is
therefore proportional to the events of accounts while they hold taint, plus one walk over the
history of each account reached.

When the active accounts' events are a large share of all transfers (poison or haircut over
most of a graph), the heap costs more than looking at every transfer: the loop then switches to
a *scan*, taking ranks one by one and skipping a transfer that touches no active account and is
no seed (for such a transfer the step does nothing). It switches back to the heap when the
transfers it looks at are mostly skipped. Both modes process the same ranks in the same order,
so the result is the same bit for bit (``scan_mode`` forces one mode, for tests).

Pools: ``poison`` keeps a balance and a flag; ``haircut`` and ``libr`` keep clean and tainted
sums; ``fifo`` and ``lifo`` keep a linked list of segments in an arena. Semantics: see
``docs/semantics.md``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "POISON", "HAIRCUT", "FIFO", "LIFO", "LIBR", "SCAN_CHOOSE", "HEAP_ONLY", "SCAN_ONLY",
    "SWITCH_OFTEN", "trace_kernel",
]

POISON, HAIRCUT, FIFO, LIFO, LIBR = 0, 1, 2, 3, 4

_NONE = -1
_SEEDS = -1  # heap slot id of the seed list

# Heap or scan (see the module docstring). ``scan_mode``: 0 chooses, 1 heap only, 2 scan only,
# 3 switches every few ranks (tests: a switch anywhere must not change the result).
SCAN_CHOOSE, HEAP_ONLY, SCAN_ONLY, SWITCH_OFTEN = 0, 1, 2, 3
_DENSE = 8           # to the scan: events popped * _DENSE >= ranks they span
_MIN_POPS = 1024     # ... once this many were popped since the last measure
_HEAP_SPAN = 1 << 22  # the heap's measure restarts after this many ranks
_SPARSE = 16         # back to the heap: relevant ranks * _SPARSE < ranks looked at
_SCAN_WINDOW = 1 << 16  # ... over a window of at least this many ranks (and 4 per slot)


# ---------------------------------------------------------------- growable arrays


@njit(cache=True, nogil=True)
def _grow(a, need):
    """``a`` with room for ``need`` rows along axis 0 (doubling), contents kept."""
    if need <= a.shape[0]:
        return a
    shape = (max(need, 2 * a.shape[0]),) + a.shape[1:]
    b = np.empty(shape, dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


# ---------------------------------------------------------------- binary heap of (rank, slot)


@njit(cache=True, nogil=True)
def _heap_push(hr, hs, n, rank, slot):
    i = n
    hr[i] = rank
    hs[i] = slot
    while i > 0:
        p = (i - 1) >> 1
        if hr[p] <= hr[i]:
            break
        hr[p], hr[i] = hr[i], hr[p]
        hs[p], hs[i] = hs[i], hs[p]
        i = p
    return n + 1


@njit(cache=True, nogil=True)
def _heap_pop(hr, hs, n):
    n -= 1
    hr[0] = hr[n]
    hs[0] = hs[n]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= n:
            break
        c = left
        if left + 1 < n and hr[left + 1] < hr[left]:
            c = left + 1
        if hr[i] <= hr[c]:
            break
        hr[c], hr[i] = hr[i], hr[c]
        hs[c], hs[i] = hs[i], hs[c]
        i = c
    return n


# ---------------------------------------------------------------- account history


@njit(cache=True, nogil=True)
def _is_seed(seeds, rank):
    i = np.searchsorted(seeds, rank)
    return i < seeds.shape[0] and seeds[i] == rank


@njit(cache=True, nogil=True)
def _next_rank(g, acc, in_cur, out_cur):
    """Rank of the account's next unprocessed event, or -1."""
    fwd_indptr, fwd_edges, rev_indptr, rev_edges = g
    nxt = -1
    if in_cur < rev_indptr[acc + 1]:
        nxt = rev_edges[in_cur]
    if out_cur < fwd_indptr[acc + 1]:
        o = fwd_edges[out_cur]
        if nxt < 0 or o < nxt:
            nxt = o
    return nxt


@njit(cache=True, nogil=True)
def _catch_up(g, value, seeds, acc, c, i, o, until, first):
    """Replay an untainted account's events with rank < ``until`` on its clean balance ``c``.

    Seeds draw nothing. Returns (c, i, o, shortfalls after rank ``first``)."""
    fwd_indptr, fwd_edges, rev_indptr, rev_edges = g
    i_end = rev_indptr[acc + 1]
    o_end = fwd_indptr[acc + 1]
    unexp = 0.0
    while True:
        ri = rev_edges[i] if i < i_end else until
        ro = fwd_edges[o] if o < o_end else until
        if ri < until and ri < ro:
            c += value[ri]
            i += 1
        elif ro < until:
            if not _is_seed(seeds, ro):
                w = value[ro]
                if w > c:
                    if ro > first:
                        unexp += w - c
                    c = 0.0
                else:
                    c -= w
            o += 1
        else:
            break
    return c, i, o, unexp


# ---------------------------------------------------------------- segment arena (fifo, lifo)

_NEXT, _PREV, _TAINTED, _ORIGIN = 0, 1, 2, 3


@njit(cache=True, nogil=True)
def _new_node(g_amt, g_link, g_n, g_free, amt, tainted, origin=-1):
    if g_free != _NONE:
        nd = g_free
        g_free = g_link[nd, _NEXT]
    else:
        g_amt = _grow(g_amt, g_n + 1)
        g_link = _grow(g_link, g_n + 1)
        nd = g_n
        g_n += 1
    g_amt[nd] = amt
    g_link[nd, _NEXT] = _NONE
    g_link[nd, _PREV] = _NONE
    g_link[nd, _TAINTED] = tainted
    g_link[nd, _ORIGIN] = origin
    return nd, g_amt, g_link, g_n, g_free


@njit(cache=True, nogil=True)
def _free_chain(g_link, g_free, node):
    while node != _NONE:
        nxt = g_link[node, _NEXT]
        g_link[node, _NEXT] = g_free
        g_free = node
        node = nxt
    return g_free


# slot fields: ints
_ACC, _IN, _OUT, _HEAD, _TAIL, _NT, _MINHOP, _FIRST, _FLAGS = range(9)
# slot fields: floats (_TAINT is the balance b under poison; _NT its poisoned flag)
_CLEAN, _TAINT, _TIN, _TOUT, _UNEXP = range(5)
_ACTIVE, _STOPPED = 1, 2


@njit(cache=True, nogil=True)
def _unlink(g_link, si, s, node):
    p = g_link[node, _PREV]
    q = g_link[node, _NEXT]
    if p != _NONE:
        g_link[p, _NEXT] = q
    else:
        si[s, _HEAD] = q
    if q != _NONE:
        g_link[q, _PREV] = p
    else:
        si[s, _TAIL] = p


@njit(cache=True, nogil=True)
def _draw_segments(g_amt, g_link, g_n, g_free, si, s, v, from_front):
    """Take ``v`` from the ends of the pool (fifo: front, lifo: back).

    Returns (tau, shortfall, chain head, g_amt, g_link, g_n, g_free); the chain keeps pool order
    and starts with a clean segment of the shortfall, if any (presumed older funds)."""
    need = v
    tau = 0.0
    ch_h = _NONE
    ch_t = _NONE
    while need > 0.0:
        node = si[s, _HEAD] if from_front else si[s, _TAIL]
        if node == _NONE:
            break
        m = g_amt[node]
        tainted = g_link[node, _TAINTED]
        if m <= need:
            need -= m
            _unlink(g_link, si, s, node)
            taken = node
            if tainted != 0:
                si[s, _NT] -= 1
        else:
            taken, g_amt, g_link, g_n, g_free = _new_node(
                g_amt, g_link, g_n, g_free, need, tainted, g_link[node, _ORIGIN])
            g_amt[node] = m - need
            m = need
            need = 0.0
        if tainted != 0:
            tau += m
        if from_front:  # append
            g_link[taken, _NEXT] = _NONE
            g_link[taken, _PREV] = ch_t
            if ch_t != _NONE:
                g_link[ch_t, _NEXT] = taken
            else:
                ch_h = taken
            ch_t = taken
        else:  # prepend
            g_link[taken, _PREV] = _NONE
            g_link[taken, _NEXT] = ch_h
            if ch_h != _NONE:
                g_link[ch_h, _PREV] = taken
            else:
                ch_t = taken
            ch_h = taken
    shortfall = 0.0
    if need > 0.0:
        shortfall = need
        nd, g_amt, g_link, g_n, g_free = _new_node(g_amt, g_link, g_n, g_free, need, 0)
        g_link[nd, _NEXT] = ch_h
        if ch_h != _NONE:
            g_link[ch_h, _PREV] = nd
        ch_h = nd
    return tau, shortfall, ch_h, g_amt, g_link, g_n, g_free


@njit(cache=True, nogil=True)
def _draw_clean_segments(g_amt, g_link, g_free, si, s, v, from_front):
    """Hop-limited: take ``v`` from clean segments only. Returns (shortfall, g_free)."""
    need = v
    node = si[s, _HEAD] if from_front else si[s, _TAIL]
    while node != _NONE and need > 0.0:
        nxt = g_link[node, _NEXT] if from_front else g_link[node, _PREV]
        if g_link[node, _TAINTED] == 0:
            m = g_amt[node]
            if m <= need:
                need -= m
                _unlink(g_link, si, s, node)
                g_link[node, _NEXT] = g_free
                g_free = node
            else:
                g_amt[node] = m - need
                need = 0.0
        node = nxt
    return (need if need > 0.0 else 0.0), g_free


@njit(cache=True, nogil=True)
def _append_chain(g_amt, g_link, g_free, si, s, node, r, keep_clean):
    """Append a chain at the back of the pool. Its tainted segments now come from edge ``r``;
    adjacent segments of the same kind (and, if tainted, origin) merge. Without
    ``keep_clean`` (libr, haircut: clean funds are a sum), clean segments are dropped."""
    while node != _NONE:
        nxt = g_link[node, _NEXT]
        tainted = g_link[node, _TAINTED] != 0
        if tainted:
            g_link[node, _ORIGIN] = r
        tl = si[s, _TAIL]
        if not tainted and not keep_clean:
            g_link[node, _NEXT] = g_free
            g_free = node
        elif (tl != _NONE and (g_link[tl, _TAINTED] != 0) == tainted
              and (not tainted or g_link[tl, _ORIGIN] == r)):
            g_amt[tl] += g_amt[node]
            g_link[node, _NEXT] = g_free
            g_free = node
        else:
            g_link[node, _PREV] = tl
            g_link[node, _NEXT] = _NONE
            if tl != _NONE:
                g_link[tl, _NEXT] = node
            else:
                si[s, _HEAD] = node
            si[s, _TAIL] = node
            if tainted:
                si[s, _NT] += 1
        node = nxt
    return g_free


@njit(cache=True, nogil=True)
def _record(al_out, al_in, al_amt, an, out_rank, in_rank, amount):
    al_out = _grow(al_out, an + 1)
    al_in = _grow(al_in, an + 1)
    al_amt = _grow(al_amt, an + 1)
    al_out[an] = out_rank
    al_in[an] = in_rank
    al_amt[an] = amount
    return al_out, al_in, al_amt, an + 1


@njit(cache=True, nogil=True)
def _draw_libr(g_amt, g_link, g_n, g_free, si, sf, s, v):
    """libr: clean funds (a sum) first, then tainted lots oldest first. Returns (tau,
    shortfall, chain of the tainted lots taken, g_amt, g_link, g_n, g_free)."""
    c = sf[s, _CLEAN]
    if v <= c:
        sf[s, _CLEAN] = c - v
        return 0.0, 0.0, _NONE, g_amt, g_link, g_n, g_free
    sf[s, _CLEAN] = 0.0
    tau, shortfall, ch_h, g_amt, g_link, g_n, g_free = _draw_segments(
        g_amt, g_link, g_n, g_free, si, s, v - c, True)
    return tau, shortfall, ch_h, g_amt, g_link, g_n, g_free


@njit(cache=True, nogil=True)
def _draw_sums(sf, si, s, v, rule, limited):
    """poison, haircut, libr. Returns (tau, shortfall)."""
    tau = 0.0
    shortfall = 0.0
    if rule == POISON:
        bal = sf[s, _TAINT]
        if v > bal:
            shortfall = v - bal
            sf[s, _TAINT] = 0.0
        else:
            sf[s, _TAINT] = bal - v
        if si[s, _NT] != 0 and not limited:
            tau = v
        return tau, shortfall
    c = sf[s, _CLEAN]
    t = sf[s, _TAINT]
    if limited:
        if v > c:
            shortfall = v - c
            sf[s, _CLEAN] = 0.0
        else:
            sf[s, _CLEAN] = c - v
    elif rule == HAIRCUT:
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
    else:  # LIBR: clean first
        if v <= c:
            sf[s, _CLEAN] = c - v
        elif v <= c + t:
            tau = v - c
            sf[s, _TAINT] = t - tau
            sf[s, _CLEAN] = 0.0
        else:
            shortfall = v - c - t
            tau = t
            sf[s, _CLEAN] = 0.0
            sf[s, _TAINT] = 0.0
    return tau, shortfall


# ---------------------------------------------------------------- the event loop


@njit(cache=True, nogil=True)
def trace_kernel(g, src, dst, value, opening, stopped_acc, seeds, rule, max_hops, end_rank,
                 min_amount, slot_of, scan_mode=SCAN_CHOOSE):
    """Trace taint forward from ``seeds`` (sorted, unique edge ranks).

    g: (fwd_indptr, fwd_edges, rev_indptr, rev_edges). ``stopped_acc``: bool per account (label
    in stop_at). ``max_hops``: 0 for no limit. ``end_rank``: edges with rank >= end_rank are not
    replayed (horizon). ``slot_of``: int64 scratch, one per account, all -1; restored before
    returning. ``scan_mode``: ``SCAN_CHOOSE`` (heap or scan as the work goes), ``HEAP_ONLY``,
    ``SCAN_ONLY`` or ``SWITCH_OFTEN``; the result is the same.

    Returns (flow_rank, flow_tau, flow_hop, acc, tainted_in, tainted_out, tainted_balance,
    unexplained, min_hops, first_rank, stopped, dust, seed_value, alloc_out, alloc_in,
    alloc_amount); holdings in order of first arrival. Allocations: the outflow (edge rank)
    ``alloc_out`` drew ``alloc_amount`` of taint that arrived by edge ``alloc_in`` (exact for
    fifo, lifo and libr (lots oldest first); pro rata for haircut; none for poison).
    """
    fwd_indptr, fwd_edges, rev_indptr, rev_edges = g
    fifo_like = rule == FIFO or rule == LIFO
    front = rule == FIFO
    nseeds = seeds.shape[0]

    si = np.empty((64, 9), np.int64)
    sf = np.empty((64, 5), np.float64)
    nslots = 0
    keep_clean = fifo_like  # libr, haircut: clean funds are a sum, lots hold the taint
    g_amt = np.empty(256 if rule != POISON else 1, np.float64)
    g_link = np.empty((g_amt.shape[0], 4), np.int64)
    g_n = 0
    g_free = _NONE
    h_rank = np.empty(64, np.int64)
    h_slot = np.empty(64, np.int64)
    hn = 0
    f_rank = np.empty(64, np.int64)
    f_tau = np.empty(64, np.float64)
    f_hop = np.empty(64, np.int64)
    fn = 0
    al_out = np.empty(64, np.int64)
    al_in = np.empty(64, np.int64)
    al_amt = np.empty(64, np.float64)
    an = 0

    dust = 0.0
    seed_value = 0.0
    seed_cur = 0
    scan = scan_mode == SCAN_ONLY
    r_next = seeds[0] if nseeds > 0 else end_rank  # the scan's next rank
    popped = 0  # heap: events popped since rank span0
    span0 = r_next
    looked = 0  # scan: ranks looked at, and those not skipped, since the window began
    relevant = 0
    window = 0
    if nseeds > 0 and seeds[0] < end_rank and not scan:
        hn = _heap_push(h_rank, h_slot, hn, seeds[0], _SEEDS)

    while True:
        if scan:
            if r_next >= end_rank:
                break
            if looked >= window:
                if window > 0 and (
                    (scan_mode == SCAN_CHOOSE and relevant * _SPARSE < looked)
                    or scan_mode == SWITCH_OFTEN
                ):
                    # mostly skipped: back to the heap, one entry per active account
                    hn = 0
                    for s in range(nslots):
                        if (si[s, _FLAGS] & _ACTIVE) != 0:
                            nr = _next_rank(g, si[s, _ACC], si[s, _IN], si[s, _OUT])
                            if nr >= 0:
                                h_rank = _grow(h_rank, hn + 1)
                                h_slot = _grow(h_slot, hn + 1)
                                hn = _heap_push(h_rank, h_slot, hn, nr, s)
                    if seed_cur < nseeds:
                        h_rank = _grow(h_rank, hn + 1)
                        h_slot = _grow(h_slot, hn + 1)
                        hn = _heap_push(h_rank, h_slot, hn, seeds[seed_cur], _SEEDS)
                    scan = False
                    popped = 0
                    span0 = r_next
                    continue
                looked = 0
                relevant = 0
                window = 5 if scan_mode == SWITCH_OFTEN else max(_SCAN_WINDOW, 4 * nslots)
            r = r_next
            r_next += 1
            looked += 1
            sa = slot_of[src[r]]
            sb = slot_of[dst[r]]
            if not ((seed_cur < nseeds and seeds[seed_cur] == r)
                    or (sa >= 0 and (si[sa, _FLAGS] & _ACTIVE) != 0)
                    or (sb >= 0 and (si[sb, _FLAGS] & _ACTIVE) != 0)):
                continue  # no taint can move and no balance changes that is kept
            relevant += 1
        else:
            if hn == 0:
                break
            r = h_rank[0]
            hs = h_slot[0]
            hn = _heap_pop(h_rank, h_slot, hn)
            if r >= end_rank:
                break
            if hs == _SEEDS:
                if seed_cur >= nseeds or seeds[seed_cur] != r:
                    continue
            elif (si[hs, _FLAGS] & _ACTIVE) == 0 or _next_rank(
                g, si[hs, _ACC], si[hs, _IN], si[hs, _OUT]
            ) != r:
                continue  # stale entry
            if scan_mode == SCAN_CHOOSE or scan_mode == SWITCH_OFTEN:
                popped += 1
                if (popped >= 3 if scan_mode == SWITCH_OFTEN
                        else popped >= _MIN_POPS and popped * _DENSE >= r - span0 + 1):
                    # dense: scan from the next rank; the heap is dropped
                    scan = True
                    hn = 0
                    r_next = r + 1
                    looked = 0
                    relevant = 0
                    window = 0
                elif r - span0 >= _HEAP_SPAN:
                    popped = 0
                    span0 = r

        # ------------------------------------------------------ sender
        a = src[r]
        b = dst[r]
        v = value[r]
        is_seed = seed_cur < nseeds and seeds[seed_cur] == r
        if is_seed:
            seed_cur += 1
            if not scan and seed_cur < nseeds and seeds[seed_cur] < end_rank:
                h_rank = _grow(h_rank, hn + 1)
                h_slot = _grow(h_slot, hn + 1)
                hn = _heap_push(h_rank, h_slot, hn, seeds[seed_cur], _SEEDS)
        tau = 0.0
        hop = 0
        ch_h = _NONE
        sa = slot_of[a]
        if sa >= 0 and (si[sa, _FLAGS] & _ACTIVE) != 0:
            si[sa, _OUT] += 1
            if not is_seed:
                limited = max_hops > 0 and si[sa, _MINHOP] >= max_hops
                t_before = sf[sa, _TAINT]
                if rule == POISON or (limited and not fifo_like):
                    tau, shortfall = _draw_sums(sf, si, sa, v, rule, limited)
                elif limited:
                    shortfall, g_free = _draw_clean_segments(g_amt, g_link, g_free, si, sa, v, front)
                elif rule == HAIRCUT:
                    tau, shortfall = _draw_sums(sf, si, sa, v, rule, limited)
                elif rule == LIBR:
                    tau, shortfall, ch_h, g_amt, g_link, g_n, g_free = _draw_libr(
                        g_amt, g_link, g_n, g_free, si, sf, sa, v)
                else:
                    tau, shortfall, ch_h, g_amt, g_link, g_n, g_free = _draw_segments(
                        g_amt, g_link, g_n, g_free, si, sa, v, front)
                sf[sa, _UNEXP] += shortfall
                dusted = tau > 0.0 and tau < min_amount
                # allocations: which inflows funded this outflow
                if rule == HAIRCUT and tau > 0.0:
                    frac = tau / t_before
                    node = si[sa, _HEAD]
                    while node != _NONE:
                        nxt = g_link[node, _NEXT]
                        share = g_amt[node] if sf[sa, _TAINT] == 0.0 else g_amt[node] * frac
                        if not dusted:
                            al_out, al_in, al_amt, an = _record(
                                al_out, al_in, al_amt, an, r, g_link[node, _ORIGIN], share)
                        g_amt[node] -= share
                        node = nxt
                elif tau > 0.0 and not dusted:
                    node = ch_h
                    while node != _NONE:
                        if g_link[node, _TAINTED] != 0:
                            al_out, al_in, al_amt, an = _record(
                                al_out, al_in, al_amt, an, r, g_link[node, _ORIGIN], g_amt[node])
                        node = g_link[node, _NEXT]
                if dusted:
                    dust += tau
                    tau = 0.0
                    node = ch_h
                    while node != _NONE:
                        g_link[node, _TAINTED] = 0
                        node = g_link[node, _NEXT]
                if tau > 0.0:
                    hop = si[sa, _MINHOP] + 1
                    sf[sa, _TOUT] += tau
                if rule == POISON:
                    holds = si[sa, _NT] != 0
                elif rule == HAIRCUT:
                    holds = sf[sa, _TAINT] != 0.0
                else:
                    holds = si[sa, _NT] > 0
                if not holds:  # dormant: keep only the clean balance
                    if fifo_like:
                        tot = 0.0
                        node = si[sa, _HEAD]
                        while node != _NONE:
                            tot += g_amt[node]
                            node = g_link[node, _NEXT]
                        g_free = _free_chain(g_link, g_free, si[sa, _HEAD])
                        si[sa, _HEAD] = _NONE
                        si[sa, _TAIL] = _NONE
                        sf[sa, _CLEAN] = tot
                    elif rule == POISON:
                        sf[sa, _CLEAN] = sf[sa, _TAINT]
                    else:  # lots of taint left with nothing in them
                        g_free = _free_chain(g_link, g_free, si[sa, _HEAD])
                        si[sa, _HEAD] = _NONE
                        si[sa, _TAIL] = _NONE
                        si[sa, _NT] = 0
                    si[sa, _FLAGS] &= ~_ACTIVE
            if not scan and (si[sa, _FLAGS] & _ACTIVE) != 0:
                nr = _next_rank(g, a, si[sa, _IN], si[sa, _OUT])
                if nr >= 0:
                    h_rank = _grow(h_rank, hn + 1)
                    h_slot = _grow(h_slot, hn + 1)
                    hn = _heap_push(h_rank, h_slot, hn, nr, sa)
        if is_seed:
            seed_value += v
            tau = v
            hop = 1

        # ------------------------------------------------------ receiver
        sb = slot_of[b]
        deliver = False
        if sb >= 0 and (si[sb, _FLAGS] & _STOPPED) != 0:
            if tau > 0.0:  # a stopped account keeps the taint and is never replayed
                sf[sb, _TIN] += tau
                if hop < si[sb, _MINHOP]:
                    si[sb, _MINHOP] = hop
        elif sb >= 0 and (si[sb, _FLAGS] & _ACTIVE) != 0:
            si[sb, _IN] += 1
            deliver = True
        elif tau > 0.0:
            if sb < 0:  # first taint: a new slot
                si = _grow(si, nslots + 1)
                sf = _grow(sf, nslots + 1)
                sb = nslots
                nslots += 1
                slot_of[b] = sb
                si[sb, _ACC] = b
                si[sb, _IN] = rev_indptr[b]
                si[sb, _OUT] = fwd_indptr[b]
                si[sb, _HEAD] = _NONE
                si[sb, _TAIL] = _NONE
                si[sb, _NT] = 0
                si[sb, _MINHOP] = hop
                si[sb, _FIRST] = r
                si[sb, _FLAGS] = _STOPPED if stopped_acc[b] else 0
                sf[sb, _CLEAN] = opening[b]
                sf[sb, _TAINT] = 0.0
                sf[sb, _TIN] = tau if stopped_acc[b] else 0.0
                sf[sb, _TOUT] = 0.0
                sf[sb, _UNEXP] = 0.0
            if (si[sb, _FLAGS] & _STOPPED) == 0:
                c, i, o, unexp = _catch_up(g, value, seeds, b, sf[sb, _CLEAN], si[sb, _IN],
                                           si[sb, _OUT], r, si[sb, _FIRST])
                sf[sb, _UNEXP] += unexp
                si[sb, _IN] = i + 1  # edge r itself
                si[sb, _OUT] = o
                si[sb, _FLAGS] |= _ACTIVE
                deliver = True
                if fifo_like:
                    if c > 0.0:
                        nd, g_amt, g_link, g_n, g_free = _new_node(g_amt, g_link, g_n, g_free, c, 0)
                        si[sb, _HEAD] = nd
                        si[sb, _TAIL] = nd
                    sf[sb, _CLEAN] = 0.0
                elif rule == POISON:
                    sf[sb, _TAINT] = c
                else:
                    sf[sb, _CLEAN] = c

        if deliver:
            if tau > 0.0:
                sf[sb, _TIN] += tau
                if hop < si[sb, _MINHOP]:
                    si[sb, _MINHOP] = hop
            if rule == POISON:
                sf[sb, _TAINT] += v
                if tau > 0.0:
                    si[sb, _NT] = 1
            else:
                if not fifo_like:
                    sf[sb, _TAINT] += tau
                    sf[sb, _CLEAN] += v - tau
                if rule == HAIRCUT:
                    g_free = _free_chain(g_link, g_free, ch_h)
                    ch_h = _NONE
                    if tau > 0.0:  # one lot
                        ch_h, g_amt, g_link, g_n, g_free = _new_node(
                            g_amt, g_link, g_n, g_free, tau, 1)
                elif ch_h == _NONE and v > 0.0 and (keep_clean or is_seed):
                    # a clean transfer or a seed: one segment
                    ch_h, g_amt, g_link, g_n, g_free = _new_node(
                        g_amt, g_link, g_n, g_free, v, 1 if is_seed else 0)
                g_free = _append_chain(g_amt, g_link, g_free, si, sb, ch_h, r, keep_clean)
                ch_h = _NONE
            nr = -1 if scan else _next_rank(g, b, si[sb, _IN], si[sb, _OUT])
            if nr >= 0:
                h_rank = _grow(h_rank, hn + 1)
                h_slot = _grow(h_slot, hn + 1)
                hn = _heap_push(h_rank, h_slot, hn, nr, sb)
        elif ch_h != _NONE:
            g_free = _free_chain(g_link, g_free, ch_h)

        if tau > 0.0:
            f_rank = _grow(f_rank, fn + 1)
            f_tau = _grow(f_tau, fn + 1)
            f_hop = _grow(f_hop, fn + 1)
            f_rank[fn] = r
            f_tau[fn] = tau
            f_hop[fn] = hop
            fn += 1

    # ---------------------------------------------------------- the end
    h_bal = np.zeros(nslots, np.float64)
    h_stopped = np.zeros(nslots, np.bool_)
    for s in range(nslots):
        acc = si[s, _ACC]
        flags = si[s, _FLAGS]
        if (flags & _STOPPED) != 0:
            h_bal[s] = sf[s, _TIN]
            h_stopped[s] = True
        elif (flags & _ACTIVE) == 0:
            # dormant: book its shortfalls up to the horizon
            _, _, _, unexp = _catch_up(g, value, seeds, acc, sf[s, _CLEAN], si[s, _IN],
                                       si[s, _OUT], end_rank, si[s, _FIRST])
            sf[s, _UNEXP] += unexp
        elif rule == POISON:
            h_bal[s] = sf[s, _TAINT] if si[s, _NT] != 0 else 0.0
        elif rule != HAIRCUT:
            tot = 0.0
            node = si[s, _HEAD]
            while node != _NONE:
                if g_link[node, _TAINTED] != 0:
                    tot += g_amt[node]
                node = g_link[node, _NEXT]
            h_bal[s] = tot
        else:
            h_bal[s] = sf[s, _TAINT]
        slot_of[acc] = -1
    return (
        f_rank[:fn].copy(), f_tau[:fn].copy(), f_hop[:fn].copy(),
        si[:nslots, _ACC].copy(), sf[:nslots, _TIN].copy(), sf[:nslots, _TOUT].copy(), h_bal,
        sf[:nslots, _UNEXP].copy(), si[:nslots, _MINHOP].copy(), si[:nslots, _FIRST].copy(),
        h_stopped, dust, seed_value,
        al_out[:an].copy(), al_in[:an].copy(), al_amt[:an].copy(),
    )
