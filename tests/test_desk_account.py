"""`tracer account`: what is known of one account."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ok, run, write_csv

CASE = [
    ("s1", "2025-01-01T00:00:00Z", "V", "M", "100"),
    ("t2", "2025-01-01T00:10:00Z", "M", "X", "90"),
    ("t3", "2025-01-01T00:20:00Z", "M", "O", "5"),
    ("t4", "2025-01-02T00:30:00Z", "W", "M", "20"),
    ("t5", "2025-01-03T00:00:00Z", "M", "X", "1"),
]


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("acct")
    transfers = write_csv(
        folder / "t.csv",
        ["tx_id", "timestamp", "src", "dst", "amount", "asset"],
        [(*row, "USD") for row in CASE],
    )
    labels = write_csv(
        folder / "l.csv",
        ["account", "label", "name"],
        [("X", "exchange", "<b>Ex</b>"), ("M", "mule", "")],
    )
    ok("ingest", transfers, "--labels", labels, "-w", folder / "ws")
    return folder / "ws"


def test_json_has_counts_sums_counterparties_and_balance(ws):
    out = json.loads(ok("account", "M", "-w", ws, "--format", "json").stdout)
    assert out["account"] == "M" and out["label"] == "mule"
    assert out["first_seen"] == "2025-01-01T00:00:00Z"
    assert out["last_seen"] == "2025-01-03T00:00:00Z"
    assert (out["in"]["count"], out["in"]["value"]) == (2, 120.0)
    assert (out["out"]["count"], out["out"]["value"]) == (3, 96.0)
    assert out["in"]["by_asset"] == [{"asset": "USD", "count": 2, "amount": 120.0, "value": 120.0}]
    assert out["out"]["top"] == [
        {"account": "X", "label": "exchange", "count": 2, "value": 91.0},
        {"account": "O", "label": None, "count": 1, "value": 5.0},
    ]
    assert [p["value"] for p in out["balance"]] == [100.0, 10.0, 5.0, 25.0, 24.0]


def test_table_and_byte_identical(ws):
    a = ok("account", "M", "-w", ws).stdout
    assert a == ok("account", "M", "-w", ws).stdout
    assert a.splitlines()[0] == "Account M"
    assert "    X [exchange]: 91.00 USD in 2 transfers" in a


def test_html_escapes_and_has_a_chart_without_script(ws, tmp_path):
    out = tmp_path / "a.html"
    ok("account", "X", "-w", ws, "--format", "html", "-o", out)
    page = out.read_text()
    assert "<b>Ex</b>" not in page and "&lt;b&gt;Ex&lt;/b&gt;" in page
    assert "<svg" in page and "<polyline" in page and "<script" not in page
    result = run("account", "X", "-w", ws, "--format", "html")
    assert result.exit_code == 1
    assert result.stderr == "Error: --format html: give the file to write with -o FILE.\n"


def test_batch_cases_and_bad_batch_folder(ws, tmp_path):
    cases = write_csv(tmp_path / "c.csv", ["case_id", "tx_id"], [("c1", "s1")])
    ok("batch", cases, "-w", ws, "-o", tmp_path / "b", "--rule", "fifo")
    out = json.loads(
        ok("account", "X", "-w", ws, "--batch", tmp_path / "b", "--format", "json").stdout
    )
    assert [c["case_id"] for c in out["cases"]] == ["c1"]
    assert out["cases"][0]["rests"] > 0
    result = run("account", "X", "-w", ws, "--batch", tmp_path)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: --batch {tmp_path}: not a batch result folder")


def test_unknown_account_suggests(ws):
    result = run("account", "MM", "-w", ws)
    assert result.exit_code == 1
    assert result.stderr == "Error: MM: no such account in the workspace. Did you mean M, O or V?\n"
