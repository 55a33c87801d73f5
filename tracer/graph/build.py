"""Build the graph arrays, on disk, from the merged edges (``tracer.graph.edges``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from tracer.entities import entity_label
from tracer.graph.csr import write_array, write_meta, write_strings
from tracer.graph.edges import EdgeFiles
from tracer.kernels.csr import csr_by
from tracer.kernels.intern import grow, intern_keys, new_table

__all__ = ["build_graph", "entity_graph", "Interner"]


class Interner:
    """Account ids interned as transfers come, block by block: dense int32 ids in first-seen
    order, and at the end (``finish``) the rank of each in the sorted (bytewise) order of every
    distinct account of src, dst and the extra accounts. Each account string is keyed by two
    independent 64-bit hashes (polars, multithreaded) in a numba hash table kept across blocks
    (``tracer.kernels.intern``, doubled whenever it is half full),
    so a block costs one pass over its strings, whatever was seen before. Two
    different accounts would share an id only if both 64-bit hashes collided (about 2^-128 per
    pair)."""

    def __init__(self) -> None:
        self._table = new_table(1 << 16)
        self._known: list[pl.Series] = []  # account strings, in first-seen order
        self._n = 0

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

    def add(self, src: pa.Array, dst: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """The first-seen ids of ``src`` and ``dst``."""
        n = len(src)
        ids = self._ids_of(
            pl.concat([pl.Series(src).cast(pl.String), pl.Series(dst).cast(pl.String)])
        )
        return ids[:n], ids[n:]

    def finish(self, extra: pa.Array) -> tuple[np.ndarray, pa.Array]:
        """(``rank``, accounts sorted): first-seen id ``i`` is account ``rank[i]`` of the sorted
        accounts; ``extra``: more accounts (labels')."""
        if len(extra):
            self._ids_of(pl.Series(extra).cast(pl.String))
        self._table = new_table(1 << 16)  # the keys are no longer needed: free them
        everyone = (
            pl.concat(self._known).to_arrow(compat_level=pl.CompatLevel.oldest())
            if self._known
            else pa.array([], pa.large_string())
        )
        self._known = []
        if isinstance(everyone, pa.ChunkedArray):
            everyone = everyone.combine_chunks()
        everyone = everyone.cast(pa.large_string())
        order = pc.sort_indices(everyone).to_numpy(zero_copy_only=False)
        rank = np.empty(len(everyone), np.int32)
        rank[order] = np.arange(len(everyone), dtype=np.int32)
        return rank, everyone.take(pa.array(order))


def build_graph(
    edges: EdgeFiles,
    accounts: pl.DataFrame,
    folder: Path,
    step: Callable[[int, int], None] | None = None,
) -> None:
    """The graph of ``edges`` (sorted by (ts, seq, tx_id), account ids renumbered to the order
    of ``accounts``) written in ``folder`` as ``Graph.load`` reads it; ``accounts`` sorted by
    account, with ``label`` and ``opening_balance``. One array at a time: at most three
    per-edge arrays of 4 bytes are in memory at once (the CSR's), then the tx ids and their
    order; the per-edge columns are moved into ``folder`` as they are. ``step(done, total)``
    hears of each array made."""
    tick = step or (lambda done, total: None)
    tick(0, 5)
    folder.mkdir(parents=True, exist_ok=True)
    n, e = accounts.height, edges.n
    edge_type = np.int32 if e < 2**31 - 1 else np.int64
    src = edges["src"].read()
    fwd_edges = np.empty(e, edge_type)
    write_array(folder, "fwd_indptr", csr_by(src, n, fwd_edges))
    del src
    tick(1, 5)
    dst = edges["dst"].read()
    write_array(folder, "fwd_dst", dst[fwd_edges])
    write_array(folder, "fwd_edges", fwd_edges)
    del fwd_edges
    tick(2, 5)
    rev_edges = np.empty(e, edge_type)
    write_array(folder, "rev_indptr", csr_by(dst, n, rev_edges))
    del dst
    write_array(folder, "rev_edges", rev_edges)
    del rev_edges
    tick(3, 5)
    write_array(folder, "tx_order", edges.tx_order().astype(edge_type, copy=False))
    tick(4, 5)
    write_strings(folder, "tx_ids", edges.all_tx_ids())
    write_strings(
        folder,
        "accounts",
        _one_chunk(accounts.get_column("account").to_arrow()).cast(pa.large_string()),
    )
    labels_col = accounts.get_column("label")
    vocab = tuple(sorted(labels_col.drop_nulls().unique().to_list()))
    code_of = {name: i for i, name in enumerate(vocab)}
    label_code = (
        labels_col.replace_strict(code_of, default=-1, return_dtype=pl.Int16).to_numpy()
        if vocab
        else np.full(n, -1, np.int16)
    ).astype(np.int16, copy=False)
    opening = accounts.get_column("opening_balance").fill_null(0.0).to_numpy().astype(np.float64)
    write_array(folder, "opening", opening)
    write_array(folder, "label_code", label_code)
    for name in EdgeFiles.COLUMNS:
        os.replace(edges[name].path, folder / f"{name}.npy")
    write_meta(folder, vocab, edges.zero_values, e, n)
    tick(5, 5)


def _one_chunk(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def entity_graph(
    edges: EdgeFiles,
    accounts: pl.DataFrame,
    folder: Path,
    scratch: Path,
    step: Callable[[int, int], None] | None = None,
) -> int | None:
    """The graph between entities written in ``folder`` (its edges staged in ``scratch``);
    the number of entities, or None when every entity is a single account (no graph).
    Transfers within an entity are internal and left out. Arguments as ``build_graph``'s;
    ``edges`` are left as they were."""
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
    if step is not None:
        step(0, 5)  # the edges between entities are found first
    src, dst = edges["src"], edges["dst"]
    kept = sum(
        int(np.count_nonzero(code[src.read(lo, hi)] != code[dst.read(lo, hi)]))
        for lo, hi in src.slices()
    )
    between = EdgeFiles(scratch, kept)
    try:
        for lo, hi in src.slices():
            esrc, edst = code[src.read(lo, hi)], code[dst.read(lo, hi)]
            keep = esrc != edst
            between.append_numbers(
                edges["ts"].read(lo, hi)[keep], edges["value"].read(lo, hi)[keep]
            )
            between.append_accounts(esrc[keep], edst[keep])
            between.append_tx_ids(edges.tx_ids(lo, hi).filter(pa.array(keep)))
        between.check()
        build_graph(between, entities, folder, step)
    finally:
        between.close()
    return entities.height
