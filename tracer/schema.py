"""Canonical tables (docs/design.md section 3): column names, types and checks."""

from __future__ import annotations

import polars as pl

from tracer.errors import MissingColumnsError

__all__ = [
    "TRANSFERS",
    "ACCOUNTS",
    "REJECTS",
    "PRICES",
    "OWN_USD",
    "REQUIRED_TRANSFER_COLUMNS",
    "REQUIRED_LABEL_COLUMNS",
    "require_columns",
    "account_kind",
    "empty",
]

TS = pl.Datetime("us", "UTC")

TRANSFERS: dict[str, pl.DataType] = {
    "tx_id": pl.String,
    "ts": TS,
    "seq": pl.Int64,
    "src": pl.String,
    "dst": pl.String,
    "amount": pl.Float64,
    "amount_raw": pl.String,
    "asset": pl.String,
    "value": pl.Float64,
    "source": pl.String,
    "source_row": pl.Int64,
}

ACCOUNTS: dict[str, pl.DataType] = {
    "account": pl.String,
    "kind": pl.String,
    "label": pl.String,
    "name": pl.String,
    "entity": pl.String,
    "opening_balance": pl.Float64,
    "source": pl.String,
    "confidence": pl.Float64,
}

REJECTS: dict[str, pl.DataType] = {
    "source": pl.String,
    "source_row": pl.Int64,
    "reason": pl.String,
    "raw": pl.String,
}

PRICES: dict[str, pl.DataType] = {"date": pl.Date, "asset": pl.String, "usd": pl.Float64}

# an optional Float64 column of a reader's transfers: the source's own USD value of the row
OWN_USD = "usd_value"

REQUIRED_TRANSFER_COLUMNS = ("tx_id", "timestamp", "src", "dst", "amount", "asset")
REQUIRED_LABEL_COLUMNS = ("account", "label")

_KIND_BY_PREFIX = {
    "iban": "bank",
    "bank": "bank",
    "eth": "crypto",
    "tron": "crypto",
    "btc": "crypto",
    "btctx": "tx",
}


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def require_columns(source: str, present: list[str], required: tuple[str, ...]) -> None:
    """Raise MissingColumnsError naming the file, what is missing and what is there."""
    missing = [c for c in required if c not in present]
    if missing:
        raise MissingColumnsError(source, missing, present)


def account_kind() -> pl.Expr:
    """Kind of account from its namespace prefix (``eth:0x…`` is crypto); unknown otherwise."""
    prefix = pl.col("account").str.extract(r"^([a-z]+):", 1)
    return prefix.replace_strict(_KIND_BY_PREFIX, default="unknown", return_dtype=pl.String)
