"""EVM (Ethereum) helpers shared by the chain readers: addresses and hashes, exact scaling of
integer token amounts, the well-known ERC-20 contracts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import polars as pl

from tracer.io.common import text_col

__all__ = [
    "KNOWN_ERC20",
    "ETH_DECIMALS",
    "ADDRESS",
    "evm_hex",
    "evm_account",
    "integer_text",
    "scaled",
    "scaled_by",
]

# well-known ERC-20 contracts (lower case): symbol, decimals
KNOWN_ERC20: dict[str, tuple[str, int]] = {
    "0xdac17f958d2ee523a2206206994597c13d831ec7": ("USDT", 6),
    "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48": ("USDC", 6),
    "0x6b175474e89094c44da98b954eedeac495271d0f": ("DAI", 18),
    "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2": ("WETH", 18),
}
ETH_DECIMALS = 18
# an address as ``evm_hex`` writes it
ADDRESS = r"^0x[0-9a-f]{40}$"


def evm_hex(expr: pl.Expr) -> pl.Expr:
    """An EVM address or hash as text, lower case, with Dune's ``\\x…`` spelling of bytes
    (``\\xdac17f…`` in Dune query exports) written ``0x…``."""
    return (
        expr.cast(pl.String)
        .str.strip_chars()
        .str.to_lowercase()
        .str.replace(r"^\\x([0-9a-f]+)$", "0x${1}")
    )


def evm_account(col: str | None, cols: Sequence[str]) -> pl.Expr:
    """Column ``col`` as an address (``evm_hex``), null where empty or missing."""
    return evm_hex(text_col(col, cols))


# --- exact integer scaling, shared with the other chain readers --------------------------------


def integer_text(expr: pl.Expr) -> pl.Expr:
    """The digits of a non-negative integer written as text (a zero fraction such as BigQuery
    NUMERIC's ``.000000000`` is dropped); null when the text is not such an integer."""
    t = expr.cast(pl.String).str.strip_chars().str.replace(r"\.0*$", "")
    return pl.when(t.str.contains(r"^\d+$")).then(t).otherwise(None)


def scaled(digits: pl.Expr, decimals: int) -> pl.Expr:
    """``digits / 10**decimals`` as the nearest float64, computed on the text (exact)."""
    if decimals == 0:
        return digits.cast(pl.Float64)
    padded = digits.str.pad_start(decimals + 1, "0")
    return (padded.str.head(-decimals) + pl.lit(".") + padded.str.tail(decimals)).cast(pl.Float64)


def scaled_by(digits: pl.Expr, decimals: pl.Expr, present: Iterable[int]) -> pl.Expr:
    """Like ``scaled`` with per-row decimals (``present``: the values that occur)."""
    out = pl.lit(None, pl.Float64)
    for d in sorted(set(present), reverse=True):
        out = pl.when(decimals == d).then(scaled(digits, d)).otherwise(out)
    return out
