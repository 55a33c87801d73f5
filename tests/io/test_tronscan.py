"""Tronscan TRC-20 transfers: the transfers API JSON and the web CSV export."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from conftest import write_csv  # noqa: E402

from tracer import io
from tracer.cli import cli
from tracer.errors import InputError, MissingColumnsError

UTC = dt.UTC
USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
# Tron base58 addresses are case-sensitive: these two differ only in case
A = "TJRabPrwbZy45sbavfcjnnPJC18kjpRTv8"
B = "TJRABPRWBZY45SBAVFCJNNPJC18KJPRTV8"
C = "TNXoiAJ3dct8Fjg4M9fkLFh9S2v9TXc32G"
D = "TXFBqBbqJommqZf7BV8NNYzePh97UmJodJ"
FAKE = "TU41FWQQT8hZ6t72gVEjtSGn1Dshbevi7g"
MS = 1_700_000_000_000


def tid(i: int) -> str:
    return f"{i:064x}"


def item(i, src, dst, quant, *, n_ms=0, contract=USDT, abbr="USDT", dec=6, **more) -> dict:
    e = {
        "transaction_id": tid(i),
        "status": 0,
        "block_ts": MS + n_ms,
        "from_address": src,
        "from_address_tag": {},
        "to_address": dst,
        "to_address_tag": {},
        "block": 56_000_000 + i,
        "contract_address": contract,
        "quant": quant,
        "confirmed": True,
        "contractRet": "SUCCESS",
        "finalResult": "SUCCESS",
        "revert": False,
        "tokenInfo": {
            "tokenId": contract,
            "tokenAbbr": abbr,
            "tokenName": "Tether USD",
            "tokenDecimal": dec,
            "tokenCanShow": 1,
            "tokenType": "trc20",
            "tokenLevel": "2",
            "vip": True,
        },
        "contract_type": "trc20",
        "fromAddressIsContract": False,
        "toAddressIsContract": False,
        "riskTransaction": False,
    }
    e.update(more)
    return e


def write_json(path: Path, items, wrap=True) -> Path:
    doc = (
        {
            "total": len(items),
            "rangeTotal": len(items),
            "contractInfo": {},
            "token_transfers": items,
            "normalAddressInfo": {},
        }
        if wrap
        else items
    )
    path.write_text(json.dumps(doc))
    return path


def read(path: Path):
    name = io.detect(path)
    return name, io.reader(name).read(path, path.name, {})


def reasons(res) -> dict[int, str]:
    return dict(zip(res.rejects["source_row"], res.rejects["reason"], strict=True))


def check_reconciles(res):
    assert res.read == res.transfers.height + res.rejects.height
    assert not res.has_value


# --------------------------------------------------------------------------------------------
# JSON


@pytest.fixture
def api_file(tmp_path):
    return write_json(
        tmp_path / "transfers.json",
        [
            item(1, A, B, "1234567"),
            item(2, B, C, "250000000", n_ms=3000),
            item(2, B, D, "1", n_ms=3000),  # a second event of the same transaction
            item(3, C, D, "5000000", contractRet="REVERT", finalResult="FAILED"),
            item(4, C, D, "0"),
            item(5, C, D, "12.5"),
            item(6, FAKE, A, "1000000", contract=FAKE),  # fake USDT (address poisoning)
            item(7, "T123", D, "1000000"),
            "not a transfer",
            item(
                8,
                C,
                D,
                "123456789012345678901234567890",
                abbr="big",
                dec=18,
                contract="TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf",
            ),
            item(
                9, C, D, "77", abbr="odd", dec=None, contract="TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"
            ),
        ],
    )


def test_json_sniffed_and_read(api_file):
    name, res = read(api_file)
    assert name == "tronscan-json"
    check_reconciles(res)
    assert res.read == 11
    t = res.transfers
    assert t["tx_id"].to_list() == [
        f"{tid(1)}:0",
        f"{tid(2)}:0",
        f"{tid(2)}:1",
        f"{tid(6)}:0",
        f"{tid(8)}:0",
        f"{tid(9)}:0",
    ]
    assert t["seq"].to_list() == [0, 0, 1, 0, 0, 0]
    assert t["src"][0] == f"tron:{A}" and t["dst"][0] == f"tron:{B}"  # case kept
    assert t["amount"].to_list()[:3] == [1.234567, 250.0, 0.000001]
    assert t["amount_raw"].to_list()[:3] == ["1234567", "250000000", "1"]
    assert t["asset"].to_list() == [
        "USDT-TRC20",
        "USDT-TRC20",
        "USDT-TRC20",
        f"TRC20:{FAKE}",
        "BIG-TRC20",
        "TRC20:TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf",
    ]
    assert t["ts"][0] == dt.datetime.fromtimestamp(MS / 1000, UTC)
    assert t["ts"][1] - t["ts"][0] == dt.timedelta(seconds=3)
    # 30 digits with 18 decimals: exactly the nearest float
    assert t["amount"][4] == float(Decimal("123456789012.345678901234567890"))
    assert t["amount"][5] == 77.0  # unknown decimals: raw units, asset by contract


def test_json_rejects_say_why(api_file):
    _, res = read(api_file)
    assert reasons(res) == {
        4: "failed transfer (REVERT)",
        5: "zero-value transfer (no funds moved)",
        6: "quant is not an exact non-negative integer (12.5)",
        8: "bad from address (expected a Tron base58 address, T + 33 characters)",
        9: "not a JSON object (a transfer is an object)",
    }
    raw = json.loads(res.rejects.filter(pl.col("source_row") == 4)["raw"][0])
    assert raw["contractRet"] == "REVERT" and raw["tokenInfo"]["tokenAbbr"] == "USDT"


def test_json_bare_list_and_final_result(tmp_path):
    path = write_json(
        tmp_path / "list.json",
        [
            item(1, A, C, "1000000", finalResult="OUT_OF_ENERGY", contractRet="SUCCESS"),
            item(2, A, C, "2000000", revert=True),
            {
                k: v
                for k, v in item(3, A, C, "3000000").items()
                if k not in ("contractRet", "finalResult")
            },
        ],
        wrap=False,
    )
    name, res = read(path)
    assert name == "tronscan-json"
    assert reasons(res) == {1: "failed transfer (OUT_OF_ENERGY)", 2: "failed transfer (reverted)"}
    assert res.transfers["amount"].to_list() == [3.0]


def test_json_unreadable_and_wrong_shape(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"token_transfers": [')
    with pytest.raises(InputError, match="bad.json: not readable JSON"):
        io.reader("tronscan-json").read(bad, "bad.json", {})
    other = tmp_path / "other.json"
    other.write_text('{"data": []}')
    with pytest.raises(InputError, match="no token_transfers list"):
        io.reader("tronscan-json").read(other, "other.json", {})


# --------------------------------------------------------------------------------------------
# CSV


def test_csv_api_columns(tmp_path):
    header = [
        "transaction_id",
        "block_ts",
        "from_address",
        "to_address",
        "quant",
        "tokenDecimal",
        "tokenAbbr",
        "contract_address",
        "contractRet",
    ]
    path = write_csv(
        tmp_path / "trc20.csv",
        header,
        [
            [tid(1), MS, A, B, "1234567", "6", "USDT", USDT, "SUCCESS"],
            [tid(1), MS, B, C, "7", "6", "USDT", USDT, "SUCCESS"],
            [tid(2), MS, B, C, "9", "6", "USDT", USDT, "REVERT"],
            [tid(3), "yesterday", B, C, "9", "6", "USDT", USDT, "SUCCESS"],
        ],
    )
    name, res = read(path)
    assert name == "tronscan-csv"
    check_reconciles(res)
    assert res.transfers["tx_id"].to_list() == [f"{tid(1)}:0", f"{tid(1)}:1"]
    assert res.transfers["amount"].to_list() == [1.234567, 0.000007]
    assert reasons(res) == {
        3: "failed transfer (REVERT)",
        4: "bad time (expected unix ms or ISO 8601)",
    }


def test_csv_web_columns(tmp_path):
    header = [
        "Transaction ID",
        "Block Time(UTC)",
        "From",
        "To",
        "Amount",
        "Token Symbol",
        "Token Address",
        "Result",
    ]
    path = write_csv(
        tmp_path / "export.csv",
        header,
        [
            [tid(1), "2023-11-14 22:13:20", A, C, "1,234.567891", "USDT", USDT, "SUCCESS"],
            [tid(2), "2023-11-14 22:14:20", C, D, "abc", "USDT", USDT, "SUCCESS"],
            [tid(3), "2023-11-14 22:15:20", C, D, "10", "USDT", FAKE, "SUCCESS"],
        ],
    )
    name, res = read(path)
    assert name == "tronscan-csv"
    check_reconciles(res)
    t = res.transfers
    assert t["amount"].to_list() == [1234.567891, 10.0]
    assert t["amount_raw"].to_list() == ["1,234.567891", "10"]
    assert t["asset"].to_list() == ["USDT-TRC20", f"TRC20:{FAKE}"]
    assert t["ts"][0] == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert reasons(res) == {2: "non-numeric amount (abc)"}


def test_csv_missing_column(tmp_path):
    path = write_csv(
        tmp_path / "nofrom.csv",
        ["transaction_id", "block_ts", "to_address", "quant", "tokenAbbr"],
        [[tid(1), MS, C, "1", "USDT"]],
    )
    with pytest.raises(MissingColumnsError, match="from_address"):
        io.reader("tronscan-csv").read(path, "nofrom.csv", {})


def test_csv_without_tron_addresses_is_not_tronscan(tmp_path):
    path = write_csv(
        tmp_path / "bank.csv",
        ["Hash", "Time", "From", "To", "Amount", "Token"],
        [["r1", "2024-01-01", "ACC1", "ACC2", "10", "THB"]],
    )
    assert not io.reader("tronscan-csv").sniff(path, io.common.head_of(path))


# --------------------------------------------------------------------------------------------
# end to end


def test_cli_ingest_and_trace(tmp_path):
    path = write_json(
        tmp_path / "transfers.json",
        [
            item(1, A, B, "100000000"),
            item(2, B, C, "60000000", n_ms=60_000),
            item(2, B, D, "40000000", n_ms=60_000),
            item(3, C, D, "1", contractRet="REVERT"),
        ],
    )
    runner = CliRunner()
    out = runner.invoke(cli, ["ingest", str(path), "-w", str(tmp_path / "ws")])
    assert out.exit_code == 0, out.output
    assert "transfers.json: read 4, ingested 3, rejected 1" in out.output
    assert "trace unit USDT-TRC20" in out.output
    res = runner.invoke(
        cli, ["trace", "-w", str(tmp_path / "ws"), "--tx", f"{tid(1)}:0", "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["seed_value"] == 100.0
    ends = {e["account"]: e["value"] for e in doc["endpoints"]}
    assert ends == {f"tron:{C}": pytest.approx(60.0), f"tron:{D}": pytest.approx(40.0)}
    accounts = pl.read_parquet(tmp_path / "ws" / "accounts.parquet")["account"].to_list()
    assert f"tron:{A}" in accounts and f"tron:{B}" in accounts  # not merged by case
