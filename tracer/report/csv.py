"""CSV for spreadsheets, with formula injection neutralised.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (and some
also after a leading tab or carriage return), so an account named ``=HYPERLINK("http://evil")``
in a dump becomes a live link, or worse, when an investigator opens the CSV. Every text cell
that comes from the data and starts with one of those characters gets a leading ``'``, which
spreadsheets show as text. Numbers that tracer computed (amounts, values, shares, hops) are
written as plain numbers, negative ones included. Files are UTF-8 with a byte order mark, so
that Excel shows Thai and other non-Latin names correctly.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable, Sequence

import pyarrow as pa

__all__ = ["TRIGGERS", "neutralize", "unneutralize", "cell", "rows_csv", "table_csv", "ENCODING"]

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ENCODING = "utf-8-sig"


def neutralize(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(TRIGGERS) else text


def unneutralize(text: str) -> str:
    """The text before ``neutralize`` (for reading tracer's own CSV back)."""
    return text[1:] if text.startswith("'") and text[1:].startswith(TRIGGERS) else text


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def cell(value: object) -> str | int | float:
    """One CSV cell: numbers as numbers, times in ISO 8601 UTC, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, dt.datetime):
        return _iso(value)
    if isinstance(value, list | tuple):
        return neutralize(" > ".join("" if v is None else str(v) for v in value))
    return neutralize(str(value))


def rows_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text (header first, ``\\n`` line ends); every cell through ``cell``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([neutralize(h) for h in header])
    for row in rows:
        w.writerow([cell(v) for v in row])
    return buf.getvalue()


def table_csv(table: pa.Table) -> str:
    """An Arrow table as CSV (lists joined by `` > ``, e.g. a chain of tx ids)."""
    cols = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return rows_csv(table.column_names, zip(*cols, strict=True) if cols else [])
