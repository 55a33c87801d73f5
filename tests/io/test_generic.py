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
    return write_csv(
        tmp_path / "statement.csv",
        ["Ref", "Date", "From", "To", "Amount", "Ccy", "Memo"],
        [
            ("R1", "03/01/2025 10:00", "victim", "mule1", "1,200,000.00", "THB", "first"),
            ("R2", "04/01/2025 11:30", "mule1", "mule2", "500,000", "THB", ""),
            ("R3", "05/01/2025 09:00", "mule1", "otc", "12,50", "THB", "decimal comma"),
            ("R4", "31/02/2025 09:00", "mule1", "otc", "5", "THB", "no such day"),
            ("R5", "05/01/2025 12:00", " mule2 ", "otc", " 300000 ", "THB", "padded"),
            ("R2", "06/01/2025 12:00", "mule2", "otc", "1", "THB", "same ref"),
            ("R7", "06/01/2025 13:00", "mule2", "mule2", "1", "THB", "to itself"),
        ],
    )


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    return lines[0]


def test_read_with_map_and_date_format(statement):
    res = generic.read(
        statement,
        statement.name,
        {"map": dict(p.split("=", 1) for p in MAP.split(",")), "date_format": "%d/%m/%Y %H:%M"},
    )
    assert res.read == 7 == res.transfers.height + res.rejects.height
    assert not res.has_value
    reasons = dict(
        zip(res.rejects.get_column("source_row"), res.rejects.get_column("reason"), strict=True)
    )
    assert reasons == {
        3: "non-numeric amount",  # 12,50 is not guessed at
        4: "unparseable timestamp (expected %d/%m/%Y %H:%M)",
        6: "duplicate tx_id (first at row 2)",
        7: "self-transfer (src equals dst)",
    }
    assert json.loads(res.rejects.to_dicts()[0]["raw"])["Amount"] == "12,50"
    t = res.transfers.sort("seq")
    assert t.get_column("amount").to_list() == [1_200_000.0, 500_000.0, 300_000.0]
    assert t.get_column("amount_raw").to_list() == ["1,200,000.00", "500,000", " 300000 "]
    assert t.get_column("ts").to_list()[:2] == [
        dt.datetime(2025, 1, 3, 10, tzinfo=UTC),
        dt.datetime(2025, 1, 4, 11, 30, tzinfo=UTC),
    ]
    assert t.get_column("src").to_list() == ["victim", "mule1", "mule2"]
    assert t.get_column("Memo").to_list() == ["first", None, "padded"]  # unmapped: kept
    assert "Ref" not in t.columns and "Amount" not in t.columns


def test_iso_timestamps_value_column_and_constant_asset(tmp_path):
    src = write_csv(
        tmp_path / "s.csv",
        ["id", "when", "a", "b", "amt", "usd", "amount"],
        [
            ("x1", "2025-01-01T00:00:00+07:00", "A", "B", "1,000", "28.5", "note"),
            ("x2", "2025-01-02", "B", "C", "10", "", "note"),
            ("x3", "2025-01-03", "B", "C", "10", "abc", "note"),
        ],
    )
    res = generic.read(
        src,
        src.name,
        {
            "map": {
                "tx_id": "id",
                "timestamp": "when",
                "src": "a",
                "dst": "b",
                "amount": "amt",
                "asset": "=THB",
                "value": "usd",
            }
        },
    )
    assert res.has_value
    assert res.rejects.get_column("reason").to_list() == ["bad value (not a non-negative number)"]
    t = res.transfers.sort("seq")
    assert t.get_column("asset").to_list() == ["THB", "THB"]
    assert t.get_column("value").to_list() == [28.5, None]
    assert t.get_column("ts").to_list() == [
        dt.datetime(2024, 12, 31, 17, tzinfo=UTC),
        dt.datetime(2025, 1, 2, tzinfo=UTC),
    ]
    assert t.get_column("x_amount").to_list() == ["note", "note"]  # renamed: not canonical


def test_never_sniffed(statement, tmp_path):
    assert not generic.sniff(statement, io.common.head_of(statement))
    with pytest.raises(InputError, match="generic --map"):
        io.detect(statement)


@pytest.mark.parametrize(
    ("mapping", "says"),
    [
        ({}, "no column given for timestamp, src, dst, amount, asset"),
        (
            {
                "tx_id": "Ref",
                "timestamp": "Datum",
                "src": "From",
                "dst": "To",
                "amount": "Amount",
                "asset": "Ccy",
            },
            "no such column: timestamp=Datum",
        ),
        (
            {
                "tx_id": "Ref",
                "timestamp": "Date",
                "src": "From",
                "dst": "To",
                "amount": "Amount",
                "asset": "Ccy",
                "memo": "Memo",
            },
            "unknown field(s) memo",
        ),
        (
            {
                "tx_id": "=1",
                "timestamp": "Date",
                "src": "From",
                "dst": "To",
                "amount": "Amount",
                "asset": "Ccy",
            },
            "cannot be constants: tx_id==1",
        ),
    ],
)
def test_bad_map_names_the_problem_and_the_columns(statement, mapping, says):
    with pytest.raises(InputError) as exc:
        generic.read(statement, statement.name, {"map": mapping})
    message = str(exc.value)
    assert says in message
    assert "the file has Ref,Date,From,To,Amount,Ccy,Memo" in message.replace(
        "The file", "the file"
    )
    assert "--map tx_id=" in message and "\n" not in message


