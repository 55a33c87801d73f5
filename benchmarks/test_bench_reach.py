"""Temporal reach: which accounts can the money from one seed transfer reach, time-respecting.

tracer (``tracer.api.reach``; on a tracer without it, its poison rule with no stops: see
``peers.tracer_reach_call``) against:

- a minimal numba earliest-arrival kernel written here (``peers.Floor``): the floor for this
  work in this language; and a one-pass scan of the edges in replay order (``peers.ScanFloor``),
  the physical floor when the reach covers much of the graph;
- ``networkx``: a label-setting earliest-arrival search over a DiGraph (``peers.NetworkxReach``);
- ``raphtory``: ``algorithms.temporally_reachable_nodes`` (``peers.RaphtoryReach``);
- static reach (plain BFS, time ignored) in ``networkit`` and ``igraph``: the floor of what a
  graph library does without time. Their sets are larger; they must equal a scipy BFS and
  contain tracer's.

Every peer's reached sets are compared with tracer's on its seeds: before timing for the fast
peers, on the timed runs' own results for the slow ones (networkx, raphtory); a mismatch fails
the benchmark. Time is the rank in replay order (``peers`` explains why). Rounds cycle over the
seeds in order, one reach per round, so ``extra_info["per_seed_s"]`` is per seed rank and
ratios can be taken on the same seeds.

Environment: TRACER_BENCH_REACH_SEEDS (default 20 up to 1M transfers, else 10),
TRACER_BENCH_NX_SEEDS (default 20 up to 1M transfers, else 5), TRACER_BENCH_SLOW_SEEDS (raphtory,
default 3).
"""

from __future__ import annotations

import gc
import os
import time

import numpy as np
import pytest

from benchmarks import peers
from benchmarks.common import Dump, spread
from benchmarks.machine import available_bytes

# Peak resident bytes per transfer of each peer (graph plus one search), measured at 1M
# transfers (rounded up), to skip a peer that cannot fit rather than be killed. raphtory's
# graph takes ~350 bytes per transfer, but one temporally_reachable_nodes run from a seed that
# reaches most accounts peaks at ~2,600 (it keeps every taint message, with the sender's name,
# per node): at 10M that is ~26 GB, and a run there was OOM-killed at 23.8 GB.
_BYTES_PER_EDGE = {"networkx": 700, "raphtory": 2600, "networkit": 64, "igraph": 96, "floor": 16}

_EXPECTED: dict[int, np.ndarray] = {}  # tracer's reached account ids per seed rank
_TX_OF: dict[int, str] = {}  # tx_id per seed rank


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _n_reach() -> int:
    from benchmarks.conftest import bench_n

    return _env_int("TRACER_BENCH_REACH_SEEDS", 20 if bench_n() <= 1_000_000 else 10)


def _fits(name: str, n_edges: int) -> None:
    need = _BYTES_PER_EDGE[name] * n_edges
    have = available_bytes()
    if need > 0.8 * have:
        pytest.skip(
            f"{name}: needs ~{need / 2**30:.1f} GiB for {n_edges:,} transfers, "
            f"{have / 2**30:.1f} GiB available"
        )


@pytest.fixture(scope="module")
def reach_seeds(seeds, seed_ranks) -> list[tuple[str, int]]:
    """(tx_id, rank) of ``TRACER_BENCH_REACH_SEEDS`` of the seeds, evenly spread in time."""
    pairs = [(tx, r) for (tx, _), r in zip(seeds, seed_ranks, strict=True)]
    _TX_OF.update({r: tx for tx, r in pairs})
    return spread(pairs, _n_reach())


@pytest.fixture(scope="module")
def expected(workspace, reach_seeds):
    """tracer's reached set per seed rank, filled by ``test_reach_tracer`` (or here)."""
    for tx, r in reach_seeds:
        if r not in _EXPECTED:
            _EXPECTED[r] = peers.tracer_reach(workspace, tx)
    return _EXPECTED


def _cycle_setup(ranks: list[int]):
    state = {"i": 0}

    def setup():
        r = ranks[state["i"] % len(ranks)]
        state["i"] += 1
        return (r,), {}

    return setup


def _per_seed(benchmark, ranks: list[int]) -> dict[str, float]:
    data = list(benchmark.stats.stats.data)
    return {str(r): t for r, t in zip(ranks, data, strict=False)}


