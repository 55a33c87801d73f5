"""`-o` of tracer trace and tracer batch: an earlier result of the same kind is replaced
whole, anything else that is not empty is refused with one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tracer.cli import cli

HEADER = "tx_id,timestamp,src,dst,amount,asset\n"


def run(*args) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("out")
    f = tmp / "t.csv"
    f.write_text(
        HEADER + "s1,2025-01-01T00:00:00Z,v,m,100,USD\n"
        "s2,2025-01-01T01:00:00Z,m,x,60,USD\n"
        "s3,2025-01-01T02:00:00Z,w,m,10,USD\n"
    )
    (tmp / "cases.csv").write_text("case_id,tx_id\nc1,s1\nc2,s3\n")
    code, text = run("ingest", f, "-w", tmp / "ws")
    assert code == 0, text
    return tmp / "ws"


def one_error_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), text
    assert "Traceback" not in text
    return lines[0]


def test_a_trace_replaces_an_earlier_trace_whole(ws, tmp_path):
    out = tmp_path / "r"
    assert run("trace", "-w", ws, "--tx", "s1", "-o", out)[0] == 0
    assert run("report", out)[0] == 0
    assert (out / "report.html").is_file()
    (out / "paths.parquet").unlink(missing_ok=True)
    (out / "stale.parquet").write_bytes(b"old")
    code, text = run("trace", "-w", ws, "--tx", "s3", "--top-paths", "0", "-o", out)
    assert code == 0, text
    names = {p.name for p in out.iterdir()}
    assert "report.html" not in names and "stale.parquet" not in names
    assert "result.json" in names and "manifest.json" in names
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left
    assert run("verify", out)[0] == 0


def test_a_trace_refuses_a_folder_that_is_not_a_trace_result(ws, tmp_path):
    mine = tmp_path / "docs"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    code, text = run("trace", "-w", ws, "--tx", "s1", "-o", mine)
    assert code == 1
    line = one_error_line(text)
    assert str(mine) in line and "new or empty folder" in line
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("trace", "-w", ws, "--tx", "s1", "-o", empty)[0] == 0
    assert (empty / "result.json").is_file()


def test_a_batch_replaces_an_earlier_batch_and_refuses_a_trace(ws, tmp_path):
    cases = ws.parent / "cases.csv"
    out = tmp_path / "b"
    code, text = run("batch", cases, "-w", ws, "--full", "-o", out)
    assert code == 0, text
    assert (out / "flows.parquet").is_file()
    code, text = run("batch", cases, "-w", ws, "-o", out)
    assert code == 0, text
    assert (out / "batch.json").is_file() and not (out / "flows.parquet").exists()

    trace = tmp_path / "t"
    assert run("trace", "-w", ws, "--tx", "s1", "-o", trace)[0] == 0
    code, text = run("batch", cases, "-w", ws, "-o", trace)
    assert code == 1
    assert "holds a trace result" in one_error_line(text)
    assert (trace / "result.json").is_file() and not (trace / "batch.json").exists()
    code, text = run("trace", "-w", ws, "--tx", "s1", "-o", out)
    assert code == 1
    assert "holds a batch result" in one_error_line(text)


def test_a_failed_trace_leaves_the_earlier_result(ws, tmp_path):
    out = tmp_path / "r"
    assert run("trace", "-w", ws, "--tx", "s1", "-o", out)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, text = run("trace", "-w", ws, "--tx", "nope", "-o", out)
    assert code == 1
    one_error_line(text)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
