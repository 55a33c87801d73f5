"""OFAC SDN address lists (tracer.io.ofac) on real lists from
0xB10C/ofac-sanctioned-digital-currency-addresses (tests/data/labels/ofac_0xB10C, MIT)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from tracer.cli import cli
from tracer.errors import InputError
from tracer.ingest import ingest
from tracer.io import detect_labels
from tracer.io.labels import LABEL_COLUMNS
from tracer.io.ofac import read_labels
from tracer.schema import ACCOUNTS, REJECTS
from tracer.workspace import Workspace

DATA = Path(__file__).resolve().parent.parent / "data" / "labels" / "ofac_0xB10C"
USDT = DATA / "sanctioned_addresses_USDT.txt"
TRX = DATA / "sanctioned_addresses_TRX.json"

ETH_A = "0x175d44451403Edf28469dF03A9280c1197ADb92c"
ETH_B = "0xb6f5ec1a0a9cd1526536d3f0426c429529471f40"


def read(path: Path, source: str | None = None):
    return read_labels(path, source or path.name)


def check_shapes(labels: pl.DataFrame, rejects: pl.DataFrame, n: int) -> None:
    assert labels.columns == list(LABEL_COLUMNS)
    assert dict(labels.schema) == {c: ACCOUNTS[c] for c in LABEL_COLUMNS}
    assert dict(rejects.schema) == REJECTS
    assert n == labels.height + rejects.height
    assert labels.get_column("account").is_unique().all()


def test_usdt_list_mixes_chains_each_address_namespaced_by_its_shape():
    labels, rejects, n = read(USDT)
    check_shapes(labels, rejects, n)
    assert (n, labels.height, rejects.height) == (26, 26, 0)
    accounts = labels.get_column("account").to_list()
    assert accounts[0] == "eth:0x175d44451403edf28469df03a9280c1197adb92c"  # lower-cased
    assert "btc:16iWn2J1McqjToYLHSsAyS6En3QA8YQ91H" in accounts  # Omni USDT: a Bitcoin address
    assert "btc:3LtcaPbCj87CwJHnRX3vh7c2y9RZQqeSy8" in accounts
    assert "tron:TEAqwfMhXLaomXhZ8KeMhx3njGmQEDnsUR" in accounts
    assert [a.split(":")[0] for a in accounts].count("eth") == 8
    assert [a.split(":")[0] for a in accounts].count("btc") == 7
    assert [a.split(":")[0] for a in accounts].count("tron") == 11
    assert labels.drop("account").unique().to_dicts() == [
        {
            "label": "sanctioned",
            "name": "OFAC SDN list",
            "entity": None,
            "opening_balance": None,
            "source": "sanctioned_addresses_USDT.txt",
            "confidence": 1.0,
        }
    ]


def test_trx_json_list():
    labels, rejects, n = read(TRX, "trx.json")
    check_shapes(labels, rejects, n)
    assert (n, rejects.height) == (6, 0)
    assert labels.get_column("account").to_list() == [
        "tron:TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre",
        "tron:TFdTr9C3BqQrzKBXqSxJfAZFTh8UwBAfSg",
        "tron:TMStbg5fgb4uTV7fK1gEYF9hKAzP3siPsG",
        "tron:TRBACioxdrdsYEZHvJWiUDZcMdBPpEe5Ub",
        "tron:TTKnV2S1295UrPr7N67Tp9ykNL7xX2Z4Uj",
        "tron:TTUDyVhhpCC1xJoPmWzdjLAzeoPwbSABdr",
    ]
    assert set(labels.get_column("source").to_list()) == {"trx.json"}


@pytest.mark.parametrize(
    ("asset", "address", "account"),
    [
        ("ETH", ETH_A, "eth:" + ETH_A.lower()),
        ("XBT", "12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h", "btc:12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h"),
        (
            "BTC",
            "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
            "btc:bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
        ),
        ("TRX", "TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre", "tron:TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre"),
        ("LTC", "LNwgtMxcKUQ51dw7bQL1yPQjBVZh6QEqsd", "ltc:LNwgtMxcKUQ51dw7bQL1yPQjBVZh6QEqsd"),
        (
            "ARB",
            "0x4F47bc496083C727c5fbe3ce9cdf2b0f6496270c",
            "arb:0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c",
        ),
    ],
)
def test_asset_from_the_file_name(tmp_path, asset, address, account):
    path = tmp_path / f"sanctioned_addresses_{asset}.txt"
    path.write_text(address + "\n")
    labels, rejects, n = read(path)
    assert (n, rejects.height) == (1, 0)
    assert labels.get_column("account").to_list() == [account]


def test_blank_lines_are_not_rows(tmp_path):
    path = tmp_path / "sanctioned_addresses_ETH.txt"
    path.write_bytes(f"{ETH_A}\r\n\r\n   \n{ETH_B}  \n\n".encode())
    labels, rejects, n = read(path)
    check_shapes(labels, rejects, n)
    assert (n, labels.height, rejects.height) == (2, 2, 0)
    assert labels.get_column("account").to_list() == ["eth:" + ETH_A.lower(), "eth:" + ETH_B]


def test_txt_rejects_with_line_numbers_and_reasons(tmp_path):
    path = tmp_path / "sanctioned_addresses_ETH.txt"
    path.write_text(f"{ETH_A}\n\nnot one address\n{ETH_A.lower()}\nbell\x07x\n")
    labels, rejects, n = read(path)
    check_shapes(labels, rejects, n)
    assert n == 4
    assert labels.get_column("account").to_list() == ["eth:" + ETH_A.lower()]
    assert rejects.select("source_row", "reason", "raw").rows() == [
        (1, "address listed again at line 4 (the later line is kept)", json.dumps(ETH_A)),
        (3, "address has spaces or control characters inside", '"not one address"'),
        (5, "address has spaces or control characters inside", '"bell\\u0007x"'),
    ]


def test_json_rejects(tmp_path):
    path = tmp_path / "sanctioned_addresses_ETH.json"
    path.write_text(json.dumps([ETH_B, 5, "", None, ETH_B.upper().replace("0X", "0x")]))
    labels, rejects, n = read(path)
    check_shapes(labels, rejects, n)
    assert n == 5
    assert labels.get_column("account").to_list() == ["eth:" + ETH_B]
    assert rejects.select("source_row", "reason", "raw").rows() == [
        (1, "address listed again at element 5 (the later element is kept)", json.dumps(ETH_B)),
        (2, "not an address (a JSON string)", "5"),
        (3, "empty address", '""'),
        (4, "not an address (a JSON string)", "null"),
    ]


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("sanctioned_addresses_ETH.json", '["0xabc",', "not readable JSON"),
        ("sanctioned_addresses_ETH.json", '{"addresses": ["0xabc"]}', "not a JSON list"),
        ("sanctioned_addresses_ETH.txt", b"0xab\xff\n", "not UTF-8"),
    ],
)
def test_unreadable_lists_are_one_line_errors(tmp_path, name, content, words):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(InputError) as err:
        read(path)
    assert words in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_sniffed_by_file_name(tmp_path):
    assert detect_labels(USDT) == "ofac"
    assert detect_labels(TRX) == "ofac"
    for name in ("addresses_ETH.txt", "sanctioned_addresses_ETH.csv", "sanctioned_addresses_.txt"):
        path = tmp_path / name
        path.write_text(ETH_A + "\n")
        with pytest.raises(InputError, match="not a labels file"):
            detect_labels(path)


def test_a_later_labels_file_cannot_unsanction_and_trace_stops_at_the_list(tmp_path):
    tron_a, tron_b = (
        "tron:TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre",
        "tron:TFdTr9C3BqQrzKBXqSxJfAZFTh8UwBAfSg",
    )
    transfers = tmp_path / "transfers.csv"
    with transfers.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["tx_id", "timestamp", "src", "dst", "amount", "asset"])
        w.writerows(
            [
                ("s1", "2025-01-01T00:00:00Z", "tron:victim", tron_a, "100", "USDT-TRC20"),
                ("t2", "2025-01-01T01:00:00Z", tron_a, "tron:next", "100", "USDT-TRC20"),
                ("s3", "2025-01-01T02:00:00Z", "tron:victim", tron_b, "5", "USDT-TRC20"),
            ]
        )
    relabel = tmp_path / "relabel.csv"
    relabel.write_text(f"account,label\n{tron_b},exchange\n")
    reports = ingest(tmp_path / "ws", [transfers], labels=[TRX, relabel])
    assert [(r.source, r.read, r.ingested, r.rejected) for r in reports if r.kind == "labels"] == [
        ("sanctioned_addresses_TRX.json", 6, 6, 0),
        ("relabel.csv", 1, 1, 0),
    ]
    accounts = Workspace.open(tmp_path / "ws").table("accounts")
    label = dict(accounts.select("account", "label").iter_rows())
    # the weaker label of a later file does not replace the sanctions list's: a noted conflict
    assert label[tron_a] == "sanctioned" and label[tron_b] == "sanctioned"
    (note,) = [r for r in reports if r.source == "relabel.csv"][0].notes
    assert note.startswith("1 label conflict(s)") and f"{tron_b}: sanctioned" in note
    assert Workspace.open(tmp_path / "ws").manifest["inputs"][0]["format"] == "ofac"

    result = CliRunner().invoke(
        cli,
        [
            "trace",
            "-w",
            str(tmp_path / "ws"),
            "--from",
            "tron:victim",
            "--stop-at",
            "sanctioned",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    ends = {e["account"]: e for e in json.loads(result.stdout)["endpoints"]}
    assert (ends[tron_a]["label"], ends[tron_a]["stopped"], ends[tron_a]["value"]) == (
        "sanctioned",
        True,
        pytest.approx(100.0),
    )
    assert (ends[tron_b]["label"], ends[tron_b]["stopped"]) == ("sanctioned", True)
    assert "tron:next" not in ends
