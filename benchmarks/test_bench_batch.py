"""A batch of many cases over the cached workspace: the local engine on 1 and 2 workers, and
``--engine ray`` on a Ray started by the batch with 2 CPUs (its start and stop included).

Each case is one seed transfer between two ordinary accounts, drawn with a fixed random seed
from the first ``SEED_WINDOW`` of the rows. The batch runs in a fresh interpreter so that its
peak resident memory (VmHWM) is its own; cases per second and the peak go to ``extra_info``;
for Ray also the seconds of its start (the driver traces meanwhile), of its run (the start,
actors started, cases traced) and of its shutdown, and its wall against the local engine's:
the ratio and the seconds beyond it per case.
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

    from tracer import batch

    phases = {}

    def timed(name, f):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return f(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - t
        return wrapper

    ws, cases, out, workers, rule, engine = sys.argv[1:7]
    batch._run_local = timed("run", batch._run_local)
    if engine == "ray":
        import ray
        from tracer import ray_engine

        ray_engine.start = timed("ray_start", ray_engine.start)
        ray_engine.run = timed("run", ray_engine.run)
        ray.shutdown = timed("ray_stop", ray.shutdown)
    start = time.perf_counter()
    report = batch.run_batch(ws, cases, out, workers=int(workers), engine=engine,
                             options=batch.TraceOptions(rule=rule))
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "phases": phases, "peak": peak(),
                      "counts": report.meta["counts"],
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
    picked = np.sort(
        np.random.default_rng(_RNG).choice(
            candidates.len(), min(n, candidates.len()), replace=False
        )
    )
    path = tmp_path_factory.mktemp("batch") / "cases.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case_id", "tx_id"])
        for i, tx in enumerate(candidates.gather(picked).to_list()):
            w.writerow([f"case{i:07d}", tx])
    return path


_LOCAL_WALL: dict[int, float] = {}  # the local engine's seconds by workers, for Ray's ratio


@pytest.mark.parametrize(
    ("engine", "workers"),
    [("local", 1), ("local", 2), ("ray", 2)],
    ids=["local-1", "local-2", "ray-2"],
)
def test_batch_cases_per_second(
    benchmark,
    engine: str,
    workers: int,
    workspace,
    workspace_path: Path,
    cases_file: Path,
    dump: Dump,
    tmp_path,
) -> None:
    from tracer.api import trace

    rule = "fifo"
    with cases_file.open() as f:
        first = next(csv.DictReader(f))["tx_id"]
    trace(workspace, tx_ids=[first], rule=rule)  # fill numba's on-disk cache for the child
    if engine == "ray":
        pytest.importorskip("ray", reason="Ray is not installed: pip install 'tracer[ray]'")

    def child() -> dict:
        out = tmp_path / f"out{engine}{workers}"
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        env.pop("RAY_ADDRESS", None)  # a Ray of its own, never one already running
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                _CHILD,
                str(workspace_path),
                str(cases_file),
                str(out),
                str(workers),
                rule,
                engine,
            ],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    m = benchmark.pedantic(child, rounds=1, iterations=1)
    cases = m["counts"]["cases_done"]
    mib = 1 << 20
    if engine == "local":
        _LOCAL_WALL[workers] = m["seconds"]
    benchmark.extra_info.update(
        n_transfers=dump.n_transfers,
        rule=rule,
        engine=engine,
        workers=workers,
        seconds=m["seconds"],
        **{f"{k}_seconds": v for k, v in m["phases"].items()},
        cases=cases,
        cases_ok=m["counts"]["cases_ok"],
        hubs=m["counts"]["hubs"],
        cases_per_second=cases / m["seconds"],
        peak_rss_mib=m["peak"] / mib,
        output_mib=m["bytes"] / mib,
    )
    ray_note = ""
    if engine == "ray":
        # Ray starts while the driver traces (tracer.ray_engine), so "run" holds the start
        p = m["phases"]
        ray_note = (
            f"; Ray start {p.get('ray_start', 0):.2f} s (the driver tracing meanwhile), run "
            f"{p.get('run', 0):.2f} s with the start, stop {p.get('ray_stop', 0):.2f} s"
        )
        for n, wall in sorted(_LOCAL_WALL.items()):
            ratio, per_case = m["seconds"] / wall, (m["seconds"] - wall) / max(cases, 1)
            benchmark.extra_info[f"ratio_to_local_{n}"] = ratio
            benchmark.extra_info[f"overhead_ms_per_case_vs_local_{n}"] = per_case * 1000
            ray_note += (
                f"; {ratio:.2f}x the local engine with {n} worker(s), "
                f"{per_case * 1000:.2f} ms a case beyond it"
            )
    print(
        f"\nbatch of {cases} {rule} cases at N={dump.n_transfers}, {engine} engine, "
        f"{workers} worker(s), {m['seconds']:.2f} s: "
        f"{cases / m['seconds']:.1f} cases/s, peak RSS {m['peak'] / mib:.0f} MiB, "
        f"output {m['bytes'] / mib:.1f} MiB{ray_note}"
    )
