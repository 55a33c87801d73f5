"""The workspace (DESIGN section 4): a folder of Parquet tables, graph arrays and a manifest.

Each ingest writes a complete new generation (``generations/NNNNNN/``: tables, graphs and
manifest) in its staging folder, moves it into ``generations/`` and then switches the one
pointer, the symbolic link ``current``, to it with a single ``os.replace``; the earlier
generation is removed after. A workspace is therefore the old one or the new one, never a mix,
whenever the ingest stops. The names at the top (``manifest.json``, ``transfers.parquet``,
``graph``, ...) are links through ``current``, so tools that open those paths keep working;
tracer's own readers resolve ``current`` once on open. A workspace without ``current`` (the
flat layout of earlier versions) is read as it is and becomes a generation at its next ingest.
Ingesting a file already in the manifest (same SHA-256) changes nothing. The ingest pipeline
itself is ``tracer.ingest``; it holds ``lock`` for the whole ingest.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import os
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from tracer import __version__
from tracer.entities import entity_label
import pyarrow.parquet as pq

from tracer.errors import InputError, WorkspaceError, printable
from tracer.graph.build import build_graph
from tracer.graph.csr import Graph

__all__ = ["FORMAT", "MANIFEST", "FileReport", "Workspace", "ingest", "load_manifest", "check_unit",
           "commit", "entity_graph", "now", "data_folder", "lock", "clean_stale", "disk_full"]

FORMAT = 2
MANIFEST = "manifest.json"
TABLES = ("transfers", "accounts", "prices", "rejects")
CURRENT = "current"  # the pointer: a symbolic link to the live generation
GENERATIONS = "generations"
STAGING = ".staging-"
OWNER = "owner.json"  # in the staging folder of the ingest that holds the lock
# what the top of a workspace links through ``current`` (besides any other file of a generation)
ITEMS = ("manifest.json", "transfers.parquet", "accounts.parquet", "prices.parquet",
         "rejects.parquet", "labels.parquet", "entity_links.parquet", "graph", "graph_entity")


_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")  # Arrow's short write


def disk_full(exc: BaseException, path: Path | str) -> OSError | WorkspaceError:
    """A full disk as one line naming the file; other OS errors unchanged."""
    if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) \
            or "No space left" in str(exc) or _SHORT_WRITE.search(str(exc)):
        return WorkspaceError(f"{path}: the disk is full (writing failed). Free space on that "
                              "disk, or write to another disk, and run the command again.")
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
                "re-ingest the inputs into a new workspace.")
        return target
    return root


@dataclass(frozen=True)
class FileReport:
    """What ingest did with one input file. ``read == ingested + rejected``."""

    path: str
    source: str
    kind: str  # transfers | labels
    status: str  # ingested | unchanged
    read: int
    ingested: int
    rejected: int
    unvalued: int = 0
    notes: tuple[str, ...] = ()


def now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


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
        data = data_folder(path)
        mpath = data / MANIFEST
        if not mpath.is_file():
            raise WorkspaceError(
                f"{path} is not a tracer workspace (no {MANIFEST}). "
                f"Create it with: tracer ingest FILE -w {path}"
            )
        try:
            manifest = json.loads(mpath.read_text())
        except (OSError, ValueError) as exc:
            raise WorkspaceError(f"{mpath}: unreadable manifest ({exc}). Re-ingest the inputs "
                                 "into a new workspace.") from exc
        if not isinstance(manifest, dict):
            raise WorkspaceError(f"{mpath}: damaged manifest (not a JSON object). Re-ingest the "
                                 "inputs into a new workspace.")
        if manifest.get("format") != FORMAT:
            raise WorkspaceError(
                f"{path} was written by a tracer with workspace format {manifest.get('format')}; "
                f"this tracer {__version__} reads format {FORMAT}. Re-ingest the inputs into a "
                "new workspace."
            )
        _check_manifest(mpath, manifest)
        ws = cls(path, manifest, data)
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
        return Graph.load(folder, (self._sizes()[0], n if isinstance(n, int) else None),
                          edges_at_most=True)

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
        return (n_edges if isinstance(n_edges, int) else None,
                n_accounts if isinstance(n_accounts, int) else None)

    def _parquet(self, name: str) -> Path:
        path = self.data / f"{name}.parquet"
        if not path.is_file():
            raise WorkspaceError(f"{path}: missing from the workspace. The workspace is damaged; "
                                 "re-ingest the inputs into a new workspace.")
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except (OSError, pa.ArrowException) as exc:
            raise WorkspaceError(f"{path}: damaged or truncated ({printable(exc, 120)}). "
                                 "Re-ingest the inputs into a new workspace.") from exc
        want = self.manifest.get("tables", {}).get(name)
        if isinstance(want, int) and rows != want:
            raise WorkspaceError(f"{path}: {rows} rows where the manifest records {want}. The "
                                 "workspace is damaged; re-ingest the inputs into a new "
                                 "workspace.")
        return path

    def table(self, name: str) -> pl.DataFrame:
        path = self._parquet(name)
        try:
            return pl.read_parquet(path)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise WorkspaceError(f"{path}: damaged ({printable(exc, 120)}). Re-ingest the "
                                 "inputs into a new workspace.") from exc

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
                f"evaluate {path}.")


def _check_manifest(mpath: Path, manifest: dict) -> None:
    tables = manifest.get("tables", {})
    inputs = manifest.get("inputs", [])
    if not isinstance(tables, dict) or not isinstance(inputs, list) or not all(
            isinstance(i, dict) for i in inputs) or not all(
            isinstance(v, int) and v >= 0 for v in tables.values()):
        raise WorkspaceError(f"{mpath}: damaged manifest (tables or inputs are not what tracer "
                             "writes). Re-ingest the inputs into a new workspace.")


def _internal(name: str) -> bool:
    """Names tracer itself keeps in a workspace folder besides the data."""
    return name.startswith(STAGING) or name in (CURRENT, GENERATIONS) or \
        name.startswith(f"{CURRENT}.tmp-")


def load_manifest(path: Path) -> dict | None:
    if path.exists() and (data_folder(path) / MANIFEST).exists():
        return Workspace.open(path).manifest
    if path.exists() and any(not _internal(p.name) and not p.is_symlink()
                             for p in path.iterdir()):
        raise WorkspaceError(f"{path} is not empty and is not a tracer workspace (no {MANIFEST}). "
                             "Choose a new folder for the workspace.")
    return None


def check_unit(path: Path, has_value: bool, assets: list[str], unit: str | None,
               option: str | None) -> str | None:
    """The workspace's trace unit after adding this file (see ``ingest``)."""
    if has_value:
        chosen = option or unit or "USD"
        if unit is not None and chosen != unit:
            raise InputError(f"--unit {option}: the workspace's values are in {unit}. "
                             "Use the same unit, or a new workspace.")
        return chosen
    if not assets:
        return unit
    if len(assets) > 1:
        raise InputError(
            f"{path}: assets {', '.join(assets)} are mixed and the file has no value column. "
            "Add a value column (each amount in one trace unit) or split the file by asset."
        )
    want = option or unit
    if want is not None and assets[0] != want:
        raise InputError(
            f"{path}: amounts are in {assets[0]} but the workspace's trace unit is {want}, and the "
            "file has no value column. Add a value column in that unit, or use a new workspace."
        )
    return assets[0]


