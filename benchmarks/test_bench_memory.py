"""The physical limit: memory bandwidth of this machine, what one scan of the graph arrays costs
at that speed, and the graph's resident bytes per transfer (target: at most 48).

The timed call is a sum over a 1 GiB float64 array (one thread, streaming reads): its median
gives the read bandwidth. A copy of the same array (read + write) is recorded beside it.
BENCHMARKS.md reports tracer's reach and trace times as multiples of ``scan_s``.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import Dump

_NBYTES = 1 << 30


def _array_names() -> tuple[str, ...]:
    """The numeric graph arrays counted in ``Graph.nbytes``."""
    from tracer.graph import csr

    return tuple(getattr(csr, "_ARRAYS", ()))


def test_memory_bandwidth(benchmark, graph, dump: Dump) -> None:
    a = np.ones(_NBYTES // 8, dtype=np.float64)
    b = np.empty_like(a)
    np.copyto(b, a)  # touch every page before timing
    benchmark.pedantic(a.sum, rounds=7, iterations=1, warmup_rounds=1)
    copies = []
    for _ in range(5):
        t0 = time.perf_counter()
        np.copyto(b, a)
        copies.append(time.perf_counter() - t0)
    read_bw = a.nbytes / benchmark.stats.stats.median
    copy_bw = 2 * a.nbytes / float(np.median(copies))
    nbytes = int(graph.nbytes)
    benchmark.extra_info.update(
        n_transfers=dump.n_transfers,
        array_bytes=a.nbytes,
        read_bytes_per_s=read_bw,
        copy_bytes_per_s=copy_bw,
        graph_nbytes=nbytes,
        graph_n_edges=int(graph.n_edges),
        graph_n_accounts=int(graph.n_accounts),
        graph_bytes_per_transfer=nbytes / graph.n_edges,
        graph_arrays={
            name: {"dtype": str(arr.dtype), "nbytes": int(arr.nbytes)}
            for name in _array_names()
            if (arr := getattr(graph, name, None)) is not None
        },
        scan_s=nbytes / read_bw,
    )
    print(
        f"\nread {read_bw / 1e9:.1f} GB/s, copy {copy_bw / 1e9:.1f} GB/s; graph "
        f"{nbytes / graph.n_edges:.1f} bytes per transfer, one scan {nbytes / read_bw * 1e3:.1f} ms"
    )
