"""ethereum-etl and BigQuery ``crypto_ethereum`` tables: ``token_transfers`` and
``transactions``, as CSV or Parquet.

Two formats, each a ``Reader`` of its own (``token_transfers`` and ``transactions`` below,
registered in ``tracer.io.READERS``):

- ``ethereum-etl-token-transfers``: ``token_address,from_address,to_address,value,
  transaction_hash,log_index,block_number`` and, from BigQuery, ``block_timestamp``
  (``block_hash``). One transfer per row, tx_id ``<transaction_hash>:<log_index>``, seq the
  log index. ``value`` is the raw integer (token units); it is scaled by the token's decimals
  for the well-known tokens in ``KNOWN_ERC20`` (USDT, USDC, DAI, WETH), asset ``USDT-ERC20``
  etc. Any other token: asset ``ERC20:<token address>`` and amount = the raw integer (there is
  no decimals column in these tables; ERC-721 transfers also land in this table, their value
  being a token id), with a note.
- ``ethereum-etl-transactions``: ``hash,nonce,block_hash,block_number,transaction_index,
  from_address,to_address,value,gas,gas_price,input,block_timestamp,...`` (ethereum-etl CSV
  or BigQuery). tx_id the hash, seq the transaction index, asset ETH, amount = wei / 10**18.
  A contract creation (no ``to_address``) goes to ``receipt_contract_address`` when present.

Amounts are scaled exactly: the decimal point is put into the integer text, then the text is
parsed to the nearest float64 (``amount_raw`` keeps the integer). Accounts ``eth:0x…`` lower
case; addresses and hashes that Dune's query exports write as ``\\x…`` are read as ``0x…``. Time: ``block_timestamp`` (unix seconds, ISO 8601, BigQuery ``… UTC`` text or a
Parquet timestamp); without that column, block times are joined from a blocks table
(``number,timestamp``): ``options["blocks"]`` or ``blocks.csv`` / ``blocks.parquet`` next to
the file. Rejected: failed transactions (``receipt_status`` 0, BigQuery), zero values (no
funds moved: plain contract calls, zero-value token events), values that are not exact
integers, bad addresses, self-transfers, a block missing from the blocks table, a repeated id.
"""

from __future__ import annotations

import functools
from pathlib import Path

import polars as pl

from tracer.errors import InputError
from tracer.io.base import Reader
from tracer.io.common import (
    ROW,
    Head,
    ReadResult,
    duplicate_reason,
    finish_reasons,
    parse_timestamps,
    read_table,
    text_col,
)
from tracer.io.evm import (
    ADDRESS,
    ETH_DECIMALS,
    KNOWN_ERC20,
    evm_account,
    evm_hex,
    integer_text,
    scaled,
    scaled_by,
)
from tracer.schema import require_columns

__all__ = [
    "KNOWN_ERC20",
    "TOKEN_TRANSFER_COLUMNS",
    "TRANSACTION_COLUMNS",
    "integer_text",
    "scaled",
    "scaled_by",
    "token_transfers",
    "transactions",
]

TOKEN_TRANSFER_COLUMNS = (
    "token_address",
    "from_address",
    "to_address",
    "value",
    "transaction_hash",
    "log_index",
)
TRANSACTION_COLUMNS = ("hash", "from_address", "to_address", "value")
_ADDRESS = ADDRESS


# --- helpers ----------------------------------------------------------------------------------


def _times(s: pl.Series) -> pl.Series:
    """Block times to Datetime(us, UTC): Parquet timestamps, unix seconds, or ISO text (a
    trailing `` UTC`` as BigQuery writes it is understood)."""
    if isinstance(s.dtype, pl.Datetime):
        s = s.dt.cast_time_unit("us")
        return s.dt.convert_time_zone("UTC") if s.dtype.time_zone else s.dt.replace_time_zone("UTC")
    if s.dtype.is_integer():
        return pl.from_epoch(s.cast(pl.Int64), time_unit="s").dt.replace_time_zone("UTC")
    text = s.cast(pl.String).str.strip_chars().str.replace(r"\s*UTC$", "")
    digits = text.str.contains(r"^\d+$").fill_null(False)
    epoch = pl.from_epoch(text.cast(pl.Int64, strict=False), time_unit="s").dt.replace_time_zone(
        "UTC"
    )
    if digits.all():
        return epoch.alias(s.name)
    parsed = parse_timestamps(pl.Series(s.name, text.to_list(), dtype=pl.String).set(digits, None))
    return parsed.zip_with(~digits, epoch).alias(s.name)


