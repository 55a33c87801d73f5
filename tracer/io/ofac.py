"""OFAC SDN digital currency addresses, as 0xB10C's ofac-sanctioned-digital-currency-addresses
lists them: ``sanctioned_addresses_<ASSET>.txt`` (one address per line) or ``.json`` (a JSON
list of addresses).

The asset comes from the file name and namespaces each address with
``tracer.io.categories.account_id``: ETH → ``eth:<address lower-cased>``, XBT/BTC → ``btc:``,
TRX → ``tron:``; USDT and USDC lists mix chains, so each address goes by its shape (``0x…`` →
``eth:``, ``T…`` → ``tron:``, a Bitcoin address → ``btc:`` for Omni USDT); other assets
``<asset lower>:`` (an ``0x`` address lower-cased). Every row: label ``sanctioned``, name
``OFAC SDN list``, source the file name, confidence 1.0.

Rows: in a ``.txt`` file a row is a line that is not blank: a blank line is not a row, so it is
counted neither as read nor as rejected (``source_row`` is still the line number in the file).
In a ``.json`` file each list element is a row, an empty string included (rejected). Rejected,
with the reason: an element that is not a string, an empty address, an address with spaces
inside, and an earlier row for an address listed again (the later row is kept). ``raw`` is the
line or element as JSON.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl

from tracer.errors import InputError
from tracer.io.categories import account_id
from tracer.io.common import Head, load_json
from tracer.io.labels import LABEL_COLUMNS
from tracer.schema import ACCOUNTS, REJECTS

__all__ = ["NAME", "sniff", "read_labels"]

NAME = "ofac"

LABEL = "sanctioned"
LIST_NAME = "OFAC SDN list"
CONFIDENCE = 1.0

_FILE = re.compile(r"sanctioned_addresses_([A-Za-z0-9]+)\.(txt|json)", re.IGNORECASE)


def sniff(path: Path, head: Head) -> bool:
    return _FILE.fullmatch(path.name) is not None


def _entries(path: Path, kind: str) -> list[tuple[int, object]]:
    """(row number, value) for each row: non-blank lines of a .txt, elements of a .json."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__}).") from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (byte {exc.start}). Download the list again."
        ) from exc
    if kind == "txt":
        lines = (line.rstrip("\r") for line in text.split("\n"))
        return [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    values = load_json(path, text, "Download the list again.")
    if not isinstance(values, list):
        raise InputError(f"{path}: not a JSON list of addresses.")
    return list(enumerate(values, start=1))


def read_labels(path: Path, source: str) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """(labels with LABEL_COLUMNS, rejects, rows read)."""
    match = _FILE.fullmatch(path.name)
    if match is None:
        raise InputError(
            f"{path}: an OFAC list is named sanctioned_addresses_<ASSET>.txt or "
            ".json (the asset comes from the name). Rename the file."
        )
    asset, kind = match.group(1), match.group(2).lower()
    entries = _entries(path, kind)
    what = "line" if kind == "txt" else "element"
    rows: list[tuple[int, str, str]] = []  # (row, account, raw)
    rejects: list[tuple] = []
    for n, value in entries:
        raw = json.dumps(value, ensure_ascii=False)
        if not isinstance(value, str):
            rejects.append((source, n, "not an address (a JSON string)", raw))
            continue
        try:
            rows.append((n, account_id(asset, value), raw))
        except ValueError as exc:
            rejects.append((source, n, str(exc), raw))
    last = {account: n for n, account, _ in rows}
    kept = []
    for n, account, raw in rows:
        if last[account] == n:
            kept.append((account, LABEL, LIST_NAME, None, None, source, CONFIDENCE))
        else:
            rejects.append(
                (
                    source,
                    n,
                    f"address listed again at {what} {last[account]} (the later {what} is kept)",
                    raw,
                )
            )
    labels = pl.DataFrame(kept, schema={c: ACCOUNTS[c] for c in LABEL_COLUMNS}, orient="row")
    rejected = pl.DataFrame(rejects, schema=REJECTS, orient="row").sort("source_row")
    return labels, rejected, len(entries)
