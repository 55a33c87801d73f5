"""IBM AMLSim output (github.com/IBM/AMLSim): simulated bank transfers. Three layouts exist in
AMLSim's published sample (``sample/outputs/`` and ``sample/20K_fanin200cycle200.tgz``):

- ``tx.csv``: ``TXN_ID,ACCOUNT_ID,COUNTER_PARTY_ACCOUNT_NUM,TXN_SOURCE_TYPE_CODE,tx_count,
  TXN_AMOUNT_ORIG,start,end``: ACCOUNT_ID pays COUNTER_PARTY_ACCOUNT_NUM; time ``start``;
- ``cash_tx.csv``: ``TXN_ID,ACCOUNT_ID,BRANCH_ID,TXN_SOURCE_TYPE_CODE,tx_count,TXN_AMOUNT_ORIG,
  RUN_DATE,end``: cash at a branch, time ``RUN_DATE``. ``CASH-OUT`` pays the account's money to
  ``bank:amlsim:cash-out-branch-<BRANCH_ID>``, ``CASH-IN`` comes from
  ``bank:amlsim:cash-in-branch-<BRANCH_ID>``: two separate nodes per branch, so that cash
  withdrawn by one customer never flows on into another customer's cash deposit;
- ``transactions.csv``: ``sourceNodeId,targetNodeId,value,time`` (``value`` is the amount).

Accounts are ``bank:amlsim:<id>``. ``tx_id`` is ``TXN_ID`` as written (tx.csv and cash_tx.csv
of one run share one id sequence); ``transactions.csv`` has none, so ``<source file name>:<row
number>``. The asset is USD (AMLSim's amounts carry no currency), unless the file has a
``currency`` column. ``seq`` is the row number.

Time: AMLSim counts integer time steps of one day. A step N becomes the timestamp
2017-01-01T00:00:00Z + N days (step 0 is 2017-01-01), which is how AMLSim writes the dates of
its own alerts (``alerts.csv`` EVENT_DATE 20170218 for step 48). The step as written is kept in
its column (``start``, ``RUN_DATE`` or ``time``).

Every other column (type code, counts, any fraud flag) is kept as an extra column and never used
by tracing. A self-transfer (AMLSim writes some) is rejected like any other broken row.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from tracer.errors import InputError
from tracer.io.base import Reader
from tracer.io.common import ROW, Head, ReadResult, finish_transfers, read_table, text_col
from tracer.schema import TRANSFERS

__all__ = ["NAME", "READER", "EPOCH", "LAYOUTS", "sniff", "read", "step_time", "account"]

NAME = "amlsim"

EPOCH = dt.datetime(2017, 1, 1, tzinfo=dt.UTC)
TIME_HINT = "expected an AMLSim time step: a whole number of days after 2017-01-01"

# layout: the columns that identify it (all present)
LAYOUTS = {
    "tx": ("TXN_ID", "ACCOUNT_ID", "COUNTER_PARTY_ACCOUNT_NUM", "TXN_AMOUNT_ORIG", "start"),
    "cash": (
        "TXN_ID",
        "ACCOUNT_ID",
        "BRANCH_ID",
        "TXN_SOURCE_TYPE_CODE",
        "TXN_AMOUNT_ORIG",
        "RUN_DATE",
    ),
    "transactions": ("sourceNodeId", "targetNodeId", "value", "time"),
}


def _layout(columns) -> str | None:
    for name, required in LAYOUTS.items():
        if all(c in columns for c in required):
            return name
    return None


def sniff(path: Path, head: Head) -> bool:
    return _layout(head.columns) is not None


def account(col: str) -> pl.Expr:
    return pl.lit("bank:amlsim:") + text_col(col)


def step_time(col: str) -> pl.Expr:
    """An AMLSim time step (whole days) as Datetime(us, UTC): 2017-01-01 + step days; null
    where the text is not a whole number."""
    step = text_col(col).cast(pl.Int64, strict=False)
    return (pl.lit(EPOCH).dt.cast_time_unit("us") + pl.duration(days=step)).alias(col)


def read(path: Path, source: str, options: dict, frame: pl.DataFrame | None = None) -> ReadResult:
    df = read_table(path) if frame is None else frame
    original = [c for c in df.columns if c != ROW]
    layout = _layout(original)
    if layout is None:
        wanted = "; or ".join(",".join(cols) for cols in LAYOUTS.values())
        raise InputError(
            f"{path}: not an AMLSim transactions file: expected the columns "
            f"{wanted}; the file has {','.join(original) or 'no columns'}. "
            "Pick the right --format."
        )
    currency = next((c for c in original if c.lower() == "currency"), None)
    asset = text_col(currency) if currency else pl.lit("USD")
    checks: list[tuple[pl.Expr, str]] = []
    if layout == "transactions":
        used = ["sourceNodeId", "targetNodeId", "value"]
        tx_id = pl.lit(source + ":") + pl.col(ROW).cast(pl.String)
        src, dst, amount, time = (account("sourceNodeId"), account("targetNodeId"), "value", "time")
        checks += [
            (text_col("sourceNodeId").is_null(), "empty sourceNodeId"),
            (text_col("targetNodeId").is_null(), "empty targetNodeId"),
        ]
    elif layout == "tx":
        used = ["TXN_ID", "ACCOUNT_ID", "COUNTER_PARTY_ACCOUNT_NUM", "TXN_AMOUNT_ORIG"]
        tx_id = text_col("TXN_ID")
        src, dst, amount, time = (
            account("ACCOUNT_ID"),
            account("COUNTER_PARTY_ACCOUNT_NUM"),
            "TXN_AMOUNT_ORIG",
            "start",
        )
        checks += [
            (text_col("ACCOUNT_ID").is_null(), "empty ACCOUNT_ID"),
            (text_col("COUNTER_PARTY_ACCOUNT_NUM").is_null(), "empty COUNTER_PARTY_ACCOUNT_NUM"),
        ]
    else:
        used = ["TXN_ID", "ACCOUNT_ID", "TXN_AMOUNT_ORIG"]
        tx_id = text_col("TXN_ID")
        kind = text_col("TXN_SOURCE_TYPE_CODE").str.to_uppercase()
        branch = text_col("BRANCH_ID")
        cash_out = pl.lit("bank:amlsim:cash-out-branch-") + branch
        cash_in = pl.lit("bank:amlsim:cash-in-branch-") + branch
        src = pl.when(kind == "CASH-IN").then(cash_in).otherwise(account("ACCOUNT_ID"))
        dst = pl.when(kind == "CASH-IN").then(account("ACCOUNT_ID")).otherwise(cash_out)
        amount, time = "TXN_AMOUNT_ORIG", "RUN_DATE"
        checks += [
            (text_col("ACCOUNT_ID").is_null(), "empty ACCOUNT_ID"),
            (branch.is_null(), "empty BRANCH_ID"),
            (
                kind.is_null() | ~kind.is_in(["CASH-IN", "CASH-OUT"]),
                "unknown cash transaction type (expected TXN_SOURCE_TYPE_CODE CASH-IN or CASH-OUT)",
            ),
        ]
    df = df.with_columns(
        tx_id.alias("__tx_id"),
        step_time(time).alias("__ts"),
        pl.col(amount).cast(pl.String).alias("__amount_raw"),
        pl.col(amount).cast(pl.String).alias("__amount_text"),
        src.alias("__src"),
        dst.alias("__dst"),
        asset.alias("__asset"),
    )
    extras = [c for c in original if c not in used and c != currency]
    extra_exprs = [pl.col(c).alias(c if c not in TRANSFERS else f"x_{c}") for c in extras]
    return finish_transfers(
        df,
        source,
        original,
        has_value=False,
        extras=extra_exprs,
        checks=checks,
        timestamp_hint=TIME_HINT,
    )


READER = Reader(NAME, sniff, read, batched=True, doc="AMLSim transactions (CSV).")
