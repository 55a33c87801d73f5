"""Hostile inputs found by probing the readers, kept as small files in tests/data/hostile/:
each is either refused with one ``Error:`` line naming the file (the workspace unchanged) or
read with every row ingested or rejected with its reason, and never a wrong value."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from tracer import io
from tracer.cli import cli
from tracer.errors import InputError, TracerError
from tracer.ingest import ingest
from tracer.io.common import MAX_AMOUNT, ReadResult
from tracer.schema import REJECTS, TRANSFERS

HOSTILE = Path(__file__).parent.parent / "data" / "hostile"

# file -> (kind, expected): an error (a text it contains) or {row: reason it starts with},
# plus the rows ingested
CORPUS = {
    "latin1_names.csv": (
        "transfers",
        "not valid UTF-8 at byte 62 (line 2); re-run with --encoding latin-1",
    ),
    "utf16_bom.csv": ("transfers", ({}, 2)),
    "gzipped.csv.gz": ("transfers", ({}, 2)),
    "etherscan_numbers.csv": (
        "transfers",
        (
            {
                1: "non-numeric Value_IN(ETH) (1,5)",
                2: "non-numeric Value_IN(ETH) (1.234,56)",
                4: "amount is infinite",
                5: "amount too large (above 1e+30",
                6: "bad UnixTimestamp (past year 9999: looks like milliseconds",
            },
            1,
        ),
    ),
    "etherscan_internal_trailing.csv": ("transfers", ({}, 1)),
    "canonical_huge.csv": (
        "transfers",
        ({1: "amount too large", 2: "amount is infinite", 3: "amount too large"}, 1),
    ),
    "prices_conflict.csv": (
        "prices",
        (
            {
                1: "conflicting prices for ZZZ on 2025-01-06 (rows 1, 2)",
                2: "conflicting prices for ZZZ on 2025-01-06 (rows 1, 2)",
                3: "usd price out of range",
            },
            1,
        ),
    ),
    "sanctioned_addresses_XBT.json": ("labels", "JSON nested too deeply"),
    "tronscan_deep.json": ("transfers", "JSON nested too deeply"),
    "tronscan_repeated.csv": (
        "transfers",
        ({2: "repeated transfer (same transaction, from, to, amount and token as row 1)"}, 2),
    ),
    "tronscan_repeated.json": ("transfers", ({2: "repeated transfer"}, 1)),
    "tronscan_symbol_only.csv": ("transfers", ({2: "non-numeric amount (1,5)"}, 1)),
    "bitcoin_outputs_long_hash.csv": (
        "transfers",
        ({1: "bad transaction hash (expected 64 hex digits, found 100000 characters)"}, 1),
    ),
    "nul_in_header.csv": ("transfers", "the name of column 7 holds a NUL byte"),
}


def test_corpus_is_all_used():
    kept = {p.name for p in HOSTILE.iterdir()} - {"cases_binary.csv"}
    assert kept == set(CORPUS)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_file(tmp_path, name):
    kind, expected = CORPUS[name]
    path = tmp_path / name
    shutil.copy(HOSTILE / name, path)
    ws = tmp_path / "ws"
    args = {"files": [path]} if kind == "transfers" else {kind: [path]}
    if isinstance(expected, str):
        with pytest.raises(TracerError) as err:
            ingest(ws, **args)
        message = str(err.value)
        assert expected in message and str(path) in message and "\n" not in message
        assert not ws.exists()  # nothing written
        result = CliRunner().invoke(
            cli,
            [
                "ingest",
                "-w",
                str(ws),
                *([str(path)] if kind == "transfers" else [f"--{kind}", str(path)]),
            ],
        )
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
        assert result.output.strip().startswith("Error:") and expected in result.output
        return
    reasons, ingested = expected
    (report,) = ingest(ws, **args)
    assert report.read == report.ingested + report.rejected
    assert report.ingested == ingested
    rejects = pl.read_parquet(next(ws.glob("**/rejects.parquet")))
    got = dict(zip(rejects["source_row"], rejects["reason"], strict=True))
    assert sorted(got) == sorted(reasons)
    for row, reason in reasons.items():
        assert got[row].startswith(reason), (row, got[row])
    if kind == "transfers":
        t = pl.read_parquet(next(ws.glob("**/transfers.parquet")))
        assert t.height == ingested
        assert all(math.isfinite(a) and 0 < a <= MAX_AMOUNT for a in t["amount"])
        assert all(v is None or math.isfinite(v) for v in t["value"])
        assert all(ts.year <= 9999 for ts in t["ts"])


def test_latin1_read_with_encoding_keeps_names_apart(tmp_path):
    path = shutil.copy(HOSTILE / "latin1_names.csv", tmp_path / "l.csv")
    result = CliRunner().invoke(
        cli, ["ingest", "-w", str(tmp_path / "ws"), "--encoding", "latin-1", str(path)]
    )
    assert result.exit_code == 0, result.output
    t = pl.read_parquet(next((tmp_path / "ws").glob("**/transfers.parquet")))
    assert sorted(t["src"]) == ["Möller", "Müller"]  # two people, not one
    # without --encoding, and with an unknown one: one line, nothing written
    for extra, needle in (
        ([], "--encoding latin-1"),
        (["--encoding", "klingon"], "unknown encoding"),
    ):
        result = CliRunner().invoke(cli, ["ingest", "-w", str(tmp_path / "ws2"), *extra, str(path)])
        assert result.exit_code == 1 and needle in result.output
        assert len(result.output.strip().splitlines()) == 1
        assert not (tmp_path / "ws2").exists()


def test_utf16_and_gzip_are_sniffed(tmp_path):
    for name in ("utf16_bom.csv", "gzipped.csv.gz"):
        assert io.detect(HOSTILE / name) == "canonical"
        res = io.reader("canonical").read(HOSTILE / name, name, {})
        assert res.transfers["src"].to_list() == ["Müller", "Möller"]


def test_a_label_or_prices_file_not_utf8_is_refused(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_bytes(b"account,label\nM\xfcller,exchange\n")
    with pytest.raises(InputError, match="not valid UTF-8 at byte 15 \\(line 2\\)"):
        ingest(tmp_path / "ws", labels=[labels])
    assert not (tmp_path / "ws").exists()
    ingest(tmp_path / "ws", labels=[labels], options={"encoding": "latin-1"})
    got = pl.read_parquet(next((tmp_path / "ws").glob("**/labels.parquet")))
    assert got["account"].to_list() == ["Müller"]


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("1,234.5", 1234.5),
        ("12,345,678", 12345678.0),
        ("1,5", None),
        ("1.234,56", None),
        ("12,34", None),
        ("1,2345", None),
        (",123", None),
    ],
)
def test_thousands_separator_groups_three_digits(tmp_path, text, ok):
    from tracer.io.common import number_text

    got = pl.select(number_text(pl.lit(text)).cast(pl.Float64, strict=False)).item()
    assert got == ok


def test_guard_moves_non_finite_and_late_rows():
    row = {
        "tx_id": "a",
        "ts": None,
        "seq": 1,
        "src": "x",
        "dst": "y",
        "amount": 1.0,
        "amount_raw": "1",
        "asset": "A",
        "value": 1.0,
        "source": "f",
        "source_row": 1,
    }
    import datetime as dt

    ts = [dt.datetime(2025, 1, 1, tzinfo=dt.UTC)] * 5
    frame = pl.DataFrame(
        [
            {**row, "tx_id": str(i), "source_row": i + 1, "ts": ts[i], "amount": a, "value": v}
            for i, (a, v) in enumerate(
                [(1.0, 1.0), (math.inf, 1.0), (1.0, math.nan), (1e31, 1.0), (2.0, None)]
            )
        ]
    ).cast(TRANSFERS)
    late = frame.head(1).with_columns(
        pl.lit(dt.datetime(9999, 12, 31, tzinfo=dt.UTC)).dt.offset_by("2d").alias("ts"),
        pl.lit(6, pl.Int64).alias("source_row"),
    )
    ms = frame.head(1).with_columns(  # unix milliseconds read as seconds
        pl.lit(1_700_000_000_000 * 1_000_000).cast(pl.Datetime("us", "UTC")).alias("ts"),
        pl.lit(7, pl.Int64).alias("source_row"),
    )
    res = ReadResult(
        transfers=pl.concat([frame, late, ms]),
        rejects=pl.DataFrame(schema=REJECTS),
        read=7,
        has_value=True,
    )
    assert res.transfers["source_row"].to_list() == [1, 5]
    assert dict(zip(res.rejects["source_row"], res.rejects["reason"], strict=True)) == {
        2: "amount is infinite (too large to represent)",
        3: "value is NaN",
        4: "amount too large (above 1e+30, the largest tracer accepts)",
        6: "time past year 9999 (looks like a wrong unit: expected seconds)",
        7: "time past year 9999 (looks like milliseconds where seconds are expected)",
    }


def test_binary_cases_file_is_one_error_line(tmp_path):
    from conftest import build
    from oracle import Transfer

    ws = build(tmp_path / "w", [Transfer("t1", 1, 1, "a", "b", 5.0)])
    cases = shutil.copy(HOSTILE / "cases_binary.csv", tmp_path / "cases.csv")
    result = CliRunner().invoke(cli, ["batch", "-w", str(ws.path), str(cases)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "not UTF-8" in lines[0]


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_a_sanctioned_label_is_never_lost_to_a_weaker_one(order):
    from tracer.io.labels import LABEL_COLUMNS, merge_labels

    def frame(source, label, accounts):
        return (
            pl.DataFrame(
                {
                    "account": accounts,
                    "label": [label] * len(accounts),
                    "source": [source] * len(accounts),
                }
            )
            .with_columns(
                *(pl.lit(None, pl.String).alias(c) for c in ("name", "entity")),
                *(pl.lit(None, pl.Float64).alias(c) for c in ("opening_balance", "confidence")),
            )
            .select(LABEL_COLUMNS)
        )

    ofac = frame("sanctioned_addresses_XBT.json", "sanctioned", [f"btc:{i}" for i in range(5)])
    pack = frame("ofac.yaml", "user", [f"btc:{i}" for i in range(3, 8)])
    frames = [ofac, pack]
    merged, notes = merge_labels([frames[i] for i in order])
    got = dict(zip(merged["account"], merged["label"], strict=True))
    assert got == {
        **{f"btc:{i}": "sanctioned" for i in range(5)},
        **{f"btc:{i}": "user" for i in range(5, 8)},
    }
    assert set(merged.filter(pl.col("label") == "sanctioned")["source"]) == {
        "sanctioned_addresses_XBT.json"
    }
    later = frames[order[1]]["source"][0]
    assert list(notes) == [later] and notes[later][0].startswith("2 label conflict(s)")
    assert (
        "sanctioned (sanctioned_addresses_XBT.json) kept over user (ofac.yaml)" in notes[later][0]
    )
