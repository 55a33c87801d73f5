"""The workspace (docs/design.md, section 4): a folder of Parquet tables, graph arrays and a manifest.

Each ingest writes a complete new generation (``generations/NNNNNN/``: tables, graphs and
manifest) in its staging folder, moves it into ``generations/`` and then switches the one
pointer, the symbolic link ``current``, to it with a single ``os.replace``; the earlier
generation is removed after. A workspace is therefore the old one or the new one, never a mix,
whenever the ingest stops. The names at the top (``manifest.json``, ``transfers.parquet``,
``graph``, ...) are links through ``current``, so tools that open those paths keep working;
tracer's own readers resolve ``current`` once on open and hold a shared lock (``flock``) on
that generation while they read it; an ingest removes an earlier generation only when no reader
holds it (``removable``), else a later ingest does. A workspace without ``current`` (the
flat layout of earlier versions) is read as it is and becomes a generation at its next ingest.
Ingesting a file already in the manifest (same SHA-256) changes nothing. This module reads
workspaces; writing them is ``tracer.ingest`` (the commit of a generation and the writer's lock
are in ``tracer.ingest.commit``).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import time
import weakref
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from tracer import __version__
from tracer.errors import InputError, WorkspaceError, printable
from tracer.graph.csr import Graph

__all__ = [
    "FORMAT",
    "MANIFEST",
    "Workspace",
    "load_manifest",
    "data_folder",
    "disk_full",
    "removable",
]

FORMAT = 2
MANIFEST = "manifest.json"
TABLES = ("transfers", "accounts", "prices", "rejects")
CURRENT = "current"  # the pointer: a symbolic link to the live generation
GENERATIONS = "generations"
STAGING = ".staging-"
OWNER = "owner.json"  # in the staging folder of the ingest that holds the lock
# what the top of a workspace links through ``current`` (besides any other file of a generation)
ITEMS = (
    "manifest.json",
    "transfers.parquet",
    "accounts.parquet",
    "prices.parquet",
    "rejects.parquet",
    "labels.parquet",
    "entity_links.parquet",
    "graph",
    "graph_entity",
)


_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")  # Arrow's short write


def disk_full(exc: BaseException, path: Path | str) -> OSError | WorkspaceError:
    """A full disk as one line naming the file; other OS errors unchanged."""
    if (
        getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT)
        or "No space left" in str(exc)
        or _SHORT_WRITE.search(str(exc))
    ):
        return WorkspaceError(
            f"{path}: the disk is full (writing failed). Free space on that "
            "disk, or write to another disk, and run the command again."
        )
    return exc


def data_folder(root: Path) -> Path:
    """Where a workspace's files are: the generation ``current`` points to, or the folder itself
    (the flat layout of earlier versions)."""
    pointer = root / CURRENT
    if pointer.is_symlink() or pointer.exists():
        target = pointer.resolve()
        if not target.is_dir():
            raise WorkspaceError(
                f"{pointer}: points to {target}, which is missing. The workspace is damaged; "
                "re-ingest the inputs into a new workspace."
            )
        return target
    return root


def _locked(folder: Path, how: int) -> int | None:
    """An open descriptor of ``folder`` holding ``flock`` ``how`` (without waiting), or None."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, how | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def removable(generation: Path) -> int | None:
    """For an ingest about to remove an earlier generation: a descriptor holding it
    exclusively (close it after the removal), or None while a reader holds it."""
    return _locked(generation, fcntl.LOCK_EX)


def _open_live(path: Path) -> tuple[Path, int | None]:
    """The live generation of ``path`` held for reading (a shared ``flock``): an ingest that
    has just switched ``current`` may be removing the one resolved a moment ago, so resolve
    again until the one held is still there."""
    for attempt in range(50):
        data = data_folder(path)
        if data == path:  # the flat layout: nothing is ever removed under a reader
            return data, None
        fd = _locked(data, fcntl.LOCK_SH)
        if fd is not None and (data / MANIFEST).is_file():
            return data, fd
        if fd is not None:
            os.close(fd)
        time.sleep(0.01 * (attempt + 1))
    return data_folder(path), None  # let the manifest check below say what is wrong


def _read_manifest(path: Path, mpath: Path) -> dict:
    """The manifest of the workspace at ``path``, checked; one line naming the file if not."""
    if not mpath.is_file():
        raise WorkspaceError(
            f"{path} is not a tracer workspace (no {MANIFEST}). "
            f"Create it with: tracer ingest FILE -w {path}"
        )
    try:
        manifest = json.loads(mpath.read_text())
    except (OSError, ValueError) as exc:
        raise WorkspaceError(
            f"{mpath}: unreadable manifest ({exc}). Re-ingest the inputs into a new workspace."
        ) from exc
    if not isinstance(manifest, dict):
        raise WorkspaceError(
            f"{mpath}: damaged manifest (not a JSON object). Re-ingest the "
            "inputs into a new workspace."
        )
    if manifest.get("format") != FORMAT:
        raise WorkspaceError(
            f"{path} was written by a tracer with workspace format {manifest.get('format')}; "
            f"this tracer {__version__} reads format {FORMAT}. Re-ingest the inputs into a "
            "new workspace."
        )
    _check_manifest(mpath, manifest)
    return manifest


