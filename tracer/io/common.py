"""Helpers shared by the readers: text and number columns, time parsing, reject rows, the
canonical checks (``finish_transfers``). Reading the files themselves is in
``tracer.io.files`` (its names are importable from here too)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from tracer.io.files import (
    ENCODING_HINT,
    ROW,
    Head,
    head_of,
    iter_table,
    load_json,
    read_table,
    read_text,
    reset_encoding,
    sniff_separator,
    use_encoding,
)
from tracer.schema import REJECTS, TRANSFERS

__all__ = [
    "Head",
    "ReadResult",
    "head_of",
    "read_table",
    "iter_table",
    "parse_timestamps",
    "rejects_of",
    "finish_transfers",
    "finish_reasons",
    "first_kept_row",
    "duplicate_reason",
    "number_text",
    "text_col",
    "load_json",
    "read_text",
    "guard",
    "use_encoding",
    "reset_encoding",
    "ISO_FORMATS",
    "ISO_HINT",
    "ROW",
    "MAX_AMOUNT",
    "MIN_PRICE",
    "MAX_PRICE",
    "MAX_TIME",
    "ENCODING_HINT",
    "sniff_separator",
]

# ISO 8601 shapes, zone-aware first (Z or an offset); a timestamp without a zone is UTC.
ISO_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M%#z",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)


ISO_HINT = "expected ISO 8601, e.g. 2025-03-01T12:00:00Z"

# The largest amount or value accepted, in the file's unit (an asset's units, raw token units
# included, or the trace unit): 10^12 tokens of 18 decimals in raw units. With prices bounded
# too (``MIN_PRICE``..``MAX_PRICE`` USD), every value and every sum of up to 10^12 of them
# stays finite. Larger amounts, infinities and NaN are rejected with the reason.
MAX_AMOUNT = 1e30
MIN_PRICE, MAX_PRICE = 1e-18, 1e18
# The latest time accepted (Python's datetime, which traces use, ends at year 9999).
MAX_TIME = pl.datetime(9999, 12, 31, 23, 59, 59, time_zone="UTC")
_MAX_TIME_US = 253402300799 * 1_000_000
# digits grouped by thousands with commas, optional sign and decimals: 1,234 or -12,345,678.90
_GROUPED = r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$"


# one comma between digits (a decimal comma) ...
_DECIMAL_COMMA = r"^[+-]?\d+,\d+$"
# ... unless it could also group thousands: 1,234 is 1234 or 1.234
_ONE_GROUP = r"^[+-]?\d{1,3},\d{3}$"


def number_text(expr: pl.Expr, decimal_comma: bool = False) -> pl.Expr:
    """Text of a number with its thousands commas dropped, only where they group exactly three
    digits (``1,234.50``); any other comma (``1,5``, ``1.234,56``) is left in place, so that
    the text does not read as a number and the row is rejected, not guessed at.

    ``decimal_comma`` (a file whose fields are separated by semicolons, as Excel writes them
    where the comma is the decimal sign): one comma between digits is a decimal comma
    (``12,50``, ``0,5``, ``1234,567``) unless it could also group thousands (``1,234``: left in
    place, rejected); several commas still group thousands (``1,234,567.8``)."""
    text = expr.cast(pl.String).str.strip_chars()
    grouped = text.str.contains(_GROUPED)
    if decimal_comma:
        decimal = text.str.contains(_DECIMAL_COMMA) & ~text.str.contains(_ONE_GROUP)
        return (
            pl.when(decimal)
            .then(text.str.replace(",", ".", literal=True))
            .when(grouped & ~text.str.contains(_ONE_GROUP))
            .then(text.str.replace_all(",", ""))
            .otherwise(text)
        )
    return pl.when(grouped).then(text.str.replace_all(",", "")).otherwise(text)


def text_col(col: str | None, cols: Sequence[str] | None = None) -> pl.Expr:
    """Column ``col`` as stripped text, null where empty; a null column when ``col`` is None or
    not among ``cols`` (an optional column the file lacks)."""
    if col is None or (cols is not None and col not in cols):
        return pl.lit(None, pl.String)
    v = pl.col(col).cast(pl.String).str.strip_chars()
    return pl.when(v == "").then(None).otherwise(v)


@dataclass(frozen=True)
class ReadResult:
    """What a reader returns for one file.

    transfers: canonical columns (``tracer.schema.TRANSFERS``, in that order), then any extra
    columns of the file. rejects: ``tracer.schema.REJECTS``. read: rows (or elements) read, so
    that read == transfers.height + rejects.height. has_value: ``value`` is in the trace unit
    (else it equals ``amount`` and the unit is the asset). accounts: what the file says about
    accounts (``tracer.io.labels.LABEL_COLUMNS``: entity, name, label, opening balance), or None.
    """

    transfers: pl.DataFrame
    rejects: pl.DataFrame
    read: int
    has_value: bool
    accounts: pl.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # the last line of defence, whatever the reader: no infinite, NaN or huge amount or
        # value, and no time past year 9999, reaches a workspace (``guard``)
        transfers, rejects = guard(self.transfers, self.rejects)
        object.__setattr__(self, "transfers", transfers)
        object.__setattr__(self, "rejects", rejects)


def guard(transfers: pl.DataFrame, rejects: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Move to ``rejects`` the transfers whose amount or value is NaN, infinite, negative or
    above ``MAX_AMOUNT``, or whose time is past year 9999 (the raw row is the transfer as
    read). Every reader's ``ReadResult`` goes through it."""
    cols = transfers.columns
    if transfers.height == 0 or not {"amount", "ts", "source", "source_row"} <= set(cols):
        return transfers, rejects
    amount = pl.col("amount").cast(pl.Float64)
    value = pl.col("value").cast(pl.Float64) if "value" in cols else pl.lit(None, pl.Float64)
    ts_us = (
        pl.col("ts").dt.epoch("us")
        if isinstance(transfers.schema["ts"], pl.Datetime)
        else pl.lit(None, pl.Int64)
    )

    def bad_number(e: pl.Expr, what: str):
        return [
            (e.is_nan(), f"{what} is NaN"),
            (e.is_infinite(), f"{what} is infinite (too large to represent)"),
            (e < 0, f"negative {what}"),
            (
                e > MAX_AMOUNT,
                f"{what} too large (above {MAX_AMOUNT:.0e}, the largest tracer accepts)",
            ),
        ]

    late = ts_us > _MAX_TIME_US

    def plausible(us: pl.Expr) -> pl.Expr:  # between 1990 and 2100
        return (us >= 631152000 * 1_000_000) & (us < 4102444800 * 1_000_000)

    checks = [
        *bad_number(amount, "amount"),
        *bad_number(value, "value"),
        (
            late & plausible(ts_us / 1000),
            "time past year 9999 (looks like milliseconds where seconds are expected)",
        ),
        (
            late & plausible(ts_us / 1_000_000),
            "time past year 9999 (looks like microseconds where seconds are expected)",
        ),
        (late, "time past year 9999 (looks like a wrong unit: expected seconds)"),
        (ts_us < -62135596800 * 1_000_000, "time before year 1"),
    ]
    any_bad = pl.any_horizontal([c.fill_null(False) for c, _ in checks])
    flagged = transfers.filter(any_bad)
    if flagged.height == 0:
        return transfers, rejects
    chain = None
    for cond, why in checks:
        cond = cond.fill_null(False)
        chain = (pl.when(cond) if chain is None else chain.when(cond)).then(pl.lit(why))
    raw_cols = [c for c in cols if c not in ("source", "source_row", "seq", "value")]
    moved = flagged.select(
        pl.col("source").cast(pl.String),
        pl.col("source_row").cast(pl.Int64),
        chain.otherwise(None).alias("reason"),  # type: ignore[union-attr]
        pl.struct([pl.col(c).cast(pl.String) for c in raw_cols]).struct.json_encode().alias("raw"),
    )
    rejects = pl.concat([rejects.cast(REJECTS), moved.cast(REJECTS)]).sort(
        "source_row", maintain_order=True
    )
    return transfers.filter(~any_bad), rejects


