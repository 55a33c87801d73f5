"""Values: the trace unit of a workspace (``check_unit``), the price table, and each transfer's
value in the unit (its own, its amount when in the unit, or amount × price, null when a price
is missing)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tracer.errors import InputError
from tracer.ingest.state import Run
from tracer.schema import PRICES, empty
from tracer.workspace import data_folder

__all__ = ["check_unit", "settle_unit", "fill_values", "value_openings"]


def check_unit(path: Path, has_value: bool, assets: list[str], unit: str | None,
               option: str | None) -> str | None:
    """The workspace's trace unit after adding this file (see ``ingest``)."""
    if has_value:
        chosen = option or unit or "USD"
        if unit is not None and chosen != unit:
            raise InputError(f"--unit {option}: the workspace's values are in {unit}. "
                             "Use the same unit, or a new workspace.")
        return chosen
    if not assets:
        return unit
    if len(assets) > 1:
        raise InputError(
            f"{path}: assets {', '.join(assets)} are mixed and the file has no value column. "
            "Add a value column (each amount in one trace unit) or split the file by asset."
        )
    want = option or unit
    if want is not None and assets[0] != want:
        raise InputError(
            f"{path}: amounts are in {assets[0]} but the workspace's trace unit is {want}, and the "
            "file has no value column. Add a value column in that unit, or use a new workspace."
        )
    return assets[0]


def settle_unit(run: Run) -> None:
    """The price table (the workspace's and the new files', the last price of a day and asset
    winning) and the trace unit of the workspace after this ingest."""
    old_prices = pl.read_parquet(data_folder(run.root) / "prices.parquet") if run.manifest \
        else empty(PRICES)
    run.price_table = (pl.concat([old_prices, *run.new_prices], how="vertical_relaxed")
                       .unique(subset=["date", "asset"], keep="last")
                       .sort(["date", "asset"]))
    if run.unpriced:
        if run.price_table.height == 0:
            for p, assets in run.unpriced:  # no prices: one asset, which is the unit
                run.ws_unit = check_unit(p, False, sorted(assets), run.ws_unit,
                                         run.unit_option)
        else:
            run.ws_unit = run.ws_unit or run.unit_option or "USD"


def fill_values(run: Run, transfers: pl.DataFrame) -> pl.DataFrame:
    """Fill null values: a value already known stays; the unit's own amounts (in files
    without values, or whenever there are prices) are their value; others are amount ×
    usd(asset, day) / usd(unit, day), null where a price is missing."""
    unit, prices = run.ws_unit, run.price_table
    if unit is None or transfers.height == 0:
        return transfers
    known = pl.col("value").is_not_null()
    if prices.height == 0:
        own = pl.col("source").is_in(run.unpriced_sources) & (pl.col("asset") == unit)
        return transfers.with_columns(
            pl.when(known).then(pl.col("value")).when(own).then(pl.col("amount"))
            .otherwise(None).alias("value"))
    day = pl.col("ts").dt.date()
    usd = prices.rename({"usd": "__usd"})
    unit_usd = prices.filter(pl.col("asset") == unit).select(
        "date", pl.col("usd").alias("__unit"))
    priced = (transfers.with_columns(day.alias("date"))
              .join(usd, on=["date", "asset"], how="left", maintain_order="left")
              .join(unit_usd, on="date", how="left", maintain_order="left"))
    per_unit = pl.lit(1.0) if unit == "USD" else pl.col("__unit")
    value = (pl.when(known).then(pl.col("value"))
             .when(pl.col("asset") == unit).then(pl.col("amount"))
             .otherwise(pl.col("amount") * pl.col("__usd") / per_unit))
    return priced.with_columns(value.alias("value")).drop("date", "__usd", "__unit")


def value_openings(run: Run, labels: pl.DataFrame) -> pl.DataFrame:
    """What is known of accounts (``tracer.io.labels.merge_labels``) with each opening balance
    in the trace unit."""
    return labels
