"""Any CSV or Parquet of transfers, with the columns named by the user: ``--format generic
--map tx_id=Ref,timestamp=Date,src=From,dst=To,amount=Amount,asset=Ccy`` (``value=COLUMN``
optional), and ``--date-format '%d/%m/%Y %H:%M'`` when the times are not ISO 8601.

- ``options["map"]``: field → column. A column written ``=TEXT`` is a constant: ``asset==THB``
  (field ``asset``, column ``=THB``) makes every row's asset THB.
- ``options["date_format"]``: strftime format of the timestamp column (without a zone, UTC);
  without it, ISO 8601.
- Amounts (and values) may group thousands with commas (``1,234.50``); the commas are dropped
  to read the number, and ``amount_raw`` keeps the text as written. A comma that does not group
  thousands (``12,50``) is not guessed at: the row is rejected as a non-numeric amount.
- ``tx_id`` may be left out of the map: each row's id is then ``<source>:<row number>`` (the
  source being the file's name as ingest names it)
  (row 1 the first row after the header), stable as long as the file is not edited, as the
  AMLworld reader does.
- Semicolon-separated files (Excel's CSV where the decimal sign is a comma) and TSV are
  sniffed from the header line. In a semicolon file an amount with one comma between digits is
  read with a decimal comma (``12,50``, ``0,5``) unless it could also group thousands
  (``1,234``: rejected, not guessed at).
- An account or tx_id written as Dune writes bytes, ``\\x`` and hex digits (40 for an
  address, 64 for a hash), is an EVM one: ``0x`` and the digits in lower case.
- Then the canonical rules apply (``tracer.io.common.finish_transfers``); unmapped columns are
  kept as extra columns. Other account ids are kept as written (surrounding spaces stripped).

Never sniffed: generic is used only when forced with ``--format generic``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tracer.errors import InputError, printable
from tracer.io.base import Reader
from tracer.io.common import (
    ISO_FORMATS,
    ISO_HINT,
    ROW,
    Head,
    ReadResult,
    finish_transfers,
    number_text,
    parse_timestamps,
    read_table,
    sniff_separator,
)
from tracer.schema import TRANSFERS

__all__ = ["NAME", "READER", "FIELDS", "OPTIONAL_FIELDS", "sniff", "read", "number_text"]

NAME = "generic"
TABLE = {"separator": "auto"}  # comma, tab or semicolon, from the header line

FIELDS = ("timestamp", "src", "dst", "amount", "asset")
OPTIONAL_FIELDS = ("tx_id", "value")
EXAMPLE = "--map tx_id=Ref,timestamp=Date,src=From,dst=To,amount=Amount,asset=Ccy"


def sniff(path: Path, head: Head) -> bool:
    return False


def _mapping(path: Path, options: dict, columns: list[str]) -> dict[str, str]:
    """The field → column map, or InputError naming every problem at once, the file's columns
    and how to write --map."""
    mapping = dict(options.get("map") or {})
    problems = []
    unknown = [k for k in mapping if k not in FIELDS + OPTIONAL_FIELDS]
    if unknown:
        problems.append(
            f"unknown field(s) {', '.join(unknown)} (the fields are "
            f"{', '.join(FIELDS + OPTIONAL_FIELDS)})"
        )
    missing = [f for f in FIELDS if f not in mapping]
    if missing:
        problems.append(f"no column given for {', '.join(missing)}")
    absent = [
        f"{f}={c}"
        for f, c in mapping.items()
        if f not in unknown and not c.startswith("=") and c not in columns
    ]
    if absent:
        problems.append(f"no such column: {', '.join(absent)}")
    constant = [
        f"{f}={mapping[f]}" for f in ("tx_id", "src", "dst") if mapping.get(f, "").startswith("=")
    ]
    if constant:
        problems.append(f"tx_id, src and dst cannot be constants: {', '.join(constant)}")
    if problems:
        has = printable(",".join(columns), 2000) if columns else "no columns"
        raise InputError(
            f"{path}: --format generic --map: {'; '.join(problems)}. The file has {has}. "
            f"Write {EXAMPLE} (optional value=COLUMN; without tx_id each row's id is "
            f"<file>:<row>; a constant as FIELD==TEXT, e.g. asset==THB)."
        )
    return mapping


def read(path: Path, source: str, options: dict, frame: pl.DataFrame | None = None) -> ReadResult:
    df = (
        read_table(path, separator="auto", encoding=options.get("encoding"))
        if frame is None
        else frame
    )
    decimal_comma = sniff_separator(path) == ";"
    original = [c for c in df.columns if c != ROW]
    mapping = _mapping(path, options, original)

    def field(name: str) -> pl.Expr:
        col = mapping[name]
        return pl.lit(col[1:], dtype=pl.String) if col.startswith("=") else pl.col(col)

    date_format = options.get("date_format")
    ts_col = mapping["timestamp"]
    if ts_col.startswith("="):
        raw_ts = pl.Series(ts_col, [ts_col[1:]] * df.height, dtype=pl.String)
    else:
        raw_ts = df.get_column(ts_col)
    if isinstance(raw_ts.dtype, pl.Datetime):
        tz = raw_ts.dtype.time_zone
        ts = raw_ts.dt.cast_time_unit("us")
        ts = ts.dt.convert_time_zone("UTC") if tz else ts.dt.replace_time_zone("UTC")
    else:
        ts = parse_timestamps(raw_ts, (date_format,) if date_format else ISO_FORMATS)
        written = raw_ts.cast(pl.String).str.strip_chars()
        written = written.filter(written.is_not_null() & (written != ""))
        first_batch = df.height == 0 or df.get_column(ROW)[0] == 1
        if written.len() and ts.null_count() == ts.len() and first_batch:
            how = (
                f"--date-format {date_format}"
                if date_format
                else "ISO 8601 (give --date-format, e.g. '%d/%m/%Y %H:%M')"
            )
            raise InputError(
                f"{path}: no timestamp in column {ts_col} reads as {how}; the first "
                f"is {written[0]!r}."
            )
    has_value = "value" in mapping
    strip = {
        f: _dune(field(f).cast(pl.String).str.strip_chars(), digits)
        for f, digits in (("src", 40), ("dst", 40))
    }
    tx_id = (
        _dune(field("tx_id").cast(pl.String).str.strip_chars(), 64)
        if "tx_id" in mapping
        else pl.lit(f"{source}:") + pl.col(ROW).cast(pl.String)
    )
    df = df.with_columns(
        tx_id.alias("__tx_id"),
        ts.alias("__ts"),
        field("amount").cast(pl.String).alias("__amount_raw"),
        number_text(field("amount"), decimal_comma).alias("__amount_text"),
        strip["src"].alias("__src"),
        strip["dst"].alias("__dst"),
        field("asset").cast(pl.String).alias("__asset"),
        *([number_text(field("value"), decimal_comma).alias("__value_text")] if has_value else []),
    )
    mapped = {c for c in mapping.values() if not c.startswith("=")}
    extras = [c for c in original if c not in mapped]
    hint = f"expected {date_format}" if date_format else ISO_HINT
    return finish_transfers(
        df,
        source,
        original,
        has_value=has_value,
        timestamp_hint=hint,
        extras=[pl.col(c).alias(c if c not in TRANSFERS else f"x_{c}") for c in extras],
    )


def _dune(text: pl.Expr, digits: int) -> pl.Expr:
    """``\\x`` and ``digits`` hex digits (Dune's spelling of bytes) → ``0x`` and the digits in
    lower case; anything else as it is."""
    dune = text.str.contains(rf"^\\x[0-9a-fA-F]{{{digits}}}$")
    return pl.when(dune).then(pl.lit("0x") + text.str.slice(2).str.to_lowercase()).otherwise(text)


READER = Reader(
    NAME, sniff, read, batched=True, table=TABLE, doc="Any CSV whose columns are mapped with --map."
)
