"""Bitcoin rows across files: the order of transactions within a block, the monotonic block
time, and the fee of each transaction (``post``, the step after every ingest of the Bitcoin
readers). See ``tracer.io.bitcoin`` for the model."""

from __future__ import annotations

import numpy as np
import polars as pl

from tracer.io.evm import scaled
from tracer.schema import REJECTS

__all__ = ["block_order", "post", "FEE_SOURCE"]

_LEG_CODE = {"in": 0, "out": 1, "fee": 2}
_INDEX_BITS = 20
_SLOT_SHIFT = 22
FEE_SOURCE = "(fee)"


# --- order within a block, and the fee --------------------------------------------------------


def _depths(n: int, parent: np.ndarray, child: np.ndarray) -> np.ndarray:
    """Longest path from a root to each of ``n`` nodes of a DAG given by its edges (Kahn's
    algorithm level by level: O(nodes + edges)). Nodes on a cycle (impossible in valid data)
    keep the depth reached before it."""
    depth = np.zeros(n, dtype=np.int64)
    indeg = np.bincount(child, minlength=n)
    order = np.argsort(parent, kind="stable")
    targets = child[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(parent, minlength=n), out=indptr[1:])
    frontier = np.flatnonzero(indeg == 0)
    level = 0
    while frontier.size:
        starts, counts = indptr[frontier], indptr[frontier + 1] - indptr[frontier]
        total = int(counts.sum())
        if total == 0:
            break
        offsets = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(total)
        reached = targets[offsets]
        level += 1
        depth[reached] = level  # the last level to reach a node is its longest path
        np.subtract.at(indeg, reached, 1)
        frontier = np.unique(reached[indeg[reached] == 0])
    return depth


def block_order(df: pl.DataFrame) -> pl.DataFrame:
    """``ts`` (monotonic block time) and ``seq`` (block slot, leg, index) of Bitcoin rows, from
    ``btc_*`` columns (see the module docstring)."""
    if df.height == 0:
        return df
    blocks = (
        df.filter(pl.col("btc_block").is_not_null())
        .group_by("btc_block")
        .agg(pl.col("btc_block_time").max().alias("__bt"))
        .sort("btc_block")
        .select("btc_block", pl.col("__bt").cum_max().alias("__mt"))
    )
    df = (
        df.join(blocks, on="btc_block", how="left", maintain_order="left")
        .with_columns(pl.coalesce("__mt", "btc_block_time").alias("ts"))
        .drop("__mt")
        .with_columns(pl.col("btc_block").fill_null(-1).alias("__bk"))
    )
    txs = df.group_by("btc_tx").agg(pl.col("ts").min().alias("__ts"), pl.col("__bk").min())
    links = pl.concat(
        [
            df.filter((pl.col("btc_leg") == "in") & pl.col("btc_spent_tx").is_not_null()).select(
                pl.col("btc_spent_tx").alias("parent"), pl.col("btc_tx").alias("child")
            ),
            df.filter(
                (pl.col("btc_leg") == "out") & pl.col("btc_spending_tx").is_not_null()
            ).select(pl.col("btc_tx").alias("parent"), pl.col("btc_spending_tx").alias("child")),
        ]
    ).unique()
    links = (
        links.filter(pl.col("parent") != pl.col("child"))
        .join(txs, left_on="parent", right_on="btc_tx")
        .join(txs, left_on="child", right_on="btc_tx", suffix="_c")
        .filter((pl.col("__ts") == pl.col("__ts_c")) & (pl.col("__bk") == pl.col("__bk_c")))
        .select("parent", "child")
    )
    depth = txs.select("btc_tx", pl.lit(0, pl.Int64).alias("__d"))
    if links.height:
        nodes = (
            pl.concat([links.get_column("parent"), links.get_column("child")])
            .unique()
            .sort()
            .alias("btc_tx")
            .to_frame()
            .with_row_index("__i")
        )
        ids = links.join(nodes, left_on="parent", right_on="btc_tx", maintain_order="left").join(
            nodes, left_on="child", right_on="btc_tx", suffix="_c", maintain_order="left"
        )
        d = _depths(
            nodes.height,
            ids.get_column("__i").to_numpy().astype(np.int64),
            ids.get_column("__i_c").to_numpy().astype(np.int64),
        )
        d = nodes.select("btc_tx", pl.Series("__d", d))
        depth = depth.join(d, on="btc_tx", how="left", suffix="_l", maintain_order="left").select(
            "btc_tx", pl.coalesce("__d_l", "__d").alias("__d")
        )
    slots = (
        txs.join(depth, on="btc_tx", maintain_order="left")
        .sort("__ts", "__bk", "__d", "btc_tx")
        .select("btc_tx", pl.int_range(pl.len(), dtype=pl.Int64).over("__ts").alias("__slot"))
    )
    leg = pl.col("btc_leg").replace_strict(_LEG_CODE, default=2, return_dtype=pl.Int64)
    index = pl.col("btc_index").fill_null(0).clip(0, (1 << _INDEX_BITS) - 1)
    return (
        df.join(slots, on="btc_tx", how="left", maintain_order="left")
        .with_columns(
            (pl.col("__slot") * (1 << _SLOT_SHIFT) + leg * (1 << _INDEX_BITS) + index).alias("seq")
        )
        .drop("__slot", "__bk")
    )


