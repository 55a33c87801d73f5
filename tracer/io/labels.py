"""Labels CSV: ``account,label`` with optional ``name,entity,opening_balance,opening_asset,
opening_date``. An opening balance is in ``opening_asset`` on ``opening_date`` when they are
given (ingest values it in the trace unit with the prices, ``tracer.ingest.value``), else in the
trace unit."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tracer.io.common import MAX_AMOUNT, ROW, Head, read_table, rejects_of
from tracer.schema import REQUIRED_LABEL_COLUMNS, require_columns

__all__ = [
    "NAME",
    "sniff",
    "read_labels",
    "LABEL_COLUMNS",
    "KNOWN_COLUMNS",
    "LABEL_TYPES",
    "label_columns",
]

NAME = "labels"

# what a label reader gives; the opening balance's asset and date (``OPENING_WHEN``) may follow
LABEL_COLUMNS = ("account", "label", "name", "entity", "opening_balance", "source", "confidence")
OPENING_WHEN = ("opening_asset", "opening_date")
KNOWN_COLUMNS = (*LABEL_COLUMNS, *OPENING_WHEN)  # what is known of accounts (labels.parquet)
LABEL_TYPES: dict[str, pl.DataType] = {
    "account": pl.String,
    "label": pl.String,
    "name": pl.String,
    "entity": pl.String,
    "opening_balance": pl.Float64,
    "source": pl.String,
    "confidence": pl.Float64,
    "opening_asset": pl.String,
    "opening_date": pl.Date,
}
_OPENING = ("opening_balance", "opening_asset", "opening_date")


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
    date_text = text("opening_date")
    df = df.with_columns(
        pl.col("account").cast(pl.String).alias("__account"),
        text("label").str.to_lowercase().alias("__label"),
        opening.alias("__opening"),
        date_text.str.to_date("%Y-%m-%d", strict=False).alias("__opening_date"),
    )
    last_row = pl.col(ROW).max().over("__account")
    reason = (
        pl.when(pl.col("__account").is_null() | (pl.col("__account") == ""))
        .then(pl.lit("empty account"))
        .when(
            opening_text.is_not_null()
            & (
                pl.col("__opening").is_null()
                | pl.col("__opening").is_nan()
                | pl.col("__opening").is_infinite()
                | (pl.col("__opening") < 0)
            )
        )
        .then(pl.lit("bad opening_balance (not a non-negative number)"))
        .when(date_text.is_not_null() & pl.col("__opening_date").is_null())
        .then(pl.lit("bad opening_date (not a date YYYY-MM-DD)"))
        .when(
            text("opening_asset").is_not_null() & opening_text.is_not_null() & date_text.is_null()
        )
        .then(pl.lit("opening_asset without opening_date (the day its price is taken)"))
        .when(pl.col("__opening") > MAX_AMOUNT)
        .then(
            pl.lit(
                f"opening_balance too large (above {MAX_AMOUNT:.0e}, the largest tracer accepts)"
            )
        )
        .when(last_row != pl.col(ROW))
        .then(
            pl.lit("account labelled again at row ")
            + last_row.cast(pl.String)
            + pl.lit(" (the later row is kept)")
        )
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
        pl.when(pl.col("__opening").is_not_null())
        .then(text("opening_asset"))
        .alias("opening_asset"),
        pl.when(pl.col("__opening").is_not_null())
        .then(pl.col("__opening_date"))
        .alias("opening_date"),
    )
    return labels, rejects, df.height


def label_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with ``KNOWN_COLUMNS`` in order, those it lacks null (tables written before
    opening balances had an asset and a date, readers that know of none)."""
    return frame.with_columns(
        [pl.lit(None, LABEL_TYPES[c]).alias(c) for c in KNOWN_COLUMNS if c not in frame.columns]
    ).select([pl.col(c).cast(LABEL_TYPES[c]) for c in KNOWN_COLUMNS])


