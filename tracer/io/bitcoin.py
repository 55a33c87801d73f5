"""Bitcoin inputs and outputs: BigQuery ``crypto_bitcoin`` tables and Blockchair TSV dumps.

Four formats, each a ``Reader`` of its own (``bq_inputs``, ``bq_outputs``,
``blockchair_inputs``, ``blockchair_outputs`` below, registered in ``tracer.io.READERS``):

- ``bitcoin-bq-inputs``: the flat ``crypto_bitcoin.inputs`` table, CSV (``.csv`` or
  ``.csv.gz``) or Parquet: ``transaction_hash, block_hash, block_number, block_timestamp,
  index, spent_transaction_hash, spent_output_index, script_asm, script_hex, sequence,
  required_signatures, type, addresses, value``. Needed: ``transaction_hash,
  block_timestamp, index, spent_transaction_hash, spent_output_index, addresses, value``;
  ``block_number`` and ``type`` are used when present.
- ``bitcoin-bq-outputs``: ``crypto_bitcoin.outputs`` (the same, without ``spent_*`` and
  ``sequence``). Needed: ``transaction_hash, block_timestamp, index, addresses, value``.
- ``bitcoin-blockchair-inputs`` / ``bitcoin-blockchair-outputs``: Blockchair dumps
  (``blockchair_bitcoin_inputs_YYYYMMDD.tsv[.gz]``), tab separated, no quoting:
  ``block_id, transaction_hash, index, time, value, value_usd, recipient, type, script_hex,
  is_from_coinbase, is_spendable, spending_block_id, spending_transaction_hash,
  spending_index, spending_time, spending_value_usd, spending_sequence,
  spending_signature_hex, spending_witness, lifespan, cdd``. Both dumps have the same
  columns: a row is an output; in the *inputs* dump it is an output being spent, so
  ``transaction_hash``/``index`` name the output spent, ``spending_transaction_hash`` the
  transaction that spends it (the input's transaction), ``spending_index`` the input's
  position there, ``spending_block_id``/``spending_time`` its block. Needed: ``block_id,
  transaction_hash, index, time, value, recipient`` and, for inputs, ``spending_block_id,
  spending_transaction_hash, spending_index, spending_time``. The two dumps cannot be told
  apart by their columns: the sniffer goes by the file name, which must contain ``input`` or
  ``output`` (as Blockchair names them); otherwise force ``--format``. ``value_usd`` is not
  used: values come from ``prices`` (one price per day keeps every transaction's inputs equal
  to its outputs plus fee in the trace unit).

Model (docs/design.md section 6): a transaction is a node ``btctx:<hash>``. An input is a transfer
``btc:<address>`` -> ``btctx:<hash>``, tx_id ``<hash>:in:<index>``; an output is
``btctx:<hash>`` -> ``btc:<address>``, tx_id ``<hash>:out:<index>``; both at block time.
Amounts in BTC (satoshi / 1e8, the nearest float); ``amount_raw`` is the satoshi text as
written; asset ``BTC``; ``value`` = amount (valued from prices at ingest).

Accounts: one address ``btc:<address>`` as written (bitcoin-etl's ``nonstandard<hash>``
and Blockchair's synthetic addresses for scripts without one are addresses like any other,
and an input spending such an output names the same account); several addresses (bare
multisig) ``btc:multisig:<a>+<b>`` (sorted); none: ``btc:nonstandard:<hash>:<index>`` of the
output (an input names the output it spends, so both sides meet); a coinbase input (no spent
transaction) ``btc:coinbase``. BigQuery ``addresses`` may be a Parquet list or text
(``["a","b"]``, ``[a, b]``, ``a,b``, one address).

Rejected: zero values (``zero-value output (no funds moved)``, e.g. OP_RETURN; the same for
inputs), a coinbase input without a value (newly minted coins: the outputs start clean),
values that are not a whole number of satoshi, bad or missing hashes, indexes and times, an
input or output seen twice.

Order (``seq``): the data carries no position of a transaction in its block, so the block
order is rebuilt from the spending links inside each block: a transaction that spends an
output created in the same block comes after it (depth in the block's spending graph, then
hash), and each transaction takes one slot: its inputs in input order, then its outputs in
output order, then its fee: ``seq = slot * 2**22 + leg * 2**20 + index`` (leg 0 inputs,
1 outputs, 2 fee). Links come from the inputs (``spent_transaction_hash``) and from
Blockchair outputs (``spending_transaction_hash``); BigQuery outputs alone carry none.
Transactions of one block that are not linked in the loaded data are ordered by hash, which is
harmless: neither spends the other. Block times are not monotonic in Bitcoin (a block may
carry an earlier time than its parent), so ``ts`` is the *monotonic* block time: the latest
time of any block up to this one (by height, over the blocks loaded), so that a spend never
replays before the output it spends; ``btc_block_time`` keeps the time as written. The
``post`` step (``tracer.io.bitcoin_order``) redoes this over all Bitcoin rows of the workspace after every ingest, so links
and blocks from other files count.

Fee (``post``): for every transaction with inputs and outputs in the workspace, fee = sum of
inputs - sum of outputs, in satoshi; when positive, a transfer ``btctx:<hash>`` -> ``fee``,
tx_id ``<hash>:fee``, source ``(fee)``, source_row 0, after the outputs. It is booked only
when the loaded legs look complete: input and output indexes each run 0..n-1 without a gap
(zero-value legs count as present). A transaction whose *last* outputs are missing cannot be
told from a complete one: load whole transactions (select by transaction hash, not by
address), or the missing outputs' value is booked as fee.

Extra columns: ``btc_tx`` (hash), ``btc_leg`` (in/out/fee), ``btc_index``, ``btc_block``,
``btc_block_time``, ``btc_satoshi``, ``btc_spent_tx``/``btc_spent_index`` (inputs: the
output spent), ``btc_spending_tx`` (Blockchair outputs: the spender), ``btc_script_type``,
``btc_zero_legs`` (indexes of the same transaction's zero-value legs, rejected). The input
addresses of a transaction, for the multi-input heuristic, are the ``src`` of its
``:in:`` transfers.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl

from tracer.io.base import Reader
from tracer.io.bitcoin_order import block_order, post
from tracer.io.common import (
    ROW,
    Head,
    ReadResult,
    first_kept_row,
    parse_timestamps,
    read_table,
    rejects_of,
    text_col,
)
from tracer.io.evm import scaled
from tracer.schema import TRANSFERS, require_columns

__all__ = ["bq_inputs", "bq_outputs", "blockchair_inputs", "blockchair_outputs", "post", "SATOSHI"]

SATOSHI = 100_000_000
TS = pl.Datetime("us", "UTC")

EXTRA: dict[str, pl.DataType] = {
    "btc_tx": pl.String,
    "btc_leg": pl.String,
    "btc_index": pl.Int64,
    "btc_block": pl.Int64,
    "btc_block_time": TS,
    "btc_satoshi": pl.Int64,
    "btc_spent_tx": pl.String,
    "btc_spent_index": pl.Int64,
    "btc_spending_tx": pl.String,
    "btc_script_type": pl.String,
    "btc_zero_legs": pl.String,
}

BQ_INPUT_COLUMNS = (
    "transaction_hash",
    "block_timestamp",
    "index",
    "spent_transaction_hash",
    "spent_output_index",
    "addresses",
    "value",
)
BQ_OUTPUT_COLUMNS = ("transaction_hash", "block_timestamp", "index", "addresses", "value")
BLOCKCHAIR_COLUMNS = ("block_id", "transaction_hash", "index", "time", "value", "recipient")
BLOCKCHAIR_SPENDING = (
    "spending_block_id",
    "spending_transaction_hash",
    "spending_index",
    "spending_time",
)
_BLOCKCHAIR_MARKS = ("is_from_coinbase", "is_spendable", "spending_transaction_hash")


# --- helpers ----------------------------------------------------------------------------------


def _integer(col: str, cols) -> pl.Expr:
    """A whole number written as text (``3``, ``3.0``); null otherwise."""
    t = text_col(col, cols).str.replace(r"\.0*$", "")
    return pl.when(t.str.contains(r"^-?\d{1,18}$")).then(t).otherwise(None).cast(pl.Int64)


def _times(s: pl.Series) -> pl.Series:
    """Datetime(us, UTC) from a Parquet timestamp, unix seconds or ISO text (BigQuery's
    trailing `` UTC`` understood); a time without a zone is UTC."""
    if isinstance(s.dtype, pl.Datetime):
        s = s.dt.cast_time_unit("us")
        return s.dt.convert_time_zone("UTC") if s.dtype.time_zone else s.dt.replace_time_zone("UTC")
    if s.dtype.is_integer():
        return pl.from_epoch(s.cast(pl.Int64), time_unit="s").dt.replace_time_zone("UTC")
    text = s.cast(pl.String).str.strip_chars().str.replace(r"\s*UTC$", "")
    digits = text.str.contains(r"^\d{9,11}$")
    if digits.fill_null(False).all():
        return pl.from_epoch(text.cast(pl.Int64), time_unit="s").dt.replace_time_zone("UTC")
    return parse_timestamps(text)


def _address_list(col: str, df: pl.DataFrame) -> pl.Expr:
    """``addresses`` as a list of strings: a Parquet list, or text in any of the shapes
    ``["a","b"]``, ``[a, b]``, ``a,b``, ``a`` (addresses hold no quotes, commas or spaces)."""
    dtype = df.schema[col]
    if isinstance(dtype, pl.List | pl.Array):
        lst = pl.col(col).cast(pl.List(pl.String))
        return lst.list.eval(pl.element().str.strip_chars()).list.eval(
            pl.element().filter(pl.element().is_not_null() & (pl.element() != ""))
        )
    return pl.col(col).cast(pl.String).str.extract_all(r"[^\s,;\[\]\"']+")


def _account(addrs: pl.Expr, outpoint: pl.Expr) -> pl.Expr:
    """Account id from a list of addresses; ``btc:nonstandard:<outpoint>`` when empty."""
    n = addrs.list.len().fill_null(0)
    return (
        pl.when(n == 0)
        .then(pl.lit("btc:nonstandard:") + outpoint)
        .when(n == 1)
        .then(pl.lit("btc:") + addrs.list.first())
        .otherwise(pl.lit("btc:multisig:") + addrs.list.sort().list.join("+"))
    )


def _columns(path: Path, head: Head) -> tuple[str, ...]:
    """Header fields, looking into a gzip file (Blockchair and BigQuery exports come gzipped)."""
    if not path.name.lower().endswith(".gz"):
        return head.columns
    try:
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
            first = f.readline().lstrip("\ufeff").rstrip("\r\n")
    except (OSError, EOFError):
        return ()
    sep = "\t" if first.count("\t") > first.count(",") else ","
    return tuple(c.strip().strip('"') for c in first.split(sep)) if first else ()


TSV = {"separator": "\t", "quote_char": None, "kind": "TSV"}  # Blockchair dumps, as read


def _read_tsv(path: Path) -> pl.DataFrame:
    return read_table(path, **TSV)


# --- the common part of the four readers -------------------------------------------------------


def _finish(df: pl.DataFrame, source: str, original: list[str], leg: str) -> ReadResult:
    """``df`` holds, per row: __tx, __index, __block, __time, __sat_text, __addrs (list),
    __spent_tx, __spent_index, __spending_tx, __type, __coinbase (inputs). One transfer per
    row, or a reject with the reason."""
    sat_text = pl.col("__sat_text")
    sat = (
        pl.when(sat_text.str.contains(r"^-?\d{1,18}(\.0*)?$"))
        .then(sat_text.str.replace(r"\.0*$", ""))
        .cast(pl.Int64)
    )
    df = df.with_columns(sat.alias("__sat"))
    key = pl.col("__tx") + pl.lit(":") + pl.col("__index").cast(pl.String)
    coinbase = pl.col("__coinbase").fill_null(False)
    no_address = pl.col("__addrs").list.len().fill_null(0) == 0
    zero = pl.lit(f"zero-value {'input' if leg == 'in' else 'output'} (no funds moved)")
    chain = (
        pl.when(pl.col("__tx").is_null())
        .then(pl.lit("empty transaction hash"))
        .when(~pl.col("__tx").str.contains(_HASH))
        .then(
            pl.lit("bad transaction hash (expected 64 hex digits, found ")
            + pl.col("__tx").str.len_chars().cast(pl.String)
            + pl.lit(" characters)")
        )
        .when(pl.col("__index").is_null() | (pl.col("__index") < 0))
        .then(pl.lit(f"bad {'input' if leg == 'in' else 'output'} index (not a whole number)"))
        .when(pl.col("__time").is_null())
        .then(pl.lit("unparseable block time (expected e.g. 2024-01-31 12:00:00 UTC)"))
        .when(coinbase & (pl.col("__sat").fill_null(0) == 0))
        .then(
            pl.lit(
                "coinbase input without a value (newly minted coins: the transaction's "
                "outputs start clean)"
            )
        )
        .when(sat_text.is_null())
        .then(pl.lit("empty value"))
        .when(pl.col("__sat").is_null())
        .then(pl.lit("value is not a whole number of satoshi"))
        .when(pl.col("__sat") < 0)
        .then(pl.lit("negative value"))
        .when(pl.col("__sat") == 0)
        .then(zero)
        .when(~coinbase & no_address & pl.col("__spent_tx").is_null() & pl.lit(leg == "in"))
        .then(pl.lit("input without address and without the output it spends"))
    )
    first_row = first_kept_row(chain, key)
    reason = (
        chain.when(first_row != pl.col(ROW))
        .then(
            pl.lit(f"duplicate {'input' if leg == 'in' else 'output'} (first at row ")
            + first_row.cast(pl.String)
            + pl.lit(")")
        )
        .otherwise(pl.lit(None, pl.String))
    )
    df = df.with_columns(reason.alias("__reason"))
    rejects = rejects_of(df, pl.col("__reason"), source, original)
    zero_legs = (
        df.filter(pl.col("__reason") == zero)
        .group_by("__tx")
        .agg(pl.col("__index").unique().sort().cast(pl.String).str.join(",").alias("__zero"))
    )
    good = df.filter(pl.col("__reason").is_null()).join(
        zero_legs, on="__tx", how="left", maintain_order="left"
    )
    if leg == "in":
        outpoint = pl.col("__spent_tx") + pl.lit(":") + pl.col("__spent_index").cast(pl.String)
        account = (
            pl.when(coinbase)
            .then(pl.lit("btc:coinbase"))
            .otherwise(_account(pl.col("__addrs"), outpoint))
        )
        src, dst = account, pl.lit("btctx:") + pl.col("__tx")
    else:
        outpoint = pl.col("__tx") + pl.lit(":") + pl.col("__index").cast(pl.String)
        src, dst = pl.lit("btctx:") + pl.col("__tx"), _account(pl.col("__addrs"), outpoint)
    amount = scaled(pl.col("__sat").cast(pl.String), 8)  # the nearest float, whatever the batch
    out = good.select(
        (pl.col("__tx") + pl.lit(f":{leg}:") + pl.col("__index").cast(pl.String)).alias("tx_id"),
        pl.col("__time").alias("ts"),
        pl.lit(0, pl.Int64).alias("seq"),
        src.alias("src"),
        dst.alias("dst"),
        amount.alias("amount"),
        sat_text.alias("amount_raw"),
        pl.lit("BTC").alias("asset"),
        amount.alias("value"),
        pl.lit(source, dtype=pl.String).alias("source"),
        pl.col(ROW).alias("source_row"),
        pl.col("__tx").alias("btc_tx"),
        pl.lit(leg).alias("btc_leg"),
        pl.col("__index").alias("btc_index"),
        pl.col("__block").alias("btc_block"),
        pl.col("__time").alias("btc_block_time"),
        pl.col("__sat").alias("btc_satoshi"),
        pl.col("__spent_tx").alias("btc_spent_tx"),
        pl.col("__spent_index").alias("btc_spent_index"),
        pl.col("__spending_tx").alias("btc_spending_tx"),
        pl.col("__type").alias("btc_script_type"),
        pl.col("__zero").alias("btc_zero_legs"),
    ).cast({**TRANSFERS, **EXTRA})
    out = block_order(out)
    return ReadResult(transfers=out, rejects=rejects, read=df.height, has_value=False)


def _hash(col: str, cols, keep_bad: bool = False) -> pl.Expr:
    """The hash lower-cased; null when empty or (unless ``keep_bad``, for the row's own
    transaction, which ``_finish`` then rejects saying what is wrong) not 64 hex digits."""
    t = text_col(col, cols).str.to_lowercase()
    return t if keep_bad else pl.when(t.str.contains(_HASH)).then(t).otherwise(None)


_HASH = r"^[0-9a-f]{64}$"


# --- BigQuery ---------------------------------------------------------------------------------


def _sniff_bq_inputs(path: Path, head: Head) -> bool:
    return all(c in _columns(path, head) for c in BQ_INPUT_COLUMNS)


def _sniff_bq_outputs(path: Path, head: Head) -> bool:
    cols = _columns(path, head)
    return (
        all(c in cols for c in BQ_OUTPUT_COLUMNS)
        and "spent_transaction_hash" not in cols
        and "recipient" not in cols
    )


def _read_bq(path: Path, source: str, leg: str, frame=None) -> ReadResult:
    df = read_table(path) if frame is None else frame
    original = [c for c in df.columns if c != ROW]
    require_columns(str(path), original, BQ_INPUT_COLUMNS if leg == "in" else BQ_OUTPUT_COLUMNS)
    spent_tx = _hash("spent_transaction_hash", original) if leg == "in" else pl.lit(None, pl.String)
    df = df.with_columns(
        _hash("transaction_hash", original, keep_bad=True).alias("__tx"),
        _integer("index", original).alias("__index"),
        _integer("block_number", original).alias("__block"),
        _times(df.get_column("block_timestamp")).alias("__time"),
        text_col("value", original).alias("__sat_text"),
        _address_list("addresses", df).alias("__addrs"),
        spent_tx.alias("__spent_tx"),
        (_integer("spent_output_index", original) if leg == "in" else pl.lit(None, pl.Int64)).alias(
            "__spent_index"
        ),
        pl.lit(None, pl.String).alias("__spending_tx"),
        text_col("type", original).alias("__type"),
        (
            (
                text_col("spent_transaction_hash", original).is_null()
                | (text_col("type", original) == "coinbase")
            )
            if leg == "in"
            else pl.lit(False)
        ).alias("__coinbase"),
    )
    nested = [c for c in original if isinstance(df.schema[c], pl.List | pl.Array)]
    if nested:  # the raw row of a reject is text: a Parquet list as a,b
        df = df.with_columns(pl.col(c).cast(pl.List(pl.String)).list.join(",") for c in nested)
    return _finish(df, source, original, leg)


def _read_bq_inputs(path: Path, source: str, options: dict, frame=None) -> ReadResult:
    return _read_bq(path, source, "in", frame)


def _read_bq_outputs(path: Path, source: str, options: dict, frame=None) -> ReadResult:
    return _read_bq(path, source, "out", frame)


# --- Blockchair -------------------------------------------------------------------------------


def _blockchair_kind(path: Path) -> str | None:
    name = path.name.lower()
    is_in, is_out = "input" in name, "output" in name
    return "in" if is_in and not is_out else "out" if is_out and not is_in else None


def _sniff_blockchair(path: Path, head: Head, leg: str) -> bool:
    cols = _columns(path, head)
    if not (
        all(c in cols for c in BLOCKCHAIR_COLUMNS) and any(c in cols for c in _BLOCKCHAIR_MARKS)
    ):
        return False
    if leg == "in" and not all(c in cols for c in BLOCKCHAIR_SPENDING):
        return False
    return _blockchair_kind(path) == leg


def _read_blockchair(path: Path, source: str, leg: str, frame=None) -> ReadResult:
    df = _read_tsv(path) if frame is None else frame
    original = [c for c in df.columns if c != ROW]
    require_columns(
        str(path), original, BLOCKCHAIR_COLUMNS + (BLOCKCHAIR_SPENDING if leg == "in" else ())
    )
    addrs = text_col("recipient", original).str.extract_all(r"[^\s,;\[\]\"']+")
    if leg == "in":
        cols = dict(
            __tx=_hash("spending_transaction_hash", original, keep_bad=True),
            __index=_integer("spending_index", original),
            __block=_integer("spending_block_id", original),
            __time=_times(df.get_column("spending_time")),
            __spent_tx=_hash("transaction_hash", original),
            __spent_index=_integer("index", original),
            __spending_tx=pl.lit(None, pl.String),
        )
    else:
        cols = dict(
            __tx=_hash("transaction_hash", original, keep_bad=True),
            __index=_integer("index", original),
            __block=_integer("block_id", original),
            __time=_times(df.get_column("time")),
            __spent_tx=pl.lit(None, pl.String),
            __spent_index=pl.lit(None, pl.Int64),
            __spending_tx=_hash("spending_transaction_hash", original),
        )
    df = df.with_columns(
        **cols,
        __sat_text=text_col("value", original),
        __addrs=addrs,
        __type=text_col("type", original),
        __coinbase=pl.lit(False),
    )
    return _finish(df, source, original, leg)


# --- the registered readers -------------------------------------------------------------------

bq_inputs = Reader(
    "bitcoin-bq-inputs",
    _sniff_bq_inputs,
    _read_bq_inputs,
    batched=True,
    post=post,
    post_rows="btc_leg",
    doc="BigQuery crypto_bitcoin.inputs (CSV or Parquet); see tracer.io.bitcoin.",
)
bq_outputs = Reader(
    "bitcoin-bq-outputs",
    _sniff_bq_outputs,
    _read_bq_outputs,
    batched=True,
    doc="BigQuery crypto_bitcoin.outputs (CSV or Parquet); see tracer.io.bitcoin.",
)
blockchair_inputs = Reader(
    "bitcoin-blockchair-inputs",
    lambda path, head: _sniff_blockchair(path, head, "in"),
    lambda path, source, options, frame=None: _read_blockchair(path, source, "in", frame),
    batched=True,
    table=TSV,
    doc="Blockchair inputs dump (TSV, name containing 'input'); see tracer.io.bitcoin.",
)
blockchair_outputs = Reader(
    "bitcoin-blockchair-outputs",
    lambda path, head: _sniff_blockchair(path, head, "out"),
    lambda path, source, options, frame=None: _read_blockchair(path, source, "out", frame),
    batched=True,
    table=TSV,
    doc="Blockchair outputs dump (TSV, name containing 'output'); see tracer.io.bitcoin.",
)
