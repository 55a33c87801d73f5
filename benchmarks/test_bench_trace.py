"""Warm single-seed traces over the cached workspace, and the peak memory of one trace.

Each timed benchmark runs one trace per round, cycling over ``N_SEEDS`` seed transfers, so the
median is a median over seeds. The JIT is warmed (and numba's on-disk cache filled) first.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmarks.common import Dump

RULES = ("fifo", "haircut")

# Runs in a fresh interpreter: peak resident memory after imports, after opening the workspace,
# and after one trace. Prints one JSON line. The peak is VmHWM (this process's own high-water
# mark); ru_maxrss is no good here, because Linux carries it over from the parent across fork
# and exec, so a child of a big pytest process would report the parent's size.
_CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    def peak():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024

    from tracer.api import trace
    from tracer.workspace import Workspace

    after_import = peak()
    ws = Workspace.open(Path(sys.argv[1]))
    graph = ws.graph  # load (memory-map) the graph arrays before the trace
    after_open = peak()
    result = trace(ws, tx_ids=[sys.argv[2]], rule=sys.argv[3])
    after_trace = peak()
    print(json.dumps({
        "after_import": after_import,
        "after_open": after_open,
        "after_trace": after_trace,
        "seed_value": result.seed_value,
        "graph_nbytes": int(graph.nbytes),
        "n_edges": int(graph.n_edges),
    }))
    """
)


def _check(result, amount: float) -> None:
    assert result.seed_value > 0
    assert abs(result.seed_value - amount) <= 1e-9 * amount


def _scalars(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if isinstance(v, (bool, int, float, str))}


def _bench_trace(
    benchmark, workspace, seeds: list[tuple[str, float]], dump: Dump, rule: str, **options
) -> None:
    from tracer.api import trace

    warm_tx, warm_amount = seeds[-1]
    _check(trace(workspace, tx_ids=[warm_tx], rule=rule, **options), warm_amount)

    cycle = itertools.cycle(seeds)
    last = []

    def next_seed():
        tx_id, amount = next(cycle)
        return (tx_id, amount), {}

    def one_trace(tx_id: str, amount: float):
        result = trace(workspace, tx_ids=[tx_id], rule=rule, **options)
        _check(result, amount)
        last[:] = [result]

    benchmark.pedantic(one_trace, setup=next_seed, rounds=len(seeds), iterations=1)
    benchmark.extra_info.update(
        n_transfers=dump.n_transfers,
        rule=rule,
        options=options,
        n_seeds=len(seeds),
        last_summary=_scalars(last[0].summary),
    )


def test_trace_fifo(benchmark, workspace, seeds, dump: Dump) -> None:
    _bench_trace(benchmark, workspace, seeds, dump, "fifo")


def test_trace_haircut(benchmark, workspace, seeds, dump: Dump) -> None:
    # No dust threshold: pro rata taint spreads to a large part of the graph (the worst case).
    _bench_trace(benchmark, workspace, seeds, dump, "haircut")


def test_trace_haircut_dust(benchmark, workspace, seeds, dump: Dump) -> None:
    # With a one-cent dust threshold, as an investigator would run it.
    _bench_trace(benchmark, workspace, seeds, dump, "haircut", min_amount=0.01)


@pytest.mark.parametrize("rule", RULES)
def test_trace_peak_memory(
    benchmark, rule: str, workspace, workspace_path: Path, seeds, dump: Dump
):
    from tracer.api import trace

    tx_id, amount = seeds[0]
    # Fill numba's on-disk cache here, so the child loads the kernels rather than compiling.
    _check(trace(workspace, tx_ids=[tx_id], rule=rule), amount)

    def child() -> dict:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(workspace_path), tx_id, rule],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    m = benchmark.pedantic(child, rounds=1, iterations=1)
    assert abs(m["seed_value"] - amount) <= 1e-9 * amount
    mib = 1 << 20
    bytes_per_edge = m["graph_nbytes"] / m["n_edges"]
    benchmark.extra_info.update(
        n_transfers=dump.n_transfers,
        rule=rule,
        peak_rss_mib=m["after_trace"] / mib,
        peak_rss_after_open_mib=m["after_open"] / mib,
        peak_rss_after_import_mib=m["after_import"] / mib,
        trace_rss_increase_mib=(m["after_trace"] - m["after_open"]) / mib,
        graph_nbytes=m["graph_nbytes"],
        graph_bytes_per_transfer=bytes_per_edge,
    )
    print(
        f"\n{rule} trace at N={dump.n_transfers}: peak RSS {m['after_trace'] / mib:.0f} MiB "
        f"(after import {m['after_import'] / mib:.0f}, after open {m['after_open'] / mib:.0f}); "
        f"graph {m['graph_nbytes'] / mib:.0f} MiB, {bytes_per_edge:.1f} bytes per transfer"
    )
