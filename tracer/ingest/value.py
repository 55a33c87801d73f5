"""Values: the trace unit of a workspace (``check_unit``, ``settle_unit``), the price table,
each transfer's value in the unit (``fill_values``) and each opening balance's
(``value_openings``).

A transfer's value is, in order: the value its file gives; its amount, when its asset is the
unit; amount × usd(asset, day) / usd(unit, day) from the prices (USD itself is worth 1: the
prices' base); the source's own USD value of the row (``usd_value``, e.g. Etherscan's
``Historical $Price/Eth``) / usd(unit, day), when no price is given; else none (null, counted
and reported). When ``--unit`` changes the unit of a workspace, every value already there is
re-valued: × usd(old unit, day) / usd(new unit, day), or from the amount; a transfer that can
be valued neither way stops the ingest, naming the day, and the workspace is left as it was."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl

from tracer.errors import InputError
from tracer.ingest.state import Run
from tracer.schema import OWN_USD, PRICES, empty
from tracer.workspace import data_folder

__all__ = [
    "check_unit",
    "settle_unit",
    "fill_values",
    "value_openings",
    "missing_prices",
    "has_own_usd",
    "OWN_USD",
]


def has_own_usd(table: pl.DataFrame) -> bool:
    """Whether ``table`` carries the source's own USD values (a number column ``OWN_USD``;
    a user's extra text column of that name is not one)."""
    return table.schema.get(OWN_USD) == pl.Float64


def check_unit(
    path: Path, has_value: bool, assets: list[str], unit: str | None, option: str | None
) -> str | None:
    """The workspace's trace unit after adding this file (see ``ingest``)."""
    if has_value:
        chosen = option or unit or "USD"
        if unit is not None and chosen != unit:
            raise InputError(
                f"--unit {option}: the workspace's values are in {unit}. "
                f"Use the same unit, or re-value the workspace first: "
                f"tracer ingest -w WORKSPACE --unit {option} --prices PRICES."
            )
        return chosen
    if not assets:
        return unit
    if len(assets) > 1:
        raise InputError(
            f"{path}: assets {', '.join(assets)} are mixed and the file has no value column. "
            "Give their USD prices per day with --prices (date,asset,usd), add a value column "
            "(each amount in one trace unit) or split the file by asset."
        )
    want = option or unit
    if want is not None and assets[0] != want:
        raise InputError(
            f"{path}: amounts are in {assets[0]} but the workspace's trace unit is {want}, and "
            f"there are no prices. Give USD prices per day of {assets[0]}"
            f"{'' if want == 'USD' else ' and ' + want} with --prices (date,asset,usd), or add "
            "a value column in that unit."
        )
    return assets[0]


def settle_unit(run: Run) -> None:
    """The price table (the workspace's and the new files', the last price of a day and asset
    winning) and the trace unit of the workspace after this ingest."""
    old_prices = (
        pl.read_parquet(data_folder(run.root) / "prices.parquet") if run.manifest else empty(PRICES)
    )
    run.price_table = (
        pl.concat([old_prices, *run.new_prices], how="vertical_relaxed")
        .unique(subset=["date", "asset"], keep="last")
        .sort(["date", "asset"])
    )
    if run.unpriced:
        if run.price_table.height == 0:
            for p, assets in run.unpriced:  # no prices: one asset, which is the unit
                run.ws_unit = check_unit(p, False, sorted(assets), run.ws_unit, run.unit_option)
        else:
            run.ws_unit = run.ws_unit or run.unit_option or "USD"


def _usd(asset: pl.Expr, price: pl.Expr) -> pl.Expr:
    """The USD price of ``asset`` (``price`` from the table; USD itself is 1)."""
    return pl.when(asset == "USD").then(pl.lit(1.0)).otherwise(price)


def _unit_prices(prices: pl.DataFrame, unit: str, name: str) -> pl.DataFrame:
    return prices.filter(pl.col("asset") == unit).select("date", pl.col("usd").alias(name))


def fill_values(run: Run, transfers: pl.DataFrame) -> pl.DataFrame:
    """Values in the trace unit (the module's docstring says how); with ``--unit`` changing
    the unit, the workspace's own rows are re-valued."""
    unit, prices = run.ws_unit, run.price_table
    if unit is None or transfers.height == 0:
        return transfers
    revalue = run.old_unit is not None and run.old_unit != unit
    if prices is None or prices.height == 0:
        prices = empty(PRICES)
    cols = transfers.columns
    priced = transfers.with_columns(pl.col("ts").dt.date().alias("__date"))
    if prices.height:
        priced = priced.join(
            prices.rename({"usd": "__usd", "date": "__date"}),
            on=["__date", "asset"],
            how="left",
            maintain_order="left",
        ).join(
            _unit_prices(prices, unit, "__unit").rename({"date": "__date"}),
            on="__date",
            how="left",
            maintain_order="left",
        )
    else:  # no prices: no joins
        priced = priced.with_columns(
            pl.lit(None, pl.Float64).alias("__usd"), pl.lit(None, pl.Float64).alias("__unit")
        )
    per_unit = pl.lit(1.0) if unit == "USD" else pl.col("__unit")
    amount, known = pl.col("amount"), pl.col("value").is_not_null()
    mine = pl.col("asset") == unit
    if run.price_table is None or run.price_table.height == 0:
        # no prices at all: a file without values is in its one asset, the unit
        mine = mine & pl.col("source").is_in(run.unpriced_sources + run.old_sources)
    from_prices = amount * _usd(pl.col("asset"), pl.col("__usd")) / per_unit
    own = has_own_usd(transfers)
    own_usd = pl.col(OWN_USD) / per_unit if own else pl.lit(None, pl.Float64)
    if revalue:
        priced = (
            priced.join(
                _unit_prices(prices, run.old_unit, "__old").rename({"date": "__date"}),
                on="__date",
                how="left",
                maintain_order="left",
            )
            if prices.height
            else priced.with_columns(pl.lit(None, pl.Float64).alias("__old"))
        )
        old_per = pl.lit(1.0) if run.old_unit == "USD" else pl.col("__old")
        old = pl.col("source").is_in(run.old_sources)
        value = (
            pl.when(old & mine)
            .then(amount)
            .when(old & known)
            .then(pl.col("value") * old_per / per_unit)
            .when(known)
            .then(pl.col("value"))
        )
    else:
        value = pl.when(known).then(pl.col("value"))
    value = value.when(mine).then(amount).otherwise(pl.coalesce(from_prices, own_usd))
    out = priced.with_columns(value.alias("__new"))
    if revalue:
        _check_revalued(
            run,
            out.filter(pl.col("source").is_in(run.old_sources) & known & pl.col("__new").is_null()),
        )
    if own:
        _note_own_usd(
            run,
            out.filter(
                pl.col("value").is_null()
                & from_prices.is_null()
                & pl.col(OWN_USD).is_not_null()
                & pl.col("__new").is_not_null()
            ),
        )
    return out.with_columns(pl.col("__new").alias("value")).select(cols)