def _mismatch(name: str, rank: int, got: np.ndarray, want: np.ndarray) -> str:
    extra = np.setdiff1d(got, want)[:5].tolist()
    missing = np.setdiff1d(want, got)[:5].tolist()
    return (
        f"{name} disagrees with tracer on seed rank {rank}: {got.shape[0]} accounts "
        f"reached vs {want.shape[0]}; extra {extra}, missing {missing}"
    )


def _record(benchmark, dump: Dump, name: str, ranks, sizes, build_s, extra=None) -> None:
    benchmark.extra_info.update(
        n_transfers=dump.n_transfers,
        peer=name,
        n_seeds=len(ranks),
        seed_ranks=list(ranks),
        seed_tx=[_TX_OF.get(r) for r in ranks],
        per_seed_s=_per_seed(benchmark, ranks),
        reached=[int(s) for s in sizes],
        build_s=build_s,
        **(extra or {}),
    )


# ---------------------------------------------------------------- tracer


def test_reach_tracer(benchmark, workspace, graph, reach_seeds, dump: Dump) -> None:
    """Times the API call alone; its table is turned into account ids after the round."""
    tx_of = {r: tx for tx, r in reach_seeds}
    ranks = [r for _, r in reach_seeds]
    peers.tracer_reach(workspace, reach_seeds[0][0])  # warm: load the kernels
    tables: dict[int, object] = {}

    def one(rank: int):
        tables[rank] = peers.tracer_reach_call(workspace, tx_of[rank])

    benchmark.pedantic(one, setup=_cycle_setup(ranks), rounds=len(ranks), iterations=1)
    for r in ranks:
        _EXPECTED[r] = peers.reach_ids(workspace, tables.pop(r))
    _record(
        benchmark,
        dump,
        "tracer",
        ranks,
        [_EXPECTED[r].shape[0] for r in ranks],
        0.0,
        {"via": peers.tracer_reach_via(), "graph_nbytes": int(graph.nbytes)},
    )


# ---------------------------------------------------------------- the numba floor


def test_reach_floor(benchmark, graph, reach_seeds, expected, dump: Dump) -> None:
    _fits("floor", graph.n_edges)
    t0 = time.perf_counter()
    floor = peers.Floor(graph.src, graph.dst, graph.n_accounts)
    build_s = time.perf_counter() - t0
    ranks = [r for _, r in reach_seeds]
    for r in ranks:  # also compiles the kernel
        got = floor.reach(r)
        assert np.array_equal(got, expected[r]), _mismatch("numba floor", r, got, expected[r])
    benchmark.pedantic(floor.count, setup=_cycle_setup(ranks), rounds=len(ranks), iterations=1)
    _record(
        benchmark,
        dump,
        "numba floor",
        ranks,
        [expected[r].shape[0] for r in ranks],
        build_s,
        {"csr_nbytes": floor.nbytes},
    )


def test_reach_scan(benchmark, graph, reach_seeds, expected, dump: Dump) -> None:
    _fits("floor", graph.n_edges)
    t0 = time.perf_counter()
    scan = peers.ScanFloor(graph.src, graph.dst, graph.n_accounts)
    build_s = time.perf_counter() - t0
    ranks = [r for _, r in reach_seeds]
    for r in ranks:
        got = scan.reach(r)
        assert np.array_equal(got, expected[r]), _mismatch("numba scan", r, got, expected[r])
    benchmark.pedantic(scan.count, setup=_cycle_setup(ranks), rounds=len(ranks), iterations=1)
    _record(benchmark, dump, "numba scan", ranks, [expected[r].shape[0] for r in ranks], build_s)


# ---------------------------------------------------------------- slow temporal peers


