"""IBM AMLworld accounts CSV, header exactly ``Bank Name,Bank ID,Account Number,Entity ID,
Entity Name``: who holds which account. It holds no transfers: it gives ``accounts`` rows,
account ``bank:<Bank ID>:<Account Number>`` (as in ``amlworld`` transfers), ``entity`` the
Entity ID (accounts of one entity are one owner), ``name`` the Entity Name.

A row without a bank id or account number is rejected; an account listed twice keeps its later
row (the earlier one is rejected, saying so). ``read`` counts the rows, so that
``read == accounts.height + rejects.height``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tracer.io.base import Reader
from tracer.io.common import ROW, Head, ReadResult, read_table, rejects_of, text_col
from tracer.io.labels import LABEL_COLUMNS
from tracer.schema import TRANSFERS, empty, require_columns

__all__ = ["NAME", "READER", "HEADER", "sniff", "read"]

NAME = "amlworld-accounts"

HEADER = ("Bank Name", "Bank ID", "Account Number", "Entity ID", "Entity Name")


def sniff(path: Path, head: Head) -> bool:
    return head.columns == HEADER


def read(path: Path, source: str, options: dict) -> ReadResult:
    df = read_table(path)
    original = [c for c in df.columns if c != ROW]
    require_columns(str(path), original, HEADER)
    df = df.with_columns(
        (pl.lit("bank:") + text_col("Bank ID") + pl.lit(":") + text_col("Account Number")).alias(
            "__account"
        )
    )
    last_row = pl.col(ROW).max().over("__account")
    reason = (
        pl.when(text_col("Bank ID").is_null())
        .then(pl.lit("empty Bank ID"))
        .when(text_col("Account Number").is_null())
        .then(pl.lit("empty Account Number"))
        .when(last_row != pl.col(ROW))
        .then(
            pl.lit("account listed again at row ")
            + last_row.cast(pl.String)
            + pl.lit(" (the later row is kept)")
        )
        .otherwise(pl.lit(None, pl.String))
    )
    # the reason is kept as a column: a window over the rejected rows alone would differ
    df = df.with_columns(reason.alias("__reason"))
    rejects = rejects_of(df, pl.col("__reason"), source, original)
    accounts = (
        df.filter(pl.col("__reason").is_null())
        .select(
            pl.col("__account").alias("account"),
            pl.lit(None, pl.String).alias("label"),
            text_col("Entity Name").alias("name"),
            text_col("Entity ID").alias("entity"),
            pl.lit(None, pl.Float64).alias("opening_balance"),
            pl.lit(source, dtype=pl.String).alias("source"),
            pl.lit(None, pl.Float64).alias("confidence"),
        )
        .select(LABEL_COLUMNS)
    )
    return ReadResult(
        transfers=empty(TRANSFERS),
        rejects=rejects,
        read=df.height,
        has_value=False,
        accounts=accounts,
    )


READER = Reader(NAME, sniff, read, doc="IBM AMLworld accounts (CSV).")
