"""Prices CSV: ``date,asset,usd`` (the price of one unit of the asset in US dollars)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tracer.io.common import ROW, read_table, rejects_of
from tracer.schema import require_columns

__all__ = ["read_prices"]


def read_prices(path: Path, source: str) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """(prices, rejects, rows read). A bad date or price is rejected with the reason."""
    df = read_table(path)
    original = [c for c in df.columns if c != ROW]
    require_columns(str(path), original, ("date", "asset", "usd"))
    date = pl.col("date").cast(pl.String).str.strip_chars().str.slice(0, 10) \
        .str.to_date("%Y-%m-%d", strict=False)
    usd = pl.col("usd").cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    asset = pl.col("asset").cast(pl.String).str.strip_chars()
    df = df.with_columns(date.alias("__date"), usd.alias("__usd"), asset.alias("__asset"))
    reason = (
        pl.when(pl.col("__date").is_null()).then(pl.lit("bad date (expected YYYY-MM-DD)"))
        .when(pl.col("__asset").is_null() | (pl.col("__asset") == "")).then(pl.lit("empty asset"))
        .when(pl.col("__usd").is_null() | pl.col("__usd").is_nan() | pl.col("__usd").is_infinite()
              | (pl.col("__usd") <= 0)).then(pl.lit("bad usd price (not a positive number)"))
        .otherwise(pl.lit(None, pl.String))
    )
    rejects = rejects_of(df, reason, source, original)
    good = df.filter(reason.is_null()).select(
        pl.col("__date").alias("date"), pl.col("__asset").alias("asset"),
        pl.col("__usd").alias("usd"))
    return good, rejects, df.height
