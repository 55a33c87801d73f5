"""Prices CSV: ``date,asset,usd`` (the price of one unit of the asset in US dollars).

A price is a positive number between ``MIN_PRICE`` and ``MAX_PRICE`` (1e-18 and 1e18 USD), so
that every value computed from it stays finite. One price per asset and day: the same price
written again is a repeated row (rejected, naming the first); two different prices for one
asset and day are a conflict, and every row of it is rejected, naming the others (no price
is picked silently).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tracer.io.common import MAX_PRICE, MIN_PRICE, ROW, read_table, rejects_of
from tracer.schema import require_columns

__all__ = ["read_prices"]


def read_prices(path: Path, source: str) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """(prices, rejects, rows read). A bad date or price, a repeated row or a conflict is
    rejected with the reason."""
    df = read_table(path)
    original = [c for c in df.columns if c != ROW]
    require_columns(str(path), original, ("date", "asset", "usd"))
    date = (
        pl.col("date")
        .cast(pl.String)
        .str.strip_chars()
        .str.slice(0, 10)
        .str.to_date("%Y-%m-%d", strict=False)
    )
    usd = pl.col("usd").cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    asset = pl.col("asset").cast(pl.String).str.strip_chars()
    df = df.with_columns(date.alias("__date"), usd.alias("__usd"), asset.alias("__asset"))
    bad = (
        pl.when(pl.col("__date").is_null())
        .then(pl.lit("bad date (expected YYYY-MM-DD)"))
        .when(pl.col("__asset").is_null() | (pl.col("__asset") == ""))
        .then(pl.lit("empty asset"))
        .when(
            pl.col("__usd").is_null()
            | pl.col("__usd").is_nan()
            | pl.col("__usd").is_infinite()
            | (pl.col("__usd") <= 0)
        )
        .then(pl.lit("bad usd price (not a positive number)"))
        .when((pl.col("__usd") < MIN_PRICE) | (pl.col("__usd") > MAX_PRICE))
        .then(pl.lit(f"usd price out of range (between {MIN_PRICE:.0e} and {MAX_PRICE:.0e})"))
    )
    df = df.with_columns(bad.otherwise(pl.lit(None, pl.String)).alias("__bad"))
    key = ["__date", "__asset"]
    ok = pl.col("__bad").is_null()
    prices_of_day = pl.col("__usd").filter(ok).unique().len().over(key)
    rows_of_day = (pl.col(ROW).filter(ok).sort().cast(pl.String).str.join(", ")).over(key)
    first = pl.col(ROW).filter(ok).min().over(key)
    reason = (
        pl.when(~ok)
        .then(pl.col("__bad"))
        .when(prices_of_day > 1)
        .then(
            pl.lit("conflicting prices for ")
            + pl.col("__asset")
            + pl.lit(" on ")
            + pl.col("__date").cast(pl.String)
            + pl.lit(" (rows ")
            + rows_of_day
            + pl.lit("); keep one")
        )
        .when(first != pl.col(ROW))
        .then(pl.lit("repeated price (first at row ") + first.cast(pl.String) + pl.lit(")"))
        .otherwise(pl.lit(None, pl.String))
    )
    df = df.with_columns(reason.alias("__reason"))
    rejects = rejects_of(df, pl.col("__reason"), source, original)
    good = df.filter(pl.col("__reason").is_null()).select(
        pl.col("__date").alias("date"),
        pl.col("__asset").alias("asset"),
        pl.col("__usd").alias("usd"),
    )
    return good, rejects, df.height