def ingest(workspace: str | Path, files: Sequence[str | Path] = (), **options) -> list[FileReport]:
    """Add transfer, label and price files to a workspace (created if missing); see
    ``tracer.ingest.ingest`` for the options."""
    from tracer.ingest import ingest as run

    return run(workspace, files, **options)


def _write_table(df: pl.DataFrame, path: Path) -> None:
    df.write_parquet(path, compression="lz4", statistics=True)


def entity_graph(ts: np.ndarray, value: np.ndarray, tx_ids: pa.Array, accounts: pl.DataFrame,
                 src: np.ndarray, dst: np.ndarray) -> Graph | None:
    """The graph between entities, or None when every entity is a single account. Transfers
    within an entity are internal and left out. Arguments as ``build_graph``'s."""
    entity = accounts.get_column("entity")
    if entity.n_unique() == accounts.height:
        return None
    per = (accounts.group_by("entity").agg(
        pl.col("label"), pl.col("opening_balance").sum().alias("opening_balance"),
        pl.col("opening_balance").is_not_null().any().alias("known"))
        .sort("entity"))
    entities = per.select(
        pl.col("entity").alias("account"),
        pl.col("label").map_elements(entity_label, return_dtype=pl.String).alias("label"),
        pl.when(pl.col("known")).then(pl.col("opening_balance")).alias("opening_balance"),
    )
    code = (accounts.select("entity").with_row_index("i")
            .join(entities.select("account").with_row_index("e"),
                  left_on="entity", right_on="account", maintain_order="left")
            .get_column("e").to_numpy().astype(np.int32))
    esrc, edst = code[src], code[dst]
    keep = esrc != edst
    return build_graph(ts[keep], value[keep], tx_ids.filter(pa.array(keep)), entities,
                       esrc[keep], edst[keep])


