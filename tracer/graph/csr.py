"""The graph arrays of a workspace, memory-mapped on open."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pyarrow as pa

__all__ = ["Graph", "GRAPH_FORMAT"]

GRAPH_FORMAT = 2

_ARRAYS = (
    "src", "dst", "ts", "value",
    "fwd_indptr", "fwd_edges", "fwd_dst", "rev_indptr", "rev_edges",
    "tx_order", "opening", "label_code",
)


@dataclass(frozen=True)
class Graph:
    """Edges are numbered by rank in the global order (ts, seq, tx_id); edge i is row i of
    ``transfers.parquet``. Accounts are numbered in sorted order of their ids.

    Per edge: ``src``, ``dst`` (int32 account), ``ts`` (int64 µs UTC), ``value`` (float64, 0
    where unvalued). ``fwd_indptr``/``fwd_edges``: out-edges of each account in time order;
    ``fwd_dst``: the receiver of each out-edge in that order (int32, for reach searches that
    walk out-edges without a jump per edge). ``rev_indptr``/``rev_edges``: in-edges. ``tx_order``: edges sorted by tx_id (for look-ups).
    Per account: ``opening`` (float64 clean opening balance, 0 when unknown), ``label_code``
    (int16 index into ``labels``, -1 for none).
    """

    src: np.ndarray
    dst: np.ndarray
    ts: np.ndarray
    value: np.ndarray
    fwd_indptr: np.ndarray
    fwd_edges: np.ndarray
    fwd_dst: np.ndarray
    rev_indptr: np.ndarray
    rev_edges: np.ndarray
    tx_order: np.ndarray
    opening: np.ndarray
    label_code: np.ndarray
    labels: tuple[str, ...]
    accounts: pa.Array
    tx_ids: pa.Array
    zero_values: bool = True  # some transfer moves no value (searches must skip it)

    @property
    def n_edges(self) -> int:
        return int(self.src.shape[0])

    @property
    def n_accounts(self) -> int:
        return int(self.opening.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes of the numeric graph arrays (id strings not included)."""
        return sum(getattr(self, name).nbytes for name in _ARRAYS)

    @property
    def csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.fwd_indptr, self.fwd_edges, self.rev_indptr, self.rev_edges

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name in _ARRAYS:
            np.save(folder / f"{name}.npy", getattr(self, name), allow_pickle=False)
        for name, arr in (("accounts", self.accounts), ("tx_ids", self.tx_ids)):
            table = pa.table({name: arr})
            with pa.OSFile(str(folder / f"{name}.arrow"), "wb") as sink:
                with pa.ipc.new_file(sink, table.schema) as writer:
                    writer.write_table(table)
        meta = {"format": GRAPH_FORMAT, "labels": list(self.labels),
                "zero_values": self.zero_values,
                "n_edges": self.n_edges, "n_accounts": self.n_accounts}
        (folder / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")

    @classmethod
    def load(cls, folder: Path) -> Graph:
        meta = json.loads((folder / "meta.json").read_text())
        arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
                  for name in _ARRAYS}
        strings = {}
        for name in ("accounts", "tx_ids"):
            source = pa.memory_map(str(folder / f"{name}.arrow"), "r")
            col = pa.ipc.open_file(source).read_all().column(0)
            strings[name] = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
        return cls(**arrays, labels=tuple(meta["labels"]), **strings,
                   zero_values=meta.get("zero_values", True))


assert {f.name for f in fields(Graph)} >= set(_ARRAYS)
