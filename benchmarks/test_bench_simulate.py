"""`tracer simulate`: generation rate and peak memory of a world (native files), measured in a
fresh interpreter so that the peak resident memory is the simulator's own.

Recorded in ``extra_info``: transfers written, seconds inside ``simulate`` (the child's
wall time also counts starting Python and importing), transfers per second, peak RSS in bytes
and per transfer. Size: TRACER_BENCH_SIMULATE_N (default 1,000,000; with ``--large`` the
benchmark dump's size, TRACER_BENCH_N). No timed assertions: the figures go to the README.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

_CHILD = """
import json, sys, time
from tracer.simulate import simulate
n, out = int(sys.argv[1]), sys.argv[2]
r = simulate(out, scale=n, seed=1)
peak = 0
with open("/proc/self/status") as f:
    for line in f:
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) * 1024
print(json.dumps({"transfers": r.transfers, "scam_transfers": r.scam_transfers,
                  "cases": r.cases, "seconds": r.seconds, "peak_rss": peak}))
"""


def _size(config) -> int:
    raw = os.environ.get("TRACER_BENCH_SIMULATE_N", "").strip()
    if raw:
        return int(float(raw))
    if config.getoption("--large", default=False):
        return int(os.environ.get("TRACER_BENCH_N", "100000000"))
    return 1_000_000


def _run(n: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="tracer-bench-sim-") as tmp:
        out = Path(tmp) / "world"
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(n), str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"simulate failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["child_wall_s"] = wall
        result["bytes_written"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        return result


def test_simulate(benchmark, request: pytest.FixtureRequest) -> None:
    n = _size(request.config)
    result = benchmark.pedantic(_run, args=(n,), rounds=1, iterations=1)
    rate = result["transfers"] / result["seconds"]
    benchmark.extra_info.update(
        target=n,
        transfers=result["transfers"],
        scam_transfers=result["scam_transfers"],
        cases=result["cases"],
        simulate_s=result["seconds"],
        transfers_per_s=rate,
        peak_rss=result["peak_rss"],
        peak_rss_per_transfer=result["peak_rss"] / result["transfers"],
        bytes_written=result["bytes_written"],
        cpu_count=os.cpu_count(),
    )
    assert result["transfers"] > 0.5 * n
    print(
        f"\nsimulate {result['transfers']:,} transfers in {result['seconds']:.1f} s "
        f"({rate:,.0f}/s), peak RSS {result['peak_rss'] / 2**20:,.0f} MiB, wrote "
        f"{result['bytes_written'] / 2**20:,.0f} MiB"
    )
