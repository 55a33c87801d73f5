"""The edges of a graph being built, on disk: each per-edge column is a ``.npy`` file of known
length written block by block, and the tx ids are Arrow's two buffers of a large string array
(offsets and bytes) in files of their own. They are read back a slice at a time with plain
reads (``os.pread``), never memory-mapped, so no page of them stays in the process: an ingest
holds at once only the arrays the step at hand needs (``tracer.graph.build``), not the whole
graph (docs/design.md §5)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tracer.kernels.runs import merge_text_runs

__all__ = ["Column", "EdgeFiles", "SLICE"]

SLICE = 1 << 22  # values read or rewritten at a time


def _write_all(fd: int, data: memoryview, offset: int, path: Path) -> None:
    try:
        while len(data):  # a single write may stop short (2 GiB at most on Linux)
            n = os.pwrite(fd, data, offset)
            data, offset = data[n:], offset + n
    except OSError as exc:  # named, so that a full disk says which file
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


def _read_into(fd: int, out: np.ndarray, offset: int, path: Path) -> None:
    view = memoryview(out).cast("B")
    done = 0
    while done < len(view):  # pieces of 64 MiB: a read's bytes are copied into ``out``
        piece = os.pread(fd, min(1 << 26, len(view) - done), offset + done)
        if not piece:
            raise OSError(f"{path}: unexpected end of file at byte {offset + done}")
        view[done : done + len(piece)] = piece
        done += len(piece)


class Column:
    """A ``.npy`` file of ``n`` values of ``dtype``: appended to in order, then read or
    rewritten by slices. The file is the one ``np.save`` would write once it is full."""

    def __init__(self, path: Path, dtype, n: int) -> None:
        self.path, self.dtype, self.n = Path(path), np.dtype(dtype), int(n)
        header = {
            "descr": np.lib.format.dtype_to_descr(self.dtype),
            "fortran_order": False,
            "shape": (self.n,),
        }
        with open(self.path, "wb") as f:
            np.lib.format.write_array_header_1_0(f, header)
            self._start = f.tell()
        self._fd = os.open(self.path, os.O_RDWR)
        self.filled = 0

    def _at(self, i: int) -> int:
        return self._start + i * self.dtype.itemsize

    def append(self, values: np.ndarray) -> None:
        values = np.ascontiguousarray(values, self.dtype)
        if self.filled + len(values) > self.n:
            raise ValueError(f"{self.path.name}: more than {self.n} values")
        _write_all(self._fd, memoryview(values).cast("B"), self._at(self.filled), self.path)
        self.filled += len(values)

    def read(self, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """Values ``lo`` to ``hi`` (the end when None), in memory of their own."""
        hi = self.n if hi is None else min(hi, self.n)
        out = np.empty(max(hi - lo, 0), self.dtype)
        _read_into(self._fd, out, self._at(lo), self.path)
        return out

    def write_at(self, lo: int, values: np.ndarray) -> None:
        values = np.ascontiguousarray(values, self.dtype)
        _write_all(self._fd, memoryview(values).cast("B"), self._at(lo), self.path)

    def slices(self) -> Iterator[tuple[int, int]]:
        for lo in range(0, self.n, SLICE):
            yield lo, min(lo + SLICE, self.n)

    def check(self) -> None:
        """Raise unless every value was written."""
        if self.filled != self.n:
            raise ValueError(f"{self.path.name}: {self.filled} values of {self.n}")

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class EdgeFiles:
    """``n`` edges in time order under ``folder``: ``src``, ``dst`` (int32 account ids),
    ``ts`` (int64 µs), ``value`` (float64, 0 where unknown) and the tx ids."""

    COLUMNS = {"src": np.int32, "dst": np.int32, "ts": np.int64, "value": np.float64}

    def __init__(self, folder: Path, n: int) -> None:
        self.folder, self.n = Path(folder), int(n)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.columns = {
            name: Column(self.folder / f"{name}.npy", dtype, n)
            for name, dtype in self.COLUMNS.items()
        }
        self._offsets = Column(self.folder / "tx_offsets.npy", np.int64, n + 1)
        self._offsets.append(np.zeros(1, np.int64))
        # each block's tx ids sorted on their own (``tx_order`` merges these runs)
        self._runs = Column(self.folder / "tx_runs.npy", np.int32 if n < 2**31 - 1 else np.int64, n)
        self._run_starts = [0]
        self._bytes_path = self.folder / "tx_bytes.bin"
        self._bytes = os.open(self._bytes_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        self._nbytes = 0
        self.zero_values = False  # some edge moves no value

    def __getitem__(self, name: str) -> Column:
        return self.columns[name]

    def append_numbers(self, ts: np.ndarray, value: np.ndarray) -> None:
        self.columns["ts"].append(ts)
        self.columns["value"].append(value)
        self.zero_values = self.zero_values or bool((value <= 0.0).any())

    def append_accounts(self, src: np.ndarray, dst: np.ndarray) -> None:
        self.columns["src"].append(src)
        self.columns["dst"].append(dst)

    def append_tx_ids(self, ids: pa.Array) -> None:
        """``ids``: a string array without nulls."""
        ids = ids.cast(pa.large_string())
        if not len(ids):
            return
        offsets = np.frombuffer(ids.buffers()[1], np.int64)[ids.offset : ids.offset + len(ids) + 1]
        data = ids.buffers()[2]
        start, end = int(offsets[0]), int(offsets[-1])
        if end > start:
            _write_all(self._bytes, memoryview(data)[start:end], self._nbytes, self._bytes_path)
        self._offsets.append(offsets[1:] - start + self._nbytes)
        self._nbytes += end - start
        first = self._run_starts[-1]
        self._runs.append(pc.sort_indices(ids).to_numpy() + first)
        self._run_starts.append(first + len(ids))

    def tx_ids(self, lo: int, hi: int) -> pa.Array:
        """Tx ids ``lo`` to ``hi``, read into memory of their own."""
        offsets = self._offsets.read(lo, hi + 1)
        data = np.empty(int(offsets[-1] - offsets[0]), np.uint8)
        _read_into(self._bytes, data, int(offsets[0]), self._bytes_path)
        return pa.LargeStringArray.from_buffers(
            hi - lo, pa.py_buffer(offsets - offsets[0]), pa.py_buffer(data)
        )

    def _mapped(self) -> tuple[np.ndarray, np.ndarray]:
        """The tx ids' offsets and bytes, memory-mapped (resident as they are read)."""
        offsets = np.load(self._offsets.path, mmap_mode="r")
        data = np.memmap(self._bytes_path, np.uint8, "r") if self._nbytes else np.zeros(1, np.uint8)
        return offsets, data

    def all_tx_ids(self) -> pa.Array:
        """Every tx id, in one array memory-mapped from the files."""
        offsets, data = self._mapped()
        return pa.LargeStringArray.from_buffers(self.n, pa.py_buffer(offsets), pa.py_buffer(data))

    def tx_order(self) -> np.ndarray:
        """The edges sorted by tx id (bytewise; equal ids in edge order): the blocks' sorted
        runs merged (``tracer.kernels.runs``) over the mapped ids; the order is the only
        array made (4 bytes an edge)."""
        runs = np.load(self._runs.path, mmap_mode="r")
        return merge_text_runs(*self._mapped(), runs, np.array(self._run_starts, np.int64))

    def renumber(self, rank: np.ndarray) -> None:
        """Account ids ``i`` become ``rank[i]`` in ``src`` and ``dst``, a slice at a time."""
        for name in ("src", "dst"):
            column = self.columns[name]
            for lo, hi in column.slices():
                column.write_at(lo, rank[column.read(lo, hi)])

    def check(self) -> None:
        """Raise unless every edge was written."""
        for column in (*self.columns.values(), self._offsets, self._runs):
            column.check()

    def close(self) -> None:
        if self._bytes >= 0:
            os.close(self._bytes)
            self._bytes = -1
        for column in (*self.columns.values(), self._offsets, self._runs):
            column.close()
