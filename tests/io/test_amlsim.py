"""AMLSim output, on a slice of IBM/AMLSim's real sample (tests/data/amlsim, see its README)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from conftest import ok  # noqa: E402

from tracer import io
from tracer.io import amlsim, amlsim_accounts
from tracer.schema import REJECTS, TRANSFERS

DATA = Path(__file__).resolve().parent.parent / "data" / "amlsim"
UTC = dt.UTC


def reasons(res) -> dict[int, str]:
    return dict(
        zip(res.rejects.get_column("source_row"), res.rejects.get_column("reason"), strict=True)
    )


def test_the_slice_is_real_and_licensed():
    assert (DATA / "UPSTREAM_LICENSE").read_text().lstrip().startswith("Apache License")
    assert "IBM/AMLSim" in (DATA / "README.md").read_text()
    rows = sum(len(p.read_text().splitlines()) - 1 for p in DATA.glob("*.csv"))
    assert rows <= 200


def test_tx_csv():
    res = amlsim.read(DATA / "tx.csv", "tx.csv", {})
    assert res.read == 45 == res.transfers.height + res.rejects.height
    assert not res.has_value
    assert list(res.transfers.columns[: len(TRANSFERS)]) == list(TRANSFERS)
    assert dict(res.transfers.select(list(TRANSFERS)).schema) == TRANSFERS
    assert dict(res.rejects.schema) == REJECTS
    # AMLSim writes some self-transfers (TXN_ID 20, 94, 106)
    assert reasons(res) == {
        7: "self-transfer (src equals dst)",
        30: "self-transfer (src equals dst)",
        35: "self-transfer (src equals dst)",
    }
    assert json.loads(res.rejects.get_column("raw")[0])["TXN_ID"] == "20"
    first = res.transfers.row(0, named=True)
    assert first["tx_id"] == "2" and first["seq"] == 1 and first["source_row"] == 1
    assert (first["src"], first["dst"]) == ("bank:amlsim:15", "bank:amlsim:25")
    assert (first["amount"], first["amount_raw"], first["asset"]) == (125.05, "125.05", "USD")
    # step 1 is one day after 2017-01-01
    assert first["ts"] == dt.datetime(2017, 1, 2, tzinfo=UTC)
    assert first["TXN_SOURCE_TYPE_CODE"] == "CHECK" and first["start"] == "1"
    last = res.transfers.row(-1, named=True)
    assert last["tx_id"] == "131" and last["ts"] == dt.datetime(2017, 2, 18, tzinfo=UTC)


def test_cash_tx_csv_goes_to_and_from_branch_cash():
    res = amlsim.read(DATA / "cash_tx.csv", "cash_tx.csv", {})
    assert res.read == 30 == res.transfers.height and res.rejects.height == 0
    by_id = {r["tx_id"]: r for r in res.transfers.to_dicts()}
    out, cash_in = by_id["1"], by_id["17"]  # 0 CASH-OUT at branch 11; 19 CASH-IN at branch 0
    assert (out["src"], out["dst"]) == ("bank:amlsim:0", "bank:amlsim:cash-out-branch-11")
    assert (cash_in["src"], cash_in["dst"]) == ("bank:amlsim:cash-in-branch-0", "bank:amlsim:19")
    assert cash_in["ts"] == dt.datetime(2017, 1, 6, tzinfo=UTC)  # RUN_DATE 5


def test_transactions_csv_from_the_tgz():
    res = amlsim.read(DATA / "transactions.csv", "transactions.csv", {})
    assert res.read == 30 == res.transfers.height
    first = res.transfers.row(0, named=True)
    assert first["tx_id"] == "transactions.csv:1"  # the layout has no ids
    assert (first["src"], first["dst"], first["amount"]) == (
        "bank:amlsim:216",
        "bank:amlsim:14730",
        163.3,
    )
    assert first["time"] == "1" and "value" not in res.transfers.columns[len(TRANSFERS) :]
    assert first["value"] == 163.3


def test_accounts_files():
    res = amlsim_accounts.read(DATA / "accounts.csv", "accounts.csv", {})
    assert res.read == 30 == res.accounts.height and res.rejects.height == 0
    assert res.transfers.height == 0 and dict(res.transfers.schema) == TRANSFERS
    row = res.accounts.filter(pl.col("account") == "bank:amlsim:25").to_dicts()[0]
    assert (row["opening_balance"], row["entity"], row["label"]) == (110.07, "C_25", None)
    res = amlsim_accounts.read(DATA / "nodes.csv", "nodes.csv", {})
    assert res.read == 20 == res.accounts.height
    assert res.accounts.get_column("opening_balance")[0] == 184.44


def test_broken_rows_are_rejected_with_reasons(tmp_path):
    tx = tmp_path / "tx.csv"
    tx.write_text(
        "TXN_ID,ACCOUNT_ID,COUNTER_PARTY_ACCOUNT_NUM,TXN_SOURCE_TYPE_CODE,tx_count,"
        "TXN_AMOUNT_ORIG,start,end\n"
        "1,1,2,WIRE,1,10.5,3,3\n"
        "2,1,2,WIRE,1,ten,3,3\n"
        "3,1,2,WIRE,1,10,3.5,3\n"
        "4,,2,WIRE,1,10,3,3\n"
        "1,2,3,WIRE,1,10,4,4\n"
        "6,2,3,WIRE,1,-1,4,4\n"
    )
    res = amlsim.read(tx, "tx.csv", {})
    assert res.read == 6 == res.transfers.height + res.rejects.height
    assert reasons(res) == {
        2: "non-numeric amount",
        3: f"unparseable timestamp ({amlsim.TIME_HINT})",
        4: "empty ACCOUNT_ID",
        5: "duplicate tx_id (first at row 1)",
        6: "negative amount",
    }
    cash = tmp_path / "cash.csv"
    cash.write_text(
        "TXN_ID,ACCOUNT_ID,BRANCH_ID,TXN_SOURCE_TYPE_CODE,tx_count,TXN_AMOUNT_ORIG,"
        "RUN_DATE,end\n1,0,11,CASH-OUT,1,9,1,1\n2,0,11,CHEQUE,1,9,1,1\n"
        "3,0,,CASH-IN,1,9,1,1\n"
    )
    res = amlsim.read(cash, "cash.csv", {})
    assert res.transfers.height == 1
    assert reasons(res)[2].startswith("unknown cash transaction type")
    assert reasons(res)[3] == "empty BRANCH_ID"
    nodes = tmp_path / "nodes.csv"
    nodes.write_text(
        "nodeid,isFraud,init_balance,fraudStep\n0,0,1.5,-1\n,0,2,-1\n1,0,x,-1\n0,0,3,-1\n"
    )
    res = amlsim_accounts.read(nodes, "nodes.csv", {})
    assert res.read == 4 == res.accounts.height + res.rejects.height
    assert reasons(res) == {
        1: "account listed again at row 4 (the later row is kept)",
        2: "empty nodeid",
        3: "bad init_balance (not a non-negative number)",
    }


def test_sniffing_picks_the_right_format(tmp_path):
    for name in ("tx.csv", "cash_tx.csv", "transactions.csv"):
        assert io.detect(DATA / name) == "amlsim", name
    for name in ("accounts.csv", "nodes.csv"):
        assert io.detect(DATA / name) == "amlsim-accounts", name
    alerts = tmp_path / "alerts.csv"  # AMLSim's alerts are not transfers
    alerts.write_text(
        "ALERT_KEY,ALERT_TEXT,ACCOUNT_ID,CUSTOMER_ID,EVENT_DATE,CHECK_NAME,"
        "Organization_Type,Escalated_To_Case_Investigation\n"
        "0,1,25,25,20170218,cycle,INDIVIDUAL,YES\n"
    )
    head = io.common.head_of(alerts)
    assert not amlsim.sniff(alerts, head) and not amlsim_accounts.sniff(alerts, head)


def test_ingest_auto_then_trace(tmp_path):
    files = [shutil.copy(DATA / n, tmp_path / n) for n in ("tx.csv", "accounts.csv")]
    ws = tmp_path / "ws"
    out = ok("ingest", *files, "-w", ws, "--format", "auto").stdout
    assert f"{files[0]}: read 45, ingested 42, rejected 3" in out
    assert "trace unit USD" in out
    acc = pl.read_parquet(ws / "accounts.parquet")
    assert acc.filter(pl.col("account") == "bank:amlsim:25").get_column(
        "opening_balance"
    ).to_list() == [110.07]
    rej = pl.read_parquet(ws / "rejects.parquet")
    assert rej.height == 3 and set(rej.get_column("reason")) == {"self-transfer (src equals dst)"}

    res = ok("trace", "-w", ws, "--tx", "2", "--rule", "fifo", "--format", "json")
    result = json.loads(res.stdout)
    assert result["seed_value"] == pytest.approx(125.05)
    ends = {e["account"]: e["value"] for e in result["endpoints"]}
    assert sum(ends.values()) + result["summary"]["dust"] == pytest.approx(125.05)
    # account 25 opened with 110.07, spent first (fifo): its first outflow (110.06 to 23) is
    # clean, the next (110.06 to 24) takes the last 0.01 clean and 110.05 of the victim's money
    assert ends["bank:amlsim:24"] == pytest.approx(110.05)
    assert result["summary"]["unexplained"] == pytest.approx(0.0)
