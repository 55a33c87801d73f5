"""Canonical transfers: CSV or Parquet with ``tx_id,timestamp,src,dst,amount,asset``,
optional ``value`` and any extra columns (kept).

A semicolon-separated CSV (Excel's in locales whose decimal sign is a comma) may write amounts
and values with a decimal comma (``12,50``), read as ``generic`` reads them
(``tracer.io.common.number_text`` with ``decimal_comma``); a comma that could also group
thousands (``1,234``) is not guessed at: the row is rejected."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tracer.io.base import Reader
from tracer.io.common import (
    ROW,
    Head,
    ReadResult,
    finish_transfers,
    number_text,
    parse_timestamps,
    read_table,
    sniff_separator,
)
from tracer.schema import REQUIRED_TRANSFER_COLUMNS, TRANSFERS, require_columns

__all__ = ["NAME", "READER", "sniff", "read", "read_transfers"]

NAME = "canonical"


def sniff(path: Path, head: Head) -> bool:
    return all(c in head.columns for c in REQUIRED_TRANSFER_COLUMNS)


def read(path: Path, source: str, options: dict, frame: pl.DataFrame | None = None) -> ReadResult:
    return read_transfers(path, source, frame)


def read_transfers(path: Path, source: str, frame: pl.DataFrame | None = None) -> ReadResult:
    """Read one canonical file (or ``frame``, a batch of its rows as ``read_table`` gives
    them); bad rows go to rejects with a reason and the raw row."""
    df = read_table(path) if frame is None else frame
    original = [c for c in df.columns if c != ROW]
    require_columns(str(path), original, REQUIRED_TRANSFER_COLUMNS)
    has_value = "value" in original

    if df.schema["timestamp"] == pl.Datetime or isinstance(df.schema["timestamp"], pl.Datetime):
        tz = df.schema["timestamp"].time_zone  # type: ignore[union-attr]
        ts = df.get_column("timestamp").dt.cast_time_unit("us")
        ts = ts.dt.convert_time_zone("UTC") if tz else ts.dt.replace_time_zone("UTC")
    else:
        ts = parse_timestamps(df.get_column("timestamp"))
    text = {c: pl.col(c).cast(pl.String) for c in ("tx_id", "src", "dst", "asset")}
    decimal_comma = sniff_separator(path) == ";"

    def number(col: str) -> pl.Expr:
        e = pl.col(col).cast(pl.String)
        return number_text(e, decimal_comma=True) if decimal_comma else e

    df = df.with_columns(
        ts.alias("__ts"),
        pl.col("amount").cast(pl.String).alias("__amount_raw"),
        number("amount").alias("__amount_text"),
        *(e.alias(f"__{c}") for c, e in text.items()),
        *([number("value").alias("__value_text")] if has_value else []),
    )
    extras = [c for c in original if c not in REQUIRED_TRANSFER_COLUMNS and c != "value"]
    renamed = {c: (c if c not in TRANSFERS else f"x_{c}") for c in extras}
    return finish_transfers(
        df,
        source,
        original,
        has_value=has_value,
        extras=[pl.col(c).alias(renamed[c]) for c in extras],
    )


READER = Reader(
    NAME, sniff, read, batched=True, doc="tracer's own transfers CSV (the canonical columns)."
)
