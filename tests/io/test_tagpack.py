"""GraphSense TagPack labels (tracer.io.tagpack) on real packs from graphsense/graphsense-tagpacks
(tests/data/labels/graphsense_tagpacks, MIT) and on small hand-written ones."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import polars as pl
import pytest
from conftest import ok, run  # noqa: E402

from tracer.errors import InputError
from tracer.io import detect_labels, label_reader
from tracer.io.categories import CATEGORIES, account_id, category
from tracer.io.labels import LABEL_COLUMNS
from tracer.io.tagpack import CONFIDENCE, read_labels
from tracer.schema import ACCOUNTS, REJECTS
from tracer.workspace import Workspace

DATA = Path(__file__).resolve().parent.parent / "data" / "labels" / "graphsense_tagpacks"
LAZARUS = DATA / "lazarus2.yaml"
RONIN = DATA / "ronin_bridge.yaml"
ELECTRUM = DATA / "electrum_phishing.yaml"
KUCOIN = DATA / "exchange-wallets-kucoin.yaml"

SCRIPT = "<script>alert(1)</script>"
HYPERLINK = '=HYPERLINK("x")'


def read(path: Path, source: str | None = None):
    return read_labels(path, source or path.name)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def check_shapes(labels: pl.DataFrame, rejects: pl.DataFrame, n: int) -> None:
    assert labels.columns == list(LABEL_COLUMNS)
    assert dict(labels.schema) == {c: ACCOUNTS[c] for c in LABEL_COLUMNS}
    assert dict(rejects.schema) == REJECTS
    assert n == labels.height + rejects.height
    assert labels.get_column("account").is_unique().all()


# --------------------------------------------------------------------------------------------
# real packs
# --------------------------------------------------------------------------------------------


def test_lazarus_header_fields_apply_to_every_tag_and_abuse_beats_category():
    labels, rejects, n = read(LAZARUS)
    check_shapes(labels, rejects, n)
    assert (n, labels.height, rejects.height) == (6, 6, 0)
    assert labels.get_column("account").to_list() == [
        "btc:3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG",
        "btc:39idqitN9tYNmq3wYanwg3MitFB5TZCjWu",
        "btc:3AAUBbKJorvNhEUFhKnep9YTwmZECxE4Nk",
        "btc:3PjNaSeP8GzLjGeu51JR19Q2Lu8W2Te9oc",
        "btc:3NbdrezMzAVVfXv5MTQJn4hWqKhYCTCJoB",
        "btc:34VXKa5upLWVYMXmgid6bFM4BaQXHxSUoL",
    ]
    # header: category user, abuse sanction, confidence authority_data, actor lazarusgroup
    assert labels.drop("account").unique().to_dicts() == [
        {
            "label": "sanctioned",
            "name": "Lazarus group",
            "entity": "lazarusgroup",
            "opening_balance": None,
            "source": "lazarus2.yaml: https://www.fbi.gov/news/press-releases/"
            "fbi-identifies-cryptocurrency-funds-stolen-by-dprk",
            "confidence": 0.6,
        }
    ]


def test_ronin_eth_addresses_lower_cased_and_tag_labels_used():
    labels, rejects, n = read(RONIN, "ronin.yaml")
    check_shapes(labels, rejects, n)
    assert n == 6 and rejects.height == 0
    first = labels.row(0, named=True)
    assert first == {
        "account": "eth:0x098b716b8aaf21512996dc57eb0615e2383e2f96",
        "label": "hack",  # abuse service_hack
        "name": "Ronin bridge exploiter",
        "entity": None,
        "opening_balance": None,
        "source": "ronin.yaml: https://roninblockchain.substack.com/p/"
        "community-alert-ronin-validators",
        "confidence": 0.5,
    }  # service_data
    assert labels.get_column("name").to_list()[1:] == [
        f"Ronin bridge exploiter {k}" for k in (4, 5, 6, 7, 8)
    ]
    assert all(
        a == a.lower() and a.startswith("eth:0x") for a in labels.get_column("account").to_list()
    )


def test_electrum_tag_currency_and_source_override_the_header():
    labels, rejects, n = read(ELECTRUM)
    check_shapes(labels, rejects, n)
    assert n == 6 and rejects.height == 0
    rows = {r["account"]: r for r in labels.to_dicts()}
    assert set(rows) == {
        "btc:bc1q92md7868uun8vplp9te0vaecmxyc5rrphdyvxg",
        "btc:bc1qhsrl6ywvwx44zycz2tylpexza4xvtqkv6d903q",
        "ltc:Le3gXVa4SshHs3TmdrWNC434ceDQtsjMt8",
        "ltc:M8wRkiNmi5K5339LE8ncpWLYgbWmR121JL",
        "ltc:LhbGVfuLPxMMFZrkDkSPC16Yu2RQ7S9Bc7",
        "btc:14MVEf1X4Qmrpxx6oASqzYzJQZUwwG7Fb5",
    }
    assert {r["label"] for r in rows.values()} == {"scam"}  # abuse phishing
    assert {r["confidence"] for r in rows.values()} == {0.5}  # forensic
    assert (
        rows["btc:14MVEf1X4Qmrpxx6oASqzYzJQZUwwG7Fb5"]["source"]
        == "electrum_phishing.yaml: https://medium.com/meetbitfury/crystal-blockchain-analytics-fa6113d3929"
    )
    assert (
        rows["ltc:Le3gXVa4SshHs3TmdrWNC434ceDQtsjMt8"]["source"]
        == "electrum_phishing.yaml: https://blog.malwarebytes.com/detections/osx-electrumstealer/"
    )


def test_kucoin_multichain_namespacing_and_later_tag_wins():
    labels, rejects, n = read(KUCOIN)
    check_shapes(labels, rejects, n)
    assert (n, labels.height, rejects.height) == (30, 24, 6)
    rows = {r["account"]: r for r in labels.to_dicts()}
    # the same 0x address as KCS (its own chain), ETH and USDT (an ERC-20 on Ethereum)
    assert "kcs:0xd6216fc19db775df9774a6e33526131da7d19a2c" in rows
    assert "eth:0xd6216fc19db775df9774a6e33526131da7d19a2c" in rows
    assert "tron:TRYL7PKCG4b4xRCM554Q5J6o8f1UjUmfnY" in rows  # TRX and USDT on Tron
    assert "tron:TQeNNo5zVarhdKm5EiJSekfNXg6H1tRN4n" in rows
    assert "btc:38fJPq4dYGPoJizEUGCL9yWkqg73cJmC2n" in rows
    # USDT on other chains (Algorand, EOS, …): namespaced by the token
    assert "usdt:kucoinrise11" in rows
    assert "usdt:T6MXHXMGXURKJ7AD5NCB4IYPLWX" in rows  # not a Tron address (27 chars)
    assert {r["label"] for r in rows.values()} == {"exchange"}
    assert {r["entity"] for r in rows.values()} == {"kucoin"}
    assert {r["confidence"] for r in rows.values()} == {0.5}
    assert rows["eth:0xec30d02f10353f8efc9601371f56e808751f396f"]["name"] == "kucoin USDT reserves"
    assert (
        rows["eth:0xd6216fc19db775df9774a6e33526131da7d19a2c"]["name"] == "kucoin reserve wallets"
    )
    assert rejects.select("source_row", "reason").rows() == [
        (5, "account tagged again at tag 18 (the later tag is kept)"),
        (6, "account tagged again at tag 11 (the later tag is kept)"),
        (7, "account tagged again at tag 30 (the later tag is kept)"),
        (10, "account tagged again at tag 29 (the later tag is kept)"),
        (14, "account tagged again at tag 30 (the later tag is kept)"),
        (26, "account tagged again at tag 30 (the later tag is kept)"),
    ]
    assert set(rejects.get_column("source").to_list()) == {KUCOIN.name}
    assert json.loads(rejects.row(0, named=True)["raw"]) == {
        "address": "TRYL7PKCG4b4xRCM554Q5J6o8f1UjUmfnY",
        "currency": "TRX",
    }


# --------------------------------------------------------------------------------------------
# the shared tables
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ours"),
    [
        ("exchange", "exchange"),
        ("mixing_service", "mixer"),
        ("Mixing Service", "mixer"),
        ("coinjoin", "mixer"),
        ("sanction", "sanctioned"),
        ("scam", "scam"),
        ("phishing", "scam"),
        ("ponzi_scheme", "scam"),
        ("ransomware", "ransomware"),
        ("service_hack", "hack"),
        ("hacker", "hack"),
        ("Hack", "hack"),
        ("Phish / Hack", "hack"),
        ("gambling", "gambling"),
        ("defi_dex", "defi"),
        ("defi_bridge", "bridge"),
        ("otc_broker", "otc"),
        ("wallet_service", "wallet_service"),
        ("miner", "miner"),
        ("shop", "merchant"),
        ("black_list", "blacklisted"),
        ("perpetrator", "suspect"),
        # unknown: kept, lower-cased, white space → _
        ("user", "user"),
        ("Dark  Web Vendor", "dark_web_vendor"),
        ("<Script>", "<script>"),
    ],
)
def test_category(name, ours):
    assert category(name) == ours


def test_categories_map_to_lower_case_words():
    assert all(v == v.lower() and " " not in v for v in CATEGORIES.values())


@pytest.mark.parametrize(
    ("currency", "address", "account"),
    [
        (
            "BTC",
            "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
            "btc:bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
        ),
        ("XBT", "1Ai52Uw6usjhpcDrwSmkUvjuqLpcznUuyF", "btc:1Ai52Uw6usjhpcDrwSmkUvjuqLpcznUuyF"),
        (
            "ETH",
            "0x098B716B8Aaf21512996dC57EB0615e2383E2f96",
            "eth:0x098b716b8aaf21512996dc57eb0615e2383e2f96",
        ),
        (
            "eth",
            " 0xABCDEF0000000000000000000000000000000001 ",
            "eth:0xabcdef0000000000000000000000000000000001",
        ),
        (
            "USDT",
            "0x38735f03b30FbC022DdD06ABED01F0Ca823C6a94",
            "eth:0x38735f03b30fbc022ddd06abed01f0ca823c6a94",
        ),
        (
            "USDC",
            "0x983a81ca6FB1e441266D2FbcB7D8E530AC2E05A2",
            "eth:0x983a81ca6fb1e441266d2fbcb7d8e530ac2e05a2",
        ),
        ("USDT", "TEAqwfMhXLaomXhZ8KeMhx3njGmQEDnsUR", "tron:TEAqwfMhXLaomXhZ8KeMhx3njGmQEDnsUR"),
        ("USDT", "16iWn2J1McqjToYLHSsAyS6En3QA8YQ91H", "btc:16iWn2J1McqjToYLHSsAyS6En3QA8YQ91H"),
        (
            "USDT-TRC20",
            "TEAqwfMhXLaomXhZ8KeMhx3njGmQEDnsUR",
            "tron:TEAqwfMhXLaomXhZ8KeMhx3njGmQEDnsUR",
        ),
        (
            "USDT-ERC20",
            "0xAB00000000000000000000000000000000000000",
            "eth:0xab00000000000000000000000000000000000000",
        ),
        ("TRX", "TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre", "tron:TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre"),
        ("LTC", "Le3gXVa4SshHs3TmdrWNC434ceDQtsjMt8", "ltc:Le3gXVa4SshHs3TmdrWNC434ceDQtsjMt8"),
        (
            "BEP20",
            "0xAB00000000000000000000000000000000000000",
            "bep20:0xab00000000000000000000000000000000000000",
        ),
        ("XMR", "4AbC", "xmr:4AbC"),
    ],
)
def test_account_id(currency, address, account):
    assert account_id(currency, address) == account


@pytest.mark.parametrize(
    ("currency", "address", "reason"),
    [
        ("BTC", "", "empty address"),
        ("BTC", "1abc 2def", "address has spaces or control characters inside"),
        ("BTC", "1abc\x1b[31m", "address has spaces or control characters inside"),
        ("a:b", "1abc", "currency is not a currency code (letters, digits, . _ -)"),
    ],
)
def test_account_id_refuses(currency, address, reason):
    with pytest.raises(ValueError, match=f"^{__import__('re').escape(reason)}$"):
        account_id(currency, address)


def test_confidence_table_is_graphsense_levels_over_100():
    assert CONFIDENCE["ownership"] == 1.0
    assert CONFIDENCE["authority_data"] == 0.6
    assert CONFIDENCE["service_data"] == 0.5
    assert CONFIDENCE["web_crawl"] == 0.2
    assert all(0 < v <= 1 for v in CONFIDENCE.values())


# --------------------------------------------------------------------------------------------
# hand-written packs: overrides, confidence, rejects
# --------------------------------------------------------------------------------------------


PACK = """\
title: Test pack
creator: tests
currency: ETH
category: exchange
confidence: service_data
source: https://example.org/pack
label: Pack label
tags:
- address: '0xAAaa000000000000000000000000000000000001'
- address: '0xaaaa000000000000000000000000000000000002'
  currency: BTC
  category: mixing_service
  confidence: ownership
  source: https://example.org/tag
  actor: someone
  label: Own label
