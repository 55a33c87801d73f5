"""The chain files of a generated world, as lines: Tronscan's TRC-20 transfers
(``tron_line``), ethereum-etl's transactions and token transfers (``eth_line``,
``erc20_line``) and BigQuery's Bitcoin inputs and outputs (``bitcoin_line``), with the
block numbers, hashes and fixed columns those dumps carry."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tracer.simulate.frames import BTC_RES, START_US
from tracer.simulate.text import Line

if TYPE_CHECKING:
    from tracer.simulate.writers import _Tables

__all__ = ["tron_line", "eth_line", "erc20_line", "bitcoin_line"]

_USDT_TRC20 = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
_USDT_ERC20 = "0xdac17f958d2ee523a2206206994597c13d831ec7"
_ETH_BLOCK0, _BTC_BLOCK0 = 21_525_000, 877_000


def _group_rank(keys: np.ndarray) -> np.ndarray:
    """Position of each row among the rows before it with the same key (keys sorted)."""
    n = keys.shape[0]
    if n == 0:
        return np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, n]))
    return np.arange(n) - first


def tron_line(tb: _Tables, salt: int, t: dict) -> Line:
    return (
        Line(tb.pool, t["uid"].shape[0], guess=200)
        .hash(t["uid"], salt)
        .lit(",")
        .int(t["ts"] // 1000)
        .lit(",")
        .text(t["src"])
        .lit(",")
        .text(t["dst"])
        .lit(",")
        .int(t["minor"])
        .lit(f",6,USDT,{_USDT_TRC20},SUCCESS")
    )


def _when(tb: _Tables, line: Line, t: dict) -> Line:
    """BigQuery's block_timestamp (``2025-01-01 00:00:00 UTC``)."""
    return line.text(t["day"], base=tb.utc_day).text(t["second"], base=tb.utc_second)


def eth_line(tb: _Tables, salt: int, t: dict) -> Line:
    ts = t["ts"]
    line = (
        Line(tb.pool, ts.shape[0], guess=280)
        .lit("0x")
        .hash(t["uid"], salt)
        .lit(",")
        .int(t["order"] % 5000)
        .lit(",")
        .int(_ETH_BLOCK0 + (ts - START_US) // 12_000_000)
        .lit(",")
        .int(_group_rank(ts))  # transaction_index: within a block
        .lit(",")
        .text(t["src"])
        .lit(",")
        .text(t["dst"])
        .lit(",")
        .int(t["minor"])
        .lit("000000000,21000,12000000000,0x,")
    )
    return _when(tb, line, t).lit(",1")


def erc20_line(tb: _Tables, salt: int, t: dict) -> Line:
    line = (
        Line(tb.pool, t["ts"].shape[0], guess=260)
        .lit(_USDT_ERC20 + ",")
        .text(t["src"])
        .lit(",")
        .text(t["dst"])
        .lit(",")
        .int(t["minor"])
        .lit(",0x")
        .hash(t["uid"], salt)
        .lit(",0,")
        .int(_ETH_BLOCK0 + (t["ts"] - START_US) // 12_000_000)
        .lit(",")
    )
    return _when(tb, line, t)


def bitcoin_line(tb: _Tables, salt: int, b: dict, inputs: bool) -> Line:
    """Inputs' or outputs' lines of Bitcoin legs (``b`` gains their day and second)."""
    b["day"] = tb.day(b["ts"])
    b["second"] = tb.clock(b["ts"], 1)
    line = (
        Line(tb.pool, b["ts"].shape[0], guess=250 if inputs else 180)
        .hash(b["tx"], salt)
        .lit(",")
        .int(_BTC_BLOCK0 + (b["ts"] - START_US) // BTC_RES)
        .lit(",")
    )
    _when(tb, line, b).lit(",").int(b["index"])
    if inputs:
        line.lit(",").hash(b["spent_tx"], salt).lit(",").int(b["spent_index"])
    return line.lit(",witness_v0_keyhash,").text(b["addr"]).lit(",").int(b["sat"])
