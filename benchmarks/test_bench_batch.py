"""A batch of many cases over the cached workspace, on 1 and 2 workers (local engine).

Each case is one seed transfer between two ordinary accounts, drawn with a fixed random seed
from the first ``SEED_WINDOW`` of the rows. The batch runs in a fresh interpreter so that its
peak resident memory (VmHWM) is its own; cases per second and the peak go to ``extra_info``.
No timed assertion.

Environment:
    TRACER_BENCH_CASES: cases in the batch (default 1000).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from benchmarks.common import Dump

SEED_WINDOW = 0.75  # as the trace benchmarks: seeds from the first 75% of the rows, by time
_RNG = 20_250_302

_CHILD = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path

    def peak():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024

    from tracer.batch import TraceOptions, run_batch

    ws, cases, out, workers, rule = sys.argv[1:6]
    start = time.perf_counter()
    report = run_batch(ws, cases, out, workers=int(workers), options=TraceOptions(rule=rule))
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak": peak(), "counts": report.meta["counts"],
                      "bytes": sum(p.stat().st_size for p in Path(out).iterdir())}))
    """
)


def bench_cases() -> int:
    raw = os.environ.get("TRACER_BENCH_CASES", "").strip()
    return int(raw) if raw else 1000


@pytest.fixture(scope="module")
def cases_file(workspace_path: Path, dump: Dump, tmp_path_factory) -> Path:
    n = bench_cases()
    window = max(int(dump.n_transfers * SEED_WINDOW), 1)
    candidates = (
        pl.scan_parquet(workspace_path / "transfers.parquet")
        .head(window)
        .filter(pl.col("src").str.starts_with("a") & pl.col("dst").str.starts_with("a"))
        .select("tx_id")
        .collect()
        .get_column("tx_id")
    )
    if candidates.len() == 0:
        pytest.skip("no transfer between ordinary accounts to seed a case from")
    picked = np.sort(np.random.default_rng(_RNG).choice(candidates.len(), min(n, candidates.len()),
                                                        replace=False))
    path = tmp_path_factory.mktemp("batch") / "cases.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case_id", "tx_id"])
        for i, tx in enumerate(candidates.gather(picked).to_list()):
            w.writerow([f"case{i:07d}", tx])
    return path


@pytest.mark.parametrize("workers", [1, 2])
def test_batch_cases_per_second(benchmark, workers: int, workspace, workspace_path: Path,
                                cases_file: Path, dump: Dump, tmp_path) -> None:
    from tracer.api import trace

    rule = "fifo"
    with cases_file.open() as f:
        first = next(csv.DictReader(f))["tx_id"]
    trace(workspace, tx_ids=[first], rule=rule)  # fill numba's on-disk cache for the child

    def child() -> dict:
        out = tmp_path / f"out{workers}"
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(workspace_path), str(cases_file), str(out),
             str(workers), rule],
            capture_output=True, text=True, check=False,
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    m = benchmark.pedantic(child, rounds=1, iterations=1)
    cases = m["counts"]["cases_done"]
    mib = 1 << 20
    benchmark.extra_info.update(
        n_transfers=dump.n_transfers,
        rule=rule,
        workers=workers,
        cases=cases,
        cases_ok=m["counts"]["cases_ok"],
        hubs=m["counts"]["hubs"],
        cases_per_second=cases / m["seconds"],
        peak_rss_mib=m["peak"] / mib,
        output_mib=m["bytes"] / mib,
    )
    print(f"\nbatch of {cases} {rule} cases at N={dump.n_transfers}, {workers} worker(s): "
          f"{cases / m['seconds']:.1f} cases/s, peak RSS {m['peak'] / mib:.0f} MiB, "
          f"output {m['bytes'] / mib:.1f} MiB")
