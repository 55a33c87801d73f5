"""CSV for spreadsheets, with formula injection neutralised.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (and some
also after a leading tab or carriage return), so an account named ``=HYPERLINK("http://evil")``
in a dump becomes a live link, or worse, when an investigator opens the CSV. Every text cell
that comes from the data and starts with one of those characters gets a leading ``'``, which
spreadsheets show as text; so does every line inside a cell (after a CR or LF), since some
readers take a lone CR for the end of a record. A cell holding a CR or LF is always quoted
(Python's ``csv`` module quotes only the characters of its line terminator). Numbers that tracer computed (amounts, values, shares, hops) are
written as plain numbers, negative ones included. Files are UTF-8 with a byte order mark, so
that Excel shows Thai and other non-Latin names correctly.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from collections.abc import Iterable, Sequence

import pyarrow as pa

from tracer.stamps import iso

__all__ = ["TRIGGERS", "neutralize", "unneutralize", "cell", "rows_csv", "table_csv", "ENCODING"]

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ENCODING = "utf-8-sig"


# a trigger at the start of the cell or of a line in it
_AT_LINE = re.compile(r"(?:\A|(?<=[\r\n]))(?=[=+\-@\t\r])")
_MARKED = re.compile(r"(?:\A|(?<=[\r\n]))'(?=[=+\-@\t\r])")


def neutralize(text: str) -> str:
    """``text`` with a ``'`` before the start of the cell and of each line in it where a
    spreadsheet would read a formula."""
    return _AT_LINE.sub("'", text)


def unneutralize(text: str) -> str:
    """The text before ``neutralize`` (for reading tracer's own CSV back)."""
    return _MARKED.sub("", text)


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
        return iso(value)
    if isinstance(value, list | tuple):
        return neutralize(" > ".join("" if v is None else str(v) for v in value))
    return neutralize(str(value))


def _field(value: str | int | float) -> str:
    """One field as written: quoted when it holds a comma, a quote, a CR or a LF."""
    text = value if isinstance(value, str) else str(value)
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _line(cells: Sequence[str | int | float]) -> str:
    if len(cells) == 1 and cells[0] == "":
        return '""\n'  # an empty record is not a blank line
    return ",".join(_field(c) for c in cells) + "\n"


def rows_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text (header first, ``\\n`` line ends); every cell through ``cell``, and quoted
    when it holds a comma, a quote, a CR or a LF."""
    buf = io.StringIO()
    buf.write(_line([neutralize(h) for h in header]))
    for row in rows:
        buf.write(_line([cell(v) for v in row]))
    return buf.getvalue()


def table_csv(table: pa.Table) -> str:
    """An Arrow table as CSV (lists joined by `` > ``, e.g. a chain of tx ids)."""
    cols = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return rows_csv(table.column_names, zip(*cols, strict=True) if cols else [])
