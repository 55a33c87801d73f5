"""Full traces: each of the six rules from the seed transfers, one seed per round, warm, with
the defaults an investigator starts from (stop at exchanges, no dust threshold, no hop limit);
plus haircut with a one-cent dust threshold, and the peak memory of one trace.

Rounds cycle over the seeds in order, so ``extra_info["per_seed_s"]`` is per seed and the
median and p95 are over seeds. Each result is checked (seed value; conservation for every rule
but poison). A rule whose traces are slow runs on fewer seeds, spread evenly in time over the
seed list (``_SEEDS``, overridden
by TRACER_BENCH_TRACE_SEEDS_<RULE>, e.g. TRACER_BENCH_TRACE_SEEDS_HAIRCUT=100); BENCHMARKS.md
says how many.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

from benchmarks.common import Dump, spread
from benchmarks.machine import available_bytes, run_child

RULES = ("match", "fifo", "lifo", "libr", "haircut", "poison")

# Seeds per rule: None means all of them (TRACER_BENCH_SEEDS, default 100); 0 skips the rule.
# Measured at 1M transfers: fifo, lifo and libr take ~1 ms a seed, poison ~0.5 s, haircut
# without dust 0.7 s (median; up to 5 s a seed: the taint spreads over most of the graph, and
# before a pool kept at most 16 lots it was 2.2 s, up to 28 s: work that grew with the square
# of an account's tainted inflows, see benchmarks/NOTES.md); at 10M 113 s a seed (median of
# 5 by hand, up to 123 s, peak 10.7 GiB), so 3 seeds there and none at 100M. Poison
# reaches most of the graph and writes a flow for most transfers: ~8 s a seed at 10M, ~130 s
# at 100M, so 3 seeds there.
_SEEDS_UP_TO_1M = {"haircut": 5}
_SEEDS_ABOVE_1M = {"haircut": 3, "poison": 20, "haircut_dust": 20}
_SEEDS_ABOVE_10M = {"haircut": 0, "poison": 3, "haircut_dust": 10}


def _n_seeds_for(rule_key: str, n_transfers: int, available: int) -> int:
    raw = os.environ.get(f"TRACER_BENCH_TRACE_SEEDS_{rule_key.upper()}", "").strip()
    if raw:
        return min(int(raw), available)
    table = (
        _SEEDS_UP_TO_1M
        if n_transfers <= 1_000_000
        else _SEEDS_ABOVE_1M
        if n_transfers <= 10_000_000
        else _SEEDS_ABOVE_10M
    )
    k = table.get(rule_key)
    return available if k is None else min(k, available)


def _check(result, amount: float, rule: str) -> None:
    assert result.seed_value > 0
    assert abs(result.seed_value - amount) <= 1e-9 * amount
    if rule != "poison":
        assert result.conserved, result.summary


def _scalars(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if isinstance(v, (bool, int, float, str))}


def _bench_trace(benchmark, workspace, seeds, dump: Dump, rule: str, key: str, **options):
    from tracer.api import trace

    k = _n_seeds_for(key, dump.n_transfers, len(seeds))
    if k == 0:
        pytest.skip(
            f"{key} not run at {dump.n_transfers:,} transfers by default (too slow); "
            f"set TRACER_BENCH_TRACE_SEEDS_{key.upper()} to run it"
        )
    use = spread(seeds, k)
    warm_tx, warm_amount = use[0]
    _check(trace(workspace, tx_ids=[warm_tx], rule=rule, **options), warm_amount, rule)

    cycle = itertools.cycle(use)
    summaries: list[dict] = []

    def next_seed():
        tx_id, amount = next(cycle)
        return (tx_id, amount), {}

    def one_trace(tx_id: str, amount: float):
        result = trace(workspace, tx_ids=[tx_id], rule=rule, **options)
        _check(result, amount, rule)
        summaries.append(result.summary)

    benchmark.pedantic(one_trace, setup=next_seed, rounds=len(use), iterations=1)
    data = np.array(benchmark.stats.stats.data)
    benchmark.extra_info.update(
        n_transfers=dump.n_transfers,
        rule=rule,
        options=options,
        n_seeds=len(use),
        n_seeds_available=len(seeds),
        p95_s=float(np.percentile(data, 95)),
        per_seed_s={tx: float(t) for (tx, _), t in zip(use, data, strict=False)},
        accounts_reached_median=float(np.median([s["accounts_reached"] for s in summaries])),
        flows_median=float(np.median([s["flows"] for s in summaries])),
        last_summary=_scalars(summaries[-1]),
    )


@pytest.mark.parametrize("rule", RULES)
def test_trace(benchmark, rule: str, workspace, seeds, dump: Dump) -> None:
    _bench_trace(benchmark, workspace, seeds, dump, rule, rule)


def test_trace_haircut_dust(benchmark, workspace, seeds, dump: Dump) -> None:
    # With a one-cent dust threshold, as an investigator would run haircut.
    _bench_trace(benchmark, workspace, seeds, dump, "haircut", "haircut_dust", min_amount=0.01)


# The hub (benchmarks.gen.hub): 40,001 transfers where H receives 20,000 tainted inflows and
# pays 20,000 outflows. Before haircut kept at most MAX_LOTS lots per pool, haircut recorded
# every lot for every outflow (20,000 x 20,000 allocations): killed at 24 GiB after 128 s.
HUB_K = 20_000


@pytest.fixture(scope="module")
def hub_workspace(tmp_path_factory):
    from benchmarks.gen import hub
    from tracer.ingest import ingest
    from tracer.workspace import Workspace

    folder = tmp_path_factory.mktemp("hub")
    ingest(folder / "ws", [hub(folder / "hub.csv", HUB_K)])
    return Workspace.open(folder / "ws")


_HUB_CHILD = """
from tracer.api import trace
from tracer.workspace import Workspace