- address: 1BoatSLRHtKNngkdXEeobR76b53LETtpyT
  currency: btc
  abuse: ransomware
  confidence: manual
- address: 1OtherAddrXXXXXXXXXXXXXXXXXXXXXXXX
  currency: BTC
  concepts: [defi_bridge, exchange]
  category: ''
  confidence: Authority_Data
"""


def test_tag_fields_override_header_fields(tmp_path):
    labels, rejects, n = read(write(tmp_path / "p.yaml", PACK))
    check_shapes(labels, rejects, n)
    assert rejects.height == 0
    assert labels.to_dicts() == [
        {
            "account": "eth:0xaaaa000000000000000000000000000000000001",
            "label": "exchange",
            "name": "Pack label",
            "entity": None,
            "opening_balance": None,
            "source": "p.yaml: https://example.org/pack",
            "confidence": 0.5,
        },
        {
            "account": "btc:0xaaaa000000000000000000000000000000000002",
            "label": "mixer",
            "name": "Own label",
            "entity": "someone",
            "opening_balance": None,
            "source": "p.yaml: https://example.org/tag",
            "confidence": 1.0,
        },
        # a tag's abuse beats the header's category; an unknown confidence name is null
        {
            "account": "btc:1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
            "label": "ransomware",
            "name": "Pack label",
            "entity": None,
            "opening_balance": None,
            "source": "p.yaml: https://example.org/pack",
            "confidence": None,
        },
        # an empty category does not count; concepts (the newer field) do; names any case
        {
            "account": "btc:1OtherAddrXXXXXXXXXXXXXXXXXXXXXXXX",
            "label": "bridge",
            "name": "Pack label",
            "entity": None,
            "opening_balance": None,
            "source": "p.yaml: https://example.org/pack",
            "confidence": 0.6,
        },
    ]


def test_no_category_anywhere_gives_null_label_and_no_source_gives_file_name(tmp_path):
    labels, rejects, n = read(
        write(tmp_path / "bare.yml", "tags:\n- address: 1abc\n  currency: BTC\n")
    )
    assert n == 1 and rejects.height == 0
    assert labels.to_dicts() == [
        {
            "account": "btc:1abc",
            "label": None,
            "name": None,
            "entity": None,
            "opening_balance": None,
            "source": "bare.yml",
            "confidence": None,
        }
    ]


BAD_TAGS = """\
currency: BTC
label: Bad tags
tags:
- address: 1good
- label: no address here
- address: ''
- just a string
- address: 1abc def
- address: 1lab
  label: [a, b]
