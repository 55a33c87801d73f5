"""The canonical ``transfers.csv`` of a generated world, a chunk at a time: plain transfers,
and Bitcoin as legs into ``btctx:<hash>``, out of it, and the fee to ``fee``, with the same
ids and accounts that ingest makes of the native files."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from tracer.simulate.frames import BANK, ERC20, ETH, TRON
from tracer.simulate.order import sort_rows
from tracer.simulate.text import Line
from tracer.simulate.vocab import AMLWORLD_FILE, BTC_ASSET, DIGITS

if TYPE_CHECKING:
    from tracer.simulate.writers import Writer

__all__ = ["canonical_line", "fees"]


def canonical_line(
    writer: Writer, t: dict, btc_in: pl.DataFrame, btc_out: pl.DataFrame, scam_limit: int
) -> Line:
    """One ``transfers.csv``: plain transfers, and Bitcoin as legs into ``btctx:<hash>``,
    out of it, and the fee to ``fee`` (what the inputs leave over the outputs, when
    positive), all in (time, order, leg) order: one sort of them all."""
    tb = writer.tables
    ins, outs = (
        {c: legs.get_column(c).to_numpy().astype(np.int64, copy=False) for c in legs.columns}
        for legs in (btc_in, btc_out)
    )
    for b in (ins, outs):
        b["order"] = writer.ids.order(b["tx"])
    fee = fees(ins, outs)
    n_p, n_i, n_o, n_f = (
        t["uid"].shape[0],
        ins["tx"].shape[0],
        outs["tx"].shape[0],
        fee["tx"].shape[0],
    )
    none = np.zeros(0, np.int64)

    def cat(plain, i, o, f):
        return np.concatenate([plain, i, o, f])

    kind = np.repeat(np.arange(4), [n_p, n_i, n_o, n_f])
    ts = cat(t["ts"], ins["ts"], outs["ts"], fee["ts"])
    key = cat(t["order"], ins["order"], outs["order"], fee["order"])
    index = cat(np.zeros(n_p, np.int64), ins["index"], outs["index"], np.zeros(n_f, np.int64))
    hv = cat(t["uid"], ins["tx"], outs["tx"], fee["tx"])
    sub = index + np.repeat(np.array([0, 0, 1 << 20, 1 << 21]), [n_p, n_i, n_o, n_f])
    perm = sort_rows(ts, key, sub, hv)
    chain = cat(t["chain"], np.full(n_i + n_o + n_f, -1), none, none)
    src = cat(t["src"], ins["addr"], np.zeros(n_o + n_f, np.int64), none)
    dst = cat(t["dst"], np.zeros(n_i, np.int64), outs["addr"], np.zeros(n_f, np.int64))
    amount = cat(t["minor"], ins["sat"], outs["sat"], fee["sat"])
    asset = cat(t["asset"], np.full(n_i + n_o + n_f, BTC_ASSET), none, none)
    kind, ts, key, index, hv, chain, src, dst, amount, asset = (
        v[perm] for v in (kind, ts, key, index, hv, chain, src, dst, amount, asset)
    )
    plain = kind == 0
    bank = chain == BANK
    debit = tb.at_camt[src]
    camt = bank & (debit | tb.at_camt[dst])
    own = np.where(debit, src, dst)
    is_aml = bank & ~camt
    aml = np.zeros(perm.shape[0], np.int64)
    aml[is_aml] = writer.number_aml(hv, np.flatnonzero(is_aml), scam_limit)
    tron, erc20 = chain == TRON, chain == ERC20
    evm = (chain == ETH) | erc20
    leg = ~plain
    is_in, is_out, is_fee = kind == 1, kind == 2, kind == 3
    node_src, node_dst = is_out | is_fee, is_in
    salt = writer.ids.salt
    line = (
        Line(tb.pool, perm.shape[0], guess=200)
        .hash(hv, salt["tron"], when=tron)
        .lit(":0", when=tron)
        .lit("0x", when=evm)
        .hash(hv, salt["eth"], when=evm)
        .lit(":0", when=erc20)
        .text(own, when=camt)
        .lit(":E", when=camt)
        .pad(key % 10**15, 15, when=camt)
        .lit(AMLWORLD_FILE + ":", when=is_aml)
        .int(aml, when=is_aml)
        .hash(hv, salt["btc"], when=leg)
        .lit(":in:", when=is_in)
        .lit(":out:", when=is_out)
        .int(index, when=is_in | is_out)
        .lit(":fee", when=is_fee)
        .lit(",")
        .text(tb.day(ts), base=tb.iso_day)
        .text(tb.clock(ts, 1), base=tb.iso_second)
        .lit(",")
        .text(src, when=plain | is_in)
        .lit("btctx:", when=node_src)
        .hash(hv, salt["btc"], when=node_src)
        .lit(",")
        .text(dst, when=plain | is_out)
        .lit("btctx:", when=node_dst)
        .hash(hv, salt["btc"], when=node_dst)
        .lit("fee", when=is_fee)
        .lit(",")
        .dec(amount, DIGITS[asset])
        .lit(",")
        .text(asset, base=tb.asset)
    )
    return line


def fees(ins: dict, outs: dict) -> dict[str, np.ndarray]:
    """Transactions whose inputs exceed their outputs: tx, sat (the fee), ts, order."""
    names = ("tx", "sat", "ts", "order")
    if ins["tx"].shape[0] == 0 or outs["tx"].shape[0] == 0:
        return {c: np.zeros(0, np.int64) for c in names}

    def sums(b):
        return (
            pl.DataFrame({c: b[c] for c in names})
            .group_by("tx")
            .agg(pl.col("sat").sum(), pl.col("ts").first(), pl.col("order").first())
        )

    f = (
        sums(ins)
        .join(sums(outs).select("tx", pl.col("sat").alias("out")), on="tx")
        .with_columns(pl.col("sat") - pl.col("out"))
        .filter(pl.col("sat") > 0)
    )
    return {c: f.get_column(c).to_numpy() for c in names}
