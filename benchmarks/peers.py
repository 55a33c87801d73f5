"""Reach implementations compared with tracer: a minimal numba floor, and the graph libraries
an investigator would otherwise use (raphtory, networkx, networkit, igraph).

Time in every temporal peer is the edge's **rank** in tracer's replay order (ts, seq, tx_id),
not its timestamp. Ranks are distinct, so "strictly later" and "later or equal" coincide and
ties in ``ts`` are broken exactly as tracer breaks them: a transfer at the same timestamp as
an arrival but earlier in replay order does not carry taint, one later in replay order does.
With raw timestamps a strict search (raphtory: ``t_1 > start_time``, ``t_i < t_i+1``) would
drop a same-timestamp transfer that tracer replays after the arrival, and a non-strict one
would take a same-timestamp transfer that tracer replays before it.

Reach from seed transfer ``r`` (edge rank) is the set of accounts reachable from ``dst[r]``
by a path of edges with strictly increasing ranks, the first one greater than ``r``, with
``dst[r]`` itself included. That is exactly the holdings of tracer's poison trace from ``r``
with no stops (taint only moves forward in replay order; every transfer has value > 0 here).

Peers are imported lazily: each is a benchmark-only extra (``pip install tracer[bench]``).
"""

from __future__ import annotations

import heapq
from bisect import bisect_right

import numpy as np
from numba import njit

__all__ = [
    "Floor",
    "NetworkxReach",
    "RaphtoryReach",
    "ScanFloor",
    "StaticIgraph",
    "StaticNetworkit",
    "csr_by_src_rank",
    "static_pairs",
    "reach_ids",
    "tracer_reach",
    "tracer_reach_call",
    "tracer_reach_via",
]

_INF = np.iinfo(np.int64).max


# ---------------------------------------------------------------- tracer's reach


def tracer_reach_via() -> str:
    """How ``tracer_reach_call`` calls tracer."""
    import tracer.api as api

    if hasattr(api, "reach"):
        return "tracer.api.reach(ws, tx_ids=[seed])"
    return "tracer.api.trace(ws, tx_ids=[seed], rule='poison', stop_at=())"


def tracer_reach_call(ws, tx_id: str):
    """tracer's temporal reach from one seed transfer (the timed call): ``tracer.api.reach``
    if the package has one, else the poison rule with no stops, whose holdings are the accounts
    reachable by time-respecting paths. Returns a table with an ``account`` column."""
    import tracer.api as api

    if hasattr(api, "reach"):
        return api.reach(ws, tx_ids=[tx_id])
    return api.trace(ws, tx_ids=[tx_id], rule="poison", stop_at=()).holdings


def reach_ids(ws, table) -> np.ndarray:
    """Sorted account ids of the ``account`` column of a reach or holdings table (a hash
    look-up in the workspace's account strings; not timed)."""
    import pyarrow.compute as pc

    accounts = ws.graph.accounts
    names = table["account"].cast(accounts.type)
    ids = pc.index_in(names, value_set=accounts)
    if ids.null_count:
        raise AssertionError("tracer returned an account that is not in the workspace")
    return np.sort(ids.to_numpy(zero_copy_only=False).astype(np.int64))


def tracer_reach(ws, tx_id: str) -> np.ndarray:
    """Sorted account ids of tracer's reach from one seed transfer."""
    return reach_ids(ws, tracer_reach_call(ws, tx_id))


# ---------------------------------------------------------------- the numba floor


