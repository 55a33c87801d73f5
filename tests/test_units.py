"""The trace unit and values across assets: opening balances valued like transfers, USD worth
1, a unit chosen or changed explicitly (the workspace re-valued), and messages that name the
prices needed."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from conftest import ok, run, write_csv

from tracer.workspace import Workspace

HEADER = ["tx_id", "timestamp", "src", "dst", "amount", "asset"]
THB_USD = 0.0308
USDT_USD = 0.998


def prices(path: Path, rows) -> Path:
    return write_csv(path, ["date", "asset", "usd"], rows)


def values(ws: Path) -> dict[str, float | None]:
    t = pl.read_parquet(Workspace.open(ws).data / "transfers.parquet")
    return dict(t.select("tx_id", "value").iter_rows())


def accounts(ws: Path) -> pl.DataFrame:
    return pl.read_parquet(Workspace.open(ws).data / "accounts.parquet")


def camt(path: Path, balance: str, ccy: str, date: str = "2025-03-01") -> Path:
    """One camt.053 statement of a Thai mule account: an opening balance in ``ccy``, a credit
    of 10,000 from a victim and a debit of 9,800 on 2025-03-02."""

    def entry(ref: str, amount: str, side: str, cp: str) -> str:
        role = "Dbtr" if side == "CRDT" else "Cdtr"
        return (
            f'<Ntry><Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{side}</CdtDbtInd>'
            f"<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2025-03-02</Dt></BookgDt>"
            f"<ValDt><Dt>2025-03-02</Dt></ValDt><AcctSvcrRef>{ref}</AcctSvcrRef>"
            f"<NtryDtls><TxDtls><RltdPties><{role}Acct><Id><IBAN>{cp}</IBAN></Id>"
            f"</{role}Acct></RltdPties></TxDtls></NtryDtls></Ntry>"
        )

    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:'
        'tech:xsd:camt.053.001.08"><BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId>'
        "<CreDtTm>2025-03-05T00:00:00</CreDtTm></GrpHdr><Stmt><Id>S1</Id>"
        "<CreDtTm>2025-03-05T00:00:00</CreDtTm><Acct><Id><IBAN>DE75512108001245126199"
        "</IBAN></Id></Acct>"
        f'<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="{ccy}">{balance}'
        f"</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{date}</Dt></Dt></Bal>"
        + entry("R1", "10000.00", "CRDT", "DE02120300000000202051")
        + entry("R2", "9800.00", "DBIT", "FR1420041010050500013M02606")
        + "</Stmt></BkToCstmrStmt></Document>\n"
    )
    path.write_text(text, encoding="utf-8")
    return path


MULE = "iban:DE75512108001245126199"


def test_an_opening_balance_in_another_asset_is_valued_with_the_prices(tmp_path):
    ws = tmp_path / "ws"
    p = prices(tmp_path / "p.csv", [["2025-03-01", "THB", THB_USD], ["2025-03-02", "THB", 0.031]])
    ok(
        "ingest",
        camt(tmp_path / "s.xml", "2000.00", "THB"),
        "--prices",
        p,
        "--unit",
        "USD",
        "-w",
        ws,
    )
    opening = dict(accounts(ws).select("account", "opening_balance").iter_rows())
    assert opening[MULE] == pytest.approx(2000 * THB_USD)  # the price of its own day
    assert Workspace.open(ws).graph.opening.max() == pytest.approx(2000 * THB_USD)
    assert values(ws)[f"{MULE}:R1"] == pytest.approx(10000 * 0.031)
    # the raw balance stays with its asset and date, so a later unit can value it again
    known = pl.read_parquet(Workspace.open(ws).data / "labels.parquet")
    row = known.filter(pl.col("account") == MULE).row(0, named=True)
    assert (row["opening_balance"], row["opening_asset"], str(row["opening_date"])) == (
        2000.0,
        "THB",
        "2025-03-01",
    )


def test_an_opening_balance_without_a_price_is_left_unknown_and_said(tmp_path):
    ws = tmp_path / "ws"
    p = prices(tmp_path / "p.csv", [["2025-03-02", "THB", 0.031]])  # none on the balance's day
    out = ok("ingest", camt(tmp_path / "s.xml", "2000.00", "THB"), "--prices", p, "-w", ws).output
    opening = dict(accounts(ws).select("account", "opening_balance").iter_rows())
    assert opening[MULE] is None
    assert Workspace.open(ws).graph.opening.max() == 0.0
    assert "1 opening balance(s) in THB have no price on their day" in out
    assert "2025-03-01" in out and "--prices" in out


def test_an_opening_balance_in_the_unit_needs_no_price(tmp_path):
    ws = tmp_path / "ws"
    ok("ingest", camt(tmp_path / "s.xml", "2000.00", "THB"), "-w", ws)  # no prices: unit THB
    assert Workspace.open(ws).unit == "THB"
    opening = dict(accounts(ws).select("account", "opening_balance").iter_rows())
    assert opening[MULE] == 2000.0


def test_labels_csv_opening_asset_and_date(tmp_path):
    ws = tmp_path / "ws"
    t = write_csv(tmp_path / "t.csv", HEADER, [["t1", "2025-03-02T10:00:00Z", "a", "b", 10, "USD"]])
    lab = write_csv(
        tmp_path / "l.csv",
        ["account", "label", "opening_balance", "opening_asset", "opening_date"],
        [
            ["a", "mule", "1000", "THB", "2025-03-01"],
            ["b", "user", "7", "", ""],
            ["c", "user", "5", "THB", "01/03/2025"],
            ["d", "user", "5", "THB", ""],
        ],
    )
    p = prices(tmp_path / "p.csv", [["2025-03-01", "THB", THB_USD]])
    out = ok("ingest", t, "--labels", lab, "--prices", p, "-w", ws).output
    assert "read 4, ingested 2, rejected 2" in out
    opening = dict(accounts(ws).select("account", "opening_balance").iter_rows())
    assert opening["a"] == pytest.approx(1000 * THB_USD) and opening["b"] == 7.0
    reasons = set(
        pl.read_parquet(Workspace.open(ws).data / "rejects.parquet").get_column("reason").to_list()
    )
    assert reasons == {
        "bad opening_date (not a date YYYY-MM-DD)",
        "opening_asset without opening_date (the day its price is taken)",
    }


def test_entity_level_uses_the_valued_opening_balance(tmp_path):
    ws = tmp_path / "ws"
    p = prices(tmp_path / "p.csv", [["2025-03-01", "THB", THB_USD], ["2025-03-02", "THB", THB_USD]])
    lab = write_csv(
        tmp_path / "l.csv",
        ["account", "label", "entity"],
        [[MULE, "mule", "ring"], ["acct:other", "mule", "ring"]],
    )
    ok(
        "ingest",
        camt(tmp_path / "s.xml", "2000.00", "THB"),
        "--prices",
        p,
        "--labels",
        lab,
        "-w",
        ws,
    )
    g = Workspace.open(ws).graph_at("entity")
    assert g.opening.max() == pytest.approx(2000 * THB_USD)


def tron_then_bank(tmp_path: Path) -> tuple[Path, Path, Path]:
    tron = write_csv(
        tmp_path / "tron.csv",
        HEADER,
        [
            ["u1", "2025-01-06T10:00:00Z", "tron:TA", "tron:TB", 100, "USDT-TRC20"],
            ["u2", "2025-01-07T10:00:00Z", "tron:TB", "tron:TC", 50, "USDT-TRC20"],
        ],
    )
    bank = write_csv(
        tmp_path / "bank.csv",
        HEADER,
        [
            ["b1", "2025-01-06T09:00:00Z", "acct:V", "acct:M", 998, "USD"],
            ["b2", "2025-01-07T09:00:00Z", "acct:M", "acct:O", 3100, "THB"],
        ],
    )
    p = prices(
        tmp_path / "p.csv",
        [
            ["2025-01-06", "USDT-TRC20", USDT_USD],
            ["2025-01-07", "USDT-TRC20", 1.0],
            ["2025-01-07", "THB", 0.031],
        ],
    )
    return tron, bank, p


def test_usd_is_worth_one_in_any_unit(tmp_path):
    ws = tmp_path / "ws"
    tron, bank, p = tron_then_bank(tmp_path)
    ok("ingest", tron, "-w", ws)
    assert Workspace.open(ws).unit == "USDT-TRC20"
    out = ok("ingest", bank, "--prices", p, "-w", ws).output
    v = values(ws)
    assert v["b1"] == pytest.approx(998 / USDT_USD)  # USD in USDT: 1 / usd(USDT)
    assert v["b2"] == pytest.approx(3100 * 0.031 / 1.0)
    assert v["u1"] == 100 and v["u2"] == 50
    assert "without value" not in out and "no value" not in out


def test_changing_the_unit_revalues_the_workspace(tmp_path):
    ws = tmp_path / "ws"
    tron, bank, p = tron_then_bank(tmp_path)
    ok("ingest", tron, "-w", ws)
    ok("ingest", bank, "--prices", p, "-w", ws)
    before = values(ws)
    out = ok("ingest", "-w", ws, "--unit", "USD").output
    assert "trace unit USD" in out
    assert Workspace.open(ws).unit == "USD"
    v = values(ws)
    assert v["u1"] == pytest.approx(100 * USDT_USD) and v["u2"] == pytest.approx(50.0)
    assert v["b1"] == pytest.approx(998.0) and v["b2"] == pytest.approx(3100 * 0.031)
    # the graph the kernels read holds the new values
    g = Workspace.open(ws).graph
    assert sorted(g.value.tolist()) == pytest.approx(sorted(x for x in v.values()))
    # and back: the same values as before, within float rounding
    ok("ingest", "-w", ws, "--unit", "USDT-TRC20")
    assert values(ws) == pytest.approx(before)
    # the manifest records the unit; inputs are unchanged
    m = Workspace.open(ws).manifest
    assert m["unit"] == "USDT-TRC20" and len(m["inputs"]) == 3


def test_a_unit_change_without_the_prices_is_refused_and_changes_nothing(tmp_path):
    ws = tmp_path / "ws"
    tron, _bank, _p = tron_then_bank(tmp_path)
    ok("ingest", tron, "-w", ws)
    before = values(ws)
    res = run("ingest", "-w", ws, "--unit", "USD")
    assert res.exit_code == 1
    line = res.output.strip()
    assert line.count("\n") == 0 and line.startswith("Error: --unit USD: cannot re-value")
    assert "USDT-TRC20" in line and "2025-01-06" in line and "--prices" in line
    assert Workspace.open(ws).unit == "USDT-TRC20" and values(ws) == before


def test_the_message_for_transfers_without_value_names_the_prices_needed(tmp_path):
    ws = tmp_path / "ws"
    tron, bank, _p = tron_then_bank(tmp_path)
    ok("ingest", tron, "-w", ws)
    p = prices(tmp_path / "p.csv", [["2025-01-07", "THB", 0.031]])  # no USDT-TRC20 price
    out = ok("ingest", bank, "--prices", p, "-w", ws).output
    assert "2 transfers have no value" in out
    assert "1 in USD (1 day(s), 2025-01-06)" in out and "1 in THB" in out
    assert "USD price per day of THB and USDT-TRC20" in out and "--unit USD" in out


def test_mixed_assets_without_prices_say_to_give_prices(tmp_path):
    ws = tmp_path / "ws"
    t = write_csv(
        tmp_path / "t.csv",
        HEADER,
        [
            ["t1", "2025-01-06T10:00:00Z", "a", "b", 1, "ETH"],
            ["t2", "2025-01-06T11:00:00Z", "b", "c", 5, "USDT"],
        ],
    )
    res = run("ingest", t, "-w", ws)
    assert res.exit_code == 1 and "--prices" in res.output and "mixed" in res.output
    assert not ws.exists()
