"""Labels CSV: ``account,label`` with optional ``name,entity,opening_balance``."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tracer.io.common import MAX_AMOUNT, ROW, Head, read_table, rejects_of
from tracer.schema import REQUIRED_LABEL_COLUMNS, require_columns

__all__ = ["NAME", "sniff", "read_labels", "LABEL_COLUMNS"]

NAME = "labels"

LABEL_COLUMNS = ("account", "label", "name", "entity", "opening_balance", "source", "confidence")


def sniff(path: Path, head: Head) -> bool:
    return all(c in head.columns for c in REQUIRED_LABEL_COLUMNS)


def read_labels(path: Path, source: str) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """(labels, rejects, rows read). Labels are lower-cased; a later row for the same account
    wins (the earlier one is rejected, saying so); an empty account or a bad opening balance is
    rejected."""
    df = read_table(path)
    original = [c for c in df.columns if c != ROW]
    require_columns(str(path), original, REQUIRED_LABEL_COLUMNS)

    def text(col: str) -> pl.Expr:
        if col not in original:
            return pl.lit(None, pl.String)
        v = pl.col(col).cast(pl.String).str.strip_chars()
        return pl.when(v == "").then(None).otherwise(v)

    opening_text = text("opening_balance")
    opening = opening_text.cast(pl.Float64, strict=False)
    df = df.with_columns(
        pl.col("account").cast(pl.String).alias("__account"),
        text("label").str.to_lowercase().alias("__label"),
        opening.alias("__opening"),
    )
    last_row = pl.col(ROW).max().over("__account")
    reason = (
        pl.when(pl.col("__account").is_null() | (pl.col("__account") == ""))
        .then(pl.lit("empty account"))
        .when(opening_text.is_not_null() & (
            pl.col("__opening").is_null() | pl.col("__opening").is_nan()
            | pl.col("__opening").is_infinite() | (pl.col("__opening") < 0)))
        .then(pl.lit("bad opening_balance (not a non-negative number)"))
        .when(pl.col("__opening") > MAX_AMOUNT)
        .then(pl.lit(f"opening_balance too large (above {MAX_AMOUNT:.0e}, the largest tracer accepts)"))
        .when(last_row != pl.col(ROW))
        .then(pl.lit("account labelled again at row ") + last_row.cast(pl.String)
              + pl.lit(" (the later row is kept)"))
        .otherwise(pl.lit(None, pl.String))
    )
    rejects = rejects_of(df, reason, source, original)
    good = df.filter(reason.is_null())
    labels = good.select(
        pl.col("__account").alias("account"),
        pl.col("__label").alias("label"),
        text("name").alias("name"),
        text("entity").alias("entity"),
        pl.col("__opening").alias("opening_balance"),
        pl.lit(source, dtype=pl.String).alias("source"),
        pl.lit(None, dtype=pl.Float64).alias("confidence"),
    )
    return labels, rejects, df.height