def _blocks_file(path: Path, options: dict) -> Path | None:
    given = options.get("blocks")
    if given:
        p = Path(given)
        if not p.is_file():
            raise InputError(f"blocks file {p}: no such file.")
        return p
    for name in ("blocks.csv", "blocks.parquet"):
        p = path.parent / name
        if p.is_file() and p.resolve() != path.resolve():
            return p
    return None


def _block_times(df: pl.DataFrame, path: Path, options: dict) -> tuple[pl.DataFrame, str]:
    """``df`` with ``__ts`` (block time) and the reason to use when a row has none."""
    cols = df.columns
    if "block_timestamp" in cols:
        return (
            df.with_columns(_times(df.get_column("block_timestamp")).alias("__ts")),
            "bad block_timestamp (expected unix seconds or ISO 8601)",
        )
    blocks_path = _blocks_file(path, options)
    if blocks_path is None:
        raise InputError(
            f"{path}: no block_timestamp column, and no blocks table to take block times from. "
            f"Put the ethereum-etl blocks export (columns number,timestamp) next to it as "
            f"{path.parent / 'blocks.csv'} (or blocks.parquet), or export the table with "
            "block_timestamp."
        )
    require_columns(str(path), cols, ("block_number",))
    stat = blocks_path.stat()
    blocks = _blocks(str(blocks_path), stat.st_mtime_ns, stat.st_size)
    df = df.with_columns(
        pl.col("block_number")
        .cast(pl.String)
        .str.strip_chars()
        .cast(pl.Int64, strict=False)
        .alias("__block")
    )
    df = df.join(blocks, on="__block", how="left", maintain_order="left")
    return df, f"block not in the blocks table {blocks_path.name}"


@functools.lru_cache(maxsize=2)
def _blocks(path: str, mtime_ns: int, size: int) -> pl.DataFrame:
    """Block number -> time from a blocks table, read once for all the batches of a file
    (the file's time and size are part of the key, so an edited file is read again)."""
    blocks = read_table(Path(path))
    require_columns(path, blocks.columns, ("number", "timestamp"))
    return (
        blocks.select(
            pl.col("number")
            .cast(pl.String)
            .str.strip_chars()
            .cast(pl.Int64, strict=False)
            .alias("__block"),
            _times(blocks.get_column("timestamp")).alias("__ts"),
        )
        .drop_nulls()
        .unique(subset="__block", keep="first")
    )


# --- token_transfers --------------------------------------------------------------------------


def _sniff_token_transfers(path: Path, head: Head) -> bool:
    return all(c in head.columns for c in TOKEN_TRANSFER_COLUMNS)


