"""The generator's own tables, before any file format: plain transfers and Bitcoin legs.

- transfers: ``uid, ts, chain, src, dst, minor, asset``: ``ts`` in µs since 1970 (already at
  the resolution of its format: minutes for banks, blocks for chains), ``src``/``dst``
  registry indexes, ``minor`` the amount in whole minor units of ``asset`` (index into
  ``ASSETS``), ``chain`` one of ``BANK, TRON, ETH, ERC20``.
- btc inputs: ``tx, ts, index, addr, sat, spent_tx, spent_index``; btc outputs: ``tx, ts,
  index, addr, sat``. ``tx`` is the transaction's uid (its hash is a function of it); an input
  spends output ``spent_index`` of transaction ``spent_tx`` (an uid that may not be in the
  world: the coins came from before it).

uids: scam rows below ``BACKGROUND_UID``; background rows from it; outpoints from before the
world from ``UNSEEN_UID``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from tracer.simulate.params import ASSETS, START

__all__ = [
    "BANK",
    "TRON",
    "ETH",
    "ERC20",
    "CHAINS",
    "T_SCHEMA",
    "IN_SCHEMA",
    "OUT_SCHEMA",
    "START_US",
    "BACKGROUND_UID",
    "UNSEEN_UID",
    "Chunk",
    "asset_code",
    "resolution",
    "round_up",
    "transfers",
]

BANK, TRON, ETH, ERC20 = 0, 1, 2, 3
CHAINS = ("bank", "tron", "eth", "erc20")
START_US = int(START.timestamp()) * 1_000_000
BACKGROUND_UID = 1 << 40
UNSEEN_UID = 1 << 62

T_SCHEMA = {
    "uid": pl.Int64,
    "ts": pl.Int64,
    "chain": pl.Int8,
    "src": pl.Int64,
    "dst": pl.Int64,
    "minor": pl.Int64,
    "asset": pl.Int8,
}
IN_SCHEMA = {
    "tx": pl.Int64,
    "ts": pl.Int64,
    "index": pl.Int32,
    "addr": pl.Int64,
    "sat": pl.Int64,
    "spent_tx": pl.Int64,
    "spent_index": pl.Int32,
}
OUT_SCHEMA = {"tx": pl.Int64, "ts": pl.Int64, "index": pl.Int32, "addr": pl.Int64, "sat": pl.Int64}

# time resolution of each format, in µs: AMLworld writes minutes; Tron blocks are 3 s,
# Ethereum slots 12 s, Bitcoin blocks are taken as every 10 minutes exactly
_RES = {BANK: 60_000_000, TRON: 3_000_000, ETH: 12_000_000, ERC20: 12_000_000}
BTC_RES = 600_000_000


def asset_code(name: str) -> int:
    return ASSETS.index(name)


def resolution(chain: int) -> int:
    return _RES[chain]


def round_up(ts: np.ndarray | int, res: int):
    """The first tick of resolution ``res`` at or after ``ts`` (ticks counted from START)."""
    rel = np.asarray(ts, np.int64) - START_US
    out = START_US + -(-rel // res) * res
    return int(out) if np.ndim(out) == 0 else out


class Chunk:
    """Transfers and Bitcoin legs of one slice of time (any order)."""

    def __init__(
        self,
        transfers: pl.DataFrame | None = None,
        btc_in: pl.DataFrame | None = None,
        btc_out: pl.DataFrame | None = None,
    ) -> None:
        self.transfers = transfers if transfers is not None else pl.DataFrame(schema=T_SCHEMA)
        self.btc_in = btc_in if btc_in is not None else pl.DataFrame(schema=IN_SCHEMA)
        self.btc_out = btc_out if btc_out is not None else pl.DataFrame(schema=OUT_SCHEMA)

    @staticmethod
    def concat(chunks: list[Chunk]) -> Chunk:
        return Chunk(
            pl.concat([c.transfers for c in chunks]),
            pl.concat([c.btc_in for c in chunks]),
            pl.concat([c.btc_out for c in chunks]),
        )

    def split(self, ts: int) -> tuple[Chunk, Chunk]:
        """(rows before ``ts``, rows at or after it)."""
        t, i, o = self.transfers, self.btc_in, self.btc_out
        return (
            Chunk(
                t.filter(pl.col("ts") < ts),
                i.filter(pl.col("ts") < ts),
                o.filter(pl.col("ts") < ts),
            ),
            Chunk(
                t.filter(pl.col("ts") >= ts),
                i.filter(pl.col("ts") >= ts),
                o.filter(pl.col("ts") >= ts),
            ),
        )

    def rows(self) -> int:
        """Canonical transfers this chunk makes: one per transfer and per Bitcoin leg, plus a
        fee per Bitcoin transaction whose inputs exceed its outputs."""
        fees = 0
        if self.btc_in.height:
            paid = (
                self.btc_in.group_by("tx")
                .agg(pl.col("sat").sum())
                .join(
                    self.btc_out.group_by("tx").agg(pl.col("sat").sum().alias("out")),
                    on="tx",
                    how="left",
                )
            )
            fees = paid.filter(pl.col("sat") > pl.col("out").fill_null(0)).height
        return self.transfers.height + self.btc_in.height + self.btc_out.height + fees


def transfers(uid, ts, chain, src, dst, minor, asset) -> pl.DataFrame:
    n = np.shape(uid)[0]

    def col(x, dtype):
        return np.broadcast_to(np.asarray(x, dtype), (n,))

    return pl.DataFrame(
        {
            "uid": col(uid, np.int64),
            "ts": col(ts, np.int64),
            "chain": col(chain, np.int8),
            "src": col(src, np.int64),
            "dst": col(dst, np.int64),
            "minor": col(minor, np.int64),
            "asset": col(asset, np.int8),
        },
        schema=T_SCHEMA,
    )
