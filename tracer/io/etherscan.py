"""Etherscan CSV exports of one address: normal transactions, internal transactions, ERC-20
token transfers. Three formats, each a ``Reader`` of its own (``txs``, ``internal``,
``tokens`` below, registered in ``tracer.io.READERS``).

Headers accepted (quoted as Etherscan writes them; a UTF-8 BOM is fine; other columns are
ignored, and columns marked optional may be missing):

- ``etherscan-txs``: ``Txhash`` or ``Transaction Hash``, ``UnixTimestamp``, ``From``, ``To``,
  ``Value_IN(ETH)``, ``Value_OUT(ETH)``; optional ``Blockno``, ``DateTime (UTC)`` or
  ``DateTime`` (used when ``UnixTimestamp`` is empty), ``ContractAddress`` (the recipient of a
  contract creation), ``TxnFee(ETH)`` (kept as ``fee``), ``Historical $Price/Eth`` (kept as
  ``eth_usd``), ``Status``, ``ErrCode``, ``Method``; ``CurrentValue @ $…/Eth`` and
  ``TxnFee(USD)`` are ignored. No ``ParentTxFrom`` column.
- ``etherscan-internal``: as above plus ``ParentTxFrom`` (and ``ParentTxTo``,
  ``ParentTxETH_Value``); the recipient is ``TxTo`` (older exports: ``To``); optional ``Type``
  (call, create, suicide) kept as ``internal_type``.
- ``etherscan-tokens`` (ERC-20): ``Txhash`` or ``Transaction Hash``, ``UnixTimestamp``,
  ``From``, ``To``, ``Value`` (old) or ``TokenValue`` (new), ``ContractAddress``,
  ``TokenSymbol``; optional ``Blockno``, ``DateTime``/``DateTime (UTC)``, ``TokenName``,
  ``USDValueDayOfTx`` (kept as ``usd_value_day_of_tx``). Exports with a ``TokenId`` column
  (ERC-721/1155, NFTs) are not this format.

Every transfer goes From → To; accounts ``eth:0x…`` lower case (an address or hash written
``\\x…``, as Dune exports bytes, is read as ``0x…``); time from ``UnixTimestamp``
(seconds). Amounts as written, thousands separators allowed (``1,234.5``). Normal and
internal: asset ETH, amount = ``Value_IN(ETH)`` or ``Value_OUT(ETH)``, whichever is non-zero;
tx_id the hash (normal) or ``<hash>:internal:<n>`` (internal), n counting that hash's rows in
the file from 0. Tokens: asset ``<TOKENSYMBOL>-ERC20`` (``ERC20:<contract>`` when the symbol is
empty, or when it claims a well-known token (``KNOWN_ERC20``: USDT, USDC, DAI, WETH) from
another contract: fake tokens of address-poisoning scams), tx_id ``<hash>:<n>``.

The export's own USD figures become ``usd_value`` (normal transactions: the amount times
``Historical $Price/Eth``; tokens: ``USDValueDayOfTx``, a leading ``$`` and thousands
separators allowed); ingest values a row with them when ``--prices`` gives no price for its
asset and day, and says so in the file's notes.

Rejected with the reason: failed transactions (``Status`` not empty and not ``0``, or an
``ErrCode``: "failed transaction (Error(0) Reverted)"); zero values: a normal transaction
moving no ether is a contract call (token transfers, approvals, swaps): its funds movement,
if any, is in the token or internal export; a zero internal or token transfer moves nothing
either (zero token transfers are typical of address poisoning); the fee is not a transfer
here (kept in ``fee``). Also bad numbers, bad addresses, self-transfers, repeated hashes.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tracer.io.base import Reader
from tracer.io.common import (
    MAX_AMOUNT,
    ROW,
    Head,
    ReadResult,
    duplicate_reason,
    finish_reasons,
    number_text,
    parse_timestamps,
    read_table,
    text_col,
)
from tracer.io.evm import ADDRESS, KNOWN_ERC20, evm_account, evm_hex
from tracer.schema import OWN_USD, require_columns

__all__ = ["txs", "internal", "tokens"]

HASH = ("Txhash", "Transaction Hash")
DATETIME = ("DateTime (UTC)", "DateTime")
ETH_IN, ETH_OUT = "Value_IN(ETH)", "Value_OUT(ETH)"
TOKEN_VALUE = ("TokenValue", "Value")
_ADDRESS = ADDRESS
_NUMBER = r"^(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"
_OK_STATUS = ("", "0", "success")
_KNOWN_SYMBOL = {s: a for a, (s, _) in KNOWN_ERC20.items()}
_LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z
_UNIX = pl.col("UnixTimestamp").cast(pl.String).str.strip_chars().cast(pl.Int64, strict=False)
# rows end with a separator the header lacks in some exports (internal transactions)
TABLE = {"trailing": True}


def _first(cols, names) -> str | None:
    return next((c for c in names if c in cols), None)


def _number(text: pl.Expr) -> pl.Expr:
    """A decimal written with optional thousands separators (grouping exactly three digits:
    ``1,234.5``; ``1,5`` and ``1.234,56`` are not numbers here), or null."""
    t = number_text(text)
    return pl.when(t.str.contains(_NUMBER)).then(t.cast(pl.Float64, strict=False))


def _usd(value: pl.Expr) -> pl.Expr:
    """The export's own USD value of a row (``OWN_USD``, used when no price is given): a
    positive number up to ``MAX_AMOUNT``, or null."""
    return (
        pl.when(value.is_finite() & (value > 0) & (value <= MAX_AMOUNT)).then(value).alias(OWN_USD)
    )


def _times(df: pl.DataFrame) -> pl.Series:
    """UnixTimestamp (seconds); where empty or bad, the DateTime column (UTC)."""
    cols = df.columns
    unix = df.select(text_col("UnixTimestamp", cols).cast(pl.Int64, strict=False)).to_series()
    unix = unix.set((unix < 0) | (unix > _LAST_SECOND), None)  # milliseconds, or nonsense
    ts = pl.from_epoch(unix, time_unit="s").dt.replace_time_zone("UTC")
    dt_col = _first(cols, DATETIME)
    if dt_col is not None and ts.null_count():
        ts = ts.fill_null(parse_timestamps(df.get_column(dt_col)))
    return ts


def _status(cols) -> tuple[pl.Expr, pl.Expr]:
    """(failed?, what the file says) from Status and ErrCode."""
    status, err = text_col("Status", cols), text_col("ErrCode", cols)
    failed = (~status.fill_null("").str.to_lowercase().is_in(_OK_STATUS)) | err.is_not_null()
    said = pl.concat_str([status, err], separator=" ", ignore_nulls=True)
    return failed, said


def _block(cols) -> pl.Expr:
    return text_col("Blockno", cols).cast(pl.Int64, strict=False)


def _canonical(tx_id: pl.Expr, seq: pl.Expr, asset: pl.Expr, source: str) -> list[pl.Expr]:
    return [
        tx_id.alias("tx_id"),
        pl.col("__ts").alias("ts"),
        seq.alias("seq"),
        (pl.lit("eth:") + pl.col("__from")).alias("src"),
        (pl.lit("eth:") + pl.col("__to")).alias("dst"),
        pl.col("__amount").alias("amount"),
        pl.col("__raw").alias("amount_raw"),
        asset.alias("asset"),
        pl.col("__amount").alias("value"),
        pl.lit(source, dtype=pl.String).alias("source"),
        pl.col(ROW).alias("source_row"),
    ]


def _common_reasons(hash_col: str):
    """The start of every reason chain: hash, status, time (a ``when`` chain to continue)."""
    return (
        pl.when(pl.col("__hash").is_null())
        .then(pl.lit(f"empty {hash_col}"))
        .when(pl.col("__failed"))
        .then(pl.lit("failed transaction (") + pl.col("__said") + pl.lit(")"))
        .when(pl.col("__ts").is_null() & (_UNIX > _LAST_SECOND * 1000).fill_null(False))
        .then(
            pl.lit("bad UnixTimestamp (past year 9999 even as milliseconds; expected unix seconds)")
        )
        .when(pl.col("__ts").is_null() & (_UNIX > _LAST_SECOND).fill_null(False))
        .then(
            pl.lit(
                "bad UnixTimestamp (past year 9999: looks like milliseconds; expected unix seconds)"
            )
        )
        .when(pl.col("__ts").is_null())
        .then(pl.lit("bad UnixTimestamp (expected unix seconds)"))
    )


def _address_reasons(chain, from_col: str, to_col: str):
    return (
        chain.when(~pl.col("__from").str.contains(_ADDRESS).fill_null(False))
        .then(pl.lit(f"bad {from_col} address (expected 0x and 40 hex digits)"))
        .when(~pl.col("__to").str.contains(_ADDRESS).fill_null(False))
        .then(pl.lit(f"bad {to_col} address (expected 0x and 40 hex digits)"))
        .when(pl.col("__from") == pl.col("__to"))
        .then(pl.lit(f"self-transfer ({from_col} equals {to_col})"))
    )


# --- normal and internal transactions ---------------------------------------------------------


def _sniff_eth(head: Head) -> bool:
    cols = head.columns
    return (
        _first(cols, HASH) is not None
        and "UnixTimestamp" in cols
        and "From" in cols
        and ETH_IN in cols
        and ETH_OUT in cols
    )


def _sniff_txs(path: Path, head: Head) -> bool:
    return _sniff_eth(head) and "To" in head.columns and "ParentTxFrom" not in head.columns


def _sniff_internal(path: Path, head: Head) -> bool:
    cols = head.columns
    return _sniff_eth(head) and "ParentTxFrom" in cols and ("TxTo" in cols or "To" in cols)


def _read_eth(path: Path, source: str, internal: bool, frame=None) -> ReadResult:
    df = read_table(path, **TABLE) if frame is None else frame
    original = [c for c in df.columns if c != ROW]
    cols = original
    hash_col = _first(cols, HASH) or HASH[0]
    to_col = (_first(cols, ("TxTo", "To")) or "TxTo") if internal else "To"
    require_columns(str(path), cols, (hash_col, "UnixTimestamp", "From", to_col, ETH_IN, ETH_OUT))
    failed, said = _status(cols)
    vin_text, vout_text = text_col(ETH_IN, cols), text_col(ETH_OUT, cols)
    df = df.with_columns(
        evm_hex(text_col(hash_col, cols)).alias("__hash"),
        _times(df).alias("__ts"),
        failed.alias("__failed"),
        said.alias("__said"),
        evm_account("From", cols).alias("__from"),
        pl.coalesce(evm_account(to_col, cols), evm_account("ContractAddress", cols)).alias("__to"),
        vin_text.alias("__in_raw"),
        vout_text.alias("__out_raw"),
        _number(vin_text.fill_null("0")).alias("__in"),
        _number(vout_text.fill_null("0")).alias("__out"),
    ).with_columns(
        pl.when(pl.col("__in") > 0)
        .then(pl.col("__in"))
        .otherwise(pl.col("__out"))
        .alias("__amount"),
        pl.when(pl.col("__in") > 0)
        .then(pl.col("__in_raw"))
        .otherwise(pl.col("__out_raw"))
        .alias("__raw"),
    )
    kind = "internal transfer" if internal else "transaction"
    chain = (
        _common_reasons(hash_col)
        .when(pl.col("__in").is_null())
        .then(pl.lit(f"non-numeric {ETH_IN} (") + pl.col("__in_raw") + pl.lit(")"))
        .when(pl.col("__out").is_null())
        .then(pl.lit(f"non-numeric {ETH_OUT} (") + pl.col("__out_raw") + pl.lit(")"))
        .when((pl.col("__in") > 0) & (pl.col("__out") > 0) & (pl.col("__in") != pl.col("__out")))
        .then(pl.lit(f"{ETH_IN} and {ETH_OUT} disagree (both set, different)"))
        .when(pl.col("__amount") == 0)
        .then(pl.lit(f"zero-value {kind} (no funds moved)"))
    )
    chain = _address_reasons(chain, "From", to_col)
    occurrence = pl.int_range(pl.len(), dtype=pl.Int64).over("__hash")
    if internal:
        df = df.with_columns(
            (pl.col("__hash") + pl.lit(":internal:") + occurrence.cast(pl.String)).alias("__tx_id")
        )
        extras = [
            _block(cols).alias("block_number"),
            evm_account("ParentTxFrom", cols).alias("parent_tx_from"),
            evm_account("ParentTxTo", cols).alias("parent_tx_to"),
            text_col("Type", cols).alias("internal_type"),
        ]
    else:
        df = df.with_columns(pl.col("__hash").alias("__tx_id"))
        eth_usd = _number(text_col("Historical $Price/Eth", cols))
        extras = [
            _block(cols).alias("block_number"),
            _number(text_col("TxnFee(ETH)", cols)).alias("fee"),
            eth_usd.alias("eth_usd"),
            text_col("Method", cols).alias("method"),
            _usd(pl.col("__amount") * eth_usd),
        ]
    reason = duplicate_reason(chain, "__tx_id", hash_col)
    select = _canonical(pl.col("__tx_id"), pl.col(ROW), pl.lit("ETH"), source) + extras
    return finish_reasons(df, reason, source, original, select)


def _read_txs(path: Path, source: str, options: dict, frame=None) -> ReadResult:
    return _read_eth(path, source, internal=False, frame=frame)


def _read_internal(path: Path, source: str, options: dict, frame=None) -> ReadResult:
    return _read_eth(path, source, internal=True, frame=frame)


# --- ERC-20 token transfers -------------------------------------------------------------------


def _sniff_tokens(path: Path, head: Head) -> bool:
    cols = head.columns
    return (
        _first(cols, HASH) is not None
        and "UnixTimestamp" in cols
        and "From" in cols
        and "To" in cols
        and _first(cols, TOKEN_VALUE) is not None
        and "ContractAddress" in cols
        and "TokenSymbol" in cols
        and "TokenId" not in cols
    )


def _read_tokens(path: Path, source: str, options: dict, frame=None) -> ReadResult:
    df = read_table(path, **TABLE) if frame is None else frame
    original = [c for c in df.columns if c != ROW]
    cols = original
    hash_col = _first(cols, HASH) or HASH[0]
    value_col = _first(cols, TOKEN_VALUE) or TOKEN_VALUE[0]
    require_columns(
        str(path),
        cols,
        (hash_col, "UnixTimestamp", "From", "To", value_col, "ContractAddress", "TokenSymbol"),
    )
    failed, said = _status(cols)  # token exports have no status; kept for safety
    contract = evm_account("ContractAddress", cols)
    symbol = text_col("TokenSymbol", cols).str.to_uppercase()
    fake = symbol.is_in(list(_KNOWN_SYMBOL)) & (
        contract != symbol.replace_strict(_KNOWN_SYMBOL, default=None, return_dtype=pl.String)
    )
    asset = (
        pl.when(symbol.is_null() | fake.fill_null(False))
        .then(pl.lit("ERC20:") + contract)
        .otherwise(symbol + pl.lit("-ERC20"))
    )
    df = df.with_columns(
        evm_hex(text_col(hash_col, cols)).alias("__hash"),
        _times(df).alias("__ts"),
        failed.alias("__failed"),
        said.alias("__said"),
        evm_account("From", cols).alias("__from"),
        evm_account("To", cols).alias("__to"),
        text_col(value_col, cols).alias("__raw"),
        contract.alias("__contract"),
        asset.alias("__asset"),
    ).with_columns(
        _number(pl.col("__raw")).alias("__amount"),
        (
            pl.col("__hash")
            + pl.lit(":")
            + pl.int_range(pl.len(), dtype=pl.Int64).over("__hash").cast(pl.String)
        ).alias("__tx_id"),
    )
    chain = (
        _common_reasons(hash_col)
        .when(pl.col("__raw").is_null())
        .then(pl.lit(f"empty {value_col}"))
        .when(pl.col("__amount").is_null())
        .then(pl.lit(f"non-numeric {value_col} (") + pl.col("__raw") + pl.lit(")"))
        .when(pl.col("__amount") == 0)
        .then(pl.lit("zero-value token transfer (no funds moved)"))
        .when(~pl.col("__contract").str.contains(_ADDRESS).fill_null(False))
        .then(pl.lit("bad ContractAddress (expected 0x and 40 hex digits)"))
    )
    reason = _address_reasons(chain, "From", "To").otherwise(pl.lit(None, pl.String))
    extras = [
        _block(cols).alias("block_number"),
        pl.col("__contract").alias("token_contract"),
        text_col("TokenName", cols).alias("token_name"),
        text_col("TokenSymbol", cols).alias("token_symbol"),
        text_col("USDValueDayOfTx", cols).alias("usd_value_day_of_tx"),
        _usd(_number(text_col("USDValueDayOfTx", cols).str.strip_prefix("$"))),
    ]
    select = _canonical(pl.col("__tx_id"), pl.col(ROW), pl.col("__asset"), source) + extras
    return finish_reasons(df, reason, source, original, select)


txs = Reader(
    "etherscan-txs",
    _sniff_txs,
    _read_txs,
    batched=True,
    table=TABLE,
    doc="Etherscan normal transactions export (CSV).",
)
internal = Reader(
    "etherscan-internal",
    _sniff_internal,
    _read_internal,
    batched=True,
    table=TABLE,
    doc="Etherscan internal transactions export (CSV).",
)
tokens = Reader(
    "etherscan-tokens",
    _sniff_tokens,
    _read_tokens,
    batched=True,
    table=TABLE,
    doc="Etherscan ERC-20 token transfers export (CSV).",
)
