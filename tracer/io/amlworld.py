"""IBM AMLworld transactions CSV (Altman et al., "Realistic Synthetic Financial Transactions for
Anti-Money Laundering Models", 2023), header exactly::

    Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,
    Amount Paid,Payment Currency,Payment Format,Is Laundering

The two ``Account`` columns are read by position (the first is the sender's, the second the
receiver's). Every column is read as text, so zero-padded bank ids stay as written.

- accounts: ``bank:<bank id>:<account>``;
- ``ts``: ``Timestamp`` (``%Y/%m/%d %H:%M``, UTC); ``seq``: the row number;
- one transfer per row: ``amount`` is ``Amount Paid`` in ``Payment Currency``; a payment
  received in another currency (a conversion) stays one transfer, with ``amount_received``
  and ``receiving_currency`` kept as extra columns;
- ``asset``: the currency's code (``US Dollar`` → ``USD``, ``Bitcoin`` → ``BTC``, …; a name not
  known here is kept upper-cased with spaces as underscores);
- ``tx_id``: AMLworld has none, so ``<source file name>:<row number>``;
- extra columns ``payment_format`` and ``is_laundering`` (the simulator's ground truth, kept
  for evaluation, never used by tracing);
- a row with the same account on both sides ("Reinvestment", common in AMLworld) is rejected
  as a self-transfer, like any other broken row.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tracer.errors import InputError
from tracer.io.base import Reader
from tracer.io.common import ROW, Head, ReadResult, finish_transfers, read_table, text_col

__all__ = ["NAME", "READER", "HEADER", "CURRENCIES", "sniff", "read", "currency_code"]

NAME = "amlworld"

HEADER = (
    "Timestamp",
    "From Bank",
    "Account",
    "To Bank",
    "Account",
    "Amount Received",
    "Receiving Currency",
    "Amount Paid",
    "Payment Currency",
    "Payment Format",
    "Is Laundering",
)
# unique names for the columns, by position (the raw row of a reject uses them)
_NAMES = (
    "Timestamp",
    "From Bank",
    "Account",
    "To Bank",
    "Account (to)",
    "Amount Received",
    "Receiving Currency",
    "Amount Paid",
    "Payment Currency",
    "Payment Format",
    "Is Laundering",
)
TIME_FORMAT = "%Y/%m/%d %H:%M"

CURRENCIES = {
    "US Dollar": "USD",
    "Euro": "EUR",
    "Yuan": "CNY",
    "Yen": "JPY",
    "UK Pound": "GBP",
    "Rupee": "INR",
    "Ruble": "RUB",
    "Canadian Dollar": "CAD",
    "Australian Dollar": "AUD",
    "Swiss Franc": "CHF",
    "Mexican Peso": "MXN",
    "Brazil Real": "BRL",
    "Saudi Riyal": "SAR",
    "Shekel": "ILS",
    "Bitcoin": "BTC",
}


def sniff(path: Path, head: Head) -> bool:
    return head.columns == HEADER


def currency_code(col: str) -> pl.Expr:
    """AMLworld currency name to its code; unknown names upper-cased, spaces as underscores;
    empty text to null."""
    name = pl.col(col).cast(pl.String).str.strip_chars()
    fallback = name.str.to_uppercase().str.replace_all(r"\s+", "_")
    code = name.replace_strict(CURRENCIES, default=fallback, return_dtype=pl.String)
    return pl.when(name == "").then(None).otherwise(code).alias(col)


def read(path: Path, source: str, options: dict, frame: pl.DataFrame | None = None) -> ReadResult:
    df = read_table(path) if frame is None else frame
    original = [c for c in df.columns if c != ROW]
    if tuple(c.partition("_duplicated_")[0] for c in original) != HEADER:
        raise InputError(
            f"{path}: not an AMLworld transactions file: expected the columns "
            f"{','.join(HEADER)}; the file has {','.join(original) or 'no columns'}. "
            "Pick the right --format."
        )
    df = df.rename(dict(zip(original, _NAMES, strict=True)))
    from_bank, from_acc = text_col("From Bank"), text_col("Account")
    to_bank, to_acc = text_col("To Bank"), text_col("Account (to)")
    df = df.with_columns(
        (pl.lit(source + ":") + pl.col(ROW).cast(pl.String)).alias("__tx_id"),
        pl.col("Timestamp")
        .cast(pl.String)
        .str.strip_chars()
        .str.to_datetime(TIME_FORMAT, strict=False, time_unit="us", time_zone="UTC")
        .alias("__ts"),
        pl.col("Amount Paid").cast(pl.String).alias("__amount_raw"),
        pl.col("Amount Paid").cast(pl.String).alias("__amount_text"),
        (pl.lit("bank:") + from_bank + pl.lit(":") + from_acc).alias("__src"),
        (pl.lit("bank:") + to_bank + pl.lit(":") + to_acc).alias("__dst"),
        currency_code("Payment Currency").alias("__asset"),
    )
    checks = [
        (from_bank.is_null() | from_acc.is_null(), "empty From Bank or sender's Account"),
        (to_bank.is_null() | to_acc.is_null(), "empty To Bank or receiver's Account"),
    ]
    laundering = pl.col("Is Laundering").cast(pl.String).str.strip_chars()
    extras = [
        pl.col("Amount Received")
        .cast(pl.String)
        .str.strip_chars()
        .cast(pl.Float64, strict=False)
        .alias("amount_received"),
        currency_code("Receiving Currency").alias("receiving_currency"),
        text_col("Payment Format").alias("payment_format"),
        pl.when(laundering == "1")
        .then(True)
        .when(laundering == "0")
        .then(False)
        .otherwise(None)
        .alias("is_laundering"),
    ]
    return finish_transfers(
        df,
        source,
        list(_NAMES),
        has_value=False,
        extras=extras,
        checks=checks,
        timestamp_hint="expected YYYY/MM/DD HH:MM",
    )


READER = Reader(NAME, sniff, read, batched=True, doc="IBM AMLworld (AML-Data) transactions (CSV).")