- address: 1cur
  currency: 'x:y'
- address: 1good
  label: again
- address: [1list]
- address: 0x1
  currency: ''
"""


def test_rejects_have_reasons_and_the_tag_as_json(tmp_path):
    labels, rejects, n = read(write(tmp_path / "bad.yaml", BAD_TAGS))
    check_shapes(labels, rejects, n)
    assert n == 10
    assert labels.select("account", "name").rows() == [
        ("btc:1good", "again"),
        ("btc:0x1", "Bad tags"),
    ]
    assert rejects.select("source", "source_row", "reason").rows() == [
        ("bad.yaml", 1, "account tagged again at tag 8 (the later tag is kept)"),
        ("bad.yaml", 2, "tag without address"),
        ("bad.yaml", 3, "tag without address"),
        ("bad.yaml", 4, "tag is not a mapping of fields (address: …, label: …)"),
        ("bad.yaml", 5, "address has spaces or control characters inside"),
        ("bad.yaml", 6, "label in the tag is not text"),
        ("bad.yaml", 7, "currency is not a currency code (letters, digits, . _ -)"),
        ("bad.yaml", 9, "address in the tag is not text"),
    ]
    raws = [json.loads(r) for r in rejects.get_column("raw").to_list()]
    assert raws[1] == {"label": "no address here"}
    assert raws[3] == "just a string"
    assert raws[5] == {"address": "1lab", "label": ["a", "b"]}


def test_no_currency_anywhere_is_rejected(tmp_path):
    labels, rejects, n = read(write(tmp_path / "c.yaml", "tags:\n- address: 1abc\n"))
    assert (n, labels.height) == (1, 0)
    assert rejects.get_column("reason").to_list() == [
        "no currency (neither in the tag nor in the pack header)"
    ]


def test_values_are_kept_as_written_not_as_yaml_types(tmp_path):
    # unquoted 0x… would be a hex number and `true`/dates typed under YAML's usual rules
    labels, _, _ = read(
        write(
            tmp_path / "t.yaml",
            (
                "currency: ETH\nlastmod: 2021-11-12\ntags:\n"
                "- address: 0x00AB000000000000000000000000000000000001\n"
                "  label: 0012\n  is_cluster_definer: true\n"
            ),
        )
    )
    assert labels.select("account", "name").row(0) == (
        "eth:0x00ab000000000000000000000000000000000001",
        "0012",
    )


def test_hostile_labels_are_stored_exactly(tmp_path):
    path = write(
        tmp_path / "h.yaml",
        (
            "currency: BTC\ncategory: scam\ntags:\n"
            f"- address: 1script\n  label: '{SCRIPT}'\n  actor: '{SCRIPT}'\n"
            f"- address: 1formula\n  label: '{HYPERLINK}'\n  source: '{HYPERLINK}'\n"
        ),
    )
    labels, rejects, n = read(path)
    assert rejects.height == 0
    assert labels.select("account", "name").rows() == [
        ("btc:1script", SCRIPT),
        ("btc:1formula", HYPERLINK),
    ]
    assert labels.get_column("entity").to_list() == [SCRIPT, None]
    assert labels.get_column("source").to_list()[1] == f"h.yaml: {HYPERLINK}"


# --------------------------------------------------------------------------------------------
# files that are not TagPacks
# --------------------------------------------------------------------------------------------


def one_line_error(path: Path) -> str:
    with pytest.raises(InputError) as err:
        read(path)
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message
    return message


def test_yaml_that_does_not_parse(tmp_path):
    message = one_line_error(write(tmp_path / "broken.yaml", "tags:\n- address: [1abc\n  x: y\n"))
    assert "not readable YAML" in message and "line" in message


@pytest.mark.parametrize(
    "text",
    [
        "- address: 1abc\n",
        "title: no tags\n",
        "tags: {address: 1abc}\n",
        "just text\n",
        "tags: []\n---\ntags: []\n",
    ],
)
def test_not_a_tagpack(tmp_path, text):
    message = one_line_error(write(tmp_path / "x.yaml", text))
    assert "TagPack" in message or "tags" in message or "YAML" in message


def test_empty_tags(tmp_path):
    for text in ("tags:\n", "tags: []\n"):
        labels, rejects, n = read(write(tmp_path / "e.yaml", text))
        assert (labels.height, rejects.height, n) == (0, 0, 0)


def test_alias_bomb_is_refused_quickly(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
        f"*a{i - 1}, *a{i - 1}, *a{i - 1}]"
        for i in range(1, 9)
    ]
    lines += ["tags:", "- address: 1abc", "  currency: BTC", "  context: *a8"]
    start = time.perf_counter()
    message = one_line_error(write(tmp_path / "bomb.yaml", "\n".join(lines) + "\n"))
    assert "aliases" in message
    assert time.perf_counter() - start < 2


def test_recursive_alias_is_refused(tmp_path):
    message = one_line_error(write(tmp_path / "r.yaml", "tags: &t\n- address: 1abc\n  x: *t\n"))
    assert "refers to itself" in message


def test_small_aliases_are_fine(tmp_path):
    labels, rejects, n = read(
        write(
            tmp_path / "ok.yaml",
            (
                "currency: BTC\nctx: &c {note: shared}\ntags:\n"
                "- address: 1a\n  context: *c\n- address: '*notalias'\n"
            ),
        )
    )
    assert n == 2 and rejects.height == 0
    assert labels.get_column("account").to_list() == ["btc:1a", "btc:*notalias"]


# --------------------------------------------------------------------------------------------
# sniffing
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [LAZARUS, RONIN, ELECTRUM, KUCOIN])
def test_detect_labels_real_packs(path):
    assert detect_labels(path) == "tagpack"
    assert label_reader("tagpack").read_labels is read_labels


def test_detect_labels_needs_yaml_suffix_and_top_level_tags(tmp_path):
    assert detect_labels(write(tmp_path / "p.yml", "title: x\ntags:\n- address: 1a\n")) == "tagpack"
    not_packs = [
        write(tmp_path / "p.txt", "tags:\n- address: 1a\n"),  # not .yaml
        write(tmp_path / "q.yaml", "title: x\n  tags:\n- a\n"),  # tags not at the top
        write(tmp_path / "r.yaml", "title: x\ntagsx: []\n"),
    ]
    for path in not_packs:
        with pytest.raises(InputError, match="not a labels file"):
            detect_labels(path)
    assert detect_labels(write(tmp_path / "l.csv", "account,label\nx,exchange\n")) == "labels"


# --------------------------------------------------------------------------------------------
# end to end: tracer ingest --labels pack.yaml, tracer trace --stop-at sanctioned
# --------------------------------------------------------------------------------------------

SANCTIONED = "btc:3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG"  # in lazarus2.yaml
EXPLOITER = "eth:0x098b716b8aaf21512996dc57eb0615e2383e2f96"  # in ronin_bridge.yaml


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tagpack")
    path = folder / "transfers.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["tx_id", "timestamp", "src", "dst", "amount", "asset"])
        w.writerows(
            [
                ("s1", "2025-01-01T00:00:00Z", "btc:victim", "btc:mule", "10", "BTC"),
                ("t2", "2025-01-01T01:00:00Z", "btc:mule", SANCTIONED, "6", "BTC"),
                ("t3", "2025-01-01T02:00:00Z", "btc:mule", "btc:other", "4", "BTC"),
                ("t4", "2025-01-01T03:00:00Z", SANCTIONED, "btc:onward", "6", "BTC"),
            ]
        )
    hostile = write(
        folder / "hostile.yaml",
        (
            f"currency: BTC\ncategory: scam\ntags:\n- address: other\n  label: '{SCRIPT}'\n"
            f"- address: onward\n  label: '{HYPERLINK}'\n"
        ),
    )
    result = ok(
        "ingest",
        path,
        "--labels",
        LAZARUS,
        "--labels",
        RONIN,
        "--labels",
        hostile,
        "-w",
        folder / "ws",
    )
    assert f"{LAZARUS} (labels): read 6, ingested 6, rejected 0" in result.stdout
    assert f"{RONIN} (labels): read 6, ingested 6, rejected 0" in result.stdout
    assert f"{path}: read 4, ingested 4, rejected 0" in result.stdout
    return folder / "ws"


def test_ingest_stores_the_pack_rows_in_accounts(ws):
    accounts = Workspace.open(ws).table("accounts")
    row = accounts.filter(pl.col("account") == SANCTIONED).row(0, named=True)
    assert row["kind"] == "crypto"
    assert (row["label"], row["name"], row["confidence"]) == ("sanctioned", "Lazarus group", 0.6)
    assert row["source"].startswith("lazarus2.yaml: https://www.fbi.gov/")
    assert accounts.filter(pl.col("account") == EXPLOITER).get_column("label").to_list() == ["hack"]
    names = dict(accounts.select("account", "name").iter_rows())
    assert names["btc:other"] == SCRIPT and names["btc:onward"] == HYPERLINK
    manifest = Workspace.open(ws).manifest
    formats = {i["name"]: i["format"] for i in manifest["inputs"]}
    assert formats["lazarus2.yaml"] == "tagpack" and formats["hostile.yaml"] == "tagpack"


def test_trace_stops_at_the_sanctioned_wallet(ws):
    out = json.loads(
        ok("trace", "-w", ws, "--tx", "s1", "--stop-at", "sanctioned", "--format", "json").stdout
    )
    ends = {e["account"]: e for e in out["endpoints"]}
    assert set(ends) == {SANCTIONED, "btc:other"}  # nothing flows on past the stop
    assert (ends[SANCTIONED]["label"], ends[SANCTIONED]["stopped"]) == ("sanctioned", True)
    assert ends[SANCTIONED]["value"] == pytest.approx(6.0)
    assert (ends["btc:other"]["label"], ends["btc:other"]["stopped"]) == ("scam", False)
    table = ok("trace", "-w", ws, "--tx", "s1", "--stop-at", "sanctioned").stdout
    line = next(x for x in table.splitlines() if x.startswith(SANCTIONED))
    assert "sanctioned" in line and line.rstrip().endswith("yes")


def test_without_the_stop_the_money_flows_on(ws):
    out = json.loads(
        ok("trace", "-w", ws, "--tx", "s1", "--stop-at", "", "--format", "json").stdout
    )
    assert {e["account"] for e in out["endpoints"]} == {"btc:onward", "btc:other"}


def test_a_later_labels_file_never_downgrades_a_sanctioned_account(tmp_path, ws):
    relabel = tmp_path / "relabel.csv"
    relabel.write_text(f"account,label,name\n{SANCTIONED},exchange,Actually an exchange\n")
    ws2 = tmp_path / "ws2"
    transfers = ws.parent / "transfers.csv"
    out = ok("ingest", transfers, "--labels", LAZARUS, "--labels", relabel, "-w", ws2).output
    accounts = Workspace.open(ws2).table("accounts")
    row = accounts.filter(pl.col("account") == SANCTIONED).row(0, named=True)
    # the stronger label stays, with its source; the conflict is a note of the later file
    assert row["label"] == "sanctioned" and row["source"].startswith(LAZARUS.name)
    assert "1 label conflict(s)" in out and f"{SANCTIONED}: sanctioned" in out
    assert "kept over exchange (relabel.csv)" in out
    other = accounts.filter(pl.col("account") == "btc:39idqitN9tYNmq3wYanwg3MitFB5TZCjWu")
    assert other.get_column("label").to_list() == ["sanctioned"]


def test_ingest_of_a_broken_pack_is_one_line_and_writes_nothing(tmp_path, ws):
    broken = write(tmp_path / "broken.yaml", "tags:\n- address: [1abc\n")
    result = run("ingest", "--labels", broken, "-w", tmp_path / "ws3")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "broken.yaml" in lines[0] and "not readable YAML" in lines[0]
    assert not (tmp_path / "ws3" / "manifest.json").exists()
