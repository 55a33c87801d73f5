"""`--format generic --map ...`: any CSV of transfers, with the columns named by the user."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from conftest import ok, run, write_csv  # noqa: E402

from tracer import io
from tracer.errors import InputError
from tracer.io import generic

UTC = dt.UTC
MAP = "tx_id=Ref,timestamp=Date,src=From,dst=To,amount=Amount,asset=Ccy"


@pytest.fixture
def statement(tmp_path) -> Path:
    return write_csv(tmp_path / "statement.csv", ["Ref", "Date", "From", "To", "Amount", "Ccy",
                                                   "Memo"], [
        ("R1", "03/01/2025 10:00", "victim", "mule1", "1,200,000.00", "THB", "first"),
        ("R2", "04/01/2025 11:30", "mule1", "mule2", "500,000", "THB", ""),
        ("R3", "05/01/2025 09:00", "mule1", "otc", "12,50", "THB", "decimal comma"),
        ("R4", "31/02/2025 09:00", "mule1", "otc", "5", "THB", "no such day"),
        ("R5", "05/01/2025 12:00", " mule2 ", "otc", " 300000 ", "THB", "padded"),
        ("R2", "06/01/2025 12:00", "mule2", "otc", "1", "THB", "same ref"),
        ("R7", "06/01/2025 13:00", "mule2", "mule2", "1", "THB", "to itself"),
    ])


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    return lines[0]


def test_read_with_map_and_date_format(statement):
    res = generic.read(statement, statement.name,
                       {"map": dict(p.split("=", 1) for p in MAP.split(",")),
                        "date_format": "%d/%m/%Y %H:%M"})
    assert res.read == 7 == res.transfers.height + res.rejects.height
    assert not res.has_value
    reasons = dict(zip(res.rejects.get_column("source_row"), res.rejects.get_column("reason"),
                       strict=True))
    assert reasons == {3: "non-numeric amount",  # 12,50 is not guessed at
                       4: "unparseable timestamp (expected %d/%m/%Y %H:%M)",
                       6: "duplicate tx_id (first at row 2)",
                       7: "self-transfer (src equals dst)"}
    assert json.loads(res.rejects.to_dicts()[0]["raw"])["Amount"] == "12,50"
    t = res.transfers.sort("seq")
    assert t.get_column("amount").to_list() == [1_200_000.0, 500_000.0, 300_000.0]
    assert t.get_column("amount_raw").to_list() == ["1,200,000.00", "500,000", " 300000 "]
    assert t.get_column("ts").to_list()[:2] == [dt.datetime(2025, 1, 3, 10, tzinfo=UTC),
                                                 dt.datetime(2025, 1, 4, 11, 30, tzinfo=UTC)]
    assert t.get_column("src").to_list() == ["victim", "mule1", "mule2"]
    assert t.get_column("Memo").to_list() == ["first", None, "padded"]  # unmapped: kept
    assert "Ref" not in t.columns and "Amount" not in t.columns


def test_iso_timestamps_value_column_and_constant_asset(tmp_path):
    src = write_csv(tmp_path / "s.csv", ["id", "when", "a", "b", "amt", "usd", "amount"], [
        ("x1", "2025-01-01T00:00:00+07:00", "A", "B", "1,000", "28.5", "note"),
        ("x2", "2025-01-02", "B", "C", "10", "", "note"),
        ("x3", "2025-01-03", "B", "C", "10", "abc", "note"),
    ])
    res = generic.read(src, src.name, {"map": {
        "tx_id": "id", "timestamp": "when", "src": "a", "dst": "b", "amount": "amt",
        "asset": "=THB", "value": "usd"}})
    assert res.has_value
    assert res.rejects.get_column("reason").to_list() == ["bad value (not a non-negative number)"]
    t = res.transfers.sort("seq")
    assert t.get_column("asset").to_list() == ["THB", "THB"]
    assert t.get_column("value").to_list() == [28.5, None]
    assert t.get_column("ts").to_list() == [dt.datetime(2024, 12, 31, 17, tzinfo=UTC),
                                            dt.datetime(2025, 1, 2, tzinfo=UTC)]
    assert t.get_column("x_amount").to_list() == ["note", "note"]  # renamed: not canonical


def test_never_sniffed(statement, tmp_path):
    assert not generic.sniff(statement, io.common.head_of(statement))
    with pytest.raises(InputError, match="generic --map"):
        io.detect(statement)


@pytest.mark.parametrize(("mapping", "says"), [
    ({}, "no column given for tx_id, timestamp, src, dst, amount, asset"),
    ({"tx_id": "Ref", "timestamp": "Datum", "src": "From", "dst": "To", "amount": "Amount",
      "asset": "Ccy"}, "no such column: timestamp=Datum"),
    ({"tx_id": "Ref", "timestamp": "Date", "src": "From", "dst": "To", "amount": "Amount",
      "asset": "Ccy", "memo": "Memo"}, "unknown field(s) memo"),
    ({"tx_id": "=1", "timestamp": "Date", "src": "From", "dst": "To", "amount": "Amount",
      "asset": "Ccy"}, "cannot be constants: tx_id==1"),
])
def test_bad_map_names_the_problem_and_the_columns(statement, mapping, says):
    with pytest.raises(InputError) as exc:
        generic.read(statement, statement.name, {"map": mapping})
    message = str(exc.value)
    assert says in message
    assert "the file has Ref,Date,From,To,Amount,Ccy,Memo" in message.replace("The file", "the file")
    assert "--map tx_id=" in message and "\n" not in message


def test_cli_ingest_then_trace(statement, tmp_path):
    ws = tmp_path / "ws"
    out = ok("ingest", statement, "-w", ws, "--format", "generic", "--map", MAP,
             "--date-format", "%d/%m/%Y %H:%M").stdout
    assert f"{statement}: read 7, ingested 3, rejected 4" in out
    assert "trace unit THB" in out
    manifest = json.loads((ws / "manifest.json").read_text())
    assert manifest["inputs"][0]["format"] == "generic"
    res = ok("trace", "-w", ws, "--tx", "R1", "--format", "json")
    result = json.loads(res.stdout)
    ends = {e["account"]: e["value"] for e in result["endpoints"]}
    assert ends == pytest.approx({"mule1": 700_000.0, "mule2": 200_000.0, "otc": 300_000.0})


def test_cli_constant_asset_map(statement, tmp_path):
    ws = tmp_path / "ws"
    ok("ingest", statement, "-w", ws, "--format", "generic", "--map",
       "tx_id=Ref,timestamp=Date,src=From,dst=To,amount=Amount", "--map", "asset==USD",
       "--date-format", "%d/%m/%Y %H:%M")
    assert pl.read_parquet(ws / "transfers.parquet").get_column("asset").unique().to_list() == \
        ["USD"]


def test_cli_bad_map_is_one_line_and_writes_nothing(statement, tmp_path):
    ws = tmp_path / "ws"
    line = one_line_error(run("ingest", statement, "-w", ws, "--format", "generic",
                              "--map", "tx_id=Ref,timestamp=Date,src=From"))
    assert "no column given for dst, amount, asset" in line
    assert "Ref,Date,From,To,Amount,Ccy,Memo" in line
    assert not ws.exists()
    line = one_line_error(run("ingest", statement, "-w", ws, "--format", "generic",
                              "--map", MAP))  # day-first dates without --date-format
    assert "--date-format" in line and "'03/01/2025 10:00'" in line
    assert not ws.exists()
