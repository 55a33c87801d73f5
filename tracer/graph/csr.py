"""The graph arrays of a workspace, memory-mapped on open."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pyarrow as pa

from tracer.errors import WorkspaceError

__all__ = ["Graph", "GRAPH_FORMAT", "write_array", "write_strings", "write_meta"]

GRAPH_FORMAT = 2

_ARRAYS = (
    "src",
    "dst",
    "ts",
    "value",
    "fwd_indptr",
    "fwd_edges",
    "fwd_dst",
    "rev_indptr",
    "rev_edges",
    "tx_order",
    "opening",
    "label_code",
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

    @classmethod
    def load(
        cls,
        folder: Path,
        sizes: tuple[int | None, int | None] = (None, None),
        edges_at_most: bool = False,
    ) -> Graph:
        """Memory-map the arrays of ``folder``, checked cheaply (dtypes, lengths, bounds by
        min/max, monotone offsets, no NaN): a damaged file is a ``WorkspaceError`` naming it,
        never a crash in a kernel. ``sizes``: (edges, accounts) the workspace's manifest
        records, when known; ``edges_at_most``: edges may be fewer (the entity graph)."""
        meta_path = folder / "meta.json"
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise _damaged(meta_path, f"unreadable ({exc.__class__.__name__})") from exc
        if (
            not isinstance(meta, dict)
            or meta.get("format") != GRAPH_FORMAT
            or not isinstance(meta.get("labels"), list)
            or not all(isinstance(x, str) for x in meta["labels"])
            or not isinstance(meta.get("n_edges"), int)
            or not isinstance(meta.get("n_accounts"), int)
        ):
            raise _damaged(meta_path, "not the graph metadata this tracer writes")
        e, a = meta["n_edges"], meta["n_accounts"]
        want_e, want_a = sizes
        if (want_a is not None and a != want_a) or (
            want_e is not None and (e > want_e if edges_at_most else e != want_e)
        ):
            raise _damaged(
                meta_path, f"{e} edges and {a} accounts, not what the workspace's manifest records"
            )
        arrays = {}
        for name in _ARRAYS:
            path = folder / f"{name}.npy"
            try:
                arr = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError, EOFError) as exc:
                raise _damaged(path, f"unreadable or truncated ({exc.__class__.__name__})") from exc
            kind, length = _SHAPE[name]
            n = {"E": e, "A": a, "A+1": a + 1}[length]
            if (
                arr.ndim != 1
                or arr.dtype.kind != kind[0]
                or arr.dtype.itemsize not in kind[1]
                or arr.dtype.byteorder not in "=|<"
                or arr.shape[0] != n
            ):
                raise _damaged(path, f"{arr.dtype}[{arr.shape}] where {n} values are expected")
            arrays[name] = arr
        _check_bounds(folder, arrays, e, a, len(meta["labels"]))
        strings = {}
        for name, n in (("accounts", a), ("tx_ids", e)):
            path = folder / f"{name}.arrow"
            try:
                source = pa.memory_map(str(path), "r")
                col = pa.ipc.open_file(source).read_all().column(0)
                col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
            except (OSError, pa.ArrowException, IndexError) as exc:
                raise _damaged(path, f"unreadable or truncated ({exc.__class__.__name__})") from exc
            if (
                len(col) != n
                or col.null_count
                or not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type))
            ):
                raise _damaged(path, f"{len(col)} ids where {n} are expected")
            strings[name] = col
        return cls(
            **arrays,
            labels=tuple(meta["labels"]),
            **strings,
            zero_values=meta.get("zero_values", True),
        )


def write_array(folder: Path, name: str, arr: np.ndarray) -> None:
    """One of the graph's arrays (``_ARRAYS``), as ``load`` reads it."""
    np.save(folder / f"{name}.npy", arr, allow_pickle=False)


def write_strings(folder: Path, name: str, arr: pa.Array) -> None:
    """``accounts`` or ``tx_ids``: one Arrow IPC file holding one record batch."""
    table = pa.table({name: arr})
    with pa.OSFile(str(folder / f"{name}.arrow"), "wb") as sink:
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)


def write_meta(
    folder: Path, labels: tuple[str, ...], zero_values: bool, n_edges: int, n_accounts: int
) -> None:
    """``meta.json``, written last: the graph in ``folder`` is then whole."""
    meta = {
        "format": GRAPH_FORMAT,
        "labels": list(labels),
        "zero_values": zero_values,
        "n_edges": n_edges,
        "n_accounts": n_accounts,
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")


# dtype kind and sizes, and length (E edges, A accounts) of each array
_INT = ("i", (4, 8))
_SHAPE = {
    "src": (("i", (4,)), "E"),
    "dst": (("i", (4,)), "E"),
    "ts": (("i", (8,)), "E"),
    "value": (("f", (8,)), "E"),
    "fwd_indptr": (_INT, "A+1"),
    "fwd_edges": (_INT, "E"),
    "fwd_dst": (("i", (4,)), "E"),
    "rev_indptr": (_INT, "A+1"),
    "rev_edges": (_INT, "E"),
    "tx_order": (_INT, "E"),
    "opening": (("f", (8,)), "A"),
    "label_code": (("i", (2,)), "A"),
}


def _damaged(path: Path, what: str) -> WorkspaceError:
    return WorkspaceError(
        f"{path}: damaged workspace file ({what}). Re-ingest the inputs into a new workspace."
    )


def _check_bounds(folder: Path, arrays: dict, e: int, a: int, n_labels: int) -> None:
    def within(name: str, low: int, high: int) -> None:
        arr = arrays[name]
        if len(arr) and (int(arr.min()) < low or int(arr.max()) >= high):
            raise _damaged(folder / f"{name}.npy", f"values outside {low}..{high - 1}")

    for name in ("src", "dst", "fwd_dst"):
        within(name, 0, a)
    for name in ("fwd_edges", "rev_edges", "tx_order"):
        within(name, 0, e)
    within("label_code", -1, n_labels)
    for name in ("fwd_indptr", "rev_indptr"):
        ptr = arrays[name]
        if int(ptr[0]) != 0 or int(ptr[-1]) != e or (len(ptr) > 1 and int(np.diff(ptr).min()) < 0):
            raise _damaged(folder / f"{name}.npy", "offsets not rising from 0 to the edge count")
    for name in ("value", "opening"):
        arr = arrays[name]
        if len(arr) and not np.isfinite(arr.sum()):
            raise _damaged(folder / f"{name}.npy", "values that are not finite numbers")


assert {f.name for f in fields(Graph)} >= set(_ARRAYS)