# How strong a label is when two sources label one account differently: the stronger is kept
# (a sanctions or exchange label is never lost to a weaker one, whatever the order of the
# files); between equals the later source wins. Labels not named here rank 1 (user, victim,
# suspect, mule, ...).
LABEL_RANK: dict[str, int] = {
    "sanctioned": 3,
    **dict.fromkeys(
        (
            "blacklisted",
            "exchange",
            "otc",
            "mixer",
            "bridge",
            "hack",
            "scam",
            "ransomware",
            "market",
            "gambling",
            "defi",
            "miner",
            "wallet_service",
            "merchant",
        ),
        2,
    ),
}
_EXAMPLES = 3


def merge_labels(frames: list[pl.DataFrame]) -> tuple[pl.DataFrame, dict[str, list[str]]]:
    """What is known of each account from ``frames`` (``LABEL_COLUMNS``, earliest first):
    the label by ``LABEL_RANK`` (ties: the later), with its source and confidence; other
    columns the latest value given (a file that says nothing of a column does not erase it).
    Also the conflicts (two sources, two labels) as notes per source of the later row: how
    many, which label was kept from which source, and a few examples."""
    rows = pl.concat([label_columns(f) for f in frames], how="vertical_relaxed").with_row_index(
        "__i"
    )
    label = pl.col("label")
    rows = rows.with_columns(
        pl.when(label.is_null())
        .then(0)
        .otherwise(label.replace_strict(LABEL_RANK, default=1, return_dtype=pl.Int64))
        .alias("__rank")
    )
    best = (
        rows.filter(label.is_not_null())
        .sort(["__rank", "__i"])
        .group_by("account")
        .last()
        .select(
            "account",
            label.alias("__label"),
            pl.col("source").alias("__source"),
            pl.col("confidence").alias("__confidence"),
            pl.col("__i").alias("__best"),
        )
    )
    # an opening balance goes with its asset and date: the latest row that gives one, whole
    given = pl.col("opening_balance").is_not_null()
    merged = (
        rows.group_by("account", maintain_order=True)
        .agg(
            [
                pl.col(c).drop_nulls().last()
                for c in KNOWN_COLUMNS
                if c != "account" and c not in _OPENING
            ]
            + [pl.col(c).filter(given).last() for c in _OPENING]
        )
        .join(best, on="account", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("__label").is_not_null())
            .then(pl.col("__label"))
            .otherwise(label)
            .alias("label"),
            pl.when(pl.col("__label").is_not_null())
            .then(pl.col("__source"))
            .otherwise(pl.col("source"))
            .alias("source"),
            pl.when(pl.col("__label").is_not_null())
            .then(pl.col("__confidence"))
            .otherwise(pl.col("confidence"))
            .alias("confidence"),
        )
        .select(KNOWN_COLUMNS)
    )
    lost = (
        rows.filter(label.is_not_null())
        .join(best, on="account", how="inner")
        .filter(label != pl.col("__label"))
        .with_columns(pl.max_horizontal("__i", "__best").alias("__later"))
    )
    notes: dict[str, list[str]] = {}
    if lost.height:
        at = rows.select("__i", pl.col("source").alias("__note_source"))
        lost = lost.join(at, left_on="__later", right_on="__i", how="left")
        for (source,), group in lost.group_by("__note_source", maintain_order=True):
            examples = "; ".join(
                f"{a}: {k} ({ks}) kept over {w} ({ws})"
                for a, k, ks, w, ws in group.head(_EXAMPLES)
                .select("account", "__label", "__source", "label", "source")
                .iter_rows()
            )
            more = f"; and {group.height - _EXAMPLES} more" if group.height > _EXAMPLES else ""
            notes.setdefault(source or "", []).append(
                f"{group.height} label conflict(s): the stronger label is kept (sanctioned, "
                f"then exchange and other services, then the rest; between equals the later "
                f"file), e.g. {examples}{more}"
            )
    return merged, notes
