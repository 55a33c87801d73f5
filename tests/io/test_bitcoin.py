"""Bitcoin inputs and outputs (BigQuery crypto_bitcoin tables, Blockchair dumps), on small
files written by hand.

The hand case, one block (height 100, 2025-01-01 00:10:00 UTC), amounts in BTC:

    T (hash aa…): in 0  1A 0.5        out 0 -> 1C 0.375    fee 0.0625
                  in 1  1B 0.25       out 1 -> 1D 0.25
                                      out 2 -> 1E 0.0625
                                      out 3 OP_RETURN 0 (rejected: zero value)
    U (hash 00…01, sorts before T): in 0 spends T:0 (1C 0.375) -> out 0 1F 0.3125, fee 0.0625

Seed T:in:0 (0.5 from 1A). Worked out by hand (DESIGN section 6, docs/semantics.md):

fifo    T's pool [taint 0.5, clean 0.25] (inputs in input order). out 0 takes taint 0.375;
        out 1 takes taint 0.125 + clean 0.125; out 2 and the fee take clean. 1C -> U: taint
        0.375; U out 0 takes taint 0.3125, U's fee taint 0.0625.
        Endpoints: 1F 0.3125, 1D 0.125, fee 0.0625.
haircut T: every outflow is 0.5 / 0.75 = 2/3 tainted: 1C 0.25, 1D 1/6, 1E 1/24, fee 1/24;
        U: 1C -> U 0.25 tainted of 0.375, so 1F 0.3125 * 2/3 = 5/24, fee 1/24.
        Endpoints: 1F 5/24, 1D 1/6, fee 1/12, 1E 1/24.

U spends an output of T in the same block and its hash sorts first: only the block order
rebuilt from the spending link puts U after T (else 1C would pay U before it is paid).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import math
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from tracer import api, io
from tracer.errors import InputError
from tracer.ingest import ingest
from tracer.io import bitcoin
from tracer.workspace import Workspace

UTC = dt.UTC
T = "a" * 64
U = "0" * 63 + "1"
P1, P2 = "b" * 64, "c" * 64  # earlier transactions whose outputs T spends
BT = "2025-01-01 00:10:00 UTC"

BQ_IN = [
    "transaction_hash",
    "block_hash",
    "block_number",
    "block_timestamp",
    "index",
    "spent_transaction_hash",
    "spent_output_index",
    "script_asm",
    "script_hex",
    "sequence",
    "required_signatures",
    "type",
    "addresses",
    "value",
]
BQ_OUT = [
    "transaction_hash",
    "block_hash",
    "block_number",
    "block_timestamp",
    "index",
    "script_asm",
    "script_hex",
    "required_signatures",
    "type",
    "addresses",
    "value",
]
BC = [
    "block_id",
    "transaction_hash",
    "index",
    "time",
    "value",
    "value_usd",
    "recipient",
    "type",
    "script_hex",
    "is_from_coinbase",
    "is_spendable",
    "spending_block_id",
    "spending_transaction_hash",
    "spending_index",
    "spending_time",
    "spending_value_usd",
    "spending_sequence",
    "spending_signature_hex",
    "spending_witness",
    "lifespan",
    "cdd",
]

# (tx, index, spent tx, spent index, addresses, satoshi)
INPUTS = [
    (T, 0, P1, 0, ["1A"], 50_000_000),
    (T, 1, P2, 3, ["1B"], 25_000_000),
    (U, 0, T, 0, ["1C"], 37_500_000),
]
# (tx, index, type, addresses, satoshi)
OUTPUTS = [
    (T, 0, "pubkeyhash", ["1C"], 37_500_000),
    (T, 1, "pubkeyhash", ["1D"], 25_000_000),
    (T, 2, "pubkeyhash", ["1E"], 6_250_000),
    (T, 3, "nulldata", [], 0),
    (U, 0, "pubkeyhash", ["1F"], 31_250_000),
]


def write_csv(path: Path, header: list[str], rows: list[list], delimiter: str = ",") -> Path:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=delimiter, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def quoted(addrs: list[str]) -> str:
    return "[" + ",".join(f'"{a}"' for a in addrs) + "]"


def bq_inputs(path: Path, rows=INPUTS, block=100, ts=BT) -> Path:
    return write_csv(
        path,
        BQ_IN,
        [
            [tx, "bh", block, ts, i, stx, si, "", "", 4294967295, 1, "pubkeyhash", quoted(a), v]
            for tx, i, stx, si, a, v in rows
        ],
    )


def bq_outputs(path: Path, rows=OUTPUTS, block=100, ts=BT) -> Path:
    return write_csv(
        path,
        BQ_OUT,
        [[tx, "bh", block, ts, i, "", "", 1, typ, quoted(a), v] for tx, i, typ, a, v in rows],
    )


def blockchair_inputs(path: Path) -> Path:
    """Each row: the output being spent (created at block 90), spent by the input."""
    t0, t1 = "2024-12-31 08:00:00", BT.removesuffix(" UTC")
    return write_csv(
        path,
        BC,
        [
            [
                90,
                stx,
                si,
                t0,
                v,
                "1.0",
                a[0],
                "pubkeyhash",
                "76a9",
                0,
                "",
                100,
                tx,
                i,
                t1,
                "1.0",
                4294967295,
                "4730",
                "",
                1,
                "0.1",
            ]
            for tx, i, stx, si, a, v in INPUTS
        ],
        delimiter="\t",
    )


def blockchair_outputs(path: Path) -> Path:
    t1 = BT.removesuffix(" UTC")
    rows = []
    for tx, i, typ, a, v in OUTPUTS:
        spent = (tx, i) == (T, 0)
        rows.append(
            [
                100,
                tx,
                i,
                t1,
                v,
                "1.0",
                a[0] if a else "d-" + "0" * 32,
                typ,
                "6a",
                0,
                0 if typ == "nulldata" else "",
                100 if spent else "",
                U if spent else "",
                0 if spent else "",
                t1 if spent else "",
                "",
                "",
                "",
                "",
                "",
                "",
            ]
        )
    return write_csv(path, BC, rows, delimiter="\t")


def endpoints(result) -> dict[str, float]:
    return dict(
        zip(
            result.endpoints.column("account").to_pylist(),
            result.endpoints.column("value").to_pylist(),
            strict=True,
        )
    )


def assert_counts_reconcile(ws: Path) -> None:
    w = Workspace.open(ws)
    rejects = w.table("rejects")
    per_source = dict(rejects.group_by("source").len().iter_rows())
    transfers = w.table("transfers")
    rows = dict(transfers.group_by("source").len().iter_rows())
    for item in w.manifest["inputs"]:
        assert item["read"] == item["ingested"] + item["rejected"], item
        assert per_source.get(item["name"], 0) == item["rejected"], item
        assert rows.get(item["name"], 0) == item["ingested"], item


@pytest.fixture
def hand_ws(tmp_path) -> Path:
    files = [bq_inputs(tmp_path / "inputs.csv"), bq_outputs(tmp_path / "outputs.csv")]
    reports = ingest(tmp_path / "ws", files)
    assert [(r.read, r.ingested, r.rejected) for r in reports] == [(3, 3, 0), (5, 4, 1)]
    return tmp_path / "ws"


# --- the hand case end to end -----------------------------------------------------------------


def test_fifo_and_haircut_by_hand(hand_ws):
    ws = Workspace.open(hand_ws)
    assert ws.unit == "BTC"
    fifo = api.trace(ws, tx_ids=[f"{T}:in:0"], rule="fifo")
    assert fifo.seed_value == 0.5
    assert endpoints(fifo) == pytest.approx(
        {"btc:1F": 0.3125, "btc:1D": 0.125, "fee": 0.0625}, rel=1e-12
    )
    haircut = api.trace(ws, tx_ids=[f"{T}:in:0"], rule="haircut")
    assert endpoints(haircut) == pytest.approx(
        {"btc:1F": 5 / 24, "btc:1D": 1 / 6, "fee": 1 / 12, "btc:1E": 1 / 24}, rel=1e-12
    )
    for r in (fifo, haircut):
        assert r.conserved
        assert r.summary["unexplained"] == 0.0  # no outflow ran ahead of its funding
    flows = {
        tx: tau
        for tx, tau in zip(
            fifo.flows.column("tx_id").to_pylist(),
            fifo.flows.column("tainted").to_pylist(),
            strict=True,
        )
    }
    assert flows[f"{T}:out:0"] == 0.375 and flows[f"{T}:out:1"] == 0.125
    assert flows.get(f"{T}:out:2", 0.0) == 0.0 and flows.get(f"{T}:fee", 0.0) == 0.0
    assert flows[f"{U}:in:0"] == 0.375 and flows[f"{U}:fee"] == 0.0625


def test_transfers_fee_and_order(hand_ws):
    ws = Workspace.open(hand_ws)
    t = ws.table("transfers")
    fee = t.filter(pl.col("tx_id") == f"{T}:fee").row(0, named=True)
    assert (fee["src"], fee["dst"], fee["amount"], fee["amount_raw"], fee["asset"]) == (
        f"btctx:{T}",
        "fee",
        0.0625,
        "6250000",
        "BTC",
    )
    assert (fee["source"], fee["source_row"]) == ("(fee)", 0)
    assert fee["ts"] == dt.datetime(2025, 1, 1, 0, 10, tzinfo=UTC)
    # replay order: T's inputs, outputs, fee; then U (which spends T:0) with its own
    order = t.sort("ts", "seq", "tx_id").get_column("tx_id").to_list()
    assert order == [
        f"{T}:in:0",
        f"{T}:in:1",
        f"{T}:out:0",
        f"{T}:out:1",
        f"{T}:out:2",
        f"{T}:fee",
        f"{U}:in:0",
        f"{U}:out:0",
        f"{U}:fee",
    ]
    out = t.filter(pl.col("tx_id") == f"{T}:out:1").row(0, named=True)
    assert (out["src"], out["dst"], out["amount"], out["amount_raw"]) == (
        f"btctx:{T}",
        "btc:1D",
        0.25,
        "25000000",
    )
    # the input addresses of a transaction: the src of its :in: transfers
    spent = (
        t.filter(pl.col("tx_id").str.contains(":in:") & (pl.col("dst") == f"btctx:{T}"))
        .get_column("src")
        .sort()
        .to_list()
    )
    assert spent == ["btc:1A", "btc:1B"]
    # the multi-input heuristic joins them into one entity
    acc = ws.table("accounts")
    ent = dict(acc.select("account", "entity").iter_rows())
    assert ent["btc:1A"] == ent["btc:1B"] != ent["btc:1C"]
    rej = ws.table("rejects")
    assert rej.get_column("reason").to_list() == ["zero-value output (no funds moved)"]
    assert_counts_reconcile(hand_ws)


def test_ingest_in_any_order_and_calls_gives_the_same(tmp_path, hand_ws):
    want = (
        Workspace.open(hand_ws)
        .table("transfers")
        .sort("tx_id")
        .select("tx_id", "ts", "seq", "src", "dst", "amount", "amount_raw")
    )
    fin, fout = bq_inputs(tmp_path / "in.csv"), bq_outputs(tmp_path / "out.csv")
    for name, calls in (("a", [[fout], [fin]]), ("b", [[fin], [fout]]), ("c", [[fout, fin]])):
        for files in calls:
            ingest(tmp_path / name, files)
        got = Workspace.open(tmp_path / name).table("transfers").sort("tx_id").select(want.columns)
        assert got.equals(want), name
        assert_counts_reconcile(tmp_path / name)
    # only inputs loaded: no fee, nothing booked that the data does not show
    ingest(tmp_path / "d", [bq_inputs(tmp_path / "in2.csv")])
    assert (
        not Workspace.open(tmp_path / "d").table("transfers").get_column("dst").is_in(["fee"]).any()
    )


def test_post_is_idempotent(hand_ws):
    t = Workspace.open(hand_ws).table("transfers")
    once, rej = bitcoin.post(t)
    twice, rej2 = bitcoin.post(once)
    assert rej.height == rej2.height == 0
    assert once.sort("tx_id").equals(twice.sort("tx_id"))
    assert once.sort("tx_id").equals(t.sort("tx_id"))
    assert once.schema == t.schema


# --- Blockchair and Parquet give the same transfers --------------------------------------------

COMPARE = ["tx_id", "ts", "seq", "src", "dst", "amount", "amount_raw", "asset"]


def test_blockchair_dumps_same_as_bigquery(tmp_path, hand_ws):
    want = Workspace.open(hand_ws).table("transfers").sort("tx_id").select(COMPARE)
    fin = blockchair_inputs(tmp_path / "blockchair_bitcoin_inputs_20250101.tsv.gz")
    fout = blockchair_outputs(tmp_path / "blockchair_bitcoin_outputs_20250101.tsv")
    assert io.detect(fin) == "bitcoin-blockchair-inputs"
    assert io.detect(fout) == "bitcoin-blockchair-outputs"
    # the outputs dump alone already orders U after T (its spending columns link them)
    alone = io.reader("bitcoin-blockchair-outputs").read(fout, fout.name, {}).transfers
    seqs = dict(alone.select("tx_id", "seq").iter_rows())
    assert seqs[f"{U}:out:0"] > seqs[f"{T}:out:2"]
    reports = ingest(tmp_path / "ws2", [fin, fout])
    assert [(r.read, r.ingested, r.rejected) for r in reports] == [(3, 3, 0), (5, 4, 1)]
    got = Workspace.open(tmp_path / "ws2").table("transfers").sort("tx_id").select(COMPARE)
    assert got.equals(want)
    assert_counts_reconcile(tmp_path / "ws2")


def test_parquet_with_list_addresses_and_decimal_values(tmp_path, hand_ws):
    want = Workspace.open(hand_ws).table("transfers").sort("tx_id").select(COMPARE)
    when = dt.datetime(2025, 1, 1, 0, 10, tzinfo=UTC)
    dec = pl.Decimal(38, 9)
    pl.DataFrame(
        {
            "transaction_hash": [r[0] for r in INPUTS],
            "block_number": [100] * 3,
            "block_timestamp": [when] * 3,
            "index": [r[1] for r in INPUTS],
            "spent_transaction_hash": [r[2] for r in INPUTS],
            "spent_output_index": [r[3] for r in INPUTS],
            "type": ["pubkeyhash"] * 3,
            "addresses": [r[4] for r in INPUTS],
            "value": pl.Series([Decimal(r[5]) for r in INPUTS], dtype=dec),
        }
    ).write_parquet(tmp_path / "inputs.parquet")
    pl.DataFrame(
        {
            "transaction_hash": [r[0] for r in OUTPUTS],
            "block_number": [100] * 5,
            "block_timestamp": [when] * 5,
            "index": [r[1] for r in OUTPUTS],
            "type": [r[2] for r in OUTPUTS],
            "addresses": [r[3] for r in OUTPUTS],
            "value": pl.Series([Decimal(r[4]) for r in OUTPUTS], dtype=dec),
        },
        schema_overrides={"addresses": pl.List(pl.String)},
    ).write_parquet(tmp_path / "outputs.parquet")
    assert io.detect(tmp_path / "inputs.parquet") == "bitcoin-bq-inputs"
    assert io.detect(tmp_path / "outputs.parquet") == "bitcoin-bq-outputs"
    ingest(tmp_path / "ws3", [tmp_path / "inputs.parquet", tmp_path / "outputs.parquet"])
    got = Workspace.open(tmp_path / "ws3").table("transfers").sort("tx_id").select(COMPARE)
    assert got.drop("amount_raw").equals(want.drop("amount_raw"))
    # amount_raw is the value as the file holds it (BigQuery NUMERIC keeps 9 decimals)
    assert got.filter(pl.col("tx_id") == f"{T}:in:0").item(0, "amount_raw") == "50000000.000000000"
    rej = Workspace.open(tmp_path / "ws3").table("rejects")
    assert rej.get_column("raw").str.contains('"addresses":""').all()  # an empty list, as text


# --- sniffing ---------------------------------------------------------------------------------


def test_sniffing(tmp_path):
    assert io.detect(bq_inputs(tmp_path / "x.csv")) == "bitcoin-bq-inputs"
    assert io.detect(bq_outputs(tmp_path / "y.csv")) == "bitcoin-bq-outputs"
    assert io.detect(bq_outputs(tmp_path / "y.csv.gz")) == "bitcoin-bq-outputs"
    # Blockchair inputs and outputs share their columns: the file name tells them apart
    fin = blockchair_inputs(tmp_path / "dump.tsv")
    with pytest.raises(InputError, match="format not recognised"):
        io.detect(fin)
    res = io.reader("bitcoin-blockchair-inputs").read(fin, "dump.tsv", {})
    assert res.transfers.height == 3
    outputs_named_inputs = blockchair_outputs(tmp_path / "inputs_dump.tsv")
    assert io.detect(outputs_named_inputs) == "bitcoin-blockchair-inputs"  # the name wins
    # a canonical file is not taken for Bitcoin
    canon = write_csv(
        tmp_path / "c.csv",
        ["tx_id", "timestamp", "src", "dst", "amount", "asset"],
        [["t1", "2025-01-01", "a", "b", "1", "USD"]],
    )
    assert io.detect(canon) == "canonical"


# --- edge cases -------------------------------------------------------------------------------


def read_bq(path: Path, kind: str):
    return io.reader(f"bitcoin-bq-{kind}").read(path, path.name, {})


def test_accounts_and_rejects(tmp_path):
    H = "d" * 64
    N = "e" * 64
    outputs = [
        (H, 0, "multisig", ["1Z", "1Y"], 1000),  # bare multisig: both addresses
        (H, 1, "nonstandard", [], 2000),  # no address: the outpoint
        (H, 2, "nulldata", [], 0),  # OP_RETURN: rejected
        (H, 3, "pubkeyhash", ["1X"], "12.5"),  # not whole satoshi
        (H, 4, "pubkeyhash", ["1X"], -5),
        (H, 5, "pubkeyhash", ["1X"], ""),
        (H, 6, "witness_v0_keyhash", ["nonstandardabc"], 3000),  # bitcoin-etl's naming, kept
        (H, 0, "pubkeyhash", ["1X"], 7),  # seen twice
    ]
    res = read_bq(bq_outputs(tmp_path / "o.csv", outputs), "outputs")
    assert res.read == 8 == res.transfers.height + res.rejects.height
    dst = dict(res.transfers.select("tx_id", "dst").iter_rows())
    assert dst == {
        f"{H}:out:0": "btc:multisig:1Y+1Z",
        f"{H}:out:1": f"btc:nonstandard:{H}:1",
        f"{H}:out:6": "btc:nonstandardabc",
    }
    reasons = dict(res.rejects.select("source_row", "reason").iter_rows())
    assert reasons == {
        3: "zero-value output (no funds moved)",
        4: "value is not a whole number of satoshi",
        5: "negative value",
        6: "empty value",
        8: "duplicate output (first at row 1)",
    }
    assert res.transfers.get_column("btc_zero_legs").to_list() == ["2"] * 3
    inputs = [
        (N, 0, H, 1, [], 2000),  # spends the output without address: same account
        (N, 1, H, 0, ["1Y", "1Z"], 1000),  # spends the multisig: same account
    ]
    res = read_bq(bq_inputs(tmp_path / "i.csv", inputs), "inputs")
    src = dict(res.transfers.select("tx_id", "src").iter_rows())
    assert src == {f"{N}:in:0": f"btc:nonstandard:{H}:1", f"{N}:in:1": "btc:multisig:1Y+1Z"}
    # coinbase: no spent transaction; without a value it moves nothing we can see
    cb = write_csv(
        tmp_path / "cb.csv",
        BQ_IN,
        [
            [N, "bh", 5, BT, 0, "", "", "", "", 1, "", "coinbase", "[]", ""],
            [H, "bh", 5, BT, 0, "", "", "", "", 1, "", "coinbase", "[]", "625000000"],
        ],
    )
    res = read_bq(cb, "inputs")
    assert res.rejects.get_column("reason").str.starts_with("coinbase input without a value").all()
    assert res.transfers.select("src", "amount").row(0) == ("btc:coinbase", 6.25)


def test_fee_only_when_the_legs_are_complete(tmp_path):
    # T's output 1 is missing: no fee (its value would be booked as fee); the zero-value
    # output 3 (rejected) does not count as missing
    ingest(
        tmp_path / "ws",
        [
            bq_inputs(tmp_path / "i.csv"),
            bq_outputs(tmp_path / "o.csv", [r for r in OUTPUTS if r[1] != 1 or r[0] != T]),
        ],
    )
    fees = Workspace.open(tmp_path / "ws").table("transfers").filter(pl.col("dst") == "fee")
    assert fees.get_column("tx_id").to_list() == [f"{U}:fee"]
    ingest(
        tmp_path / "ws", [bq_outputs(tmp_path / "o1.csv", [r for r in OUTPUTS if r[:2] == (T, 1)])]
    )
    fees = Workspace.open(tmp_path / "ws").table("transfers").filter(pl.col("dst") == "fee")
    assert sorted(fees.get_column("tx_id").to_list()) == sorted([f"{T}:fee", f"{U}:fee"])
    assert_counts_reconcile(tmp_path / "ws")


def test_block_times_made_monotonic(tmp_path):
    """Block 101 carries an earlier time than block 100 (allowed by Bitcoin's rules): the spend
    in block 101 must still replay after the output it spends."""
    A, B = "1" * 64, "2" * 64
    fo = bq_outputs(
        tmp_path / "o.csv", [(A, 0, "pubkeyhash", ["1K"], 1000)], 100, "2025-01-01 00:10:00 UTC"
    )
    fi = bq_inputs(tmp_path / "i.csv", [(B, 0, A, 0, ["1K"], 1000)], 101, "2025-01-01 00:04:00 UTC")
    ingest(tmp_path / "ws", [fo, fi])
    t = Workspace.open(tmp_path / "ws").table("transfers").sort("ts", "seq", "tx_id")
    assert t.get_column("tx_id").to_list() == [f"{A}:out:0", f"{B}:in:0"]
    assert t.get_column("ts").to_list() == [dt.datetime(2025, 1, 1, 0, 10, tzinfo=UTC)] * 2
    assert t.get_column("btc_block_time").to_list()[1] == dt.datetime(2025, 1, 1, 0, 4, tzinfo=UTC)


def test_missing_column_and_unreadable(tmp_path):
    bad = write_csv(
        tmp_path / "x.csv",
        ["transaction_hash", "block_timestamp", "index", "addresses"],
        [[T, BT, 0, "[]"]],
    )
    with pytest.raises(InputError, match="missing column"):
        read_bq(bad, "outputs")
    gz = tmp_path / "blockchair_bitcoin_outputs_x.tsv.gz"
    gz.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(InputError) as exc:
        io.reader("bitcoin-blockchair-outputs").read(gz, gz.name, {})
    assert str(gz) in str(exc.value) and "\n" not in str(exc.value)


def test_amounts_are_the_nearest_float(tmp_path):
    rows = [
        (T, 0, "pubkeyhash", ["1A"], 2_099_999_997_690_000),
        (T, 1, "pubkeyhash", ["1B"], 1),
        (T, 2, "pubkeyhash", ["1C"], 10_000_001),
    ]
    res = read_bq(bq_outputs(tmp_path / "o.csv", rows), "outputs")
    amounts = dict(res.transfers.select("tx_id", "amount").iter_rows())
    assert amounts[f"{T}:out:0"] == 20_999_999.9769
    assert amounts[f"{T}:out:1"] == 1e-8
    assert amounts[f"{T}:out:2"] == float(Decimal("0.10000001"))
    assert math.isclose(sum(amounts.values()), 20_999_999.9769 + 0.10000002)


def test_amounts_are_the_nearest_float_of_the_satoshi_text(tmp_path):
    H = "f" * 64
    sats = [378988, 1, 99_999_999, 2_100_000_000_000_000, 12345678]
    outputs = [(H, i, "pubkeyhash", [f"1Q{i}"], v) for i, v in enumerate(sats)]
    res = read_bq(bq_outputs(tmp_path / "o.csv", outputs), "outputs")
    got = dict(res.transfers.select("btc_index", "amount").iter_rows())
    # the decimal text of satoshi / 1e8, parsed: the correctly rounded float
    assert got == {i: float(f"{v // 10**8}.{v % 10**8:08d}") for i, v in enumerate(sats)}
