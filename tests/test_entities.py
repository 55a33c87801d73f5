"""Entities: explicit owners, the multi-input heuristic, and tracing across assets at entity level."""

from __future__ import annotations

import math

import polars as pl
from click.testing import CliRunner

from tracer import api
from tracer.cli import cli
from tracer.ingest import ingest
from tracer.workspace import Workspace

TRANSFERS = """tx_id,timestamp,src,dst,amount,asset
v1,2025-03-03T03:00:00Z,bank:KBANK:100,bank:BAY:808,340000,THB
c1,2025-03-02T03:00:00Z,bank:SCB:555,bank:BAY:808,170000,THB
u0,2025-03-01T00:00:00Z,tron:TFunder,tron:TOtcWallet,20000,USDT-TRC20
u1,2025-03-03T05:00:00Z,tron:TOtcWallet,tron:TSuspect,10000,USDT-TRC20
u2,2025-03-04T05:00:00Z,tron:TSuspect,tron:TLaunder,6000,USDT-TRC20
"""
LABELS = """account,label,name,entity
bank:BAY:808,otc,OTC desk (baht),otc-desk-1
tron:TOtcWallet,otc,OTC desk (USDT),otc-desk-1
"""
PRICES = """date,asset,usd
2025-03-01,THB,0.0294
2025-03-01,USDT-TRC20,1.0
2025-03-02,THB,0.0294
2025-03-02,USDT-TRC20,1.0
2025-03-03,THB,0.0294
2025-03-03,USDT-TRC20,1.0
2025-03-04,THB,0.0294
2025-03-04,USDT-TRC20,1.0
"""


def _ws(tmp_path):
    for name, text in (("t.csv", TRANSFERS), ("l.csv", LABELS), ("p.csv", PRICES)):
        (tmp_path / name).write_text(text)
    ingest(
        tmp_path / "ws",
        [tmp_path / "t.csv"],
        labels=[tmp_path / "l.csv"],
        prices=[tmp_path / "p.csv"],
    )
    return Workspace.open(tmp_path / "ws")


def test_entity_level_fifo_crosses_from_baht_to_usdt(tmp_path):
    ws = _ws(tmp_path)
    assert ws.unit == "USD"
    # account level: the baht stays in the desk's bank account (nothing stops: otc not in stop_at)
    acc = api.trace(ws, tx_ids=["v1"], rule="fifo", stop_at=())
    assert {r["account"] for r in acc.endpoints.to_pylist()} == {"bank:BAY:808"}
    # entity level: the desk is one pool: 5000 USD clean baht (c1) then 20000 USDT (u0, older)
    # then the victim's 9996 USD. fifo: u1 (10000) takes the oldest: u0's clean USDT first.
    res = api.trace(ws, tx_ids=["v1"], rule="fifo", stop_at=(), level="entity")
    ends = {r["account"]: r["value"] for r in res.endpoints.to_pylist()}
    assert math.isclose(res.seed_value, 340000 * 0.0294)
    assert ends == {"otc-desk-1": res.seed_value}
    # lifo takes the newest first: u1 carries [4 clean from c1, 9996 victim] to the suspect,
    # whose u2 (6000, newest first) is all victim's money
    res = api.trace(ws, tx_ids=["v1"], rule="lifo", stop_at=(), level="entity")
    ends = {r["account"]: r["value"] for r in res.endpoints.to_pylist()}
    assert math.isclose(ends["tron:TLaunder"], 6000)
    assert math.isclose(ends["tron:TSuspect"], res.seed_value - 6000)
    assert "otc-desk-1" not in ends
    assert res.conserved


def test_haircut_at_entity_level_sends_the_victims_share_on(tmp_path):
    ws = _ws(tmp_path)
    res = api.trace(ws, tx_ids=["v1"], rule="haircut", stop_at=(), level="entity")
    ends = {r["account"]: r["value"] for r in res.endpoints.to_pylist()}
    pool = 20000 + 170000 * 0.0294 + 340000 * 0.0294
    taint = 340000 * 0.0294
    assert math.isclose(ends["tron:TSuspect"] + ends["tron:TLaunder"], taint * 10000 / pool)
    assert res.conserved


