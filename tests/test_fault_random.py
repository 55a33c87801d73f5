"""An ingest killed (SIGKILL) at random moments, not only at the commit's renames: wherever it
stops, the workspace is the old one or the new one, and ingesting the file again completes it
with no row of it taken for a duplicate."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tracer.ingest import ingest
from tracer.workspace import Workspace

pytestmark = pytest.mark.slow

HEADER = "tx_id,timestamp,src,dst,amount,asset\n"
# the child says when it has imported tracer, so the kills land in the ingest's own work
RUN = (
    "import sys; from tracer.ingest import ingest; print('ready', flush=True); "
    "ingest(sys.argv[1], sys.argv[2:], batch_rows=20000)"
)


def started(ws: Path, s2: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN, str(ws), str(s2)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc


def write(path: Path, prefix: str, day: int, n: int) -> Path:
    with path.open("w") as f:
        f.write(HEADER)
        for i in range(n):
            f.write(
                f"{prefix}{i},2025-01-{day:02d}T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:"
                f"{i % 60:02d}Z,u{i % 997},{prefix}{i % 311},{1 + i % 13},EUR\n"
            )
    return path


def snapshot(ws: Path) -> tuple:
    w = Workspace.open(ws)
    g = w.graph
    return (
        w.manifest["tables"]["transfers"],
        w.manifest["tables"]["rejects"],
        tuple((i["name"], i["ingested"], i["rejected"]) for i in w.manifest["inputs"]),
        g.n_edges,
        g.n_accounts,
        float(g.value.sum()),
        int(g.src.sum()),
    )


def test_an_ingest_killed_at_random_moments_leaves_the_old_or_the_new_workspace(tmp_path):
    s1 = write(tmp_path / "s1.csv", "a", 1, 30_000)
    s2 = write(tmp_path / "s2.csv", "b", 2, 120_000)
    base = tmp_path / "base"
    ingest(base, [s1])
    old = snapshot(base)
    ref = tmp_path / "ref"
    shutil.copytree(base, ref, symlinks=True)
    proc = started(ref, s2)
    start = time.monotonic()
    assert proc.wait() == 0
    proc.stdout.close()
    whole = time.monotonic() - start
    new = snapshot(ref)
    assert new != old
    rng = random.Random(20261203)
    outcomes = {"old": 0, "new": 0}
    for k in range(8):
        ws = tmp_path / f"ws{k}"
        shutil.copytree(base, ws, symlinks=True)
        proc = started(ws, s2)
        time.sleep(rng.uniform(0.0, 1.05) * whole)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        now = snapshot(ws)
        assert now in (old, new), f"killed after {k}: a mixed workspace"
        outcomes["old" if now == old else "new"] += 1
        (report,) = ingest(ws, [s2])  # completes it: no row of s2 taken for a duplicate
        assert report.status == "unchanged" or (report.rejected == 0 and report.ingested == 120_000)
        assert snapshot(ws) == new
        assert not list(ws.glob(".staging-*"))
    assert outcomes["old"] >= 1  # some kills landed before the commit
