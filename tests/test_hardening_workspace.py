"""The workspace commit is atomic, one writer at a time, and a killed ingest leaves nothing
that the next one trips on."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from tracer.cli import cli
from tracer.ingest import ingest
from tracer.workspace import Workspace

HEADER = "tx_id,timestamp,src,dst,amount,asset\n"

# runs ingest in a process of its own that is killed (SIGKILL) at its Nth rename
KILL_AT_RENAME = """
import os, signal, sys
n, count = int(sys.argv[1]), [0]
for name in ("rename", "replace"):
    real = getattr(os, name)
    def wrap(*a, _real=real, **k):
        count[0] += 1
        if count[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return _real(*a, **k)
    setattr(os, name, wrap)
from tracer.ingest import ingest
ingest(sys.argv[2], sys.argv[3:])
"""


def write(path: Path, prefix: str, day: int, n: int = 40) -> Path:
    rows = [
        f"{prefix}{i},2025-01-{day:02d}T00:{i % 60:02d}:00Z,u{i % 7},{prefix}{i % 5},1,EUR\n"
        for i in range(n)
    ]
    path.write_text(HEADER + "".join(rows))
    return path


def snapshot(ws: Path) -> dict:
    w = Workspace.open(ws)
    out = {name: w.table(name).rows() for name in ("transfers", "accounts", "rejects")}
    out["inputs"] = [(i["name"], i["ingested"], i["rejected"]) for i in w.manifest["inputs"]]
    graph = w.graph
    out["graph"] = (graph.n_edges, graph.n_accounts, graph.src.tolist(), graph.dst.tolist())
    return out


def killed_ingest(ws: Path, files: list[Path], n: int) -> int:
    return subprocess.run(
        [sys.executable, "-c", KILL_AT_RENAME, str(n), str(ws), *map(str, files)],
        capture_output=True,
    ).returncode


def test_an_ingest_killed_at_any_rename_leaves_the_old_or_the_new_workspace(tmp_path):
    s1, s2 = write(tmp_path / "s1.csv", "a", 1), write(tmp_path / "s2.csv", "b", 2)
    base = tmp_path / "base"
    ingest(base, [s1])
    old = snapshot(base)
    ref = tmp_path / "ref"
    shutil.copytree(base, ref, symlinks=True)
    ingest(ref, [s2])
    new = snapshot(ref)
    assert new != old
    killed = 0
    for n in range(1, 40):
        ws = tmp_path / f"ws{n}"
        shutil.copytree(base, ws, symlinks=True)
        rc = killed_ingest(ws, [s2], n)
        if rc == 0:
            break
        assert rc == -signal.SIGKILL
        killed += 1
        assert snapshot(ws) in (old, new), f"killed at rename {n}: a mixed workspace"
        (report,) = ingest(ws, [s2])  # completes it: no row of s2 taken for a duplicate
        assert report.rejected == 0 or report.status == "unchanged"
        assert snapshot(ws) == new
        assert not list(ws.glob(".staging-*"))
        assert sorted(p.name for p in (ws / "generations").iterdir()) == [
            os.readlink(ws / "current").split("/")[-1]
        ]
    assert killed >= 3  # the renames of the commit were all reached


def test_a_killed_first_ingest_leaves_a_folder_the_next_one_uses(tmp_path):
    s1 = write(tmp_path / "s1.csv", "a", 1)
    ws = tmp_path / "ws"
    assert killed_ingest(ws, [s1], 1) == -signal.SIGKILL
    assert list(ws.glob(".staging-*"))  # what the kill left
    result = CliRunner().invoke(cli, ["ingest", str(s1), "-w", str(ws)])
    assert result.exit_code == 0, result.output
    assert not list(ws.glob(".staging-*"))
    assert Workspace.open(ws).manifest["tables"]["transfers"] == 40


def test_stale_staging_of_a_dead_process_is_removed_under_the_lock(tmp_path):
    s1, s2 = write(tmp_path / "s1.csv", "a", 1), write(tmp_path / "s2.csv", "b", 2)
    ws = tmp_path / "ws"
    ingest(ws, [s1])
    stale = ws / ".staging-999999999"
    (stale / "parts").mkdir(parents=True)
    (stale / "parts" / "big").write_bytes(b"x" * 100_000)
    ingest(ws, [s2])
    assert not stale.exists()
    assert Workspace.open(ws).manifest["tables"]["transfers"] == 80


def test_a_flat_workspace_of_an_earlier_version_is_read_and_migrated(tmp_path):
    s1, s2 = write(tmp_path / "s1.csv", "a", 1), write(tmp_path / "s2.csv", "b", 2)
    ws = tmp_path / "ws"
    ingest(ws, [s1])
    flat = tmp_path / "flat"
    shutil.copytree(ws / "current", flat)  # the layout before generations: files at the top
    assert not (flat / "current").exists()
    assert snapshot(flat) == snapshot(ws)
    ingest(flat, [s2])
    ingest(ws, [s2])
    assert snapshot(flat) == snapshot(ws)
    assert (flat / "current").is_symlink() and (flat / "graph").is_symlink()
    assert pl.read_parquet(flat / "transfers.parquet").height == 80


PAUSED_INGEST = """
import sys, time
from pathlib import Path
from tracer.ingest import ingest
go = Path(sys.argv[3])
def step(*_a, **_k):
    if not go.exists():
        print("holding", flush=True)
        while not go.exists():
            time.sleep(0.05)
ingest(sys.argv[1], [sys.argv[2]], on_step=step)
"""


def test_a_second_writer_fails_at_once_naming_the_holder(tmp_path):
    s1, s2 = write(tmp_path / "s1.csv", "a", 1), write(tmp_path / "s2.csv", "b", 2)
    ws, go = tmp_path / "ws", tmp_path / "go"
    ingest(ws, [s1])
    first = subprocess.Popen(
        [sys.executable, "-c", PAUSED_INGEST, str(ws), str(s2), str(go)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdout.readline().strip() == "holding"
        s3 = write(tmp_path / "s3.csv", "c", 3)
        t0 = time.monotonic()
        second = subprocess.run(
            [str(Path(sys.executable).parent / "tracer"), "ingest", str(s3), "-w", str(ws)],
            capture_output=True,
            text=True,
        )
        assert time.monotonic() - t0 < 30
        assert second.returncode == 1
        err = second.stderr.strip()
        assert err.startswith("Error: ") and "\n" not in err and "Traceback" not in err
        assert f"process {first.pid}" in err and "since" in err and "Wait" in err
    finally:
        go.touch()
        first.wait(timeout=120)
        first.stdout.close()
    assert first.returncode == 0
    ingest(ws, [s3])  # once the first is done, the second goes in; nothing is lost
    names = [i["name"] for i in Workspace.open(ws).manifest["inputs"]]
    assert names == ["s1.csv", "s2.csv", "s3.csv"]
    assert Workspace.open(ws).manifest["tables"]["transfers"] == 120


def test_a_full_disk_while_the_graph_is_built_names_the_file(tmp_path, monkeypatch):
    """The graph is built in the staging folder before the commit: a full disk there is one
    line naming the file, and the workspace stays the one before."""
    import errno

    from tracer.graph import build

    ws = tmp_path / "ws"
    ingest(ws, files=[write(tmp_path / "a.csv", "a", 1)])
    before = snapshot(ws)

    def full(folder, name, arr):
        raise OSError(errno.ENOSPC, "No space left on device", str(folder / f"{name}.npy"))

    monkeypatch.setattr(build, "write_array", full)
    result = CliRunner().invoke(
        cli, ["ingest", str(write(tmp_path / "b.csv", "b", 2)), "-w", str(ws)]
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error:") and result.output.count("\n") == 1
    assert "disk is full" in result.output and "graph/fwd_indptr.npy" in result.output
    monkeypatch.undo()
    assert snapshot(ws) == before


@pytest.mark.parametrize(
    "writes, named", [(0, r"order\.npy"), (1, r"edges/\w+\.npy"), (6, r"edges/\w+\.(npy|bin)")]
)
def test_a_full_disk_while_the_edges_are_staged_names_the_file(
    tmp_path, monkeypatch, writes, named
):
    """The merge order and the graph's edges are written to the staging folder with plain
    writes: a full disk there is one line naming the file, and the workspace stays the one
    before."""
    import errno

    from tracer.graph import edges

    ws = tmp_path / "ws"
    ingest(ws, files=[write(tmp_path / "a.csv", "a", 1)])
    before = snapshot(ws)

    pwrite, done = os.pwrite, []

    def full(fd, data, offset):  # the first ``writes`` writes go through
        if len(done) >= writes:
            raise OSError(errno.ENOSPC, "No space left on device")
        done.append(1)
        return pwrite(fd, data, offset)

    monkeypatch.setattr(edges.os, "pwrite", full)
    result = CliRunner().invoke(
        cli, ["ingest", str(write(tmp_path / "b.csv", "b", 2)), "-w", str(ws)]
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error:") and result.output.count("\n") == 1
    assert re.search(rf"\.staging-\d+/{named}: the disk is full", result.output)
    assert snapshot(ws) == before
