"""Every CSV tracer writes quotes a cell holding CR or LF and neutralises a formula trigger at
the start of every line inside a cell, so a reader that breaks records at a lone CR never
starts one with a formula; tracer reads its own files back."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracer.cli import cli
from tracer.report.csv import ENCODING, neutralize, rows_csv, unneutralize
from tracer.report.requests import read_requests

MULE = "mule\r=cmd|' /C calc'!A0"
TRIGGERS = ("=", "+", "-", "@", "\t")


def lines_as_a_naive_reader_sees_them(text: str) -> list[str]:
    """Records broken at every CR or LF, quotes ignored (the worst reader)."""
    return [line.lstrip('"') for line in re.split(r"\r\n|\r|\n", text)]


@pytest.mark.parametrize("text", [MULE, "a\n@SUM(1)", "a\r\n+1", "x\r\r=y", "=a\n-b", "ok\nfine"])
def test_every_line_in_a_cell_is_neutralised_and_the_cell_quoted(text):
    out = rows_csv(["account", "n"], [[text, 1.5]])
    assert not [
        line for line in lines_as_a_naive_reader_sees_them(out) if line.startswith(TRIGGERS)
    ]
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert rows[1][1] == "1.5"
    assert unneutralize(rows[1][0]) == text
    assert out.split("\n", 1)[1].startswith('"')  # quoted: the CR or LF is inside the cell


def test_a_lone_cr_is_quoted():
    assert rows_csv(["a"], [["x\ry"], ["z"]]) == 'a\n"x\ry"\nz\n'
    assert neutralize("x\r=y") == "x\r'=y"


def run(*args) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("cr")
    transfers = tmp / "transfers.csv"
    with transfers.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["tx_id", "timestamp", "src", "dst", "amount", "asset"])
        w.writerow(["s1", "2025-01-01T00:00:00Z", "victim", MULE, "100", "USD"])
        w.writerow(["s2", "2025-01-01T01:00:00Z", MULE, "exch", "100", "USD"])
        w.writerow(["s3\r@x", "2025-01-01T02:00:00Z", "victim", "exch", "5", "USD"])
    labels = tmp / "labels.csv"
    labels.write_text("account,label\nexch,exchange\n")
    ws, out = tmp / "ws", tmp / "r"
    code, text = run("ingest", transfers, "--labels", labels, "-w", ws)
    assert code == 0, text
    code, text = run("trace", "-w", ws, "--tx", "s1", "--tx", "s3\r@x", "-o", out)
    assert code == 0, text
    return out


def test_requests_csv_of_a_trace_is_safe_and_reads_back(result):
    text = (result / "requests.csv").read_bytes().decode(ENCODING)
    assert not [
        line for line in lines_as_a_naive_reader_sees_them(text) if line.startswith(TRIGGERS)
    ]
    rows = read_requests(result / "requests.csv")
    assert {r["from_account"] for r in rows if r["row"] == "transfer"} == {MULE, "victim"}
    assert {r["tx_id"] for r in rows if r["row"] == "transfer"} == {"s2", "s3\r@x"}


@pytest.mark.parametrize("fmt", ["html", "csv", "graphml", "gexf", "ftm"])
def test_report_renders_in_every_format(result, fmt, tmp_path):
    if fmt == "ftm":
        pytest.importorskip("followthemoney")
    target = tmp_path / f"out.{fmt}"
    code, text = run("report", result, "--format", fmt, "-o", target)
    assert code == 0, text
    body = target.read_bytes()
    assert body
    if fmt == "csv":
        decoded = body.decode(ENCODING)
        assert not [
            line for line in lines_as_a_naive_reader_sees_them(decoded) if line.startswith(TRIGGERS)
        ]


@pytest.mark.parametrize("table", ["flows", "holdings", "requests"])
def test_every_csv_table_is_safe(result, table, tmp_path):
    target = tmp_path / f"{table}.csv"
    code, text = run("report", result, "--format", "csv", "--table", table, "-o", target)
    assert code == 0, text
    decoded = target.read_bytes().decode(ENCODING)
    assert MULE.split("\r")[0] in decoded
    assert not [
        line for line in lines_as_a_naive_reader_sees_them(decoded) if line.startswith(TRIGGERS)
    ]
