"""Semicolon-separated files (Excel's CSV where the decimal sign is a comma) and TSV: the field
separator is sniffed from the header line by ``read_table``/``iter_table`` and ``head_of``."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest
from conftest import ok  # noqa: E402

from tracer import io
from tracer.io.common import head_of, read_table, sniff_separator

ROWS = [
    ("t1", "2025-01-01T00:00:00Z", "A", "B", "100", "USD"),
    ("t2", "2025-01-02T00:00:00Z", "B", "C", "60", "USD"),
]
HEADER = ("tx_id", "timestamp", "src", "dst", "amount", "asset")


def write(path: Path, sep: str, rows=ROWS, header=HEADER) -> Path:
    path.write_text("".join(sep.join(r) + "\n" for r in [header, *rows]), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("header", "sep"),
    [
        ("a,b,c", ","),
        ("a;b;c", ";"),
        ("a\tb\tc", "\t"),
        ("a", ","),
        ("", ","),
        ("name;note,with comma;x", ";"),  # more semicolons than commas
        ("a,b;c", ","),  # a tie keeps the comma
        ("a\tb;c;d\te", "\t"),  # a tie between tab and semicolon: tab
    ],
)
def test_sniff_separator(tmp_path, header, sep):
    f = tmp_path / "f.csv"
    f.write_text(header + "\n", encoding="utf-8")
    assert sniff_separator(f) == sep


def test_semicolons_gzipped_and_utf16(tmp_path):
    f = write(tmp_path / "s.csv", ";")
    z = tmp_path / "s.csv.gz"
    z.write_bytes(gzip.compress(f.read_bytes()))
    u = tmp_path / "u.csv"
    u.write_bytes(f.read_text().encode("utf-16"))
    for path in (f, z, u):
        assert sniff_separator(path) == ";"
        assert head_of(path).columns == HEADER
        t = read_table(path)
        assert t.select(HEADER).rows() == ROWS


@pytest.mark.parametrize("sep", [";", "\t", ","])
def test_canonical_file_with_any_separator_is_ingested(tmp_path, sep):
    f = write(tmp_path / "transfers.csv", sep)
    assert io.detect(f) == "canonical"
    ok("ingest", f, "-w", tmp_path / "ws")
    t = pl.read_parquet(tmp_path / "ws" / "transfers.parquet").sort("tx_id")
    assert t.select("tx_id", "src", "dst", "amount").rows() == [
        ("t1", "A", "B", 100.0),
        ("t2", "B", "C", 60.0),
    ]


def test_a_comma_inside_a_semicolon_file_is_not_a_separator(tmp_path):
    f = write(
        tmp_path / "t.csv",
        ";",
        rows=[("t1", "2025-01-01T00:00:00Z", "Müller, Hans", "B", "100", "USD")],
    )
    t = read_table(f)
    assert t.get_column("src").to_list() == ["Müller, Hans"]


def test_canonical_semicolon_file_reads_decimal_commas(tmp_path):
    f = write(
        tmp_path / "t.csv",
        ";",
        header=(*HEADER, "value"),
        rows=[
            ("t1", "2025-01-01T00:00:00Z", "A", "B", "12,50", "EUR", "13,75"),
            ("t2", "2025-01-02T00:00:00Z", "B", "C", "0,5", "EUR", "0,55"),
            ("t3", "2025-01-03T00:00:00Z", "C", "D", "1234,567", "EUR", "1234,567"),
            ("t4", "2025-01-04T00:00:00Z", "D", "E", "1,234,567.8", "EUR", "1"),
            ("t5", "2025-01-05T00:00:00Z", "E", "F", "7", "EUR", "7"),
            ("t6", "2025-01-06T00:00:00Z", "F", "G", "1,234", "EUR", "1"),  # 1234 or 1.234?
            ("t7", "2025-01-07T00:00:00Z", "G", "H", "1.234,56", "EUR", "1"),
            ("t8", "2025-01-08T00:00:00Z", "H", "I", "5", "EUR", "1,234"),
        ],
    )
    res = io.reader("canonical").read(f, f.name, {})
    t = res.transfers
    assert t.select("tx_id", "amount", "amount_raw", "value").rows() == [
        ("t1", 12.5, "12,50", 13.75),
        ("t2", 0.5, "0,5", 0.55),
        ("t3", 1234.567, "1234,567", 1234.567),
        ("t4", 1234567.8, "1,234,567.8", 1.0),
        ("t5", 7.0, "7", 7.0),
    ]
    assert dict(res.rejects.select("source_row", "reason").rows()) == {
        6: "non-numeric amount",
        7: "non-numeric amount",
        8: "bad value (not a non-negative number)",
    }
    # batches (as ingest reads the file) give the same
    from tracer.io.common import iter_table

    batched = [io.reader("canonical").read(f, f.name, {}, frame=b) for b in iter_table(f, 3)]
    assert pl.concat([b.transfers for b in batched]).equals(t)


def test_canonical_comma_file_still_rejects_decimal_commas(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text(
        "tx_id,timestamp,src,dst,amount,asset\n"
        't1,2025-01-01T00:00:00Z,A,B,"12,50",EUR\nt2,2025-01-02T00:00:00Z,B,C,7,EUR\n',
        encoding="utf-8",
    )
    res = io.reader("canonical").read(f, f.name, {})
    assert res.transfers.get_column("tx_id").to_list() == ["t2"]
    assert res.rejects.get_column("reason").to_list() == ["non-numeric amount"]
