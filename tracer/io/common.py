"""Helpers shared by the readers: reading a table safely, time parsing, reject rows."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from tracer.errors import InputError
from tracer.schema import REJECTS, TRANSFERS

__all__ = ["Head", "ReadResult", "head_of", "read_table", "iter_table", "parse_timestamps",
           "rejects_of", "finish_transfers", "first_kept_row", "ISO_FORMATS", "ISO_HINT", "ROW"]

ROW = "__tracer_row__"

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


@dataclass(frozen=True)
class Head:
    """The start of a file, for sniffing: ``text`` (first 64 KiB, decoded leniently; empty for
    Parquet), ``columns`` (CSV/TSV header fields or Parquet column names; empty if none)."""

    path: Path
    text: str
    columns: tuple[str, ...]


def head_of(path: Path) -> Head:
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            return Head(path, "", tuple(pl.read_parquet_schema(path)))
        except (pl.exceptions.PolarsError, OSError):
            return Head(path, "", ())
    with path.open("rb") as f:
        text = f.read(65536).decode("utf-8", errors="replace").lstrip("\ufeff")
    first = text.splitlines()[0] if text else ""
    sep = "\t" if first.count("\t") > first.count(",") else ","
    columns = tuple(c.strip().strip('"') for c in first.split(sep)) if first else ()
    return Head(path, text, columns)


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def _unreadable(path: Path, exc: Exception, kind: str | None = None) -> InputError:
    if isinstance(exc, FileNotFoundError):
        return InputError(f"{path}: no such file.")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    kind = kind or ("Parquet" if _is_parquet(path) else "CSV")
    return InputError(f"{path}: not a readable {kind} file ({first[:200]}). "
                      "Check the file, or export it again.")


def _own_row_column(path: Path, columns) -> None:
    if ROW in columns:
        raise InputError(f"{path}: has a column named {ROW}, a name tracer keeps for itself. "
                         "Rename that column.")


def _numbered(path: Path, separator: str, quote_char: str | None) -> pl.LazyFrame:
    """The file as text columns (CSV) or as stored (Parquet), with the row number ``ROW``."""
    if _is_parquet(path):
        lf = pl.scan_parquet(path)
    else:
        lf = pl.scan_csv(path, infer_schema=False, encoding="utf8-lossy",
                         separator=separator, quote_char=quote_char)
    _own_row_column(path, lf.collect_schema().names())
    return lf.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


def read_table(path: Path, *, separator: str = ",", quote_char: str | None = '"',
               kind: str | None = None) -> pl.DataFrame:
    """A CSV (every column as text, exactly as written) or Parquet file, with a 1-based row
    number column ``ROW``. A file that cannot be read raises InputError naming it."""
    try:
        return _numbered(path, separator, quote_char).collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _unreadable(path, exc, kind) from exc


def iter_table(path: Path, rows: int, *, separator: str = ",", quote_char: str | None = '"',
               kind: str | None = None) -> Iterator[pl.DataFrame]:
    """``read_table`` in batches of about ``rows`` rows (row numbers continue across batches),
    read by polars' streaming engine, so memory does not grow with the file."""
    try:
        lf = _numbered(path, separator, quote_char)
        empty = True
        for batch in lf.collect_batches(chunk_size=rows):
            if batch.height:
                empty = False
                yield batch
        if empty:  # no rows: one empty batch, so that the reader still checks the columns
            yield lf.head(0).collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _unreadable(path, exc, kind) from exc


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


def rejects_of(df: pl.DataFrame, reason: pl.Expr, source: str, raw_columns: list[str]) -> pl.DataFrame:
    """Rejects table for the rows of ``df`` where ``reason`` is not null, raw row as JSON.
    ``reason`` is evaluated over the whole of ``df`` (a window such as a duplicate's first row
    sees every row, not only the rejected ones)."""
    why = "__rejects_of_reason"
    bad = df.with_columns(reason.alias(why)).filter(pl.col(why).is_not_null())
    if bad.height == 0:
        return pl.DataFrame(schema=REJECTS)
    raw = pl.struct([pl.col(c).cast(pl.String) for c in raw_columns]).struct.json_encode()
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
    value_text = (pl.col("__value_text").cast(pl.String).str.strip_chars() if has_value
                  else pl.lit(None))
    checks = [*checks, *[
        (pl.col("__tx_id").is_null() | (pl.col("__tx_id").str.strip_chars() == ""),
         "empty tx_id"),
        (pl.col("__ts").is_null(), f"unparseable timestamp ({timestamp_hint})"),
        (amount_text.is_null() | (amount_text == ""), "empty amount"),
        (pl.col("__amount").is_null(), "non-numeric amount"),
        (pl.col("__amount").is_nan(), "amount is NaN"),
        (pl.col("__amount").is_infinite(), "amount is infinite"),
        (pl.col("__amount") < 0, "negative amount"),
        (pl.col("__src").is_null() | (pl.col("__src") == ""), "empty src"),
        (pl.col("__dst").is_null() | (pl.col("__dst") == ""), "empty dst"),
        (pl.col("__src") == pl.col("__dst"), "self-transfer (src equals dst)"),
        (pl.col("__asset").is_null() | (pl.col("__asset").str.strip_chars() == ""),
         "empty asset"),
        (value_text.is_not_null() & (value_text != "") & (
            pl.col("__value").is_null() | pl.col("__value").is_nan()
            | pl.col("__value").is_infinite() | (pl.col("__value") < 0)),
         "bad value (not a non-negative number)"),
    ]]
    # most rows are good: find the bad ones with one pass of cheap tests, and name the reason
    # (the first check that fails) on those rows only; a duplicate is a duplicate of a row
    # that is kept
    other = pl.any_horizontal([c.fill_null(False) for c, _ in checks]).fill_null(False)
    df = df.with_columns(other.alias("__other"))
    if df.get_column("__tx_id").hash(seed=0).n_unique() == df.height:
        dup = pl.lit(False)  # no two ids share a hash, so none is twice (the usual case)
    else:
        dup = ~pl.col("__other") & ~pl.when(~pl.col("__other")).then(
            pl.col("__tx_id")).is_first_distinct()
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
            first = (df.filter(~pl.col("__other") & pl.col("__tx_id").is_in(dups.unique().implode()))
                     .group_by("__tx_id").agg(pl.col(ROW).min().alias("__first")))
            flagged = flagged.join(first, on="__tx_id", how="left", maintain_order="left") \
                .with_columns(pl.when(pl.col("__reason") == "duplicate tx_id")
                              .then(pl.lit("duplicate tx_id (first at row ")
                                    + pl.col("__first").cast(pl.String) + pl.lit(")"))
                              .otherwise(pl.col("__reason")).alias("__reason")).drop("__first")
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
    clash = [c for c in out.columns[len(TRANSFERS):] if c in TRANSFERS]
    if clash:
        raise ValueError(f"extra columns named like canonical ones: {clash}")
    return ReadResult(transfers=out, rejects=rejects, read=out.height + rejects.height,
                      has_value=has_value)