def _slow_peer(benchmark, name: str, build, run, to_set, ranks, expected, dump: Dump) -> None:
    """Build, then time ``run`` per seed. Each timed result is converted to a set (untimed, in
    the next round's setup) and compared with tracer's; a disagreement fails the benchmark
    after the timings and the disagreement are recorded, so BENCHMARKS.md can show both."""
    gc.collect()
    t0 = time.perf_counter()
    peer = build()
    build_s = time.perf_counter() - t0
    pending: list[tuple[int, object]] = []
    checked: dict[int, int] = {}
    mismatches: list[dict] = []
    state = {"i": 0}

    def check_pending():
        while pending:
            r, out = pending.pop()
            got = to_set(peer, r, out)
            checked[r] = got.shape[0]
            if not np.array_equal(got, expected[r]):
                mismatches.append(
                    {
                        "seed_rank": r,
                        "reached": int(got.shape[0]),
                        "tracer_reached": int(expected[r].shape[0]),
                        "missing": np.setdiff1d(expected[r], got).tolist()[:20],
                        "n_missing": int(np.setdiff1d(expected[r], got).shape[0]),
                        "extra": np.setdiff1d(got, expected[r]).tolist()[:20],
                        "n_extra": int(np.setdiff1d(got, expected[r]).shape[0]),
                        "message": _mismatch(name, r, got, expected[r]),
                    }
                )

    def setup():
        check_pending()
        r = ranks[state["i"] % len(ranks)]
        state["i"] += 1
        return (r,), {}

    def timed(r: int):
        pending.append((r, run(peer, r)))

    benchmark.pedantic(timed, setup=setup, rounds=len(ranks), iterations=1)
    check_pending()
    _record(
        benchmark,
        dump,
        name,
        ranks,
        [checked[r] for r in ranks],
        build_s,
        {"checked": "timed results", "mismatches": mismatches},
    )
    assert not mismatches, "; ".join(m["message"] for m in mismatches)


def test_reach_networkx(benchmark, graph, reach_seeds, expected, dump: Dump) -> None:
    pytest.importorskip("networkx")
    _fits("networkx", graph.n_edges)
    k = _env_int("TRACER_BENCH_NX_SEEDS", 20 if graph.n_edges <= 1_000_000 else 5)
    ranks = spread([r for _, r in reach_seeds], k)
    _slow_peer(
        benchmark,
        "networkx",
        lambda: peers.NetworkxReach(graph.src, graph.dst),
        lambda p, r: p.reach(r),
        lambda p, r, out: out,
        ranks,
        expected,
        dump,
    )


def test_reach_raphtory(benchmark, graph, reach_seeds, expected, dump: Dump) -> None:
    pytest.importorskip("raphtory")
    _fits("raphtory", graph.n_edges)
    k = _env_int("TRACER_BENCH_SLOW_SEEDS", 3)
    ranks = spread([r for _, r in reach_seeds], k)
    os.environ.setdefault("TQDM_DISABLE", "1")
    _slow_peer(
        benchmark,
        "raphtory",
        lambda: peers.RaphtoryReach(graph.src, graph.dst, graph.n_accounts),
        lambda p, r: p.run(r),
        lambda p, r, out: p.reach_of(r, out),
        ranks,
        expected,
        dump,
    )


# ---------------------------------------------------------------- static reach (no time)


@pytest.fixture(scope="module")
def static_expected(graph, reach_seeds) -> dict[int, np.ndarray]:
    """Static reach by scipy's BFS over the distinct (src, dst) pairs, per seed rank."""
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import breadth_first_order

    s, d = peers.static_pairs(graph.src, graph.dst, graph.n_accounts)
    m = csr_array(
        (np.ones(s.shape[0], np.int8), (s, d)), shape=(graph.n_accounts, graph.n_accounts)
    )
    dst = np.asarray(graph.dst)
    return {
        r: np.sort(
            breadth_first_order(m, int(dst[r]), directed=True, return_predecessors=False).astype(
                np.int64
            )
        )
        for _, r in reach_seeds
    }


@pytest.mark.parametrize("name", ["networkit", "igraph"])
def test_static_reach(
    benchmark, name: str, graph, reach_seeds, expected, static_expected, dump: Dump
) -> None:
    pytest.importorskip(name)
    _fits(name, graph.n_edges)
    cls = peers.StaticNetworkit if name == "networkit" else peers.StaticIgraph
    t0 = time.perf_counter()
    peer = cls(graph.src, graph.dst, graph.n_accounts)
    build_s = time.perf_counter() - t0
    ranks = [r for _, r in reach_seeds]
    for r in ranks:
        got = peer.reach(r)
        want = static_expected[r]
        assert np.array_equal(got, want), (
            f"{name} static reach disagrees with scipy BFS on seed rank {r}: "
            f"{got.shape[0]} vs {want.shape[0]}"
        )
        assert np.isin(expected[r], got).all(), (
            f"tracer reached accounts that {name}'s static reach does not (seed rank {r})"
        )
    benchmark.pedantic(peer.run, setup=_cycle_setup(ranks), rounds=len(ranks), iterations=1)
    _record(
        benchmark,
        dump,
        name,
        ranks,
        [static_expected[r].shape[0] for r in ranks],
        build_s,
        {"static": True},
    )
