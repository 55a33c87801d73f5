"""Reading the files: CSV (any encoding, gzip, a trailing separator) and Parquet tables with
row numbers, whole text files, JSON, and the start of a file for sniffing."""

from __future__ import annotations

import codecs
import gzip
import json
import os
import tempfile
from collections.abc import Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from tracer.errors import InputError, printable

__all__ = [
    "ROW",
    "Head",
    "head_of",
    "read_table",
    "iter_table",
    "sniff_separator",
    "read_text",
    "load_json",
    "use_encoding",
    "reset_encoding",
    "ENCODING_HINT",
]

ROW = "__tracer_row__"

ENCODING_HINT = (
    "re-run with --encoding latin-1 (or the file's encoding, e.g. cp1252) if the file is not UTF-8"
)

# the encoding of the files being read (``--encoding``), set by ingest for its run
_ENCODING: ContextVar[str | None] = ContextVar("tracer_encoding", default=None)


def use_encoding(name: str | None) -> Token:
    """Read text files in ``name`` (None: UTF-8, or UTF-16 with a byte order mark) until
    ``reset_encoding``; InputError for a name Python does not know."""
    if name:
        try:
            codecs.lookup(name)
        except LookupError:
            raise InputError(
                f"--encoding {printable(name, 40)}: unknown encoding. Give a Python "
                "codec name, e.g. latin-1, cp1252, utf-16."
            ) from None
    return _ENCODING.set(name or None)


def reset_encoding(token: Token) -> None:
    _ENCODING.reset(token)


@dataclass(frozen=True)
class Head:
    """The start of a file, for sniffing: ``text`` (first 64 KiB, decoded leniently; empty for
    Parquet), ``columns`` (CSV/TSV header fields or Parquet column names; empty if none)."""

    path: Path
    text: str
    columns: tuple[str, ...]


def _start(path: Path, n: int = 65536) -> bytes:
    """The first ``n`` bytes of the file, gunzipped when it is gzip."""
    with path.open("rb") as f:
        data = f.read(n)
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as g:
                return g.read(n)
        except (OSError, EOFError):
            return b""
    return data


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _bom_codec(data: bytes) -> str | None:
    """``utf-16`` when the bytes start with a UTF-16 byte order mark."""
    return "utf-16" if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else None


