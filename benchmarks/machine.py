"""Facts about the machine and the packages, memory bandwidth, and peak RSS of a child process."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time

__all__ = [
    "PACKAGES",
    "available_bytes",
    "machine_facts",
    "run_child",
    "versions",
]

PACKAGES = (
    "tracer",
    "numpy",
    "numba",
    "polars",
    "pyarrow",
    "raphtory",
    "networkx",
    "networkit",
    "igraph",
    "pytest-benchmark",
)

# Prints a child's own peak resident memory (VmHWM) as the last line of its stdout, as JSON
# merged with whatever the child code left in the dict ``out``. ru_maxrss is no good for a child
# of a big pytest process: Linux carries the parent's over across fork and exec.
_PEAK = """
def _peak():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
"""


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _meminfo(key: str) -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def available_bytes() -> int:
    """MemAvailable now (bytes); a large number when unknown."""
    return _meminfo("MemAvailable") or 1 << 50


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_facts() -> dict:
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "mem_total_bytes": _meminfo("MemTotal"),
        "kernel": platform.release(),
        "versions": versions(),
    }


def run_child(code: str, *args: str, timeout: float | None = None) -> dict:
    """Run ``code`` in a fresh interpreter (with ``_peak()`` defined and ``out = {}``); return
    ``out`` plus ``peak_rss`` (the child's VmHWM at the end, bytes) and ``wall_s``."""
    program = (
        _PEAK
        + "import json, sys\nout = {}\n"
        + code
        + "\nout['peak_rss'] = _peak()\nprint(json.dumps(out))\n"
    )
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", program, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env=env,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_s"] = wall
    return out
