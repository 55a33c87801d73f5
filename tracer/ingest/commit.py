"""Committing, the last phase of an ingest: accounts, entities and graphs are built from the
merged arrays, and everything is written as a new generation of the workspace
(``generations/NNNNNN/``), made current by one ``os.replace`` of the pointer ``current``: a
workspace is the old generation or the new one, never a mix, whenever the ingest stops
(``tracer.workspace`` describes the layout). Also the writer's lock, held for the whole
ingest, and the clean-up of what a killed ingest left."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from tracer import __version__
from tracer.entities import assign_entities, entity_links
from tracer.errors import WorkspaceError, printable
from tracer.graph.build import Interner, build_graph, entity_graph
from tracer.graph.edges import EdgeFiles
from tracer.ingest.state import Run
from tracer.ingest.value import value_openings
from tracer.io.labels import LABEL_COLUMNS, merge_labels
from tracer.schema import ACCOUNTS, REJECTS, account_kind, empty
from tracer.stamps import now
from tracer.workspace import (
    CURRENT,
    FORMAT,
    GENERATIONS,
    ITEMS,
    MANIFEST,
    OWNER,
    STAGING,
    data_folder,
    disk_full,
    removable,
)

__all__ = ["build", "commit", "tidy", "Lock", "lock", "clean_stale"]


def build(
    run: Run, edges: EdgeFiles, interner: Interner, btc: pl.DataFrame, unvalued: dict[str, int]
) -> None:
    """Rejects, accounts, entities, graphs, manifest; then the commit."""
    for item in (*run.old_inputs, *run.new_inputs):
        if item["kind"] == "transfers":
            item["unvalued"] = int(unvalued.get(item["name"], 0))
    run.reports[:] = [
        replace(r, unvalued=int(unvalued.get(r.source, 0)))
        if r.kind == "transfers" and r.status == "ingested"
        else r
        for r in run.reports
    ]
    run.step("writing rejects")
    n_rejects = _write_rejects(run, run.staging / "rejects.parquet")
    old_labels = (
        pl.read_parquet(data_folder(run.root) / "labels.parquet")
        if run.manifest
        else empty(ACCOUNTS).select(LABEL_COLUMNS)
    )
    # what is known of accounts (tracer.io.labels.merge_labels: the stronger label wins,
    # conflicts become notes of the file that brought them)
    label_rows, conflicts = merge_labels([old_labels, *run.new_labels])
    run.reports[:] = [
        replace(r, notes=(*r.notes, *conflicts.get(r.source, ()))) for r in run.reports
    ]
    for item in run.new_inputs:
        item["notes"] = [*item.get("notes", []), *conflicts.get(item["name"], [])]
    known = value_openings(run, label_rows)  # opening balances in the trace unit
    run.step("interning accounts")
    extra = label_rows.get_column("account").to_arrow()
    rank, account_ids = interner.finish(
        extra.combine_chunks() if isinstance(extra, pa.ChunkedArray) else extra
    )
    edges.renumber(rank)
    del rank
    accounts = (
        pl.DataFrame({"account": pl.Series(account_ids).cast(pl.String)})
        .join(known, on="account", how="left", maintain_order="left")
        .with_columns(account_kind().alias("kind"))
        .select(list(ACCOUNTS))
    )
    run.step("finding entities")
    links = entity_links(btc, accounts.filter(pl.col("entity").is_not_null()))
    accounts = accounts.with_columns(assign_entities(accounts, links))
    # each graph is built on disk in the staging folder, one array at a time; the entity
    # graph first, since the account graph takes the edges' columns as they are
    n_entities = entity_graph(
        edges,
        accounts,
        run.staging / "graph_entity",
        run.staging / "entity_edges",
        lambda done, total: run.step("building the entity graph", done, total),
    )
    shutil.rmtree(run.staging / "entity_edges", ignore_errors=True)
    n_transfers = edges.n
    build_graph(
        edges,
        accounts,
        run.staging / "graph",
        lambda done, total: run.step("building the graph", done, total),
    )
    edges.close()
    shutil.rmtree(edges.folder, ignore_errors=True)

    run.step("writing the workspace")
    run.writer.close()
    shutil.rmtree(run.parts.folder, ignore_errors=True)
    stamp = now()
    out = dict(run.manifest or {"format": FORMAT, "created": stamp})
    out.update(
        format=FORMAT,
        tool=f"tracer {__version__}",
        unit=run.ws_unit,
        updated=stamp,
        inputs=run.old_inputs + run.new_inputs,
        tables={
            "transfers": n_transfers,
            "accounts": accounts.height,
            "rejects": n_rejects,
            "prices": run.price_table.height,
            "unvalued": int(sum(unvalued.values())),
        },
    )
    out["tables"]["entities"] = n_entities or accounts.height
    commit(
        run.root,
        run.staging,
        {
            "accounts": accounts,
            "prices": run.price_table,
            "labels": label_rows,
            "entity_links": links,
        },
        run.staging / "graph",
        out,
        run.staging / "graph_entity" if n_entities else None,
        written=("transfers", "rejects"),
    )


def _write_rejects(run: Run, path: Path) -> int:
    """Earlier rejects, then this ingest's, streamed into one Parquet file."""
    sources = ([data_folder(run.root) / "rejects.parquet"] if run.manifest else []) + run.rejects
    n = 0
    schema = empty(REJECTS).to_arrow().schema
    with pq.ParquetWriter(path, schema, compression="lz4") as writer:
        for src in sources:
            lf = pl.scan_parquet(src) if src.suffix == ".parquet" else pl.scan_ipc(src)
            for batch in lf.collect_batches(chunk_size=run.rows):
                table = batch.cast(REJECTS).to_arrow().cast(schema)
                writer.write_table(table)
                n += len(table)
    return n