def head_of(path: Path) -> Head:
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            return Head(path, "", tuple(pl.read_parquet_schema(path)))
        except (pl.exceptions.PolarsError, OSError):
            return Head(path, "", ())
    data = _start(path)
    codec = _bom_codec(data)
    if codec:
        data = data[: len(data) // 2 * 2]
    text = data.decode(codec or "utf-8", errors="replace").lstrip("\ufeff")
    first = text.splitlines()[0] if text else ""
    sep = _separator_of(first)
    columns = tuple(c.strip().strip('"') for c in first.split(sep)) if first else ()
    return Head(path, text, columns)


def _separator_of(header: str) -> str:
    """A header line's field separator: a tab or a semicolon when the line holds more of it
    than of commas (and of the other), else a comma."""
    tabs, semis, commas = header.count("\t"), header.count(";"), header.count(",")
    if tabs > commas and tabs >= semis:
        return "\t"
    if semis > commas and semis > tabs:
        return ";"
    return ","


def sniff_separator(path: Path) -> str:
    """The field separator of a CSV file, from its header line (``_separator_of``): ``,``,
    ``\\t`` or ``;`` (Excel's CSV in locales whose decimal sign is a comma). ``,`` for
    Parquet."""
    if _is_parquet(path):
        return ","
    data = _start(path)
    codec = _bom_codec(data)
    if codec:
        data = data[: len(data) // 2 * 2]
    text = data.decode(codec or "utf-8", errors="replace").lstrip("\ufeff")
    return _separator_of(text.splitlines()[0] if text else "")


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def _unreadable(path: Path, exc: Exception, kind: str | None = None) -> InputError:
    if isinstance(exc, FileNotFoundError):
        return InputError(f"{path}: no such file.")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    kind = kind or ("Parquet" if _is_parquet(path) else "CSV")
    return InputError(
        f"{path}: not a readable {kind} file ({first[:200]}). Check the file, or export it again."
    )


def _own_row_column(path: Path, columns) -> None:
    """Refuse column names tracer cannot keep: its own row column, and names holding a NUL
    byte (no Arrow table can carry them; a binary or damaged file)."""
    if ROW in columns:
        raise InputError(
            f"{path}: has a column named {ROW}, a name tracer keeps for itself. Rename that column."
        )
    for i, name in enumerate(columns, 1):
        if "\0" in name:
            raise InputError(
                f"{path}: the name of column {i} holds a NUL byte (a binary or "
                "damaged file?). Check the file's header line."
            )


def _utf8_error(path: Path, codec: str = "utf-8") -> InputError | None:
    """InputError naming the first byte (and line) of the file that is not valid in ``codec``
    (of the gunzipped bytes for a gzip file), or None when the whole file decodes."""
    opener = gzip.open if _is_gzip(path) else open
    decoder = codecs.getincrementaldecoder(codec)("strict")
    done = lines = 0
    try:
        with opener(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    at = done + exc.start
                    line = lines + block[: exc.start].count(b"\n") + 1
                    break
                done += len(block)
                lines += block.count(b"\n")
            else:
                try:
                    decoder.decode(b"", final=True)
                    return None
                except UnicodeDecodeError:
                    at, line = done, lines + 1
    except (OSError, EOFError):
        return None
    name = "UTF-8" if codec == "utf-8" else codec
    hint = ENCODING_HINT if codec == "utf-8" else "give the file's encoding with --encoding"
    return InputError(f"{path}: not valid {name} at byte {at} (line {line}); {hint}.")


def _transcoded(path: Path, codec: str) -> Path:
    """A temporary UTF-8 copy of ``path`` (gunzipped if gzip) read in ``codec``; the caller
    removes it. InputError naming the byte when the file is not valid in ``codec``."""
    try:
        decoder = codecs.getincrementaldecoder(codec)("strict")
    except LookupError:
        raise InputError(
            f"--encoding {printable(codec, 40)}: unknown encoding. Give a Python "
            "codec name, e.g. latin-1, cp1252, utf-16."
        ) from None
    opener = gzip.open if _is_gzip(path) else open
    fd, tmp = tempfile.mkstemp(prefix="tracer-", suffix=".csv")
    try:
        with os.fdopen(fd, "wb") as out, opener(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                out.write(decoder.decode(block).encode("utf-8"))
            out.write(decoder.decode(b"", final=True).encode("utf-8"))
    except UnicodeDecodeError:
        Path(tmp).unlink(missing_ok=True)
        raise _utf8_error(path, codec) or InputError(
            f"{path}: not valid {codec}; give the file's encoding with --encoding."
        ) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _csv_source(path: Path, encoding: str | None) -> Path | None:
    """A UTF-8 copy to read instead of ``path`` when it is in another encoding (``encoding``
    named by the user, or UTF-16 with a byte order mark), else None."""
    if _is_parquet(path):
        return None
    encoding = encoding or _ENCODING.get()
    named = (encoding or "").strip().lower().replace("_", "-")
    if named in ("", "utf-8", "utf8", "utf-8-sig"):
        codec = _bom_codec(_start(path, 2))
    else:
        codec = encoding
    return _transcoded(path, codec) if codec else None


def _trailing(path: Path, separator: str, quote_char: str | None) -> list[str] | None:
    """The header plus one name when every row of the start of the file has one field more
    than the header, the last one empty (Etherscan's exports end each row with a separator
    but not the header), else None."""
    data = _start(path)
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = text.splitlines()
    if len(data) == 65536:
        lines = lines[:-1]  # perhaps cut short
    lines = [ln for ln in lines if ln.strip()]
    if len(lines) < 2:
        return None
    import csv

    rows = list(
        csv.reader(
            lines,
            delimiter=separator,
            quotechar=quote_char or "\0",
            quoting=csv.QUOTE_MINIMAL if quote_char else csv.QUOTE_NONE,
        )
    )
    header = rows[0]
    if header and header[-1] == "":
        return None
    if all(len(r) == len(header) + 1 and r[-1].strip() == "" for r in rows[1:]):
        name = "(unnamed)"
        return [*header, name]
    return None


def _numbered(
    path: Path, separator: str, quote_char: str | None, trailing: bool = False
) -> pl.LazyFrame:
    """The file as text columns (CSV) or as stored (Parquet), with the row number ``ROW``.
    ``trailing``: rows may end with one empty field more than the header (``_trailing``)."""
    if _is_parquet(path):
        lf = pl.scan_parquet(path)
    else:
        names = _trailing(path, separator, quote_char) if trailing else None
        if names:
            lf = pl.scan_csv(
                path,
                infer_schema=False,
                encoding="utf8",
                has_header=False,
                skip_rows=1,
                new_columns=names,
                separator=separator,
                quote_char=quote_char,
            )
        else:
            lf = pl.scan_csv(
                path,
                infer_schema=False,
                encoding="utf8",
                separator=separator,
                quote_char=quote_char,
            )
    _own_row_column(path, lf.collect_schema().names())
    return lf.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


def _failed(path: Path, shown: Path, exc: Exception, kind: str | None) -> InputError:
    if "utf-8" in str(exc).lower() or "utf8" in str(exc).lower():
        found = _utf8_error(shown)
        if found is not None:
            return InputError(str(found).replace(str(shown), str(path), 1))
    return _unreadable(path, exc, kind)


def read_table(
    path: Path,
    *,
    separator: str = "auto",
    quote_char: str | None = '"',
    kind: str | None = None,
    encoding: str | None = None,
    trailing: bool = False,
) -> pl.DataFrame:
    """A CSV (every column as text, exactly as written) or Parquet file, with a 1-based row
    number column ``ROW``. A file that cannot be read raises InputError naming it.

    A CSV must be UTF-8 (InputError naming the first bad byte otherwise: bytes are never
    replaced, which would make different names one), or UTF-16 with a byte order mark, or in
    ``encoding``; it may be gzipped. ``separator="auto"`` (the default): a comma, a tab or a
    semicolon, from the header line (``sniff_separator``)."""
    if separator == "auto":
        separator = sniff_separator(path)
    copy = _csv_source(path, encoding)
    try:
        return _numbered(copy or path, separator, quote_char, trailing).collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _failed(path, copy or path, exc, kind) from exc
    finally:
        if copy is not None:
            copy.unlink(missing_ok=True)


def iter_table(
    path: Path,
    rows: int,
    *,
    separator: str = "auto",
    quote_char: str | None = '"',
    kind: str | None = None,
    encoding: str | None = None,
    trailing: bool = False,
) -> Iterator[pl.DataFrame]:
    """``read_table`` in batches of about ``rows`` rows (row numbers continue across batches),
    read by polars' streaming engine, so memory does not grow with the file."""
    if separator == "auto":
        separator = sniff_separator(path)
    copy = _csv_source(path, encoding)
    try:
        lf = _numbered(copy or path, separator, quote_char, trailing)
        empty = True
        for batch in lf.collect_batches(chunk_size=rows):
            if batch.height:
                empty = False
                yield batch
        if empty:  # no rows: one empty batch, so that the reader still checks the columns
            yield lf.head(0).collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _failed(path, copy or path, exc, kind) from exc
    finally:
        if copy is not None:
            copy.unlink(missing_ok=True)


def read_text(path: Path, encoding: str | None = None) -> str:
    """A whole text file (JSON, YAML, XML) decoded: UTF-8 (a BOM dropped), UTF-16 with a byte
    order mark, or ``encoding``; InputError naming the first bad byte otherwise."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file.") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__}).") from exc
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: a damaged gzip file ({exc}). Check the file.") from exc
    encoding = encoding or _ENCODING.get()
    if (encoding or "").strip().lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig"):
        encoding = None
    codec = encoding or _bom_codec(data) or "utf-8-sig"
    try:
        return data.decode(codec)
    except LookupError:
        raise InputError(
            f"--encoding {printable(codec, 40)}: unknown encoding. Give a Python "
            "codec name, e.g. latin-1, cp1252, utf-16."
        ) from None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        hint = ENCODING_HINT if codec == "utf-8-sig" else "give the file's encoding with --encoding"
        raise InputError(
            f"{path}: not valid {'UTF-8' if codec == 'utf-8-sig' else codec} at "
            f"byte {exc.start} (line {line}); {hint}."
        ) from None


def load_json(
    path: Path, text: str | None = None, what: str = "Check the file, or export it again."
):
    """The JSON document of ``path`` (``text`` if already read); InputError naming the file
    when it is not JSON or nested too deeply to read."""
    if text is None:
        text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: not readable JSON ({printable(exc.msg, 80)} at line {exc.lineno}). {what}"
        ) from None
    except RecursionError:
        raise InputError(
            f"{path}: JSON nested too deeply to read (thousands of levels); not "
            f"an export of this format. {what}"
        ) from None
    except ValueError as exc:
        raise InputError(f"{path}: not readable JSON ({printable(exc, 80)}). {what}") from None
