"""Build the graph arrays from the canonical tables."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from tracer.entities import entity_label
from tracer.graph.csr import Graph
from tracer.kernels.csr import csr_by
from tracer.kernels.intern import grow, intern_keys, new_table

__all__ = ["build_graph", "entity_graph", "Interner"]


class Interner:
    """Account ids interned as transfers come, block by block: dense int32 ids in the sorted
    (bytewise) order of every distinct account of src, dst and ``finish``'s extra accounts.
    Each account string is keyed by two
    independent 64-bit hashes (polars, multithreaded) in a numba hash table kept across blocks
    (``tracer.kernels.intern``, doubled whenever it is half full),
    so a block costs one pass over its strings, whatever was seen before; ids are handed out in
    first-seen order, then renumbered to the sorted order of the accounts by ``finish``. Two
    different accounts would share an id only if both 64-bit hashes collided (about 2^-128 per
    pair)."""

    def __init__(self, expected: int = 0) -> None:
        self._table = new_table(1 << 16)
        self._known: list[pl.Series] = []  # account strings, in first-seen order
        self._n = 0
        # ids of src and dst, filled in place (``expected`` transfers; grown if more come)
        self._src = np.empty(expected, np.int32)
        self._dst = np.empty(expected, np.int32)
        self._filled = 0

    def _ids_of(self, strings: pl.Series) -> np.ndarray:
        lo = strings.hash(seed=0).to_numpy()
        hi = strings.hash(seed=0x9E3779B97F4A7C15 & (2**63 - 1)).to_numpy()
        out = np.empty(len(strings), np.int32)
        first = np.empty(len(strings), np.int64)
        k, done = intern_keys(lo, hi, self._table, self._n, out, first, 0, 0)
        while done < len(strings):  # half full: twice the slots, and on
            self._table = grow(self._table, 2 * len(self._table))
            k, done = intern_keys(lo, hi, self._table, self._n, out, first, done, k)
        if k:
            self._known.append(strings.gather(first[:k]))
            self._n += k
        return out

    def add(self, src: pa.Array, dst: pa.Array) -> None:
        n = len(src)
        ids = self._ids_of(
            pl.concat([pl.Series(src).cast(pl.String), pl.Series(dst).cast(pl.String)])
        )
        start, end = self._filled, self._filled + n
        if end > len(self._src):
            grown = max(end, 2 * len(self._src))
            self._src = np.resize(self._src, grown)
            self._dst = np.resize(self._dst, grown)
        self._src[start:end] = ids[:n]
        self._dst[start:end] = ids[n:]
        self._filled = end

    def finish(self, extra: pa.Array) -> tuple[np.ndarray, np.ndarray, pa.Array]:
        """(src ids, dst ids, accounts sorted); ``extra``: more accounts (labels')."""
        if len(extra):
            self._ids_of(pl.Series(extra).cast(pl.String))
        self._table = new_table(1 << 16)  # the keys are no longer needed: free them
        everyone = (
            pl.concat(self._known).to_arrow(compat_level=pl.CompatLevel.oldest())
            if self._known
            else pa.array([], pa.large_string())
        )
        if isinstance(everyone, pa.ChunkedArray):
            everyone = everyone.combine_chunks()
        everyone = everyone.cast(pa.large_string())
        order = pc.sort_indices(everyone).to_numpy(zero_copy_only=False)
        rank = np.empty(len(everyone), np.int32)
        rank[order] = np.arange(len(everyone), dtype=np.int32)
        src, dst = self._src[: self._filled], self._dst[: self._filled]
        self._src = self._dst = np.empty(0, np.int32)
        step = 1 << 20  # renumbered in place, a slice at a time: no second copy
        for start in range(0, len(src), step):
            src[start : start + step] = rank[src[start : start + step]]
            dst[start : start + step] = rank[dst[start : start + step]]
        return src, dst, everyone.take(pa.array(order))


def build_graph(
    ts: np.ndarray,
    value: np.ndarray,
    tx_ids: pa.Array,
    accounts: pl.DataFrame,
    src: np.ndarray,
    dst: np.ndarray,
) -> Graph:
    """Transfers sorted by (ts, seq, tx_id), given as arrays: ``ts`` (int64 µs), ``value``
    (float64, 0 where unknown), ``tx_ids``; ``accounts`` sorted by account, with ``label``
    and ``opening_balance``; ``src``/``dst`` the interned ids of the transfers (``Interner``)."""
    acc_arr = _one_chunk(accounts.get_column("account").to_arrow()).cast(pa.large_string())
    n = accounts.height
    e = len(ts)
    edge_type = np.int32 if e < 2**31 - 1 else np.int64
    fwd_edges = np.empty(e, edge_type)
    fwd_indptr = csr_by(src, n, fwd_edges)
    rev_edges = np.empty(e, edge_type)
    rev_indptr = csr_by(dst, n, rev_edges)
    ts = ts.astype(np.int64, copy=False)
    value = value.astype(np.float64, copy=False)
    tx_ids = _one_chunk(tx_ids).cast(pa.large_string())
    # Arrow sorts the strings where they lie (8-byte indices); polars' arg_sort would first
    # copy them into a sort key, the peak of the whole ingest
    tx_order = pc.sort_indices(tx_ids).to_numpy().astype(edge_type)

    labels_col = accounts.get_column("label")
    vocab = tuple(sorted(labels_col.drop_nulls().unique().to_list()))
    code_of = {name: i for i, name in enumerate(vocab)}
    label_code = (
        labels_col.replace_strict(code_of, default=-1, return_dtype=pl.Int16).to_numpy()
        if vocab
        else np.full(n, -1, np.int16)
    ).astype(np.int16, copy=False)
    opening = accounts.get_column("opening_balance").fill_null(0.0).to_numpy().astype(np.float64)
    return Graph(
        src=src,
        dst=dst,
        ts=ts,
        value=value,
        fwd_indptr=fwd_indptr,
        fwd_edges=fwd_edges,
        fwd_dst=dst[fwd_edges],
        rev_indptr=rev_indptr,
        rev_edges=rev_edges,
        tx_order=tx_order,
        opening=opening,
        label_code=label_code,
        labels=vocab,
        accounts=acc_arr,
        tx_ids=tx_ids,
        zero_values=bool((value <= 0.0).any()),
    )


def _one_chunk(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def entity_graph(
    ts: np.ndarray,
    value: np.ndarray,
    tx_ids: pa.Array,
    accounts: pl.DataFrame,
    src: np.ndarray,
    dst: np.ndarray,
) -> Graph | None:
    """The graph between entities, or None when every entity is a single account. Transfers
    within an entity are internal and left out. Arguments as ``build_graph``'s."""
    entity = accounts.get_column("entity")
    if entity.n_unique() == accounts.height:
        return None
    per = (
        accounts.group_by("entity")
        .agg(
            pl.col("label"),
            pl.col("opening_balance").sum().alias("opening_balance"),
            pl.col("opening_balance").is_not_null().any().alias("known"),
        )
        .sort("entity")
    )
    entities = per.select(
        pl.col("entity").alias("account"),
        pl.col("label").map_elements(entity_label, return_dtype=pl.String).alias("label"),
        pl.when(pl.col("known")).then(pl.col("opening_balance")).alias("opening_balance"),
    )
    code = (
        accounts.select("entity")
        .with_row_index("i")
        .join(
            entities.select("account").with_row_index("e"),
            left_on="entity",
            right_on="account",
            maintain_order="left",
        )
        .get_column("e")
        .to_numpy()
        .astype(np.int32)
    )
    esrc, edst = code[src], code[dst]
    keep = esrc != edst
    return build_graph(
        ts[keep], value[keep], tx_ids.filter(pa.array(keep)), entities, esrc[keep], edst[keep]
    )