class Workspace:
    """An open workspace: tables read on demand, graph arrays memory-mapped."""

    def __init__(self, path: Path, manifest: dict, data: Path | None = None) -> None:
        self.path = path  # the workspace folder, as given
        self.data = data or path  # its live generation (resolved once, on open)
        self.manifest = manifest

    @classmethod
    def open(cls, path: str | Path) -> Workspace:
        path = Path(path)
        _not_a_result(path)
        data, held = _open_live(path)
        try:
            manifest = _read_manifest(path, data / MANIFEST)
        except BaseException:
            if held is not None:
                os.close(held)
            raise
        ws = cls(path, manifest, data)
        if held is not None:  # the generation stays held while this object lives
            weakref.finalize(ws, os.close, held)
        for name in TABLES:  # each file's footer against the manifest's row count (cheap)
            if name in manifest.get("tables", {}):
                ws._parquet(name)
        return ws

    @property
    def unit(self) -> str | None:
        return self.manifest.get("unit")

    @cached_property
    def graph(self) -> Graph:
        return Graph.load(self.data / "graph", self._sizes())

    @cached_property
    def entity_graph(self) -> Graph:
        """The graph between entities (the account graph when no account shares an owner)."""
        folder = self.data / "graph_entity"
        if not folder.exists():
            return self.graph
        n = self.manifest.get("tables", {}).get("entities")
        return Graph.load(
            folder, (self._sizes()[0], n if isinstance(n, int) else None), edges_at_most=True
        )

    def graph_at(self, level: str) -> Graph:
        if level not in ("account", "entity"):
            raise InputError(f"--level {level}: choose account or entity.")
        return self.graph if level == "account" else self.entity_graph

    def scratch(self, graph: Graph) -> np.ndarray:
        """Work buffer of the trace kernel for ``graph``: one slot per node, all -1 between
        traces (the kernel restores it)."""
        key = "_scratch_entity" if graph is not self.graph else "_scratch"
        if key not in self.__dict__:
            self.__dict__[key] = np.full(graph.n_accounts, -1, dtype=np.int64)
        return self.__dict__[key]

    def _sizes(self) -> tuple[int | None, int | None]:
        tables = self.manifest.get("tables", {})
        n_edges, n_accounts = tables.get("transfers"), tables.get("accounts")
        return (
            n_edges if isinstance(n_edges, int) else None,
            n_accounts if isinstance(n_accounts, int) else None,
        )

    def _parquet(self, name: str) -> Path:
        path = self.data / f"{name}.parquet"
        if not path.is_file():
            raise WorkspaceError(
                f"{path}: missing from the workspace. The workspace is damaged; "
                "re-ingest the inputs into a new workspace."
            )
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except (OSError, pa.ArrowException) as exc:
            raise WorkspaceError(
                f"{path}: damaged or truncated ({printable(exc, 120)}). "
                "Re-ingest the inputs into a new workspace."
            ) from exc
        want = self.manifest.get("tables", {}).get(name)
        if isinstance(want, int) and rows != want:
            raise WorkspaceError(
                f"{path}: {rows} rows where the manifest records {want}. The "
                "workspace is damaged; re-ingest the inputs into a new "
                "workspace."
            )
        return path

    def table(self, name: str) -> pl.DataFrame:
        path = self._parquet(name)
        try:
            return pl.read_parquet(path)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise WorkspaceError(
                f"{path}: damaged ({printable(exc, 120)}). Re-ingest the "
                "inputs into a new workspace."
            ) from exc

    def scan(self, name: str) -> pl.LazyFrame:
        return pl.scan_parquet(self._parquet(name))


def _not_a_result(path: Path) -> None:
    """A folder written by ``tracer trace -o`` or ``tracer batch -o`` given as a workspace."""
    for name, command in (("result.json", "trace"), ("batch.json", "batch")):
        if (path / name).is_file():
            raise WorkspaceError(
                f"{path} is a result folder (written by tracer {command} -o; it has {name}), "
                "not a workspace. Give -w the workspace the result was traced on (the folder "
                f"tracer ingest wrote); to read the result, run tracer report {path} or tracer "
                f"evaluate {path}."
            )


def _check_manifest(mpath: Path, manifest: dict) -> None:
    tables = manifest.get("tables", {})
    inputs = manifest.get("inputs", [])
    if (
        not isinstance(tables, dict)
        or not isinstance(inputs, list)
        or not all(isinstance(i, dict) for i in inputs)
        or not all(isinstance(v, int) and v >= 0 for v in tables.values())
    ):
        raise WorkspaceError(
            f"{mpath}: damaged manifest (tables or inputs are not what tracer "
            "writes). Re-ingest the inputs into a new workspace."
        )


def _internal(name: str) -> bool:
    """Names tracer itself keeps in a workspace folder besides the data."""
    return (
        name.startswith(STAGING)
        or name in (CURRENT, GENERATIONS)
        or name.startswith(f"{CURRENT}.tmp-")
    )


def load_manifest(path: Path) -> dict | None:
    if path.exists() and (data_folder(path) / MANIFEST).exists():
        return Workspace.open(path).manifest
    if path.exists() and any(not _internal(p.name) and not p.is_symlink() for p in path.iterdir()):
        raise WorkspaceError(
            f"{path} is not empty and is not a tracer workspace (no {MANIFEST}). "
            "Choose a new folder for the workspace."
        )
    return None
