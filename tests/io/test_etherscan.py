"""Etherscan CSV exports: normal, internal and ERC-20 token transfers."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from tracer import io
from tracer.cli import cli
from tracer.errors import MissingColumnsError

UTC = dt.UTC
T0 = 1_700_000_000  # 2023-11-14T22:13:20Z

# the exported address (mixed case as Etherscan writes checksummed addresses in some places)
ME = "0x" + "Ab" * 20
VICTIM = "0x" + "11" * 20
NEXT = "0x" + "22" * 20
CONTRACT = "0x" + "cc" * 20
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
H = ["0x" + f"{i:064x}" for i in range(10)]

TXS_NEW = [
    "Transaction Hash",
    "Blockno",
    "UnixTimestamp",
    "DateTime (UTC)",
    "From",
    "To",
    "ContractAddress",
    "Value_IN(ETH)",
    "Value_OUT(ETH)",
    "CurrentValue @ $3102.72/Eth",
    "TxnFee(ETH)",
    "TxnFee(USD)",
    "Historical $Price/Eth",
    "Status",
    "ErrCode",
    "Method",
]
TXS_TXHASH = ["Txhash", *TXS_NEW[1:]]
TXS_OLD = [
    "Txhash",
    "Blockno",
    "UnixTimestamp",
    "DateTime",
    "From",
    "To",
    "ContractAddress",
    "Value_IN(ETH)",
    "Value_OUT(ETH)",
    "CurrentValue @ $1.2/Eth",
    "TxnFee(ETH)",
    "TxnFee(USD)",
    "Historical $Price/Eth",
    "Status",
    "ErrCode",
]
INTERNAL = [
    "Transaction Hash",
    "Blockno",
    "UnixTimestamp",
    "DateTime (UTC)",
    "ParentTxFrom",
    "ParentTxTo",
    "ParentTxETH_Value",
    "From",
    "TxTo",
    "ContractAddress",
    "Value_IN(ETH)",
    "Value_OUT(ETH)",
    "CurrentValue @ $3102.72/Eth",
    "Historical $Price/Eth",
    "Status",
    "ErrCode",
    "Type",
]
TOKENS_NEW = [
    "Transaction Hash",
    "Blockno",
    "UnixTimestamp",
    "DateTime (UTC)",
    "From",
    "To",
    "TokenValue",
    "USDValueDayOfTx",
    "ContractAddress",
    "TokenName",
    "TokenSymbol",
]
TOKENS_OLD = [
    "Txhash",
    "UnixTimestamp",
    "DateTime",
    "From",
    "To",
    "Value",
    "ContractAddress",
    "TokenName",
    "TokenSymbol",
]


def when(k: int) -> str:
    return dt.datetime.fromtimestamp(T0 + 60 * k, UTC).strftime("%Y-%m-%d %H:%M:%S")


def write(path: Path, header: list[str], rows: list[dict], bom: bool = False) -> Path:
    """Etherscan style: every field quoted, CRLF line ends, optional BOM."""
    with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(c, "") for c in header])
    return path


def tx(h, k, src, dst, vin="0", vout="0", **more) -> dict:
    row = {
        "Transaction Hash": h,
        "Txhash": h,
        "Blockno": str(18_000_000 + k),
        "UnixTimestamp": str(T0 + 60 * k),
        "DateTime (UTC)": when(k),
        "DateTime": when(k),
        "From": src,
        "To": dst,
        "Value_IN(ETH)": vin,
        "Value_OUT(ETH)": vout,
        "TxnFee(ETH)": "0.000441",
        "TxnFee(USD)": "1.37",
        "Historical $Price/Eth": "2045.1",
        "Status": "",
        "ErrCode": "",
        "Method": "Transfer",
    }
    row.update(more)
    return row


def read(path: Path):
    name = io.detect(path)
    return name, io.reader(name).read(path, path.name, {})


def reasons(res) -> dict[int, str]:
    return dict(zip(res.rejects["source_row"], res.rejects["reason"], strict=True))


def check_reconciles(res):
    assert res.read == res.transfers.height + res.rejects.height
    assert not res.has_value
    assert list(res.transfers.columns[:11]) == [
        "tx_id",
        "ts",
        "seq",
        "src",
        "dst",
        "amount",
        "amount_raw",
        "asset",
        "value",
        "source",
        "source_row",
    ]


# --------------------------------------------------------------------------------------------
# normal transactions


@pytest.fixture
def txs_file(tmp_path):
    return write(
        tmp_path / "export-txs.csv",
        TXS_NEW,
        [
            tx(H[0], 0, VICTIM, ME, vin="1.5"),
            tx(H[1], 1, ME, NEXT, vout="1.2"),
            tx(H[2], 2, ME, NEXT, vout="0.3", Status="Error(0)", ErrCode="Reverted"),
            tx(H[3], 3, ME, CONTRACT, Method="Approve"),  # contract call, no ether
            tx(H[4], 4, ME, NEXT, vout="abc"),
            tx(H[5], 5, ME, "", vout="0.1", ContractAddress=CONTRACT),  # contract creation
            tx(H[1], 6, ME, NEXT, vout="1.2"),  # the same hash again
            tx(H[6], 7, VICTIM, ME, vin="1,000.25"),
        ],
        bom=True,
    )


def test_txs_sniffed_and_read(txs_file):
    name, res = read(txs_file)
    assert name == "etherscan-txs"
    check_reconciles(res)
    t = res.transfers
    assert t["tx_id"].to_list() == [H[0], H[1], H[5], H[6]]
    assert t["src"].to_list() == [
        "eth:" + VICTIM,
        "eth:" + ME.lower(),
        "eth:" + ME.lower(),
        "eth:" + VICTIM,
    ]
    assert t["dst"].to_list() == [
        "eth:" + ME.lower(),
        "eth:" + NEXT,
        "eth:" + CONTRACT,
        "eth:" + ME.lower(),
    ]
    assert t["amount"].to_list() == [1.5, 1.2, 0.1, 1000.25]
    assert t["amount_raw"].to_list() == ["1.5", "1.2", "0.1", "1,000.25"]
    assert t["asset"].unique().to_list() == ["ETH"]
    assert t["value"].to_list() == t["amount"].to_list()
    assert t["ts"][0] == dt.datetime.fromtimestamp(T0, UTC)
    assert t["seq"].to_list() == [1, 2, 6, 8]
    assert t["fee"].to_list() == [0.000441] * 4
    assert t["block_number"][0] == 18_000_000
    assert t["method"][0] == "Transfer"


def test_txs_rejects_say_why(txs_file):
    _, res = read(txs_file)
    why = reasons(res)
    assert why == {
        3: "failed transaction (Error(0) Reverted)",
        4: "zero-value transaction (no funds moved)",
        5: "non-numeric Value_OUT(ETH) (abc)",
        7: "duplicate Transaction Hash (first at row 2)",
    }
    raw = json.loads(res.rejects.filter(pl.col("source_row") == 3)["raw"][0])
    assert raw["Status"] == "Error(0)" and raw["Transaction Hash"] == H[2]


@pytest.mark.parametrize("header", [TXS_TXHASH, TXS_OLD], ids=["txhash", "old"])
def test_txs_older_headers(tmp_path, header):
    path = write(
        tmp_path / "old.csv",
        header,
        [tx(H[0], 0, VICTIM, ME, vin="2"), tx(H[1], 1, ME, NEXT, vout="0.5")],
    )
    name, res = read(path)
    assert name == "etherscan-txs"
    assert res.transfers["amount"].to_list() == [2.0, 0.5]
    assert res.transfers["tx_id"].to_list() == [H[0], H[1]]


def test_txs_minimal_header_without_status_columns(tmp_path):
    header = ["Txhash", "UnixTimestamp", "From", "To", "Value_IN(ETH)", "Value_OUT(ETH)"]
    path = write(tmp_path / "min.csv", header, [tx(H[0], 0, VICTIM, ME, vin="2")])
    name, res = read(path)
    assert name == "etherscan-txs" and res.transfers.height == 1


def test_txs_missing_column_is_a_clear_error(tmp_path):
    header = [c for c in TXS_NEW if c != "From"]
    path = write(tmp_path / "nofrom.csv", header, [tx(H[0], 0, VICTIM, ME, vin="2")])
    with pytest.raises(MissingColumnsError, match="From"):
        io.reader("etherscan-txs").read(path, "nofrom.csv", {})


def test_txs_bad_time_and_address(tmp_path):
    path = write(
        tmp_path / "bad.csv",
        TXS_NEW,
        [
            tx(H[0], 0, VICTIM, ME, vin="2", UnixTimestamp="", **{"DateTime (UTC)": ""}),
            tx(H[1], 1, "0x1234", ME, vin="2"),
            tx(H[2], 2, ME, ME, vin="2", vout="2"),  # to itself
            tx(H[3], 3, VICTIM, ME, vin="2", UnixTimestamp=""),  # DateTime steps in
        ],
    )
    _, res = read(path)
    check_reconciles(res)
    assert reasons(res) == {
        1: "bad UnixTimestamp (expected unix seconds)",
        2: "bad From address (expected 0x and 40 hex digits)",
        3: "self-transfer (From equals To)",
    }
    assert res.transfers["ts"][0] == dt.datetime.fromtimestamp(T0 + 180, UTC)


# --------------------------------------------------------------------------------------------
# internal transactions


def internal(h, k, src, dst, vin="0", vout="0", **more) -> dict:
    row = tx(h, k, src, "", vin, vout, **more)
    row.update(
        {
            "TxTo": dst,
            "ParentTxFrom": VICTIM,
            "ParentTxTo": CONTRACT,
            "ParentTxETH_Value": "0",
            "Type": "call",
        }
    )
    row.update(more)
    return row


def test_internal_sniffed_and_read(tmp_path):
    path = write(
        tmp_path / "export-internal.csv",
        INTERNAL,
        [
            internal(H[0], 0, CONTRACT, ME, vin="0.7"),
            internal(H[0], 0, CONTRACT, ME, vin="0.05"),
            internal(H[1], 1, ME, CONTRACT, vout="0.2", Status="1", ErrCode="out of gas"),
            internal(H[2], 2, CONTRACT, ME),
            internal(H[1], 3, CONTRACT, ME, vin="0.3"),
        ],
    )
    name, res = read(path)
    assert name == "etherscan-internal"
    check_reconciles(res)
    t = res.transfers
    assert t["tx_id"].to_list() == [
        f"{H[0]}:internal:0",
        f"{H[0]}:internal:1",
        f"{H[1]}:internal:1",
    ]
    assert t["amount"].to_list() == [0.7, 0.05, 0.3]
    assert t["src"][0] == "eth:" + CONTRACT and t["dst"][0] == "eth:" + ME.lower()
    assert t["internal_type"][0] == "call"
    assert t["parent_tx_from"][0] == VICTIM
    assert reasons(res) == {
        3: "failed transaction (1 out of gas)",
        4: "zero-value internal transfer (no funds moved)",
    }


def test_internal_older_to_column(tmp_path):
    header = [("To" if c == "TxTo" else c) for c in INTERNAL]
    row = internal(H[0], 0, CONTRACT, ME, vin="1")
    row["To"] = ME
    path = write(tmp_path / "old-internal.csv", header, [row])
    name, res = read(path)
    assert name == "etherscan-internal"
    assert res.transfers["dst"].to_list() == ["eth:" + ME.lower()]


# --------------------------------------------------------------------------------------------
# ERC-20 token transfers


def token(h, k, src, dst, value, symbol="USDT", contract=USDT, **more) -> dict:
    row = {
        "Transaction Hash": h,
        "Txhash": h,
        "Blockno": str(18_000_000 + k),
        "UnixTimestamp": str(T0 + 60 * k),
        "DateTime (UTC)": when(k),
        "DateTime": when(k),
        "From": src,
        "To": dst,
        "TokenValue": value,
        "Value": value,
        "USDValueDayOfTx": "$1.00",
        "ContractAddress": contract,
        "TokenName": "Tether USD",
        "TokenSymbol": symbol,
    }
    row.update(more)
    return row


@pytest.mark.parametrize("header", [TOKENS_NEW, TOKENS_OLD], ids=["new", "old"])
def test_tokens_sniffed_and_read(tmp_path, header):
    fake = "0x" + "dd" * 20
    path = write(
        tmp_path / "export-tokens.csv",
        header,
        [
            token(H[0], 0, VICTIM, ME, "1,234.5"),
            token(H[0], 0, ME, NEXT, "1,000"),
            token(H[1], 1, NEXT, ME, "0"),  # address poisoning: a zero transfer
            token(H[2], 2, ME, NEXT, "12.5x"),
            token(
                H[3],
                3,
                ME,
                NEXT,
                "10",
                symbol="usdc",
                contract="0xA0b86991c6218b36c1d19d4a2e9eB0cE3606eB48",
            ),
            token(H[4], 4, fake[:-2] + "ee", ME, "5", contract=fake),  # fake USDT
            token(H[5], 5, ME, NEXT, "7", symbol="", contract=fake),
        ],
    )
    name, res = read(path)
    assert name == "etherscan-tokens"
    check_reconciles(res)
    t = res.transfers
    assert t["tx_id"].to_list() == [f"{H[0]}:0", f"{H[0]}:1", f"{H[3]}:0", f"{H[4]}:0", f"{H[5]}:0"]
    assert t["amount"].to_list() == [1234.5, 1000.0, 10.0, 5.0, 7.0]
    assert t["amount_raw"].to_list()[:2] == ["1,234.5", "1,000"]
    assert t["asset"].to_list() == [
        "USDT-ERC20",
        "USDT-ERC20",
        "USDC-ERC20",
        f"ERC20:{fake}",
        f"ERC20:{fake}",
    ]
    assert t["token_contract"][2] == "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
    assert reasons(res) == {
        3: "zero-value token transfer (no funds moved)",
        4: "non-numeric " + ("TokenValue" if "TokenValue" in header else "Value") + " (12.5x)",
    }


def test_nft_export_is_not_tokens(tmp_path):
    header = [
        "Txhash",
        "Blockno",
        "UnixTimestamp",
        "DateTime",
        "From",
        "To",
        "ContractAddress",
        "TokenId",
        "TokenName",
        "TokenSymbol",
    ]
    path = write(tmp_path / "nft.csv", header, [])
    assert not io.reader("etherscan-tokens").sniff(path, io.common.head_of(path))


# --------------------------------------------------------------------------------------------
# end to end, with ethereum-etl


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_cli_etherscan_and_ethereum_etl_share_accounts(tmp_path):
    """The mule's export from Etherscan and an ethereum-etl table of the next hop: the
    address written in checksum case in one and lower case in the other is one account."""
    mule, nxt, cashout = ME, "0x" + "2B" * 20, "0x" + "33" * 20
    ether = write(
        tmp_path / "mule-txs.csv",
        TXS_NEW,
        [
            tx(H[0], 0, VICTIM, mule, vin="2"),
            tx(H[1], 1, mule, nxt, vout="1.5"),
        ],
    )
    etl = tmp_path / "transactions.csv"
    with etl.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
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
        )
        w.writerow(
            [
                H[7],
                0,
                "0x" + "ab" * 32,
                18_000_009,
                3,
                nxt.lower(),
                cashout,
                "1000000000000000000",
                21000,
                1,
                "0x",
                T0 + 600,
            ]
        )
    out = run("ingest", ether, etl, "-w", tmp_path / "ws")
    assert "mule-txs.csv: read 2, ingested 2, rejected 0" in out.output
    assert "transactions.csv: read 1, ingested 1, rejected 0" in out.output
    accounts = pl.read_parquet(tmp_path / "ws" / "accounts.parquet")["account"].to_list()
    assert sorted(accounts) == sorted(f"eth:{a.lower()}" for a in (VICTIM, mule, nxt, cashout))
    manifest = json.loads((tmp_path / "ws" / "manifest.json").read_text())
    assert [i["format"] for i in manifest["inputs"]] == [
        "etherscan-txs",
        "ethereum-etl-transactions",
    ]
    res = json.loads(run("trace", "-w", tmp_path / "ws", "--tx", H[0], "--format", "json").stdout)
    assert [f["tx_id"] for f in res["flows"]] == [H[0], H[1], H[7]]
    assert res["seed_value"] == 2.0
    ends = {e["account"]: e["value"] for e in res["endpoints"]}
    assert ends == {
        f"eth:{mule.lower()}": pytest.approx(0.5),
        f"eth:{nxt.lower()}": pytest.approx(0.5),
        f"eth:{cashout}": pytest.approx(1.0),
    }


def test_dune_hex_addresses_and_hashes(tmp_path):
    """``\\x…`` (Dune's spelling of bytes) is read as ``0x…``: the same accounts and ids."""

    def dune(x: str) -> str:
        return "\\x" + x[2:]

    path = write(
        tmp_path / "export-txs.csv",
        TXS_NEW,
        [
            tx(dune(H[0]), 0, dune(VICTIM), dune(ME), vin="1.5"),
            tx(H[1], 1, ME, NEXT, vout="1.2"),
            tx(H[2], 2, ME, "\\xnothex", vout="1"),
        ],
    )
    name, res = read(path)
    assert name == "etherscan-txs"
    check_reconciles(res)
    assert res.transfers.select("tx_id", "src", "dst").rows() == [
        (H[0], f"eth:{VICTIM}", f"eth:{ME.lower()}"),
        (H[1], f"eth:{ME.lower()}", f"eth:{NEXT}"),
    ]
    assert list(reasons(res)) == [3]


# --------------------------------------------------------------------------------------------
# the export's own USD values


def test_own_usd_values(tmp_path):
    txs = write(
        tmp_path / "export-txs.csv",
        TXS_NEW,
        [
            tx(H[0], 0, VICTIM, ME, vin="1.5"),
            tx(H[1], 1, ME, NEXT, vout="1.2", **{"Historical $Price/Eth": ""}),
            tx(H[2], 2, ME, NEXT, vout="0.5", **{"Historical $Price/Eth": "1e400"}),
        ],
    )
    t = read(txs)[1].transfers
    assert t["usd_value"].dtype == pl.Float64
    assert t["usd_value"].to_list() == [pytest.approx(1.5 * 2045.1), None, None]
    tokens = write(
        tmp_path / "export-tokens.csv",
        TOKENS_NEW,
        [
            token(H[0], 0, VICTIM, ME, "1,234.5", USDValueDayOfTx="$1,233.27"),
            token(H[1], 1, ME, NEXT, "10", USDValueDayOfTx=""),
            token(H[2], 2, ME, NEXT, "10", USDValueDayOfTx="n/a"),
        ],
    )
    t = read(tokens)[1].transfers
    assert t["usd_value"].to_list() == [1233.27, None, None]
    assert t["usd_value_day_of_tx"].to_list() == ["$1,233.27", None, "n/a"]
    old = write(tmp_path / "old-tokens.csv", TOKENS_OLD, [token(H[0], 0, VICTIM, ME, "3")])
    assert read(old)[1].transfers["usd_value"].to_list() == [None]


def test_a_several_token_export_is_valued_with_its_own_usd_and_says_so(tmp_path):
    usdc = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
    path = write(
        tmp_path / "export-tokens.csv",
        TOKENS_NEW,
        [
            token(H[0], 0, VICTIM, ME, "1,000", USDValueDayOfTx="$999.10"),
            token(
                H[1], 1, ME, NEXT, "400", symbol="USDC", contract=usdc, USDValueDayOfTx="$400.02"
            ),
        ],
    )
    ws = tmp_path / "ws"
    res = CliRunner().invoke(cli, ["ingest", str(path), "-w", str(ws)])
    assert res.exit_code == 0, res.output
    assert "valued with the file's own USD figures" in res.output
    t = pl.read_parquet(next(ws.rglob("transfers.parquet")))
    assert dict(t.select("tx_id", "value").iter_rows()) == {
        f"{H[0]}:0": 999.10,
        f"{H[1]}:0": 400.02,
    }
    assert json.loads(next(ws.rglob("manifest.json")).read_text())["unit"] == "USD"