def _check_revalued(run: Run, lost: pl.DataFrame) -> None:
    """A value already in the workspace that the new unit cannot take stops the ingest."""
    if lost.height == 0:
        return
    first = lost.get_column("__date").min()
    days = lost.get_column("__date").n_unique()
    need = [a for a in (run.old_unit, run.ws_unit) if a != "USD"]
    raise InputError(
        f"--unit {run.ws_unit}: cannot re-value the workspace from {run.old_unit}: no USD "
        f"price of {' or '.join(need)} on {days} day(s) with transfers (first {first}). Add "
        f"them with --prices (date,asset,usd), or keep --unit {run.old_unit}."
    )


def _note_own_usd(run: Run, rows: pl.DataFrame) -> None:
    """Say, once per file, that some of its values are the source's own USD figures."""
    for source in rows.get_column("source").unique().sort().to_list():
        note = (
            "transfers without a price valued with the file's own USD figures "
            "(no price of their asset on their day was given)"
        )
        for r in run.reports:
            if r.source == source and note not in r.notes:
                run.reports[run.reports.index(r)] = replace(r, notes=(*r.notes, note))
        for item in run.new_inputs:
            if item["name"] == source and note not in item.get("notes", []):
                item["notes"] = [*item.get("notes", []), note]


def value_openings(run: Run, labels: pl.DataFrame) -> pl.DataFrame:
    """What is known of accounts (``tracer.io.labels.merge_labels``) with each opening balance
    in the trace unit: one given in another asset (``opening_asset``) is valued with the
    prices of its day (``opening_date``), as a transfer is; with no price it is left unknown,
    and the file that gave it says so."""
    unit = run.ws_unit
    if unit is None or "opening_asset" not in labels.columns:
        return labels
    asset = pl.col("opening_asset")
    needs = pl.col("opening_balance").is_not_null() & asset.is_not_null() & (asset != unit)
    if not labels.select(needs.any()).item():
        return labels
    prices = run.price_table if run.price_table is not None else empty(PRICES)
    per_unit = pl.lit(1.0) if unit == "USD" else pl.col("__unit")
    out = (
        labels.with_row_index("__i")
        .join(
            prices.rename({"usd": "__usd", "date": "opening_date", "asset": "opening_asset"}),
            on=["opening_date", "opening_asset"],
            how="left",
            maintain_order="left",
        )
        .join(
            _unit_prices(prices, unit, "__unit").rename({"date": "opening_date"}),
            on="opening_date",
            how="left",
            maintain_order="left",
        )
        .sort("__i")
        .with_columns(
            pl.when(needs)
            .then(pl.col("opening_balance") * _usd(asset, pl.col("__usd")) / per_unit)
            .otherwise(pl.col("opening_balance"))
            .alias("__valued")
        )
    )
    unknown = out.filter(needs & pl.col("__valued").is_null())
    for (source,), group in unknown.group_by("source", maintain_order=True):
        assets = ", ".join(sorted(group.get_column("opening_asset").unique().to_list()))
        note = (
            f"{group.height} opening balance(s) in {assets} have no price on their day "
            f"(e.g. {group.item(0, 'account')} on {group.item(0, 'opening_date')}): left "
            f"unknown. Give USD prices of {assets}"
            f"{'' if unit == 'USD' else ' and ' + unit} with --prices to count them."
        )
        for i, r in enumerate(run.reports):
            if r.source == source and note not in r.notes:
                run.reports[i] = replace(r, notes=(*r.notes, note))
        for item in run.new_inputs:
            if item["name"] == source:
                item["notes"] = [*item.get("notes", []), note]
    return out.with_columns(pl.col("__valued").alias("opening_balance")).select(labels.columns)


def missing_prices(root: Path) -> list[tuple[str, int, int, str, str]]:
    """For a workspace's transfers without value: (asset, transfers, days, first day, last
    day) per asset, most first."""
    path = data_folder(root) / "transfers.parquet"
    return (
        pl.scan_parquet(path)
        .filter(pl.col("value").is_null())
        .group_by("asset")
        .agg(
            pl.len().alias("n"),
            pl.col("ts").dt.date().n_unique().alias("days"),
            pl.col("ts").dt.date().min().cast(pl.String).alias("first"),
            pl.col("ts").dt.date().max().cast(pl.String).alias("last"),
        )
        .sort(["n", "asset"], descending=[True, False])
        .collect()
        .rows()
    )