ws = Workspace.open(sys.argv[1])
result = trace(ws, tx_ids=["s0"], rule=sys.argv[2])
out["flows"] = result.summary["flows"]
out["allocations"] = result.allocations.num_rows
"""


@pytest.mark.parametrize("rule", ("haircut", "fifo"))
def test_trace_haircut_hub(benchmark, rule: str, hub_workspace) -> None:
    """haircut (and fifo, for scale) from the seed of the hub; the peak memory of the same
    trace in a fresh process goes in ``extra_info``."""
    from tracer.api import trace

    result = trace(hub_workspace, tx_ids=["s0"], rule=rule)  # warm, and numba's cache filled
    _check(result, 1_000_000.0, rule)
    assert result.summary["flows"] == 2 * HUB_K + 1
    benchmark.pedantic(
        trace,
        args=(hub_workspace,),
        kwargs={"tx_ids": ["s0"], "rule": rule},
        rounds=5,
        iterations=1,
    )
    child = run_child(_HUB_CHILD, str(hub_workspace.path), rule)
    benchmark.extra_info.update(
        n_transfers=2 * HUB_K + 1,
        rule=rule,
        flows=child["flows"],
        allocations=child["allocations"],
        peak_rss_bytes=child["peak_rss"],
        child_wall_s=child["wall_s"],
    )


# Runs in a fresh interpreter: peak resident memory after imports, after opening the workspace,
# and after one trace.
_CHILD = """
from pathlib import Path
from tracer.api import trace
from tracer.workspace import Workspace

out["after_import"] = _peak()
ws = Workspace.open(Path(sys.argv[1]))
graph = ws.graph  # load (memory-map) the graph arrays before the trace
out["after_open"] = _peak()
stop_at = () if sys.argv[3] == "poison" else ("exchange",)
result = trace(ws, tx_ids=[sys.argv[2]], rule=sys.argv[3], stop_at=stop_at)
out["seed_value"] = result.seed_value
out["graph_nbytes"] = int(graph.nbytes)
out["n_edges"] = int(graph.n_edges)
"""


# Peak resident bytes per transfer of a poison trace with no stops from a seed that reaches
# most accounts, in a fresh process: 268 at 10M (2.5 GiB, 3.8M flows), 190 at 100M (19.0 GB,
# 67M flows, by hand: benchmarks/NOTES.md); mostly the flows table, a row per tainted transfer.
_POISON_BYTES_PER_TRANSFER = 270


@pytest.mark.parametrize("rule", ("match", "fifo", "poison"))
def test_trace_peak_memory(benchmark, rule: str, workspace, workspace_path, seeds, dump: Dump):
    """Peak RSS of one trace from the first seed in a fresh process (poison with no stops:
    tracer's reach, the largest trace). Skipped when it could not fit beside this process."""
    from tracer.api import trace

    need = _POISON_BYTES_PER_TRANSFER * dump.n_transfers if rule == "poison" else 0
    if need > 0.8 * (have := available_bytes()):
        pytest.skip(
            f"poison with no stops: needs ~{need / 2**30:.1f} GiB for "
            f"{dump.n_transfers:,} transfers, {have / 2**30:.1f} GiB available beside "
            "the benchmark session (measured by hand: benchmarks/NOTES.md)"
        )
    tx_id, amount = seeds[0]
    # Fill numba's on-disk cache here, so the child loads the kernels rather than compiling.
    trace(workspace, tx_ids=[tx_id], rule=rule)

    m = benchmark.pedantic(
        run_child, args=(_CHILD, str(workspace_path), tx_id, rule), rounds=1, iterations=1
    )
    assert abs(m["seed_value"] - amount) <= 1e-9 * amount
    mib = 1 << 20
    bytes_per_edge = m["graph_nbytes"] / m["n_edges"]
    benchmark.extra_info.update(
        n_transfers=dump.n_transfers,
        rule=rule,
        stop_at=[] if rule == "poison" else ["exchange"],
        peak_rss_bytes=m["peak_rss"],
        peak_rss_after_open_bytes=m["after_open"],
        peak_rss_after_import_bytes=m["after_import"],
        graph_nbytes=m["graph_nbytes"],
        graph_bytes_per_transfer=bytes_per_edge,
    )
    print(
        f"\n{rule} trace at N={dump.n_transfers}: peak RSS {m['peak_rss'] / mib:.0f} MiB "
        f"(after import {m['after_import'] / mib:.0f}, after open {m['after_open'] / mib:.0f}); "
        f"graph {m['graph_nbytes'] / mib:.0f} MiB, {bytes_per_edge:.1f} bytes per transfer"
    )