def _read_token_transfers(path: Path, source: str, options: dict, frame=None) -> ReadResult:
    df = read_table(path) if frame is None else frame
    original = [c for c in df.columns if c != ROW]
    require_columns(str(path), original, TOKEN_TRANSFER_COLUMNS)
    df, no_time = _block_times(df, path, options)
    cols = df.columns
    df = df.with_columns(
        evm_hex(text_col("transaction_hash", cols)).alias("__hash"),
        text_col("log_index", cols).alias("__log_text"),
        evm_account("token_address", cols).alias("__token"),
        evm_account("from_address", cols).alias("__from"),
        evm_account("to_address", cols).alias("__to"),
        text_col("value", cols).alias("__raw"),
        integer_text(pl.col("value")).alias("__digits"),
    ).with_columns(
        pl.col("__log_text").str.replace(r"\.0*$", "").cast(pl.Int64, strict=False).alias("__log"),
    )
    known = pl.col("__token").replace_strict(
        {a: d for a, (_, d) in KNOWN_ERC20.items()}, default=None, return_dtype=pl.Int64
    )
    symbol = pl.col("__token").replace_strict(
        {a: s for a, (s, _) in KNOWN_ERC20.items()}, default=None, return_dtype=pl.String
    )
    df = df.with_columns(
        known.alias("__decimals"),
        pl.when(symbol.is_not_null())
        .then(symbol + pl.lit("-ERC20"))
        .otherwise(pl.lit("ERC20:") + pl.col("__token"))
        .alias("__asset"),
    ).with_columns(
        pl.when(pl.col("__decimals").is_null())
        .then(pl.col("__digits").cast(pl.Float64))
        .otherwise(
            scaled_by(
                pl.col("__digits"), pl.col("__decimals"), [d for _, d in KNOWN_ERC20.values()]
            )
        )
        .alias("__amount"),
        (pl.col("__hash") + pl.lit(":") + pl.col("__log").cast(pl.String)).alias("__tx_id"),
    )
    chain = (
        pl.when(pl.col("__hash").is_null())
        .then(pl.lit("empty transaction_hash"))
        .when(pl.col("__log").is_null() | (pl.col("__log") < 0))
        .then(pl.lit("bad log_index (not a non-negative integer)"))
        .when(pl.col("__ts").is_null())
        .then(pl.lit(no_time))
        .when(pl.col("__raw").is_null())
        .then(pl.lit("empty value"))
        .when(pl.col("__digits").is_null())
        .then(pl.lit("value is not an exact non-negative integer"))
        .when(pl.col("__amount") == 0)
        .then(pl.lit("zero-value token transfer (no funds moved)"))
        .when(~pl.col("__token").str.contains(_ADDRESS).fill_null(False))
        .then(pl.lit("bad token_address (expected 0x and 40 hex digits)"))
        .when(~pl.col("__from").str.contains(_ADDRESS).fill_null(False))
        .then(pl.lit("bad from_address (expected 0x and 40 hex digits)"))
        .when(~pl.col("__to").str.contains(_ADDRESS).fill_null(False))
        .then(pl.lit("bad to_address (expected 0x and 40 hex digits)"))
        .when(pl.col("__from") == pl.col("__to"))
        .then(pl.lit("self-transfer (from_address equals to_address)"))
    )
    reason = duplicate_reason(chain, "__tx_id", "transaction_hash:log_index")
    block = (
        pl.col("block_number").cast(pl.String).str.strip_chars().cast(pl.Int64, strict=False)
        if "block_number" in cols
        else pl.lit(None, pl.Int64)
    )
    select = [
        pl.col("__tx_id").alias("tx_id"),
        pl.col("__ts").alias("ts"),
        pl.col("__log").alias("seq"),
        (pl.lit("eth:") + pl.col("__from")).alias("src"),
        (pl.lit("eth:") + pl.col("__to")).alias("dst"),
        pl.col("__amount").alias("amount"),
        pl.col("__raw").alias("amount_raw"),
        pl.col("__asset").alias("asset"),
        pl.col("__amount").alias("value"),
        pl.lit(source, dtype=pl.String).alias("source"),
        pl.col(ROW).alias("source_row"),
        pl.col("__token").alias("token_address"),
        block.alias("block_number"),
        pl.col("__decimals").alias("token_decimals"),
    ]
    res = finish_reasons(df, reason, source, original, select)
    unknown = res.transfers.filter(pl.col("token_decimals").is_null())
    if unknown.height:
        res.notes.append(
            f"{path}: {unknown.height} transfers of {unknown.get_column('token_address').n_unique()}"
            " token(s) whose decimals are unknown are kept in raw units, asset ERC20:<address>."
        )
    return res


# --- transactions -----------------------------------------------------------------------------