def parse_timestamps(s: pl.Series, formats: tuple[str, ...] = ISO_FORMATS) -> pl.Series:
    """Parse text to Datetime(us, UTC); null where no format fits. The format is chosen on a
    sample, and only rows it cannot parse are tried with the others.

    Fast path: when every value is ISO 8601 with a zone (``Z`` or an offset), or every value
    is ISO 8601 without one, Arrow's ISO 8601 cast parses the column about ten times faster
    than a format string; anything else takes the general path."""
    s = s.cast(pl.String)
    if formats == ISO_FORMATS and s.null_count() == 0 and s.len() > 0:
        arr = s.to_arrow()
        for target, zoned in ((pa.timestamp("us", "UTC"), True), (pa.timestamp("us"), False)):
            try:
                parsed = pc.cast(arr, target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
            out = pl.Series(s.name, parsed)
            return out if zoned else out.dt.replace_time_zone("UTC")
    sample = s.drop_nulls().head(1000)
    if sample.len() == 0:
        return pl.Series(s.name, [None] * s.len(), dtype=pl.Datetime("us", "UTC"))

    def attempt(values: pl.Series, fmt: str) -> pl.Series:
        try:
            return values.str.to_datetime(fmt, strict=False, time_unit="us", time_zone="UTC")
        except pl.exceptions.PolarsError:
            return pl.Series(values.name, [None] * values.len(), dtype=pl.Datetime("us", "UTC"))

    ranked = sorted(formats, key=lambda f: -attempt(sample, f).is_not_null().sum())
    out = attempt(s, ranked[0])
    for fmt in ranked[1:]:
        missing = out.is_null() & s.is_not_null()
        if not missing.any():
            break
        retry = attempt(s.filter(missing), fmt)
        out = out.scatter(missing.arg_true(), retry)
    return out.alias(s.name)


def rejects_of(
    df: pl.DataFrame, reason: pl.Expr, source: str, raw_columns: list[str] | pl.Expr
) -> pl.DataFrame:
    """Rejects table for the rows of ``df`` where ``reason`` is not null, raw row as JSON
    (of ``raw_columns``, or the text of an expression, e.g. a JSON element as read).
    ``reason`` is evaluated over the whole of ``df`` (a window such as a duplicate's first row
    sees every row, not only the rejected ones)."""
    why = "__rejects_of_reason"
    bad = df.with_columns(reason.alias(why)).filter(pl.col(why).is_not_null())
    if bad.height == 0:
        return pl.DataFrame(schema=REJECTS)
    raw = (
        raw_columns
        if isinstance(raw_columns, pl.Expr)
        else pl.struct([pl.col(c).cast(pl.String) for c in raw_columns]).struct.json_encode()
    )
    return bad.select(
        pl.lit(source, dtype=pl.String).alias("source"),
        pl.col(ROW).alias("source_row"),
        pl.col(why).cast(pl.String).alias("reason"),
        raw.alias("raw"),
    )


def first_kept_row(chain, key) -> pl.Expr:
    """Per ``key``, the row number of its first row that no reason in ``chain`` (a
    ``pl.when`` chain of reject reasons) rejects: a duplicate is a duplicate of a row that is
    kept, so that reading a file in batches or whole gives the same rejects."""
    kept = chain.otherwise(pl.lit(None, pl.String)).is_null()
    return pl.when(kept).then(pl.col(ROW)).min().over(key)


def duplicate_reason(chain, key, what: str) -> pl.Expr:
    """``chain`` (a ``pl.when`` chain of reject reasons) completed with "duplicate <what>
    (first at row N)" for a row whose ``key`` an earlier kept row has, null otherwise."""
    first_row = first_kept_row(chain, key)
    return (
        chain.when(first_row != pl.col(ROW))
        .then(pl.lit(f"duplicate {what} (first at row ") + first_row.cast(pl.String) + pl.lit(")"))
        .otherwise(pl.lit(None, pl.String))
    )


def finish_reasons(
    df: pl.DataFrame,
    reason: pl.Expr,
    source: str,
    raw_columns: list[str] | pl.Expr,
    select: Sequence[pl.Expr],
    notes: Sequence[str] = (),
) -> ReadResult:
    """A ``ReadResult`` from a reader's own reasons: the rows where ``reason`` is set are
    rejects (raw row from ``raw_columns``), the others become ``select`` (the canonical columns,
    cast to ``TRANSFERS``, then extras). For readers whose every reason names the file's own
    columns (the chain readers); the others use ``finish_transfers``."""
    df = df.with_columns(reason.alias("__reason"))
    rejects = rejects_of(df, pl.col("__reason"), source, raw_columns)
    out = df.filter(pl.col("__reason").is_null()).select(select)
    out = out.with_columns(pl.col(c).cast(t) for c, t in TRANSFERS.items())
    return ReadResult(
        transfers=out, rejects=rejects, read=df.height, has_value=False, notes=list(notes)
    )


def finish_transfers(
    df: pl.DataFrame,
    source: str,
    raw_columns: list[str],
    *,
    has_value: bool,
    extras: Sequence[pl.Expr] = (),
    checks: Sequence[tuple[pl.Expr, str]] = (),
    timestamp_hint: str = ISO_HINT,
) -> ReadResult:
    """The canonical rules for transfers, shared by the readers: from prepared columns to a
    ``ReadResult`` (transfers, rejects with reason and raw row, rows read).

    ``df`` holds the file's rows with ``ROW`` and these prepared columns:

    - ``__tx_id``, ``__src``, ``__dst``, ``__asset``: text (``asset`` is stripped on output);
    - ``__ts``: Datetime(us, UTC), null where the time could not be read;
    - ``__amount_raw``: the amount exactly as written (kept as ``amount_raw``);
    - ``__amount_text``: the text parsed as the amount (e.g. thousands separators removed);
    - ``__value_text``: the value as text, when ``has_value``.

    ``checks``: (condition, reason) pairs tried before the canonical ones (first match wins).
    ``raw_columns``: the file's columns, written as the raw row of a reject. ``extras``:
    expressions over the good rows, appended after the canonical columns (their names must not
    be canonical ones). ``timestamp_hint`` completes the reason "unparseable timestamp (…)".
    """

    def number(col: str) -> pl.Expr:
        return pl.col(col).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)

    df = df.with_columns(
        number("__amount_text").alias("__amount"),
        (number("__value_text") if has_value else pl.lit(None, pl.Float64)).alias("__value"),
    )
    amount_text = pl.col("__amount_raw").str.strip_chars()
    value_text = (
        pl.col("__value_text").cast(pl.String).str.strip_chars() if has_value else pl.lit(None)
    )
    checks = [
        *checks,
        *[
            (
                pl.col("__tx_id").is_null() | (pl.col("__tx_id").str.strip_chars() == ""),
                "empty tx_id",
            ),
            (pl.col("__ts").is_null(), f"unparseable timestamp ({timestamp_hint})"),
            (amount_text.is_null() | (amount_text == ""), "empty amount"),
            (pl.col("__amount").is_null(), "non-numeric amount"),
            (pl.col("__amount").is_nan(), "amount is NaN"),
            (pl.col("__amount").is_infinite(), "amount is infinite"),
            (pl.col("__amount") < 0, "negative amount"),
            (pl.col("__src").is_null() | (pl.col("__src") == ""), "empty src"),
            (pl.col("__dst").is_null() | (pl.col("__dst") == ""), "empty dst"),
            (pl.col("__src") == pl.col("__dst"), "self-transfer (src equals dst)"),
            (
                pl.col("__asset").is_null() | (pl.col("__asset").str.strip_chars() == ""),
                "empty asset",
            ),
            (
                value_text.is_not_null()
                & (value_text != "")
                & (
                    pl.col("__value").is_null()
                    | pl.col("__value").is_nan()
                    | pl.col("__value").is_infinite()
                    | (pl.col("__value") < 0)
                ),
                "bad value (not a non-negative number)",
            ),
        ],
    ]
    # most rows are good: find the bad ones with one pass of cheap tests, and name the reason
    # (the first check that fails) on those rows only; a duplicate is a duplicate of a row
    # that is kept
    other = pl.any_horizontal([c.fill_null(False) for c, _ in checks]).fill_null(False)
    df = df.with_columns(other.alias("__other"))
    if df.get_column("__tx_id").hash(seed=0).n_unique() == df.height:
        dup = pl.lit(False)  # no two ids share a hash, so none is twice (the usual case)
    else:
        dup = (
            ~pl.col("__other")
            & ~pl.when(~pl.col("__other")).then(pl.col("__tx_id")).is_first_distinct()
        )
    df = df.with_columns(dup.alias("__dup"))
    bad = pl.col("__other") | pl.col("__dup")
    df = df.with_columns(bad.alias("__bad"))
    flagged = df.filter(pl.col("__bad"))
    chain = None
    for condition, why in [*checks, (pl.col("__dup"), "duplicate tx_id")]:
        cond = condition.fill_null(False)
        chain = (pl.when(cond) if chain is None else chain.when(cond)).then(pl.lit(why))
    reason = chain.otherwise(pl.lit(None, pl.String))  # type: ignore[union-attr]
    if flagged.height:
        flagged = flagged.with_columns(reason.alias("__reason"))
        dups = flagged.filter(pl.col("__reason") == "duplicate tx_id").get_column("__tx_id")
        if dups.len():
            first = (
                df.filter(~pl.col("__other") & pl.col("__tx_id").is_in(dups.unique().implode()))
                .group_by("__tx_id")
                .agg(pl.col(ROW).min().alias("__first"))
            )
            flagged = (
                flagged.join(first, on="__tx_id", how="left", maintain_order="left")
                .with_columns(
                    pl.when(pl.col("__reason") == "duplicate tx_id")
                    .then(
                        pl.lit("duplicate tx_id (first at row ")
                        + pl.col("__first").cast(pl.String)
                        + pl.lit(")")
                    )
                    .otherwise(pl.col("__reason"))
                    .alias("__reason")
                )
                .drop("__first")
            )
    else:
        flagged = flagged.with_columns(pl.lit(None, pl.String).alias("__reason"))
    rejects = rejects_of(flagged, pl.col("__reason"), source, raw_columns)
    df = df.filter(~pl.col("__bad"))
    out = df.select(
        pl.col("__tx_id").cast(pl.String).alias("tx_id"),
        pl.col("__ts").alias("ts"),
        pl.col(ROW).alias("seq"),
        pl.col("__src").cast(pl.String).alias("src"),
        pl.col("__dst").cast(pl.String).alias("dst"),
        pl.col("__amount").alias("amount"),
        pl.col("__amount_raw").cast(pl.String).alias("amount_raw"),
        pl.col("__asset").cast(pl.String).str.strip_chars().alias("asset"),
        (pl.col("__value") if has_value else pl.col("__amount")).alias("value"),
        pl.lit(source, dtype=pl.String).alias("source"),
        pl.col(ROW).alias("source_row"),
        *extras,
    )
    clash = [c for c in out.columns[len(TRANSFERS) :] if c in TRANSFERS]
    if clash:
        raise ValueError(f"extra columns named like canonical ones: {clash}")
    return ReadResult(
        transfers=out, rejects=rejects, read=out.height + rejects.height, has_value=has_value
    )
