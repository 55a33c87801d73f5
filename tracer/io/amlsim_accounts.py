"""IBM AMLSim accounts: the opening balance of each simulated account. Two layouts exist in
AMLSim's published sample:

- ``accounts.csv``: ``ACCOUNT_ID,PRIMARY_CUSTOMER_ID,init_balance,start,end,country,business,
  suspicious,isFraud,modelID``;
- ``nodes.csv``: ``nodeid,isFraud,init_balance,fraudStep``.

It holds no transfers: it gives ``accounts`` rows, account ``bank:amlsim:<id>`` (as in
``amlsim`` transfers), ``opening_balance`` the ``init_balance``, ``entity`` the
PRIMARY_CUSTOMER_ID where there is one (a customer's accounts are one owner). Fraud flags are
not labels and are not read (tracing never uses them).

A row without an id, or whose init_balance is not a non-negative number, is rejected; an account
listed twice keeps its later row. ``read`` counts the rows, so that
``read == accounts.height + rejects.height``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tracer.errors import InputError
from tracer.io.base import Reader
from tracer.io.common import MAX_AMOUNT, ROW, Head, ReadResult, read_table, rejects_of, text_col
from tracer.io.labels import LABEL_COLUMNS
from tracer.schema import TRANSFERS, empty

__all__ = ["NAME", "READER", "LAYOUTS", "sniff", "read"]

NAME = "amlsim-accounts"

# layout: (id column, the columns that identify it)
LAYOUTS = {
    "accounts": ("ACCOUNT_ID", ("ACCOUNT_ID", "PRIMARY_CUSTOMER_ID", "init_balance")),
    "nodes": ("nodeid", ("nodeid", "init_balance")),
}


def _layout(columns) -> str | None:
    for name, (_, required) in LAYOUTS.items():
        if all(c in columns for c in required):
            return name
    return None


def sniff(path: Path, head: Head) -> bool:
    return _layout(head.columns) is not None


def read(path: Path, source: str, options: dict) -> ReadResult:
    df = read_table(path)
    original = [c for c in df.columns if c != ROW]
    layout = _layout(original)
    if layout is None:
        wanted = "; or ".join(",".join(cols) for _, cols in LAYOUTS.values())
        raise InputError(
            f"{path}: not an AMLSim accounts file: expected the columns {wanted}; "
            f"the file has {','.join(original) or 'no columns'}. "
            "Pick the right --format."
        )
    id_col = LAYOUTS[layout][0]
    balance_text = text_col("init_balance")
    df = df.with_columns(
        (pl.lit("bank:amlsim:") + text_col(id_col)).alias("__account"),
        balance_text.cast(pl.Float64, strict=False).alias("__opening"),
    )
    last_row = pl.col(ROW).max().over("__account")
    reason = (
        pl.when(pl.col("__account").is_null())
        .then(pl.lit(f"empty {id_col}"))
        .when(
            balance_text.is_not_null()
            & (
                pl.col("__opening").is_null()
                | pl.col("__opening").is_nan()
                | pl.col("__opening").is_infinite()
                | (pl.col("__opening") < 0)
            )
        )
        .then(pl.lit("bad init_balance (not a non-negative number)"))
        .when(pl.col("__opening") > MAX_AMOUNT)
        .then(
            pl.lit(f"init_balance too large (above {MAX_AMOUNT:.0e}, the largest tracer accepts)")
        )
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
    entity = text_col("PRIMARY_CUSTOMER_ID") if layout == "accounts" else pl.lit(None, pl.String)
    accounts = (
        df.filter(pl.col("__reason").is_null())
        .select(
            pl.col("__account").alias("account"),
            pl.lit(None, pl.String).alias("label"),
            pl.lit(None, pl.String).alias("name"),
            entity.alias("entity"),
            pl.col("__opening").alias("opening_balance"),
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


READER = Reader(NAME, sniff, read, doc="AMLSim accounts (CSV).")
