"""A reader holds the generation it opened: an ingest that commits meanwhile leaves it in place
for the reader to finish (the next ingest removes it), and a reader opened after the switch
reads the new one."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from tracer import api
from tracer.ingest import ingest
from tracer.workspace import Workspace

HEADER = "tx_id,timestamp,src,dst,amount,asset\n"


def write(path: Path, prefix: str, day: int, n: int = 50) -> Path:
    rows = [
        f"{prefix}{i},2025-01-{day:02d}T00:{i % 60:02d}:00Z,u{i % 7},{prefix}{i % 5},1,EUR\n"
        for i in range(n)
    ]
    path.write_text(HEADER + "".join(rows))
    return path


def generations(ws: Path) -> list[str]:
    return sorted(p.name for p in (ws / "generations").iterdir())


def test_an_open_reader_keeps_its_generation_through_an_ingest(tmp_path):
    ws = tmp_path / "ws"
    ingest(ws, [write(tmp_path / "s1.csv", "a", 1)])
    reader = Workspace.open(ws)
    before = reader.table("transfers").height
    ingest(ws, [write(tmp_path / "s2.csv", "b", 2)])  # commits while the reader is open
    assert len(generations(ws)) == 2  # the reader's generation stayed
    # the reader goes on reading what it opened: tables and graph, then a trace
    assert reader.table("transfers").height == before == reader.graph.n_edges
    result = api.trace(reader, tx_ids=["a0"])
    assert result.summary["at_endpoints"] == 1.0
    # a reader opened now sees the new generation
    assert Workspace.open(ws).table("transfers").height == 100
    del reader, result
    gc.collect()
    ingest(ws, [write(tmp_path / "s3.csv", "c", 3)])  # no reader left: only the live one stays
    assert len(generations(ws)) == 1


def test_a_reader_in_another_process_is_not_cut_off(tmp_path):
    ws = tmp_path / "ws"
    ingest(ws, [write(tmp_path / "s1.csv", "a", 1)])
    # a process that opens the workspace, waits for a line, then reads everything
    code = (
        "import sys; from tracer.workspace import Workspace; w = Workspace.open(sys.argv[1]); "
        "print('open', flush=True); sys.stdin.readline(); "
        "print(w.table('transfers').height, w.graph.n_edges, int(w.graph.src.sum()))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(ws)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "open"
    ingest(ws, [write(tmp_path / "s2.csv", "b", 2)])
    out, _ = proc.communicate("go\n", timeout=120)
    assert proc.returncode == 0
    height, edges, _ = out.split()
    assert height == edges == "50"
    ingest(ws, [write(tmp_path / "s3.csv", "c", 3)])  # the reader is gone: tidied now
    assert len(generations(ws)) == 1
