"""ethereum-etl / BigQuery token_transfers and transactions, on real ethereum-etl rows
(tests/data/ethereum_etl, MIT, see its README) and on small written files."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from tracer import io
from tracer.cli import cli
from tracer.errors import InputError, MissingColumnsError

UTC = dt.UTC
DATA = Path(__file__).parent.parent / "data" / "ethereum_etl"
REAL_TXS = DATA / "transactions_block_17173049_head.csv"
REAL_TOKENS = DATA / "token_transfers_from_logs.csv"
REAL_TOKENS_2 = DATA / "token_transfers_block_with_transfers.csv"
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
DAI = "0x6b175474e89094c44da98b954eedeac495271d0f"
A, B, C = ("0x" + c * 40 for c in "abc")
TT_HEADER = [
    "token_address",
    "from_address",
    "to_address",
    "value",
    "transaction_hash",
    "log_index",
    "block_number",
]
TX_HEADER = [
    "hash",
    "nonce",
    "block_hash",
    "block_number",
    "transaction_index",
    "from_address",
    "to_address",
    "value",
    "gas",
    "gas_price",
    "input",
    "block_timestamp",
]
T0 = 1_700_000_000


def h(i: int) -> str:
    return "0x" + f"{i:064x}"


def write(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def read(path: Path, options: dict | None = None):
    name = io.detect(path)
    return name, io.reader(name).read(path, path.name, options or {})


def reasons(res) -> dict[int, str]:
    return dict(zip(res.rejects["source_row"], res.rejects["reason"], strict=True))


def check_reconciles(res):
    assert res.read == res.transfers.height + res.rejects.height
    assert not res.has_value


# --------------------------------------------------------------------------------------------
# transactions


def test_real_transactions():
    name, res = read(REAL_TXS)
    assert name == "ethereum-etl-transactions"
    check_reconciles(res)
    assert (res.read, res.transfers.height) == (12, 8)
    assert set(reasons(res).values()) == {"zero-value transaction (no funds moved)"}
    t = res.transfers
    second = t.filter(pl.col("source_row") == 2).row(0, named=True)
    assert second["tx_id"] == "0xec7cc4df1ff542793053335700f18d59c3f870e1e4820a42d558c76db832bd14"
    assert second["amount"] == 7.4 and second["amount_raw"] == "7400000000000000000"
    assert second["asset"] == "ETH" and second["seq"] == 1
    assert second["src"] == "eth:0x64a018b23b4d7a077dffa6723462bc722861c5ad"
    assert second["ts"] == dt.datetime.fromtimestamp(1683029999, UTC)
    assert t["amount"][0] == 1642894143 / 1e18  # wei, exactly scaled


def test_transactions_rules(tmp_path):
    wei30 = "123456789012345678901234567890"
    header = [*TX_HEADER, "receipt_status", "receipt_contract_address"]
    path = write(
        tmp_path / "transactions.csv",
        header,
        [
            [h(1), 0, h(99), 1, 0, A, B, wei30, 21000, 1, "0x", T0, 1, ""],
            [h(2), 1, h(99), 1, 1, A, B, "10", 21000, 1, "0x", T0, 0, ""],  # failed
            [h(3), 2, h(99), 1, 2, A, "", "5", 21000, 1, "0x60", T0, 1, C],  # creation
            [h(4), 3, h(99), 1, 3, A, B, "1e18", 21000, 1, "0x", T0, 1, ""],
            [h(5), 4, h(99), 1, 4, A, "", "5", 21000, 1, "0x60", T0, 1, ""],
            [
                h(6),
                5,
                h(99),
                1,
                5,
                A,
                B.upper().replace("0X", "0x"),
                "7",
                21000,
                1,
                "0x",
                "bad",
                1,
                "",
            ],
            [h(7), 6, h(99), 1, 6, A, A, "7", 21000, 1, "0x", T0, 1, ""],
        ],
    )
    name, res = read(path)
    assert name == "ethereum-etl-transactions"
    check_reconciles(res)
    t = res.transfers
    assert t["tx_id"].to_list() == [h(1), h(3)]
    assert t["amount"][0] == float(Decimal(wei30) / Decimal(10**18))
    assert t["amount"][0] == float("123456789012.345678901234567890")
    assert t["amount_raw"][0] == wei30
    assert t["dst"][1] == "eth:" + C and t["contract_creation"].to_list() == [False, True]
    assert reasons(res) == {
        2: "failed transaction (receipt_status 0)",
        4: "value is not an exact non-negative integer (wei)",
        5: "no to_address (contract creation without receipt_contract_address)",
        6: "bad block_timestamp (expected unix seconds or ISO 8601)",
        7: "self-transfer (from_address equals to_address)",
    }


def test_bigquery_parquet_transactions(tmp_path):
    """BigQuery: value NUMERIC (a decimal in Parquet), block_timestamp a timestamp."""
    path = tmp_path / "bq_transactions.parquet"
    pl.DataFrame(
        {
            "hash": [h(1), h(2)],
            "nonce": [0, 1],
            "transaction_index": [4, 5],
            "from_address": [A, A],
            "to_address": [B, C],
            "value": pl.Series(
                [Decimal("1500000000000000000"), Decimal("0")], dtype=pl.Decimal(38, 9)
            ),
            "receipt_status": [1, 1],
            "block_number": [17_000_000, 17_000_000],
            "block_timestamp": [dt.datetime(2023, 4, 1, 12, tzinfo=UTC)] * 2,
        }
    ).write_parquet(path)
    name, res = read(path)
    assert name == "ethereum-etl-transactions"
    check_reconciles(res)
    t = res.transfers
    assert t["amount"].to_list() == [1.5] and t["seq"].to_list() == [4]
    assert t["ts"][0] == dt.datetime(2023, 4, 1, 12, tzinfo=UTC)
    assert reasons(res) == {2: "zero-value transaction (no funds moved)"}


def test_transactions_missing_column(tmp_path):
    path = write(
        tmp_path / "tx.csv",
        [c for c in TX_HEADER if c != "value"],
        [[h(1), 0, h(9), 1, 0, A, B, 1, 1, "0x", T0]],
    )
    with pytest.raises(MissingColumnsError, match="value"):
        io.reader("ethereum-etl-transactions").read(path, "tx.csv", {})


# --------------------------------------------------------------------------------------------
# token transfers


def blocks(folder: Path, numbers: dict[int, object]) -> Path:
    """A blocks table with made-up times."""
    return write(
        folder / "blocks.csv",
        ["number", "hash", "timestamp"],
        [[n, h(n), ts] for n, ts in numbers.items()],
    )


def test_real_token_transfers_need_block_times(tmp_path):
    copy = tmp_path / REAL_TOKENS.name
    shutil.copy(REAL_TOKENS, copy)
    assert io.detect(copy) == "ethereum-etl-token-transfers"
    with pytest.raises(InputError) as err:
        io.reader("ethereum-etl-token-transfers").read(copy, copy.name, {})
    assert str(copy) in str(err.value) and "blocks.csv" in str(err.value)
    assert "\n" not in str(err.value)


def test_real_token_transfers_with_sibling_blocks(tmp_path):
    copy = tmp_path / REAL_TOKENS.name
    shutil.copy(REAL_TOKENS, copy)
    blocks(tmp_path, {1452581: T0})
    name, res = read(copy)
    check_reconciles(res)
    t = res.transfers
    assert t["tx_id"].to_list() == [
        "0x5cb4fc2e3d217f3c286358d6bc042259c8befb0dabe450567a987f5770043157:3",
        "0xcded4ed21d5825c063833ed599814a0f687e3e411657a5ee1170ac625df607b7:5",
    ]
    assert t["seq"].to_list() == [3, 5]
    # unknown tokens: raw units, asset by contract
    assert t["asset"].to_list() == [
        "ERC20:0xc66ea802717bfb9833400264dd12c2bceaa34a6d",
        "ERC20:0xe0b7927c4af23765cb51314a0e0521a9645f0e2a",
    ]
    assert t["amount"].to_list() == [109e18, 4e10]
    assert t["amount_raw"].to_list() == ["109000000000000000000", "40000000000"]
    assert t["ts"].to_list() == [dt.datetime.fromtimestamp(T0, UTC)] * 2
    assert any("decimals are unknown" in n for n in res.notes)


def test_blocks_from_options_and_missing_block(tmp_path):
    copy = tmp_path / "tt.csv"
    shutil.copy(REAL_TOKENS_2, copy)
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    given = blocks(elsewhere, {999: T0})
    _, res = read(copy, {"blocks": str(given)})
    assert reasons(res) == {
        1: "block not in the blocks table blocks.csv",
        2: "block not in the blocks table blocks.csv",
    }
    blocks(elsewhere, {483920: "2015-11-02 10:00:00 UTC"})  # BigQuery style time
    _, res = read(copy, {"blocks": str(given)})
    assert res.transfers["ts"].to_list() == [dt.datetime(2015, 11, 2, 10, tzinfo=UTC)] * 2


def test_known_tokens_scaled_exactly(tmp_path):
    big = "123456789012345678901234567890"
    path = write(
        tmp_path / "token_transfers.csv",
        [*TT_HEADER, "block_timestamp"],
        [
            [USDT, A, B, "1234567", h(1), 0, 1, "2023-05-02 12:19:59 UTC"],
            [DAI.upper().replace("0X", "0x"), B, C, big, h(1), 1, 1, "2023-05-02 12:19:59 UTC"],
            [USDT, A, B, "0", h(2), 7, 1, "2023-05-02 12:19:59 UTC"],
            [USDT, A, B, "-5", h(3), 0, 1, "2023-05-02 12:19:59 UTC"],
            [USDT, A, B, "5", h(4), "", 1, "2023-05-02 12:19:59 UTC"],
            [USDT, A, B, "5", h(1), 0, 1, "2023-05-02 12:19:59 UTC"],
            [USDT, A, "0x123", "5", h(5), 0, 1, "2023-05-02 12:19:59 UTC"],
        ],
    )
    name, res = read(path)
    assert name == "ethereum-etl-token-transfers"
    check_reconciles(res)
    t = res.transfers
    assert t["amount"].to_list() == [1.234567, float("123456789012.345678901234567890")]
    assert t["asset"].to_list() == ["USDT-ERC20", "DAI-ERC20"]
    assert t["token_decimals"].to_list() == [6, 18]
    assert t["ts"][0] == dt.datetime(2023, 5, 2, 12, 19, 59, tzinfo=UTC)
    assert reasons(res) == {
        3: "zero-value token transfer (no funds moved)",
        4: "value is not an exact non-negative integer",
        5: "bad log_index (not a non-negative integer)",
        6: "duplicate transaction_hash:log_index (first at row 1)",
        7: "bad to_address (expected 0x and 40 hex digits)",
    }
    assert not res.notes


def test_traces_are_neither_format():
    traces = Path("traces.csv")  # the columns of ethereum-etl's traces.csv
    head = io.Head(
        traces,
        "",
        (
            "block_number",
            "transaction_hash",
            "transaction_index",
            "from_address",
            "to_address",
            "value",
            "input",
            "output",
            "trace_type",
            "call_type",
            "reward_type",
            "gas",
            "gas_used",
            "subtraces",
            "trace_address",
            "error",
            "status",
            "trace_id",
        ),
    )
    for name in ("ethereum-etl-token-transfers", "ethereum-etl-transactions"):
        assert not io.reader(name).sniff(traces, head)


# --------------------------------------------------------------------------------------------
# end to end


def test_cli_token_transfers_with_blocks(tmp_path):
    path = write(
        tmp_path / "token_transfers.csv",
        TT_HEADER,
        [
            [USDT, A, B, "100000000", h(1), 4, 10],
            [USDT, B, C, "30000000", h(2), 0, 11],
            [USDT, B, A, "20000000", h(2), 1, 11],
        ],
    )
    blocks(tmp_path, {10: T0, 11: T0 + 12})
    runner = CliRunner()
    out = runner.invoke(cli, ["ingest", str(path), "-w", str(tmp_path / "ws")])
    assert out.exit_code == 0, out.output
    assert "token_transfers.csv: read 3, ingested 3, rejected 0" in out.output
    res = runner.invoke(
        cli, ["trace", "-w", str(tmp_path / "ws"), "--tx", f"{h(1)}:4", "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["unit"] == "USDT-ERC20" and doc["seed_value"] == 100.0
    assert [f["tx_id"] for f in doc["flows"]] == [f"{h(1)}:4", f"{h(2)}:0", f"{h(2)}:1"]


def test_cli_without_blocks_is_one_line_error(tmp_path):
    path = write(tmp_path / "token_transfers.csv", TT_HEADER, [[USDT, A, B, "1", h(1), 0, 10]])
    out = CliRunner().invoke(cli, ["ingest", str(path), "-w", str(tmp_path / "ws")])
    assert out.exit_code == 1
    assert "Traceback" not in out.output
    assert "no block_timestamp column" in out.stderr and "blocks.csv" in out.stderr
    assert not (tmp_path / "ws" / "manifest.json").exists()


def test_dune_hex_addresses_and_hashes(tmp_path):
    """Dune's query exports write bytes as ``\\x…``: the same addresses, tokens and hashes as
    ``0x…``, so a Dune export and an ethereum-etl one name the same accounts."""

    def dune(x: str) -> str:
        return "\\x" + x[2:].upper()

    path = write(
        tmp_path / "token_transfers.csv",
        [*TT_HEADER, "block_timestamp"],
        [
            [dune(USDT), dune(A), dune(B), "1000000", dune(h(1)), 0, 1, "2023-05-02 12:19:59 UTC"],
            [USDT, B, C, "2000000", h(2), 0, 1, "2023-05-02 12:20:11 UTC"],
            [USDT, A, "\\x123", "5", h(3), 0, 1, "2023-05-02 12:20:11 UTC"],
        ],
    )
    name, res = read(path)
    assert name == "ethereum-etl-token-transfers"
    check_reconciles(res)
    assert res.transfers.select("tx_id", "src", "dst", "asset").rows() == [
        (f"{h(1)}:0", f"eth:{A}", f"eth:{B}", "USDT-ERC20"),
        (f"{h(2)}:0", f"eth:{B}", f"eth:{C}", "USDT-ERC20"),
    ]
    assert reasons(res) == {3: "bad to_address (expected 0x and 40 hex digits)"}
    tx = write(
        tmp_path / "transactions.csv",
        TX_HEADER,
        [
            [dune(h(9)), 1, h(0), 1, 0, dune(A), dune(C), "10", 21000, 1, "0x", T0],
        ],
    )
    name, res = read(tx)
    assert name == "ethereum-etl-transactions"
    assert res.transfers.select("tx_id", "src", "dst").rows() == [(h(9), f"eth:{A}", f"eth:{C}")]
