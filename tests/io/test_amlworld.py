"""AMLworld transactions and accounts files: hand-written rows in the exact published format."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from conftest import ok, run  # noqa: E402

from tracer import io
from tracer.io import amlworld, amlworld_accounts
from tracer.schema import REJECTS, TRANSFERS

HEADER = (
    "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,"
    "Amount Paid,Payment Currency,Payment Format,Is Laundering"
)
ROWS = [
    # 1: self-transfer ("Reinvestment")
    "2022/09/01 00:20,010,8000EBD30,010,8000EBD30,3697.34,US Dollar,3697.34,US Dollar,Reinvestment,0",
    # 2: plain
    "2022/09/01 00:21,03208,8000F4580,001,8000F5340,0.01,US Dollar,0.01,US Dollar,Cheque,0",
    # 3: conversion: pays US dollars, the receiver gets euros
    "2022/09/01 00:02,0011,8000EC1E0,0020,80012ABC0,1000.00,Euro,1180.50,US Dollar,Wire,1",
    # 4: broken timestamp
    "2022/13/01 00:00,0011,8000EC1E0,0020,80012ABC0,10,Euro,10,Euro,Wire,0",
    # 5: non-numeric amount
    "2022/09/01 00:05,0011,8000EC1E0,0020,80012ABC0,10,Euro,abc,Euro,Wire,0",
    # 6: onward from the conversion's receiver
    "2022/09/01 01:00,0020,80012ABC0,0070,100428660,500,US Dollar,500,US Dollar,ACH,1",
    # 7: euros
    "2022/09/01 02:00,0070,100428660,0011,8000EC1E0,100,Euro,100,Euro,Credit Card,0",
    # 8: a currency name not in the table; no sender bank
    "2022/09/01 03:00,,8000EC1E0,0020,80012ABC0,7,Dinar,7,Dinar,ACH,0",
    # 9: a currency name not in the table
    "2022/09/01 04:00,0011,8000EC1E0,0020,80012ABC0,7,Gold Coin,7,Gold Coin,ACH,0",
]
ACCOUNTS = """Bank Name,Bank ID,Account Number,Entity ID,Entity Name
Bank of Twenty #20,0020,80012ABC0,80066B990,Corporation #33520
Bank of Seventy #70,0070,100428660,80066B990,Corporation #33520
No Bank,,8000AAAA0,800000001,Sole Proprietorship #1
Bank #11,0011,,800000002,Partnership #2
"""


@pytest.fixture
def aw(tmp_path) -> Path:
    path = tmp_path / "HI-Small_Trans.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n")
    return path


@pytest.fixture
def aw_accounts(tmp_path) -> Path:
    path = tmp_path / "HI-Small_accounts.csv"
    path.write_text(ACCOUNTS)
    return path


def test_reads_every_row_into_transfers_or_rejects(aw):
    res = amlworld.read(aw, aw.name, {})
    assert res.read == len(ROWS) == res.transfers.height + res.rejects.height
    assert not res.has_value
    assert dict(res.transfers.schema) | dict(TRANSFERS) == dict(res.transfers.schema)
    assert list(res.transfers.columns[: len(TRANSFERS)]) == list(TRANSFERS)
    assert dict(res.rejects.schema) == REJECTS
    reasons = dict(
        zip(res.rejects.get_column("source_row"), res.rejects.get_column("reason"), strict=True)
    )
    assert reasons == {
        1: "self-transfer (src equals dst)",
        4: "unparseable timestamp (expected YYYY/MM/DD HH:MM)",
        5: "non-numeric amount",
        8: "empty From Bank or sender's Account",
    }
    raw = {r["source_row"]: json.loads(r["raw"]) for r in res.rejects.to_dicts()}
    assert raw[5]["Amount Paid"] == "abc"
    assert raw[1]["Account"] == raw[1]["Account (to)"] == "8000EBD30"
    assert raw[1]["From Bank"] == "010"  # zero padding kept


def test_columns_by_position_ids_times_and_extras(aw):
    t = amlworld.read(aw, aw.name, {}).transfers
    row = {r["source_row"]: r for r in t.to_dicts()}
    conv = row[3]
    assert conv["tx_id"] == "HI-Small_Trans.csv:3" and conv["seq"] == 3
    assert conv["src"] == "bank:0011:8000EC1E0"
    assert conv["dst"] == "bank:0020:80012ABC0"
    assert conv["ts"] == dt.datetime(2022, 9, 1, 0, 2, tzinfo=dt.UTC)
    # a conversion stays one transfer: paid amount and currency; what was received is kept
    assert (conv["amount"], conv["amount_raw"], conv["asset"]) == (1180.5, "1180.50", "USD")
    assert (conv["amount_received"], conv["receiving_currency"]) == (1000.0, "EUR")
    assert conv["payment_format"] == "Wire" and conv["is_laundering"] is True
    assert row[2]["src"] == "bank:03208:8000F4580" and row[2]["dst"] == "bank:001:8000F5340"
    assert row[2]["is_laundering"] is False
    assert row[7]["asset"] == "EUR"
    assert row[9]["asset"] == "GOLD_COIN"  # unknown names: upper case, underscores
    assert t.get_column("source").unique().to_list() == ["HI-Small_Trans.csv"]


def test_currency_names():
    names = pl.DataFrame({"c": [*amlworld.CURRENCIES, "Some Thing", " Euro ", ""]})
    codes = names.select(amlworld.currency_code("c")).get_column("c").to_list()
    assert codes[:15] == [
        "USD",
        "EUR",
        "CNY",
        "JPY",
        "GBP",
        "INR",
        "RUB",
        "CAD",
        "AUD",
        "CHF",
        "MXN",
        "BRL",
        "SAR",
        "ILS",
        "BTC",
    ]
    assert codes[15:] == ["SOME_THING", "EUR", None]


def test_sniffing_picks_the_right_format(aw, aw_accounts, tmp_path):
    assert io.detect(aw) == "amlworld"
    assert io.detect(aw_accounts) == "amlworld-accounts"
    # one Account column only: not AMLworld
    other = tmp_path / "other.csv"
    other.write_text("Timestamp,From Bank,Account,To Bank,Amount Paid\n2022/09/01 00:20,1,2,3,4\n")
    assert not amlworld.sniff(other, io.common.head_of(other))


def test_forced_on_another_file_is_one_line_error(tmp_path):
    other = tmp_path / "t.csv"
    other.write_text("tx_id,timestamp,src,dst,amount,asset\nt1,2025-01-01,a,b,1,USD\n")
    result = run("ingest", other, "-w", tmp_path / "ws", "--format", "amlworld")
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "not an AMLworld transactions file" in lines[0]
    assert not (tmp_path / "ws").exists()


def test_accounts_file(aw_accounts):
    res = amlworld_accounts.read(aw_accounts, aw_accounts.name, {})
    assert res.transfers.height == 0 and dict(res.transfers.schema) == TRANSFERS
    assert res.read == 4 == res.accounts.height + res.rejects.height
    acc = {r["account"]: r for r in res.accounts.to_dicts()}
    assert set(acc) == {"bank:0020:80012ABC0", "bank:0070:100428660"}
    assert acc["bank:0070:100428660"]["entity"] == "80066B990"
    assert acc["bank:0070:100428660"]["name"] == "Corporation #33520"
    assert dict(
        zip(res.rejects.get_column("source_row"), res.rejects.get_column("reason"), strict=True)
    ) == {3: "empty Bank ID", 4: "empty Account Number"}


def test_ingest_auto_then_trace(aw, aw_accounts, tmp_path):
    prices = tmp_path / "prices.csv"
    prices.write_text("date,asset,usd\n2022-09-01,USD,1\n2022-09-01,EUR,1.1\n")
    ws = tmp_path / "ws"
    out = ok("ingest", aw, aw_accounts, "--prices", prices, "-w", ws, "--format", "auto").stdout
    assert f"{aw}: read 9, ingested 5, rejected 4, without value 1" in out
    t = pl.read_parquet(ws / "transfers.parquet")
    assert t.height == 5
    assert t.filter(pl.col("asset") == "EUR").get_column("value").to_list() == pytest.approx(
        [110.0]
    )
    acc = pl.read_parquet(ws / "accounts.parquet")
    named = acc.filter(pl.col("account") == "bank:0020:80012ABC0").to_dicts()[0]
    assert named["name"] == "Corporation #33520"
    manifest = json.loads((ws / "manifest.json").read_text())
    assert {i["name"]: i["format"] for i in manifest["inputs"] if i["kind"] != "prices"} == {
        aw.name: "amlworld",
        aw_accounts.name: "amlworld-accounts",
    }

    res = ok("trace", "-w", ws, "--tx", f"{aw.name}:3", "--rule", "fifo", "--format", "json")
    result = json.loads(res.stdout)
    assert result["seed_value"] == pytest.approx(1180.5)
    got = {e["account"]: e["value"] for e in result["endpoints"]}
    # the receiver passes 500 USD on; that account pays 100 EUR (110 USD) back to the sender,
    # a seed account, where it rests
    assert got == pytest.approx(
        {"bank:0020:80012ABC0": 680.5, "bank:0070:100428660": 390.0, "bank:0011:8000EC1E0": 110.0}
    )
