"""Helpers shared by the readers: reading a table safely, time parsing, reject rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from tracer.errors import InputError
from tracer.schema import REJECTS

__all__ = ["Head", "ReadResult", "head_of", "read_table", "parse_timestamps", "rejects_of",
           "ISO_FORMATS", "ROW"]

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


def read_table(path: Path) -> pl.DataFrame:
    """A CSV (every column as text, exactly as written) or Parquet file, with a 1-based row
    number column ``__row``. A file that cannot be read raises InputError naming it."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            df = pl.read_parquet(path)
        else:
            df = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file.") from exc
    except (pl.exceptions.PolarsError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        kind = "Parquet" if suffix in (".parquet", ".pq") else "CSV"
        raise InputError(f"{path}: not a readable {kind} file ({first[:200]}). "
                         f"Check the file, or export it again.") from exc
    if ROW in df.columns:
        raise InputError(f"{path}: has a column named {ROW}, a name tracer keeps for itself. "
                         "Rename that column.")
    return df.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


def parse_timestamps(s: pl.Series, formats: tuple[str, ...] = ISO_FORMATS) -> pl.Series:
    """Parse text to Datetime(us, UTC); null where no format fits. The format is chosen on a
    sample, and only rows it cannot parse are tried with the others."""
    s = s.cast(pl.String)
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
    """Rejects table for the rows of ``df`` where ``reason`` is not null, raw row as JSON."""
    bad = df.filter(reason.is_not_null())
    if bad.height == 0:
        return pl.DataFrame(schema=REJECTS)
    raw = pl.struct([pl.col(c).cast(pl.String) for c in raw_columns]).struct.json_encode()
    return bad.select(
        pl.lit(source, dtype=pl.String).alias("source"),
        pl.col(ROW).alias("source_row"),
        reason.alias("reason"),
        raw.alias("raw"),
    )
