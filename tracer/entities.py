"""Entities: accounts held by one owner, from the ``entity`` column of labels and account files,
and from the Bitcoin multi-input heuristic (the addresses spent together in one transaction
belong to one wallet), never through a transaction that looks like a CoinJoin.

Every merge is kept as a link (account_a, account_b, reason, evidence) so that
``tracer entity ACCOUNT`` can say why two accounts are one entity.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from tracer.kernels.unionfind import components

__all__ = ["LINKS", "entity_links", "assign_entities", "entity_label", "STOP_PRIORITY"]

LINKS = {"account_a": pl.String, "account_b": pl.String, "reason": pl.String, "evidence": pl.String}

# when members of one entity carry different labels, the first of these wins
STOP_PRIORITY = ("exchange", "otc", "bridge", "mixer", "sanctioned", "gambling", "merchant")


def _coinjoin_like(outputs: pl.DataFrame) -> pl.DataFrame:
    """btctx nodes whose outputs look like a CoinJoin: two or more outputs of the same value
    making up the most common output value (equal-value mixing outputs)."""
    return (
        outputs.group_by("src", "value")
        .len()
        .group_by("src")
        .agg(pl.col("len").max().alias("same"))
        .filter(pl.col("same") >= 2)
        .select(pl.col("src").alias("tx"))
    )


def entity_links(transfers: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    """Pairs of accounts to merge, with the reason."""
    parts = []
    named = labels.filter(pl.col("entity").is_not_null()).select("account", "entity", "source")
    if named.height:
        first = named.group_by("entity").agg(pl.col("account").min().alias("account_a"))
        parts.append(
            named.join(first, on="entity")
            .filter(pl.col("account") != pl.col("account_a"))
            .select(
                pl.col("account_a"),
                pl.col("account").alias("account_b"),
                pl.lit("same entity").alias("reason"),
                (pl.col("entity") + pl.lit(" (") + pl.col("source") + pl.lit(")")).alias(
                    "evidence"
                ),
            )
        )
    tx = transfers.select("src", "dst", "value")
    inputs = tx.filter(
        pl.col("dst").str.starts_with("btctx:")
        & pl.col("src").str.starts_with("btc:")
        & (pl.col("src") != "btc:coinbase")
    )
    if inputs.height:
        outputs = tx.filter(pl.col("src").str.starts_with("btctx:") & (pl.col("dst") != "fee"))
        mixed = _coinjoin_like(outputs)
        spent = (
            inputs.select(pl.col("dst").alias("tx"), pl.col("src").alias("account"))
            .unique()
            .join(mixed, on="tx", how="anti")
        )
        first = spent.group_by("tx").agg(
            pl.col("account").min().alias("account_a"), pl.len().alias("n")
        )
        parts.append(
            spent.join(first.filter(pl.col("n") >= 2), on="tx")
            .filter(pl.col("account") != pl.col("account_a"))
            .select(
                pl.col("account_a"),
                pl.col("account").alias("account_b"),
                pl.lit("spent together (multi-input)").alias("reason"),
                pl.col("tx").alias("evidence"),
            )
        )
    if not parts:
        return pl.DataFrame(schema=LINKS)
    return pl.concat(parts).sort(["account_a", "account_b", "evidence"])


def assign_entities(accounts: pl.DataFrame, links: pl.DataFrame) -> pl.Series:
    """Entity of every account (``accounts`` sorted, one row each): the smallest explicit entity
    name in its component, else its smallest account id."""
    if links.height == 0:  # every account is its own component
        return accounts.select(pl.coalesce("entity", "account")).to_series().alias("entity")
    n = accounts.height
    index = accounts.select("account").with_row_index("i")
    pairs = links.join(index, left_on="account_a", right_on="account").join(
        index, left_on="account_b", right_on="account", suffix="_b"
    )
    root = components(
        n,
        pairs.get_column("i").to_numpy().astype(np.int64),
        pairs.get_column("i_b").to_numpy().astype(np.int64),
    )
    frame = accounts.select("account", "entity").with_columns(pl.Series("root", root))
    names = frame.group_by("root").agg(
        pl.col("entity").drop_nulls().min().alias("named"),
        pl.col("account").min().alias("first"),
        pl.len().alias("size"),
    )
    out = frame.join(names, on="root", how="left", maintain_order="left").select(
        pl.when(pl.col("named").is_not_null())
        .then(pl.col("named"))
        .when(pl.col("size") > 1)
        .then(pl.lit("cluster:") + pl.col("first"))
        .otherwise(pl.col("account"))
    )
    return out.to_series().alias("entity")


def entity_label(labels: pl.Series) -> str | None:
    present = [x for x in labels.drop_nulls().to_list()]
    for name in STOP_PRIORITY:
        if name in present:
            return name
    return min(present) if present else None