def _sniff_transactions(path: Path, head: Head) -> bool:
    cols = head.columns
    return (
        all(c in cols for c in TRANSACTION_COLUMNS)
        and any(c in cols for c in ("nonce", "transaction_index", "gas"))
        and "transaction_hash" not in cols
    )


def _read_transactions(path: Path, source: str, options: dict, frame=None) -> ReadResult:
    df = read_table(path) if frame is None else frame
    original = [c for c in df.columns if c != ROW]
    require_columns(str(path), original, TRANSACTION_COLUMNS)
    df, no_time = _block_times(df, path, options)
    cols = df.columns
    status = text_col("receipt_status", cols).str.replace(r"\.0*$", "")
    to = evm_account("to_address", cols)
    created = evm_account("receipt_contract_address", cols)
    df = df.with_columns(
        evm_hex(text_col("hash", cols)).alias("__hash"),
        evm_account("from_address", cols).alias("__from"),
        to.alias("__to_given"),
        pl.coalesce(to, created).alias("__to"),
        text_col("value", cols).alias("__raw"),
        integer_text(pl.col("value")).alias("__digits"),
        status.alias("__status"),
        (
            text_col("transaction_index", cols)
            .str.replace(r"\.0*$", "")
            .cast(pl.Int64, strict=False)
        ).alias("__index"),
    ).with_columns(scaled(pl.col("__digits"), ETH_DECIMALS).alias("__amount"))
    chain = (
        pl.when(pl.col("__hash").is_null())
        .then(pl.lit("empty hash"))
        .when(pl.col("__status") == "0")
        .then(pl.lit("failed transaction (receipt_status 0)"))
        .when(pl.col("__ts").is_null())
        .then(pl.lit(no_time))
        .when(pl.col("__raw").is_null())
        .then(pl.lit("empty value"))
        .when(pl.col("__digits").is_null())
        .then(pl.lit("value is not an exact non-negative integer (wei)"))
        .when(pl.col("__amount") == 0)
        .then(pl.lit("zero-value transaction (no funds moved)"))
        .when(~pl.col("__from").str.contains(_ADDRESS).fill_null(False))
        .then(pl.lit("bad from_address (expected 0x and 40 hex digits)"))
        .when(pl.col("__to").is_null())
        .then(pl.lit("no to_address (contract creation without receipt_contract_address)"))
        .when(~pl.col("__to").str.contains(_ADDRESS))
        .then(pl.lit("bad to_address (expected 0x and 40 hex digits)"))
        .when(pl.col("__from") == pl.col("__to"))
        .then(pl.lit("self-transfer (from_address equals to_address)"))
    )
    reason = duplicate_reason(chain, "__hash", "hash")
    block = (
        pl.col("block_number").cast(pl.String).str.strip_chars().cast(pl.Int64, strict=False)
        if "block_number" in cols
        else pl.lit(None, pl.Int64)
    )
    select = [
        pl.col("__hash").alias("tx_id"),
        pl.col("__ts").alias("ts"),
        pl.coalesce(pl.col("__index"), pl.col(ROW)).alias("seq"),
        (pl.lit("eth:") + pl.col("__from")).alias("src"),
        (pl.lit("eth:") + pl.col("__to")).alias("dst"),
        pl.col("__amount").alias("amount"),
        pl.col("__raw").alias("amount_raw"),
        pl.lit("ETH").alias("asset"),
        pl.col("__amount").alias("value"),
        pl.lit(source, dtype=pl.String).alias("source"),
        pl.col(ROW).alias("source_row"),
        block.alias("block_number"),
        pl.col("__to_given").is_null().alias("contract_creation"),
    ]
    return finish_reasons(df, reason, source, original, select)


token_transfers = Reader(
    "ethereum-etl-token-transfers",
    _sniff_token_transfers,
    _read_token_transfers,
    batched=True,
    doc="ethereum-etl / BigQuery token_transfers (CSV or Parquet).",
)
transactions = Reader(
    "ethereum-etl-transactions",
    _sniff_transactions,
    _read_transactions,
    batched=True,
    doc="ethereum-etl / BigQuery transactions (CSV or Parquet).",
)
