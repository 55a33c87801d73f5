"""Canonical transfers: CSV or Parquet with ``tx_id,timestamp,src,dst,amount,asset``,
optional ``value`` and any extra columns (kept)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tracer.io.common import ROW, Head, ReadResult, parse_timestamps, read_table, rejects_of
from tracer.schema import REQUIRED_TRANSFER_COLUMNS, TRANSFERS, require_columns

__all__ = ["NAME", "sniff", "read", "read_transfers"]

NAME = "canonical"


def _number(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)


def sniff(path: Path, head: Head) -> bool:
    return all(c in head.columns for c in REQUIRED_TRANSFER_COLUMNS)


def read(path: Path, source: str, options: dict) -> ReadResult:
    return read_transfers(path, source)


def read_transfers(path: Path, source: str) -> ReadResult:
    """Read one canonical file; bad rows go to rejects with a reason and the raw row."""
    df = read_table(path)
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
    df = df.with_columns(
        ts.alias("__ts"),
        _number("amount").alias("__amount"),
        pl.col("amount").cast(pl.String).alias("__amount_raw"),
        *(e.alias(f"__{c}") for c, e in text.items()),
        (_number("value") if has_value else pl.lit(None, pl.Float64)).alias("__value"),
    )
    amount_text = pl.col("__amount_raw").str.strip_chars()
    value_text = pl.col("value").cast(pl.String).str.strip_chars() if has_value else pl.lit(None)
    first_row = pl.col(ROW).min().over("__tx_id")
    reason = (
        pl.when(pl.col("__tx_id").is_null() | (pl.col("__tx_id").str.strip_chars() == ""))
        .then(pl.lit("empty tx_id"))
        .when(pl.col("__ts").is_null())
        .then(pl.lit("unparseable timestamp (expected ISO 8601, e.g. 2025-03-01T12:00:00Z)"))
        .when(amount_text.is_null() | (amount_text == ""))
        .then(pl.lit("empty amount"))
        .when(pl.col("__amount").is_null())
        .then(pl.lit("non-numeric amount"))
        .when(pl.col("__amount").is_nan())
        .then(pl.lit("amount is NaN"))
        .when(pl.col("__amount").is_infinite())
        .then(pl.lit("amount is infinite"))
        .when(pl.col("__amount") < 0)
        .then(pl.lit("negative amount"))
        .when(pl.col("__src").is_null() | (pl.col("__src") == ""))
        .then(pl.lit("empty src"))
        .when(pl.col("__dst").is_null() | (pl.col("__dst") == ""))
        .then(pl.lit("empty dst"))
        .when(pl.col("__src") == pl.col("__dst"))
        .then(pl.lit("self-transfer (src equals dst)"))
        .when(pl.col("__asset").is_null() | (pl.col("__asset").str.strip_chars() == ""))
        .then(pl.lit("empty asset"))
        .when(value_text.is_not_null() & (value_text != "") & (
            pl.col("__value").is_null() | pl.col("__value").is_nan()
            | pl.col("__value").is_infinite() | (pl.col("__value") < 0)))
        .then(pl.lit("bad value (not a non-negative number)"))
        .when(first_row != pl.col(ROW))
        .then(pl.lit("duplicate tx_id (first at row ") + first_row.cast(pl.String) + pl.lit(")"))
        .otherwise(pl.lit(None, pl.String))
    )
    df = df.with_columns(reason.alias("__reason"))
    rejects = rejects_of(df, pl.col("__reason"), source, original)
    good = df.filter(pl.col("__reason").is_null())
    extras = [c for c in original if c not in REQUIRED_TRANSFER_COLUMNS and c != "value"]
    renamed = {c: (c if c not in TRANSFERS else f"x_{c}") for c in extras}
    out = good.select(
        pl.col("__tx_id").alias("tx_id"),
        pl.col("__ts").alias("ts"),
        pl.col(ROW).alias("seq"),
        pl.col("__src").alias("src"),
        pl.col("__dst").alias("dst"),
        pl.col("__amount").alias("amount"),
        pl.col("__amount_raw").alias("amount_raw"),
        pl.col("__asset").str.strip_chars().alias("asset"),
        (pl.col("__value") if has_value else pl.col("__amount")).alias("value"),
        pl.lit(source, dtype=pl.String).alias("source"),
        pl.col(ROW).alias("source_row"),
        *(pl.col(c).alias(renamed[c]) for c in extras),
    )
    return ReadResult(transfers=out, rejects=rejects, read=df.height, has_value=has_value)