def commit(root: Path, staging: Path, tables: dict[str, pl.DataFrame], graph: Graph,
           manifest: dict, entity_graph: Graph | None = None,
           written: Sequence[str] = ()) -> None:
    """Write a new generation in the staging folder, move it under ``generations/`` and switch
    ``current`` to it in one ``os.replace``; then link the top-level names through ``current``
    and remove the earlier generations. ``written``: tables already in the staging folder
    (``<name>.parquet``). The caller holds the lock (``lock``)."""
    gen = staging / "generation"
    gen.mkdir()
    try:
        for name in written:
            os.replace(staging / f"{name}.parquet", gen / f"{name}.parquet")
        for name, df in tables.items():
            _write_table(df, gen / f"{name}.parquet")
        graph.save(gen / "graph")
        if entity_graph is not None:
            entity_graph.save(gen / "graph_entity")
        (gen / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        _fsync_tree(gen)
    except OSError as exc:
        full = disk_full(exc, getattr(exc, "filename", None) or gen)
        if full is not exc:
            raise full from exc
        raise
    generations = root / GENERATIONS
    generations.mkdir(exist_ok=True)
    taken = [int(p.name) for p in generations.iterdir() if p.name.isdigit()]
    name = f"{max(taken, default=0) + 1:06d}"
    os.rename(gen, generations / name)
    _fsync_dir(generations)
    link = root / f"{CURRENT}.tmp-{os.getpid()}"
    link.unlink(missing_ok=True)
    os.symlink(f"{GENERATIONS}/{name}", link)
    os.replace(link, root / CURRENT)  # the commit: readers now see the new generation
    _fsync_dir(root)
    tidy(root)


def tidy(root: Path) -> None:
    """After a commit (or one cut short): the top-level names link through ``current`` (the
    flat files of an earlier version moved aside first), and only the live generation stays.
    Safe to run again at any point; the caller holds the lock."""
    pointer = root / CURRENT
    if not pointer.is_symlink():
        return
    live = pointer.resolve()
    names = {p.name for p in live.iterdir()} if live.is_dir() else set()
    old = root / GENERATIONS / "flat"
    for item in ITEMS:  # no link to what this generation lacks (no dangling links)
        if item not in names and (root / item).is_symlink():
            (root / item).unlink()
        elif item not in names and (root / item).exists():  # of the flat layout
            old.mkdir(parents=True, exist_ok=True)
            os.replace(root / item, old / item)
    for item in sorted(names):
        path, target = root / item, f"{CURRENT}/{item}"
        if path.is_symlink() and os.readlink(path) == target:
            continue
        if path.is_dir() and not path.is_symlink():
            old.mkdir(parents=True, exist_ok=True)
            os.replace(path, old / item)
        tmp = root / f"{CURRENT}.tmp-{os.getpid()}"
        tmp.unlink(missing_ok=True)
        os.symlink(target, tmp)
        os.replace(tmp, path)
    for p in (root / GENERATIONS).iterdir() if (root / GENERATIONS).is_dir() else ():
        if p.resolve() != live:
            shutil.rmtree(p, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    """Data on disk before the pointer names it (a crash of the machine, not only of tracer)."""
    for dirpath, _dirs, files in os.walk(folder):
        for f in files:
            fd = os.open(os.path.join(dirpath, f), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


class Lock:
    """The workspace's writer lock: ``fcntl.flock`` on the workspace folder itself (so no lock
    file is left behind), held until ``release`` or the process ends. Who holds it is written
    to ``owner.json`` in the holder's staging folder."""

    def __init__(self, root: Path, staging: Path) -> None:
        self.root, self.staging = root, staging
        self.fd = os.open(root, os.O_RDONLY)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise WorkspaceError(f"{root}: {_holder(root)} is writing to this workspace. Wait "
                                 "for it to finish, then run the command again.") from None

    def claim(self) -> None:
        """Say who holds the lock (after the staging folder exists)."""
        owner = {"pid": os.getpid(), "command": " ".join(["tracer", *sys.argv[1:]])
                 if sys.argv and sys.argv[0].endswith("tracer") else " ".join(sys.argv),
                 "since": now()}
        (self.staging / OWNER).write_text(json.dumps(owner) + "\n")

    def release(self) -> None:
        if self.fd >= 0:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = -1


def _holder(root: Path) -> str:
    for path in sorted(root.glob(f"{STAGING}*/{OWNER}")):
        try:
            owner = json.loads(path.read_text())
            return (f"process {int(owner['pid'])} ({printable(owner['command'], 120)}, since "
                    f"{printable(owner['since'], 40)})")
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return "another tracer ingest"


def lock(root: Path, staging: Path) -> Lock:
    return Lock(root, staging)


def clean_stale(root: Path, staging: Path) -> None:
    """Under the lock: staging folders of ingests that were stopped (every one but ours, since
    only the lock's holder stages), generations that never became current, and the links of a
    commit cut short."""
    for p in root.glob(f"{STAGING}*"):
        if p != staging:
            shutil.rmtree(p, ignore_errors=True)
    for p in root.glob(f"{CURRENT}.tmp-*"):
        p.unlink(missing_ok=True)
    if (root / CURRENT).is_symlink():
        tidy(root)
    elif (root / GENERATIONS).is_dir():  # no generation ever became current
        shutil.rmtree(root / GENERATIONS, ignore_errors=True)