def csr_by_src_rank(src: np.ndarray, dst: np.ndarray, n_accounts: int):
    """CSR of the edges by (src, rank): ``indptr``, and per slot the edge's ``dst`` (int32) and
    ``rank`` (int32 when it fits). Edges come in rank order, so a stable sort by src keeps
    each account's out-edges in rank order."""
    src = np.asarray(src)
    order = np.argsort(src, kind="stable")
    counts = np.bincount(src, minlength=n_accounts)
    indptr = np.zeros(n_accounts + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    rank_t = np.int32 if src.shape[0] < 2**31 - 1 else np.int64
    return indptr, np.asarray(dst)[order].astype(np.int32), order.astype(rank_t)


@njit(cache=True, nogil=True)
def _earliest_arrival(indptr, nbr, rank, start, t0, arr, touched, heap_t, heap_v):
    """Label-setting earliest arrival from ``start`` at rank ``t0``: every account reachable
    by edges of strictly increasing rank > t0. ``arr``: int64 per account, all INF (restored
    before returning). ``touched``: int32 per account. ``heap_t``/``heap_v``: work buffers, at
    least as long as the number of edges + 1. Returns the number of accounts reached; their
    ids are ``touched[:n]``."""
    inf = np.iinfo(np.int64).max
    n = 0
    arr[start] = t0
    touched[n] = start
    n += 1
    hn = 0
    heap_t[0] = t0
    heap_v[0] = start
    hn = 1
    while hn > 0:
        t = heap_t[0]
        u = heap_v[0]
        # pop
        hn -= 1
        if hn > 0:
            lt = heap_t[hn]
            lv = heap_v[hn]
            i = 0
            while True:
                c = 2 * i + 1
                if c >= hn:
                    break
                if c + 1 < hn and heap_t[c + 1] < heap_t[c]:
                    c += 1
                if lt <= heap_t[c]:
                    break
                heap_t[i] = heap_t[c]
                heap_v[i] = heap_v[c]
                i = c
            heap_t[i] = lt
            heap_v[i] = lv
        if t > arr[u]:
            continue  # stale
        lo = indptr[u]
        hi = indptr[u + 1]
        # first out-edge with rank > t
        a = lo
        b = hi
        while a < b:
            m = (a + b) >> 1
            if rank[m] <= t:
                a = m + 1
            else:
                b = m
        for k in range(a, hi):
            v = nbr[k]
            r = np.int64(rank[k])
            av = arr[v]
            if r < av:
                if av == inf:
                    touched[n] = v
                    n += 1
                arr[v] = r
                # push
                i = hn
                hn += 1
                while i > 0:
                    p = (i - 1) >> 1
                    if heap_t[p] <= r:
                        break
                    heap_t[i] = heap_t[p]
                    heap_v[i] = heap_v[p]
                    i = p
                heap_t[i] = r
                heap_v[i] = v
    for j in range(n):
        arr[touched[j]] = inf
    return n


class Floor:
    """The floor for this work in this language: a minimal numba earliest-arrival search over
    a CSR by (src, rank), work buffers allocated once and reused across seeds."""

    name = "numba floor"

    def __init__(self, src: np.ndarray, dst: np.ndarray, n_accounts: int) -> None:
        self.indptr, self.nbr, self.rank = csr_by_src_rank(src, dst, n_accounts)
        self.dst = np.asarray(dst)
        self.arr = np.full(n_accounts, _INF, dtype=np.int64)
        self.touched = np.empty(n_accounts, dtype=np.int32)
        n_heap = self.nbr.shape[0] + 1
        self.heap_t = np.empty(n_heap, dtype=np.int64)
        self.heap_v = np.empty(n_heap, dtype=np.int32)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.indptr, self.nbr, self.rank))

    def count(self, seed_rank: int) -> int:
        """Number of accounts reached (the timed call: no copy of the set)."""
        return _earliest_arrival(
            self.indptr,
            self.nbr,
            self.rank,
            int(self.dst[seed_rank]),
            seed_rank,
            self.arr,
            self.touched,
            self.heap_t,
            self.heap_v,
        )

    def reach(self, seed_rank: int) -> np.ndarray:
        n = self.count(seed_rank)
        return np.sort(self.touched[:n].astype(np.int64))