def test_entities_in_accounts_table_and_links(tmp_path):
    ws = _ws(tmp_path)
    acc = dict(ws.table("accounts").select("account", "entity").iter_rows())
    assert acc["bank:BAY:808"] == acc["tron:TOtcWallet"] == "otc-desk-1"
    assert acc["tron:TSuspect"] == "tron:TSuspect"
    links = ws.table("entity_links").to_dicts()
    assert links == [
        {
            "account_a": "bank:BAY:808",
            "account_b": "tron:TOtcWallet",
            "reason": "same entity",
            "evidence": "otc-desk-1 (l.csv)",
        }
    ]


def test_internal_transfer_cannot_seed_at_entity_level(tmp_path):
    _ws(tmp_path)
    (tmp_path / "t2.csv").write_text(
        "tx_id,timestamp,src,dst,amount,asset\n"
        "i1,2025-03-05T00:00:00Z,bank:BAY:808,tron:TOtcWallet,1,USDT-TRC20\n"
    )
    ingest(tmp_path / "ws", [tmp_path / "t2.csv"])
    Workspace.open(tmp_path / "ws")
    r = CliRunner().invoke(
        cli, ["trace", "-w", str(tmp_path / "ws"), "--tx", "i1", "--level", "entity"]
    )
    assert r.exit_code == 1
    assert "internal" in r.output and len(r.output.strip().splitlines()) == 1


def test_multi_input_heuristic_and_coinjoin(tmp_path):
    rows = ["tx_id,timestamp,src,dst,amount,asset"]
    t = "2025-01-01T00:00:00Z"
    # tx A spends a1 and a2 together: one wallet
    rows += [
        f"A:in:0,{t},btc:a1,btctx:A,1,BTC",
        f"A:in:1,{t},btc:a2,btctx:A,2,BTC",
        f"A:out:0,{t},btctx:A,btc:x,3,BTC",
    ]
    # tx J looks like a CoinJoin (equal outputs): j1, j2 are not merged
    rows += [
        f"J:in:0,{t},btc:j1,btctx:J,1,BTC",
        f"J:in:1,{t},btc:j2,btctx:J,1,BTC",
        f"J:out:0,{t},btctx:J,btc:y,1,BTC",
        f"J:out:1,{t},btctx:J,btc:z,1,BTC",
    ]
    (tmp_path / "b.csv").write_text("\n".join(rows) + "\n")
    ingest(tmp_path / "ws", [tmp_path / "b.csv"])
    acc = dict(
        pl.read_parquet(tmp_path / "ws" / "accounts.parquet")
        .select("account", "entity")
        .iter_rows()
    )
    assert acc["btc:a1"] == acc["btc:a2"] == "cluster:btc:a1"
    assert acc["btc:j1"] == "btc:j1" and acc["btc:j2"] == "btc:j2"
    r = CliRunner().invoke(cli, ["entity", "btc:a2", "-w", str(tmp_path / "ws")])
    assert r.exit_code == 0, r.output
    assert "cluster:btc:a1" in r.output and "btctx:A" in r.output and "btc:a1" in r.output


def test_a_later_file_that_says_nothing_of_a_label_does_not_erase_it(tmp_path):
    (tmp_path / "t.csv").write_text(TRANSFERS)
    (tmp_path / "p.csv").write_text(PRICES)
    (tmp_path / "a.csv").write_text("account,label\nbank:BAY:808,otc\n")
    (tmp_path / "b.csv").write_text(
        "account,label,entity\nbank:BAY:808,,desk\ntron:TOtcWallet,,desk\n"
    )
    ingest(
        tmp_path / "ws",
        [tmp_path / "t.csv"],
        labels=[tmp_path / "a.csv"],
        prices=[tmp_path / "p.csv"],
    )
    ingest(tmp_path / "ws", [], labels=[tmp_path / "b.csv"])
    acc = {
        r["account"]: r for r in pl.read_parquet(tmp_path / "ws" / "accounts.parquet").to_dicts()
    }
    assert acc["bank:BAY:808"]["label"] == "otc"
    assert acc["bank:BAY:808"]["entity"] == acc["tron:TOtcWallet"]["entity"] == "desk"
    # the entities computed for the accounts table are not fed back as explicit ones
    labels = pl.read_parquet(tmp_path / "ws" / "labels.parquet")
    assert sorted(labels.get_column("account").to_list()) == ["bank:BAY:808", "tron:TOtcWallet"]
