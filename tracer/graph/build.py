"""Build the graph arrays from the canonical tables."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from tracer.graph.csr import Graph
from tracer.kernels.csr import csr_by

__all__ = ["build_graph", "intern"]


def intern(src: pa.Array, dst: pa.Array, extra: pa.Array) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """Intern account ids: (src ids, dst ids, accounts), ids dense int32 in the sorted order of
    ``accounts`` = every distinct value of src, dst and ``extra``.

    One dictionary encoding over both columns; only the distinct values are sorted and looked up.
    """
    n = len(src)
    both = pa.concat_arrays([src.cast(pa.large_string()), dst.cast(pa.large_string())])
    enc = pc.dictionary_encode(both)
    distinct = pa.concat_arrays([enc.dictionary, extra.cast(pa.large_string())])
    accounts = pc.unique(distinct)
    accounts = accounts.take(pc.sort_indices(accounts))
    remap = pc.index_in(enc.dictionary, value_set=accounts).to_numpy(zero_copy_only=False)
    ids = remap.astype(np.int32)[enc.indices.to_numpy(zero_copy_only=False)]
    return ids[:n], ids[n:], accounts


def build_graph(transfers: pl.DataFrame, accounts: pl.DataFrame, src: np.ndarray,
                dst: np.ndarray) -> Graph:
    """``transfers`` sorted by (ts, seq, tx_id); ``accounts`` sorted by account, with ``label``
    and ``opening_balance``; ``src``/``dst`` the interned ids of the transfers (``intern``)."""
    acc_arr = _one_chunk(accounts.get_column("account").to_arrow()).cast(pa.large_string())
    n = accounts.height
    e = transfers.height
    edge_type = np.int32 if e < 2**31 - 1 else np.int64
    fwd_edges = np.empty(e, edge_type)
    fwd_indptr = csr_by(src, n, fwd_edges)
    rev_edges = np.empty(e, edge_type)
    rev_indptr = csr_by(dst, n, rev_edges)
    ts = transfers.get_column("ts").dt.epoch("us").to_numpy().astype(np.int64, copy=False)
    value = transfers.get_column("value").fill_null(0.0).to_numpy().astype(np.float64, copy=False)
    tx = transfers.get_column("tx_id")
    tx_order = tx.arg_sort().to_numpy().astype(edge_type, copy=False)

    labels_col = accounts.get_column("label")
    vocab = tuple(sorted(labels_col.drop_nulls().unique().to_list()))
    code_of = {name: i for i, name in enumerate(vocab)}
    label_code = (
        labels_col.replace_strict(code_of, default=-1, return_dtype=pl.Int16).to_numpy()
        if vocab else np.full(n, -1, np.int16)
    ).astype(np.int16, copy=False)
    opening = accounts.get_column("opening_balance").fill_null(0.0).to_numpy().astype(np.float64)
    return Graph(
        src=src, dst=dst, ts=ts, value=value,
        fwd_indptr=fwd_indptr, fwd_edges=fwd_edges, fwd_dst=dst[fwd_edges],
        rev_indptr=rev_indptr, rev_edges=rev_edges,
        tx_order=tx_order, opening=opening, label_code=label_code, labels=vocab,
        accounts=acc_arr, tx_ids=_one_chunk(tx.to_arrow()).cast(pa.large_string()),
        zero_values=bool((value <= 0.0).any()),
    )


def _one_chunk(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
