"""Transfers staged as sorted parts on disk, merged in time order in bounded memory.

Ingest reads each file in batches. Every batch of transfers becomes a part: an Arrow IPC file,
sorted by (ts, seq, tx_id), memory-mapped by pyarrow when read back (polars would load it). In memory stay three keys per row
(time, seq and a 64-bit hash of the tx_id, 24 bytes): duplicates are found from the hashes and
confirmed on the ids, the global order comes from the keys, and the merged table is gathered
block by block from the parts. Resident memory is the keys plus one block, whatever the size of
the input files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from tracer.graph.edges import Column
from tracer.kernels.runs import merge_runs

__all__ = ["Parts", "ORDER"]

ORDER = ["ts", "seq", "tx_id"]
_PART = "__tracer_part__"
_LOCAL = "__tracer_local__"


def _in_order(t: np.ndarray, s: np.ndarray) -> bool:
    """Whether rows with times ``t`` and seqs ``s`` are sorted by (ts, seq) with no tie, so
    by (ts, seq, tx_id) too."""
    dt = np.diff(t)
    return bool(np.all((dt > 0) | ((dt == 0) & (np.diff(s) > 0))))


class Parts:
    """The sorted parts of one ingest, in the order they were added (earlier wins a
    duplicate)."""

    def __init__(self, folder: Path, keep_rows: int = 0) -> None:
        """``keep_rows``: rows kept in memory rather than on disk (the first parts, up to that
        many rows), so that a small ingest writes no part at all."""
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.keep_rows = keep_rows
        self._kept = 0
        self._memory: dict[int, pa.Table] = {}
        self.paths: list[Path | None] = []
        self.schemas: list[pl.Schema] = []
        self._ts: list[np.ndarray] = []
        self._seq: list[np.ndarray] = []
        self._hash: list[np.ndarray] = []
        self._alive: list[np.ndarray] = []
        self._frames: dict[int, pa.Table] = {}

    # --- adding and dropping rows ---------------------------------------------------------

    def add(self, df: pl.DataFrame) -> None:
        """Stage ``df`` (canonical transfer columns, then any extras) as a new part."""
        if df.height == 0:
            return
        ts = df.get_column("ts").dt.epoch("us").to_numpy().astype(np.int64)
        seq = df.get_column("seq").to_numpy().astype(np.int64)
        if not _in_order(ts, seq):
            df = df.sort(ORDER)
            ts = df.get_column("ts").dt.epoch("us").to_numpy().astype(np.int64)
            seq = df.get_column("seq").to_numpy().astype(np.int64)
        table = df.to_arrow(compat_level=pl.CompatLevel.oldest()).combine_chunks()
        if self._kept + df.height <= self.keep_rows:
            self._kept += df.height
            self._memory[len(self.paths)] = table
            self.paths.append(None)
        else:
            path = self.folder / f"{len(self.paths):06d}.arrow"
            with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as out:
                out.write_table(table)
            self.paths.append(path)
        self.schemas.append(df.schema)
        self._ts.append(ts)
        self._seq.append(seq)
        self._hash.append(df.get_column("tx_id").hash(seed=0).to_numpy())
        self._alive.append(np.ones(df.height, dtype=bool))

    def truncate(self, n: int) -> None:
        """Forget the parts added after the first ``n``."""
        for p in range(n, len(self.paths)):
            self._frames.pop(p, None)
            if p in self._memory:
                self._kept -= self._memory.pop(p).num_rows
            elif self.paths[p] is not None:
                self.paths[p].unlink(missing_ok=True)
        for parts in (self.paths, self.schemas, self._ts, self._seq, self._hash, self._alive):
            del parts[n:]

    def drop(self, rows: np.ndarray) -> None:
        """Leave out rows (global positions) from the merged table."""
        offsets = self.offsets
        part = np.searchsorted(offsets, rows, side="right") - 1
        for p in np.unique(part):
            self._alive[p][rows[part == p] - offsets[p]] = False

    # --- reading back -------------------------------------------------------------------------

    @property
    def offsets(self) -> np.ndarray:
        """Global position of each part's first row (and the total at the end)."""
        return np.cumsum([0, *(len(a) for a in self._alive)], dtype=np.int64)

    def frame(self, p: int) -> pa.Table:
        """Part ``p``, memory-mapped (one chunk per column: a slice costs nothing)."""
        if p in self._memory:
            return self._memory[p]
        if p not in self._frames:
            self._frames[p] = pa.ipc.open_file(pa.memory_map(str(self.paths[p]))).read_all()
        return self._frames[p]

    def schema(self) -> pl.Schema:
        """The columns of the merged table: canonical first, then extras by first appearance,
        each of the supertype of its parts (as a diagonal concatenation would give)."""
        if not self.schemas:
            return pl.Schema()
        return pl.concat(
            [pl.DataFrame(schema=s) for s in self.schemas], how="diagonal_relaxed"
        ).schema

    def gather(
        self, rows: np.ndarray, schema: pl.Schema, columns: list[str] | None = None
    ) -> pl.DataFrame:
        """Rows at global positions ``rows``, in that order, with ``schema``'s columns (or only
        ``columns`` of them)."""
        names = columns or list(schema)
        offsets = self.offsets
        part = np.searchsorted(offsets, rows, side="right") - 1
        by_part = np.argsort(part, kind="stable")
        counts = np.bincount(part, minlength=len(self.paths))
        pieces, start = [], 0
        for p in np.flatnonzero(counts):
            take = rows[by_part[start : start + counts[p]]] - offsets[p]
            start += counts[p]
            table = self.frame(int(p))
            have = set(table.column_names)
            lo, hi = int(take.min()), int(take.max()) + 1  # rows of a sorted part come in a run
            run = table.select([c for c in names if c in have]).slice(lo, hi - lo)
            if hi - lo != len(take) or np.any(np.diff(take) != 1):
                run = run.take(pa.array(take - lo))
            piece = pl.from_arrow(run)
            pieces.append(
                piece.select(
                    pl.col(c).cast(schema[c]) if c in have else pl.lit(None, schema[c]).alias(c)
                    for c in names
                )
            )
        if not pieces:
            return pl.DataFrame(schema={c: schema[c] for c in names})
        out = pl.concat(pieces, how="vertical", rechunk=False)
        # a copy even when the rows came in order: what the caller keeps of a block must not
        # hold the memory-mapped parts (they would stay resident)
        return out.gather(np.argsort(by_part, kind="stable"))

    def select_rows(self, column: str) -> tuple[pl.DataFrame, np.ndarray]:
        """Every live row where ``column`` is set, with its global position."""
        schema = self.schema()
        if column not in schema:
            return pl.DataFrame(schema=schema), np.empty(0, np.int64)
        offsets = self.offsets
        found = []
        for p, s in enumerate(self.schemas):
            if column not in s:
                continue
            set_ = pc.is_valid(self.frame(p).column(column)).to_numpy(zero_copy_only=False)
            hit = set_ & self._alive[p]
            found.append(np.flatnonzero(hit) + offsets[p])
        rows = np.concatenate(found) if found else np.empty(0, np.int64)
        return self.gather(rows, schema), rows

    # --- duplicates and order ---------------------------------------------------------------------

    def duplicates(self) -> pl.DataFrame:
        """Rows whose tx_id an earlier row already has: ``row`` (global position),
        ``tx_id``, ``source``, ``source_row``, and the first row's ``source_first``,
        ``source_row_first``."""
        schema = {
            "row": pl.Int64,
            "tx_id": pl.String,
            "source": pl.String,
            "source_row": pl.Int64,
            "source_first": pl.String,
            "source_row_first": pl.Int64,
        }
        if not self._hash:
            return pl.DataFrame(schema=schema)
        hashes = pl.Series(np.concatenate(self._hash))
        if hashes.n_unique() == len(hashes):  # the usual case, and the cheapest test
            return pl.DataFrame(schema=schema)
        ordered = hashes.sort()
        twice = ordered.filter(ordered == ordered.shift(1)).unique()
        candidates = np.flatnonzero(hashes.is_in(twice.implode()).to_numpy())
        rows = self.gather(
            candidates, self.schema(), ["tx_id", "source", "source_row"]
        ).with_columns(pl.Series("row", candidates, dtype=pl.Int64))
        first = (
            rows.sort("row")
            .group_by("tx_id", maintain_order=True)
            .agg(
                pl.col("row").first().alias("__first"),
                pl.col("source").first().alias("source_first"),
                pl.col("source_row").first().alias("source_row_first"),
            )
        )
        return (
            rows.join(first, on="tx_id")
            .filter(pl.col("row") != pl.col("__first"))
            .sort("row")
            .select(list(schema))
        )

    def order(self) -> np.ndarray:
        """Global positions of the live rows sorted by (ts, seq, tx_id): the sorted parts
        merged (``tracer.kernels.runs``), then rows of equal (ts, seq) from different parts
        put in tx_id order. The sort keys are let go on the way (the parts stay readable);
        what is held is the keys of the rows and the order, 25 bytes a row."""
        if not self._ts:
            return np.empty(0, np.int64)
        starts = self.offsets
        alive = np.concatenate(self._alive)
        self._hash = []  # duplicates are found already
        t = np.concatenate(self._ts)
        self._ts = []
        s = np.concatenate(self._seq)
        self._seq = []
        perm, tie = merge_runs(t, s, alive, starts, int(np.count_nonzero(alive)))
        del t, s, alive
        if tie.any():  # equal (ts, seq) from different parts: order those by tx_id
            at = np.flatnonzero(tie | np.r_[tie[1:], False])
            group = np.cumsum(~tie[at])
            ids = self.gather(perm[at], self.schema(), ["tx_id"]).get_column("tx_id")
            ties = pl.DataFrame({"g": group, "tx_id": ids, "i": np.arange(len(at))})
            new = ties.sort(["g", "tx_id"], maintain_order=True).get_column("i").to_numpy()
            perm[at] = perm[at][new]
        return perm

    def blocks(self, order: Column, rows: int) -> Iterator[pl.DataFrame]:
        """The merged table, ``rows`` rows at a time, in the order of the global positions
        in ``order`` (on disk: read a block at a time)."""
        schema = self.schema()
        for start in range(0, order.n, rows):
            block = self.gather(order.read(start, start + rows), schema)
            self._frames.clear()  # unmap: pages of the parts read so far leave the process
            yield block

    def close(self) -> None:
        self._frames.clear()
        self._memory.clear()