@njit(cache=True, nogil=True)
def _scan_reach(src, dst, r0, start, reached):
    """One pass over the edges in rank order after ``r0``: an edge carries if its sender is
    reached. ``reached``: uint8 per account, all 0 (restored before returning). Returns the
    number of accounts reached."""
    reached[start] = 1
    n = 1
    for e in range(r0 + 1, src.shape[0]):
        if reached[src[e]] != 0:
            d = dst[e]
            if reached[d] == 0:
                reached[d] = 1
                n += 1
    return n


class ScanFloor:
    """Another floor, of the physical kind: one sequential pass over the (src, dst) arrays in
    replay order from the seed on, with a byte per account. It reads every later edge, so it
    costs about one scan of 8 bytes per transfer whatever the reach; it wins when the reach is
    a large part of the graph (as here), label-setting wins when it is small."""

    name = "numba scan"

    def __init__(self, src: np.ndarray, dst: np.ndarray, n_accounts: int) -> None:
        self.src = np.ascontiguousarray(src)
        self.dst = np.ascontiguousarray(dst)
        self.reached = np.zeros(n_accounts, dtype=np.uint8)

    def count(self, seed_rank: int) -> int:
        n = _scan_reach(self.src, self.dst, seed_rank, int(self.dst[seed_rank]), self.reached)
        self.reached[:] = 0
        return n

    def reach(self, seed_rank: int) -> np.ndarray:
        _scan_reach(self.src, self.dst, seed_rank, int(self.dst[seed_rank]), self.reached)
        out = np.flatnonzero(self.reached).astype(np.int64)
        self.reached[:] = 0
        return out


# ---------------------------------------------------------------- networkx


class NetworkxReach:
    """A networkx DiGraph with, per account pair, the sorted ranks of its transfers; reach by
    a label-setting earliest-arrival search (heapq + bisect) over ``G.adj``."""

    name = "networkx"

    def __init__(self, src: np.ndarray, dst: np.ndarray) -> None:
        import networkx as nx

        src = np.asarray(src, dtype=np.int64)
        dst = np.asarray(dst, dtype=np.int64)
        # Group edges by (src, dst), ranks ascending within a pair.
        order = np.lexsort((dst, src))
        s, d = src[order], dst[order]
        starts = np.flatnonzero(np.r_[True, (s[1:] != s[:-1]) | (d[1:] != d[:-1])])
        ranks = order.tolist()
        bounds = starts.tolist() + [order.shape[0]]
        g = nx.DiGraph()
        g.add_edges_from(
            (a, b, {"t": ranks[lo:hi]})  # lexsort is stable: ranks ascending within a pair
            for a, b, lo, hi in zip(
                s[starts].tolist(), d[starts].tolist(), bounds[:-1], bounds[1:], strict=True
            )
        )
        self.graph = g
        self.dst = dst

    def reach(self, seed_rank: int) -> np.ndarray:
        adj = self.graph.adj
        start = int(self.dst[seed_rank])
        arr = {start: seed_rank}
        heap = [(seed_rank, start)]
        inf = _INF
        while heap:
            t, u = heapq.heappop(heap)
            if t > arr[u]:
                continue
            if u not in adj:
                continue
            for v, data in adj[u].items():
                times = data["t"]
                i = bisect_right(times, t)
                if i < len(times):
                    r = times[i]
                    if r < arr.get(v, inf):
                        arr[v] = r
                        heapq.heappush(heap, (r, v))
        return np.sort(np.fromiter(arr.keys(), dtype=np.int64, count=len(arr)))


# ---------------------------------------------------------------- raphtory


