"""The forward tracing kernel: replay, in global order, only the accounts the taint reaches.

Every rule shares one event loop (``_trace``). Edges are numbered by their rank in the global
order (ts, seq, tx_id), so an edge id *is* its position in time. An account enters the replay
when taint first reaches it; its clean balance at that moment is rebuilt from its own history
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

The rules live in ``tracer/kernels/pools/``, one module per rule (poison, haircut, libr, and
``lots.py`` for fifo and lifo); the loop calls their steps through ``pools/dispatch.py`` and
never looks at the rule itself. Semantics: see ``docs/semantics.md``.

The module stays whole: most of it is that one event loop, a single numba function whose
state (the heap, the cursors, the scan switch) cannot be passed between compiled pieces without
cost, with the three helpers it inlines.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from tracer.kernels import match as paired_pool
from tracer.kernels.heap import _grow, _heap_pop, _heap_push
from tracer.kernels.match import _is_seed
from tracer.kernels.pools import dispatch as pool
from tracer.kernels.pools.arena import _NEXT, _PREV, clean_chain, free_chain, new_node
from tracer.kernels.pools.common import (
    _ACC,
    _CLEAN,
    _FIRST,
    _FLAGS,
    _HEAD,
    _IN,
    _MINHOP,
    _NONE,
    _NT,
    _OUT,
    _TAIL,
    _TAINT,
    _TIN,
    _TOUT,
    _UNEXP,
    FIFO,
    HAIRCUT,
    LIBR,
    LIFO,
    MATCH,
    N_FLOAT_FIELDS,
    N_INT_FIELDS,
    POISON,
)

__all__ = [
    "POISON",
    "HAIRCUT",
    "FIFO",
    "LIFO",
    "LIBR",
    "MATCH",
    "SCAN_CHOOSE",
    "HEAP_ONLY",
    "SCAN_ONLY",
    "SWITCH_OFTEN",
    "TraceArrays",
    "trace_kernel",
]

# match: per slot, where its pairing is in the store, and how many of its groups hold taint
_IB, _OB, _GB, _NG, _NTG = range(5)

_SEEDS = -1  # heap slot id of the seed list
_ACTIVE, _STOPPED = 1, 2  # si[s, _FLAGS]

# Heap or scan (see the module docstring). ``scan_mode``: 0 chooses, 1 heap only, 2 scan only,
# 3 switches every few ranks (tests: a switch anywhere must not change the result).
SCAN_CHOOSE, HEAP_ONLY, SCAN_ONLY, SWITCH_OFTEN = 0, 1, 2, 3
_DENSE = 8  # to the scan: events popped * _DENSE >= ranks they span
_MIN_POPS = 1024  # ... once this many were popped since the last measure
_HEAP_SPAN = 1 << 22  # the heap's measure restarts after this many ranks
_SPARSE = 16  # back to the heap: relevant ranks * _SPARSE < ranks looked at
_SCAN_WINDOW = 1 << 16  # ... over a window of at least this many ranks (and 4 per slot)
_TICK = 4095  # progress: written every _TICK + 1 steps of the loop


class TraceArrays(NamedTuple):
    """What ``trace_kernel`` returns. Flows (transfers that carried taint) in replay order;
    holdings (accounts reached) in order of first arrival; allocations: the outflow (edge
    rank) ``alloc_out`` drew ``alloc_amount`` of taint that arrived by edge ``alloc_in``
    (exact for fifo, lifo and libr (lots oldest first); pro rata for haircut; none for
    poison)."""

    flow_rank: np.ndarray
    flow_tau: np.ndarray
    flow_hop: np.ndarray
    acc: np.ndarray
    tainted_in: np.ndarray
    tainted_out: np.ndarray
    tainted_balance: np.ndarray
    unexplained: np.ndarray
    min_hops: np.ndarray
    first_rank: np.ndarray
    stopped: np.ndarray
    dust: float
    seed_value: float
    alloc_out: np.ndarray
    alloc_in: np.ndarray
    alloc_amount: np.ndarray
    alloc_ratio: np.ndarray  # match: the group's ratio T / S for a paired draw; NaN otherwise


def trace_kernel(
    g,
    src,
    dst,
    value,
    opening,
    stopped_acc,
    seeds,
    rule,
    max_hops,
    end_rank,
    min_amount,
    slot_of,
    scan_mode=SCAN_CHOOSE,
    ts=None,
    fallback=LIBR,
    match_window=0,
    match_cut=0.0,
    match_over=0.0,
    match_group=1,
    progress=None,
) -> TraceArrays:
    """Trace taint forward from ``seeds`` (sorted, unique edge ranks) under ``rule`` (a code).

    Under ``MATCH``, ``ts`` (int64 µs per edge) is needed, ``fallback`` is the code of the
    pool for what no pairing explains, and ``match_*`` are the pairing's window (µs), cut,
    over and group width (``tracer.kernels.pairing``).

    g: (fwd_indptr, fwd_edges, rev_indptr, rev_edges). ``stopped_acc``: bool per account (label
    in stop_at). ``max_hops``: 0 for no limit. ``end_rank``: edges with rank >= end_rank are not
    replayed (horizon). ``slot_of``: int64 scratch, one per account, all -1; restored before
    returning. ``scan_mode``: ``SCAN_CHOOSE`` (heap or scan as the work goes), ``HEAP_ONLY``,
    ``SCAN_ONLY`` or ``SWITCH_OFTEN``; the result is the same. The work runs without the GIL.
    ``progress``: int64 [rank, stop]: every ``_TICK`` steps the kernel writes the rank it is at
    into ``progress[0]``, and stops early if ``progress[1]`` is not 0 (another thread's ask).
    """
    ts = np.zeros(0, np.int64) if ts is None else ts
    progress = np.zeros(2, np.int64) if progress is None else progress
    match = (np.int64(match_window), float(match_cut), float(match_over), np.int64(match_group))
    return TraceArrays(
        *_trace(
            g,
            src,
            dst,
            value,
            opening,
            stopped_acc,
            seeds,
            rule,
            max_hops,
            end_rank,
            min_amount,
            slot_of,
            scan_mode,
            ts,
            fallback,
            match,
            progress,
        )
    )


# ---------------------------------------------------------------- account history


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


# ---------------------------------------------------------------- the event loop


@njit(cache=True, nogil=True)
def _push(h_rank, h_slot, hn, r, s):
    """Push (rank, slot) on the heap, grown as needed. Returns (h_rank, h_slot, hn)."""
    h_rank = _grow(h_rank, hn + 1)
    h_slot = _grow(h_slot, hn + 1)
    return h_rank, h_slot, _heap_push(h_rank, h_slot, hn, r, s)


@njit(cache=True, nogil=True)
def _paired_chain(ar, amount, tainted):
    """What a match inflow gives its fallback pool: ``tainted`` then the clean rest, as a chain.
    Returns (chain head, ar)."""
    head = _NONE
    if amount - tainted > 0.0:
        head, ar = new_node(ar, amount - tainted, 0)
    if tainted > 0.0:
        t, ar = new_node(ar, tainted, 1)
        g_link = ar[1]
        g_link[t, _NEXT] = head
        if head != _NONE:
            g_link[head, _PREV] = t
        head = t
    return head, ar


@njit(cache=True, nogil=True)
def _trace(
    g,
    src,
    dst,
    value,
    opening,
    stopped_acc,
    seeds,
    rule,
    max_hops,
    end_rank,
    min_amount,
    slot_of,
    scan_mode,
    ts,
    fallback,
    match,
    progress,
):
    """The event loop of ``trace_kernel``; returns the fields of ``TraceArrays`` as a tuple.

    Under match (``paired``), the account's pool is the ``fallback`` rule's (``prule``) plus
    the reservations of its groups (``tracer.kernels.match``)."""
    fwd_indptr, fwd_edges, rev_indptr, rev_edges = g
    nseeds = seeds.shape[0]
    paired = rule == MATCH
    prule = fallback if paired else rule
    m_window, m_cut, m_over, m_width = match

    si = np.empty((64, N_INT_FIELDS), np.int64)
    sf = np.empty((64, N_FLOAT_FIELDS), np.float64)
    sm = np.empty((64 if paired else 1, 5), np.int64)
    ef, ei, gf, gi, lf, li = paired_pool.new_store(paired)
    ne = 0
    ng = 0
    nl = 0
    al_ratio = np.empty(64, np.float64)
    nr_ = 0  # rows of al_ratio filled
    nslots = 0
    ar = pool.new_arena(prule)
    h_rank = np.empty(64, np.int64)
    h_slot = np.empty(64, np.int64)
    hn = 0
    f_rank = np.empty(64, np.int64)
    f_tau = np.empty(64, np.float64)
    f_hop = np.empty(64, np.int64)
    fn = 0
    al = (np.empty(64, np.int64), np.empty(64, np.int64), np.empty(64, np.float64))
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
    ticks = 0

    while True:
        ticks += 1
        if (ticks & _TICK) == 0:
            progress[0] = r_next if scan else (h_rank[0] if hn > 0 else end_rank)
            if progress[1] != 0:
                break
        if scan:
            if r_next >= end_rank:
                break
            if looked >= window:
                if window > 0 and (
                    scan_mode == SWITCH_OFTEN
                    or (scan_mode == SCAN_CHOOSE and relevant * _SPARSE < looked)
                ):
                    # mostly skipped: back to the heap, one entry per active account
                    hn = 0
                    for s in range(nslots):
                        if (si[s, _FLAGS] & _ACTIVE) != 0:
                            nr = _next_rank(g, si[s, _ACC], si[s, _IN], si[s, _OUT])
                            if nr >= 0:
                                h_rank, h_slot, hn = _push(h_rank, h_slot, hn, nr, s)
                    if seed_cur < nseeds:
                        h_rank, h_slot, hn = _push(h_rank, h_slot, hn, seeds[seed_cur], _SEEDS)
                    scan = False
                    popped = 0
                    span0 = r_next
                    continue
                looked = relevant = 0
                window = 5 if scan_mode == SWITCH_OFTEN else max(_SCAN_WINDOW, 4 * nslots)
            r = r_next
            r_next += 1
            looked += 1
            sa = slot_of[src[r]]
            sb = slot_of[dst[r]]
            if not (
                (seed_cur < nseeds and seeds[seed_cur] == r)
                or (sa >= 0 and (si[sa, _FLAGS] & _ACTIVE) != 0)
                or (sb >= 0 and (si[sb, _FLAGS] & _ACTIVE) != 0)
            ):
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
                if (
                    popped >= 3
                    if scan_mode == SWITCH_OFTEN
                    else popped >= _MIN_POPS and popped * _DENSE >= r - span0 + 1
                ):
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
                h_rank, h_slot, hn = _push(h_rank, h_slot, hn, seeds[seed_cur], _SEEDS)
        tau = 0.0
        hop = 0
        ch_h = _NONE
        sa = slot_of[a]
        if sa >= 0 and (si[sa, _FLAGS] & _ACTIVE) != 0:
            si[sa, _OUT] += 1
            if not is_seed:
                limited = max_hops > 0 and si[sa, _MINHOP] >= max_hops
                t_before = sf[sa, _TAINT]
                v_pool = v  # what the fallback (or only) pool is drawn for
                t_res = 0.0
                gid = _NONE
                frac = 0.0
                gone = 0
                if paired:
                    k = sm[sa, _OB] + (si[sa, _OUT] - 1 - fwd_indptr[a])
                    if limited:
                        v_pool = paired_pool.net_value(k, v, ef)
                    else:
                        n_, v_pool, t_res, gid, frac, gone = paired_pool.draw_reserved(
                            k, v, ef, ei, gf, gi, lf, li
                        )
                shortfall = 0.0
                t_pool = 0.0
                if limited:  # clean funds only
                    shortfall = pool.draw_limited(prule, ar, si, sf, sa, v_pool)
                elif v_pool > 0.0 or not paired:
                    t_pool, shortfall, ch_h, ar = pool.draw(prule, ar, si, sf, sa, v_pool)
                tau = t_res + t_pool
                sf[sa, _UNEXP] += shortfall
                dusted = tau > 0.0 and tau < min_amount
                # allocations: which inflows funded this outflow
                if gid != _NONE:
                    a0, a1, a2, al_ratio, an = paired_pool.lots_drawn(
                        gid, frac, gf, lf, li, gi, r, not dusted, al[0], al[1], al[2], al_ratio, an
                    )
                    al = (a0, a1, a2)
                    nr_ = an
                    if gone:
                        sm[sa, _NTG] -= 1
                if t_pool > 0.0:
                    al, an = pool.allocate(
                        prule, ar, si, sf, sa, r, t_pool, t_before, ch_h, dusted, al, an
                    )
                if paired and an > nr_:
                    al_ratio = _grow(al_ratio, an)
                    al_ratio[nr_:an] = np.nan
                    nr_ = an
                if dusted:
                    dust += tau
                    tau = 0.0
                    clean_chain(ar, ch_h)
                if tau > 0.0:
                    hop = si[sa, _MINHOP] + 1
                    sf[sa, _TOUT] += tau
                if not (pool.holds(prule, si, sf, sa) or (paired and sm[sa, _NTG] > 0)):
                    # dormant: keep only the clean balance
                    pool.dormant(prule, ar, si, sf, sa)
                    si[sa, _FLAGS] &= ~_ACTIVE
            if not scan and (si[sa, _FLAGS] & _ACTIVE) != 0:
                nr = _next_rank(g, a, si[sa, _IN], si[sa, _OUT])
                if nr >= 0:
                    h_rank, h_slot, hn = _push(h_rank, h_slot, hn, nr, sa)
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
                if paired:
                    sm = _grow(sm, nslots + 1)
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
                if paired and not stopped_acc[b]:
                    (sm[sb, _IB], sm[sb, _OB], sm[sb, _GB], sm[sb, _NG], ef, ei, ne, gf, gi, ng) = (
                        paired_pool.open_account(
                            g,
                            src,
                            dst,
                            ts,
                            value,
                            b,
                            m_window,
                            m_cut,
                            m_over,
                            m_width,
                            ef,
                            ei,
                            ne,
                            gf,
                            gi,
                            ng,
                        )
                    )
                    sm[sb, _NTG] = 0
            if (si[sb, _FLAGS] & _STOPPED) == 0:
                if paired:
                    c, i, o, unexp = paired_pool.catch_up_match(
                        g,
                        value,
                        seeds,
                        b,
                        sf[sb, _CLEAN],
                        si[sb, _IN],
                        si[sb, _OUT],
                        r,
                        si[sb, _FIRST],
                        sm[sb, _IB],
                        sm[sb, _OB],
                        ef,
                        ei,
                        gf,
                        gi,
                    )
                else:
                    c, i, o, unexp = _catch_up(
                        g,
                        value,
                        seeds,
                        b,
                        sf[sb, _CLEAN],
                        si[sb, _IN],
                        si[sb, _OUT],
                        r,
                        si[sb, _FIRST],
                    )
                sf[sb, _UNEXP] += unexp
                si[sb, _IN] = i + 1  # edge r itself
                si[sb, _OUT] = o
                si[sb, _FLAGS] |= _ACTIVE
                deliver = True
                ar = pool.open_pool(prule, ar, si, sf, sb, c)

        if deliver:
            if tau > 0.0:
                sf[sb, _TIN] += tau
                if hop < si[sb, _MINHOP]:
                    si[sb, _MINHOP] = hop
            if paired:
                free_chain(ar, ch_h)
                k = sm[sb, _IB] + (si[sb, _IN] - 1 - rev_indptr[b])
                m, t, first, lf, li, nl = paired_pool.reserve_inflow(
                    k, r, v, tau, ef, ei, gf, gi, lf, li, nl
                )
                sm[sb, _NTG] += first
                ch_h, ar = _paired_chain(ar, m, t)
                ar = pool.deliver(prule, ar, si, sf, sb, m, t, ch_h, False, r)
            else:
                ar = pool.deliver(rule, ar, si, sf, sb, v, tau, ch_h, is_seed, r)
            ch_h = _NONE
            nr = -1 if scan else _next_rank(g, b, si[sb, _IN], si[sb, _OUT])
            if nr >= 0:
                h_rank, h_slot, hn = _push(h_rank, h_slot, hn, nr, sb)
        elif ch_h != _NONE:  # carried to no pool
            free_chain(ar, ch_h)

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
            if paired:
                _, _, _, unexp = paired_pool.catch_up_match(
                    g,
                    value,
                    seeds,
                    acc,
                    sf[s, _CLEAN],
                    si[s, _IN],
                    si[s, _OUT],
                    end_rank,
                    si[s, _FIRST],
                    sm[s, _IB],
                    sm[s, _OB],
                    ef,
                    ei,
                    gf,
                    gi,
                )
            else:
                _, _, _, unexp = _catch_up(
                    g,
                    value,
                    seeds,
                    acc,
                    sf[s, _CLEAN],
                    si[s, _IN],
                    si[s, _OUT],
                    end_rank,
                    si[s, _FIRST],
                )
            sf[s, _UNEXP] += unexp
        else:
            h_bal[s] = pool.balance(prule, ar, si, sf, s)
            if paired:
                h_bal[s] += paired_pool.group_taint(gf, sm[s, _GB], sm[s, _NG])
        slot_of[acc] = -1
    return (
        f_rank[:fn].copy(),
        f_tau[:fn].copy(),
        f_hop[:fn].copy(),
        si[:nslots, _ACC].copy(),
        sf[:nslots, _TIN].copy(),
        sf[:nslots, _TOUT].copy(),
        h_bal,
        sf[:nslots, _UNEXP].copy(),
        si[:nslots, _MINHOP].copy(),
        si[:nslots, _FIRST].copy(),
        h_stopped,
        dust,
        seed_value,
        al[0][:an].copy(),
        al[1][:an].copy(),
        al[2][:an].copy(),
        al_ratio[:an].copy() if paired else np.full(an, np.nan),
    )