def _write_table(df: pl.DataFrame, path: Path) -> None:
    df.write_parquet(path, compression="lz4", statistics=True)


def commit(
    root: Path,
    staging: Path,
    tables: dict[str, pl.DataFrame],
    graph: Path,
    manifest: dict,
    entity_folder: Path | None = None,
    written: Sequence[str] = (),
) -> None:
    """Write a new generation in the staging folder, move it under ``generations/`` and switch
    ``current`` to it in one ``os.replace``; then link the top-level names through ``current``
    and remove the earlier generations. ``written``: tables already in the staging folder
    (``<name>.parquet``); the graphs are the folders they were built in. The
    caller holds the lock (``lock``)."""
    gen = staging / "generation"
    gen.mkdir()
    try:
        for name in written:
            os.replace(staging / f"{name}.parquet", gen / f"{name}.parquet")
        for name, df in tables.items():
            _write_table(df, gen / f"{name}.parquet")
        for item, name in ((graph, "graph"), (entity_folder, "graph_entity")):
            if item is not None:
                os.replace(item, gen / name)
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
    Safe to run again at any point; the caller holds the lock. A generation a reader still
    holds (``tracer.workspace.removable``) is left for a later ingest to remove."""
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
        if p.resolve() == live:
            continue
        held = removable(p)  # None while a reader still holds it: a later ingest removes it
        if held is not None:
            try:
                shutil.rmtree(p, ignore_errors=True)
            finally:
                os.close(held)


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
            raise WorkspaceError(
                f"{root}: {_holder(root)} is writing to this workspace. Wait "
                "for it to finish, then run the command again."
            ) from None

    def claim(self) -> None:
        """Say who holds the lock (after the staging folder exists)."""
        owner = {
            "pid": os.getpid(),
            "command": " ".join(["tracer", *sys.argv[1:]])
            if sys.argv and sys.argv[0].endswith("tracer")
            else " ".join(sys.argv),
            "since": now(),
        }
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
            return (
                f"process {int(owner['pid'])} ({printable(owner['command'], 120)}, since "
                f"{printable(owner['since'], 40)})"
            )
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