def _fees(btc: pl.DataFrame) -> pl.DataFrame:
    """Fee transfers of the transactions whose inputs and outputs are all loaded."""
    legs = btc.filter(pl.col("btc_leg").is_in(["in", "out"]))
    if legs.height == 0:
        return btc.clear()
    zero = (
        legs.filter(pl.col("btc_zero_legs").is_not_null())
        .select("btc_tx", "btc_leg", pl.col("btc_zero_legs").str.split(",").alias("btc_index"))
        .explode("btc_index")
        .with_columns(pl.col("btc_index").cast(pl.Int64))
    )
    indexes = pl.concat([legs.select("btc_tx", "btc_leg", "btc_index"), zero]).unique()
    complete = (
        indexes.group_by("btc_tx", "btc_leg")
        .agg(
            ((pl.col("btc_index").min() == 0) & (pl.col("btc_index").max() + 1 == pl.len())).alias(
                "ok"
            )
        )
        .group_by("btc_tx")
        .agg((pl.col("ok").all() & (pl.len() == 2)).alias("ok"))
        .filter(pl.col("ok"))
        .select("btc_tx")
    )
    is_in = pl.col("btc_leg") == "in"
    per = (
        legs.join(complete, on="btc_tx", how="semi")
        .sort("btc_tx", "btc_leg", "btc_index")
        .group_by("btc_tx")
        .agg(
            (
                pl.col("btc_satoshi").filter(is_in).sum()
                - pl.col("btc_satoshi").filter(~is_in).sum()
            ).alias("__fee"),
            pl.col("ts").filter(is_in).first().alias("ts"),
            pl.col("btc_block").filter(is_in).first().alias("btc_block"),
            pl.col("btc_block_time").filter(is_in).first().alias("btc_block_time"),
            (pl.col("value").filter(is_in).sum() / pl.col("amount").filter(is_in).sum()).alias(
                "__rate"
            ),
            pl.col("value").filter(is_in).is_null().any().alias("__unvalued"),
            pl.col("asset").filter(is_in).first().alias("asset"),
        )
        .filter(pl.col("__fee") > 0)
    )
    amount = scaled(pl.col("__fee").cast(pl.String), 8)
    fees = per.select(
        (pl.col("btc_tx") + pl.lit(":fee")).alias("tx_id"),
        "ts",
        pl.lit(0, pl.Int64).alias("seq"),
        (pl.lit("btctx:") + pl.col("btc_tx")).alias("src"),
        pl.lit("fee").alias("dst"),
        amount.alias("amount"),
        pl.col("__fee").cast(pl.String).alias("amount_raw"),
        "asset",
        pl.when(pl.col("__unvalued"))
        .then(None)
        .otherwise(amount * pl.col("__rate"))
        .alias("value"),
        pl.lit(FEE_SOURCE).alias("source"),
        pl.lit(0, pl.Int64).alias("source_row"),
        "btc_tx",
        pl.lit("fee").alias("btc_leg"),
        pl.lit(0, pl.Int64).alias("btc_index"),
        "btc_block",
        "btc_block_time",
        pl.col("__fee").alias("btc_satoshi"),
    )
    return fees


def post(transfers: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Fees and block order over all Bitcoin rows of the workspace (idempotent: earlier fee
    rows are dropped and recomputed; the order is recomputed from the ``btc_*`` columns)."""
    no_rejects = pl.DataFrame(schema=REJECTS)
    if "btc_leg" not in transfers.columns:
        return transfers, no_rejects
    is_btc = pl.col("btc_leg").is_not_null()
    old_fee = (pl.col("source") == FEE_SOURCE) & pl.col("tx_id").str.ends_with(":fee")
    btc = transfers.filter(is_btc & ~old_fee)
    rest = transfers.filter(~is_btc)
    if btc.height == 0:
        return rest, no_rejects
    fees = _fees(btc)
    btc = pl.concat([btc, fees], how="diagonal_relaxed") if fees.height else btc
    btc = block_order(btc)
    out = pl.concat([rest, btc.select(transfers.columns)], how="vertical_relaxed")
    return out.cast(dict(transfers.schema)), no_rejects