def test_cli_ingest_then_trace(statement, tmp_path):
    ws = tmp_path / "ws"
    out = ok(
        "ingest",
        statement,
        "-w",
        ws,
        "--format",
        "generic",
        "--map",
        MAP,
        "--date-format",
        "%d/%m/%Y %H:%M",
    ).stdout
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
    ok(
        "ingest",
        statement,
        "-w",
        ws,
        "--format",
        "generic",
        "--map",
        "tx_id=Ref,timestamp=Date,src=From,dst=To,amount=Amount",
        "--map",
        "asset==USD",
        "--date-format",
        "%d/%m/%Y %H:%M",
    )
    assert pl.read_parquet(ws / "transfers.parquet").get_column("asset").unique().to_list() == [
        "USD"
    ]


def test_cli_bad_map_is_one_line_and_writes_nothing(statement, tmp_path):
    ws = tmp_path / "ws"
    line = one_line_error(
        run(
            "ingest",
            statement,
            "-w",
            ws,
            "--format",
            "generic",
            "--map",
            "tx_id=Ref,timestamp=Date,src=From",
        )
    )
    assert "no column given for dst, amount, asset" in line
    assert "Ref,Date,From,To,Amount,Ccy,Memo" in line
    assert not ws.exists()
    line = one_line_error(
        run("ingest", statement, "-w", ws, "--format", "generic", "--map", MAP)
    )  # day-first dates without --date-format
    assert "--date-format" in line and "'03/01/2025 10:00'" in line
    assert not ws.exists()


# --- without tx_id, semicolons and decimal commas, Dune's \x addresses -----------------------


def test_without_tx_id_each_row_is_named_by_file_and_row(statement):
    mapping = dict(p.split("=", 1) for p in MAP.split(",") if not p.startswith("tx_id="))
    res = generic.read(
        statement, "statement.csv", {"map": mapping, "date_format": "%d/%m/%Y %H:%M"}
    )
    t = res.transfers.sort("seq")
    assert t.get_column("tx_id").to_list() == [
        "statement.csv:1",
        "statement.csv:2",
        "statement.csv:5",
        "statement.csv:6",
    ]
    # Row 6 repeats R2 but is its own row now; Ref is kept as an extra column.
    assert t.get_column("Ref").to_list() == ["R1", "R2", "R5", "R2"]
    again = generic.read(
        statement, "statement.csv", {"map": mapping, "date_format": "%d/%m/%Y %H:%M"}
    )
    assert again.transfers.equals(res.transfers)  # stable


def test_cli_ingest_without_tx_id(statement, tmp_path):
    ws = tmp_path / "ws"
    ok(
        "ingest",
        statement,
        "-w",
        ws,
        "--format",
        "generic",
        "--date-format",
        "%d/%m/%Y %H:%M",
        "--map",
        "timestamp=Date,src=From,dst=To,amount=Amount,asset=Ccy",
    )
    ids = pl.read_parquet(ws / "transfers.parquet").get_column("tx_id").sort().to_list()
    assert ids == ["statement.csv:1", "statement.csv:2", "statement.csv:5", "statement.csv:6"]


def test_semicolons_and_decimal_commas(tmp_path):
    f = tmp_path / "excel.csv"
    f.write_text(
        "Datum;Von;An;Betrag;Währung\n"
        "2025-01-03;victim;mule1;1200,50;EUR\n"
        "2025-01-04;mule1;mule2;0,5;EUR\n"
        "2025-01-05;mule1;otc;1,234;EUR\n"  # 1234 or 1.234: rejected
        "2025-01-06;mule2;otc;1.234,56;EUR\n"  # not guessed at either
        "2025-01-07;mule2;otc;300;EUR\n"
        "2025-01-08;mule2;otc;1,234,567.5;EUR\n",
        encoding="utf-8",
    )
    mapping = {
        "timestamp": "Datum",
        "src": "Von",
        "dst": "An",
        "amount": "Betrag",
        "asset": "Währung",
    }
    res = generic.read(f, "excel.csv", {"map": mapping})
    assert res.read == 6
    assert dict(res.rejects.select("source_row", "reason").rows()) == {
        3: "non-numeric amount",
        4: "non-numeric amount",
    }
    t = res.transfers.sort("seq")
    assert t.get_column("amount").to_list() == [1200.5, 0.5, 300.0, 1234567.5]
    assert t.get_column("amount_raw").to_list() == ["1200,50", "0,5", "300", "1,234,567.5"]
    # Through ingest (read in batches) too.
    ok(
        "ingest",
        f,
        "-w",
        tmp_path / "ws",
        "--format",
        "generic",
        "--map",
        ",".join(f"{k}={v}" for k, v in mapping.items()),
    )
    got = pl.read_parquet(tmp_path / "ws" / "transfers.parquet").sort("ts")
    assert got.get_column("amount").to_list() == [1200.5, 0.5, 300.0, 1234567.5]
    # In a comma-separated file, 12,50 is still not guessed at (R3 of the statement).


def test_dune_hex_addresses_and_hashes(tmp_path):
    a, b = "ab" * 20, "CD" * 20
    h = "12" * 32
    f = write_csv(
        tmp_path / "dune.csv",
        ["hash", "block_time", "from", "to", "amount"],
        [
            (f"\\x{h}", "2025-01-01 00:00:00", f"\\x{a}", f"\\x{b}", "5"),
            ("t2", "2025-01-02 00:00:00", f"0x{b.lower()}", "\\xshort", "6"),
        ],
    )
    res = generic.read(
        f,
        "dune.csv",
        {
            "map": {
                "tx_id": "hash",
                "timestamp": "block_time",
                "src": "from",
                "dst": "to",
                "amount": "amount",
                "asset": "=ETH",
            }
        },
    )
    assert res.transfers.select("tx_id", "src", "dst").rows() == [
        (f"0x{h}", f"0x{a}", f"0x{b.lower()}"),
        ("t2", f"0x{b.lower()}", "\\xshort"),  # not 40 hex digits: as written
    ]