class RaphtoryReach:
    """A raphtory Graph loaded from Arrow (node ids = account ids, time = rank); reach by
    ``raphtory.algorithms.temporally_reachable_nodes`` from ``dst[r]`` at start time ``r``."""

    name = "raphtory"

    def __init__(self, src: np.ndarray, dst: np.ndarray, n_accounts: int) -> None:
        import pyarrow as pa
        import raphtory

        n = np.asarray(src).shape[0]
        table = pa.table(
            {
                "t": pa.array(np.arange(n, dtype=np.int64)),
                "src": pa.array(np.asarray(src, dtype=np.int64)),
                "dst": pa.array(np.asarray(dst, dtype=np.int64)),
            }
        )
        g = raphtory.Graph()
        g.load_edges(table, time="t", src="src", dst="dst")
        self.graph = g
        self.dst = np.asarray(dst)
        # An earliest-arrival path need not visit an account twice, so n_accounts hops reach
        # everything; the algorithm stops earlier once no message is sent.
        self.max_hops = int(n_accounts)

    def run(self, seed_rank: int):
        """The timed call: the algorithm's result state, not converted to Python."""
        from raphtory import algorithms

        start = int(self.dst[seed_rank])
        return algorithms.temporally_reachable_nodes(self.graph, self.max_hops, seed_rank, [start])

    def reach(self, seed_rank: int) -> np.ndarray:
        return self.reach_of(seed_rank, self.run(seed_rank))

    def reach_of(self, seed_rank: int, state) -> np.ndarray:
        """The reached set in the result ``state`` of ``run(seed_rank)``."""
        import os
        import tempfile

        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        # Through Parquet: iterating the state's items in Python takes ~100x longer.
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "state.parquet")
            state.to_parquet(path, "id")
            table = pq.read_table(path)
        got = pc.greater(pc.list_value_length(table["reachable_nodes"]), 0)
        ids = table["id"].filter(got).cast("int64").to_numpy()
        # The start account holds the taint from the seed transfer on; raphtory lists it only
        # when a path comes back to it.
        return np.union1d(ids, [int(self.dst[seed_rank])]).astype(np.int64)


# ---------------------------------------------------------------- static reach (no time)


def static_pairs(src: np.ndarray, dst: np.ndarray, n_accounts: int):
    """Distinct (src, dst) pairs: the static graph a library builds once time is dropped."""
    key = np.unique(np.asarray(src, np.int64) * n_accounts + np.asarray(dst, np.int64))
    return key // n_accounts, key % n_accounts


class StaticNetworkit:
    """networkit: BFS from ``dst[r]`` over the static graph (every transfer, at any time)."""

    name = "networkit"

    def __init__(self, src: np.ndarray, dst: np.ndarray, n_accounts: int) -> None:
        import networkit as nk

        nk.setNumberOfThreads(1)
        s, d = static_pairs(src, dst, n_accounts)
        self.graph = nk.GraphFromCoo(
            (s.astype(np.uint64), d.astype(np.uint64)), n=n_accounts, directed=True
        )
        self.dst = np.asarray(dst)

    def run(self, seed_rank: int):
        import networkit as nk

        bfs = nk.distance.BFS(
            self.graph, int(self.dst[seed_rank]), storePaths=False, storeNodesSortedByDistance=True
        )
        bfs.run()
        return bfs.getNodesSortedByDistance()

    def reach(self, seed_rank: int) -> np.ndarray:
        return np.sort(np.asarray(self.run(seed_rank), dtype=np.int64))


class StaticIgraph:
    """igraph: ``subcomponent(mode="out")`` from ``dst[r]`` over the static graph."""

    name = "igraph"

    def __init__(self, src: np.ndarray, dst: np.ndarray, n_accounts: int) -> None:
        import igraph as ig

        s, d = static_pairs(src, dst, n_accounts)
        self.graph = ig.Graph(n=n_accounts, edges=np.column_stack((s, d)), directed=True)
        self.dst = np.asarray(dst)

    def run(self, seed_rank: int):
        return self.graph.subcomponent(int(self.dst[seed_rank]), mode="out")

    def reach(self, seed_rank: int) -> np.ndarray:
        return np.sort(np.asarray(self.run(seed_rank), dtype=np.int64))
