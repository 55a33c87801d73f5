"""The workspace (DESIGN section 4): a folder of Parquet tables, graph arrays and a manifest.

Every write goes to a staging folder first and is moved into place by rename, the manifest
last, so a workspace is never seen half written. Ingesting a file already in the manifest
(same SHA-256) changes nothing. The ingest pipeline itself is ``tracer.ingest``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from tracer import __version__
from tracer.entities import entity_label
from tracer.errors import InputError, WorkspaceError
from tracer.graph.build import build_graph
from tracer.graph.csr import Graph

__all__ = ["FORMAT", "MANIFEST", "FileReport", "Workspace", "ingest", "load_manifest", "check_unit",
           "commit", "entity_graph", "now"]

FORMAT = 2
MANIFEST = "manifest.json"
TABLES = ("transfers", "accounts", "prices", "rejects")


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

    def __init__(self, path: Path, manifest: dict) -> None:
        self.path = path
        self.manifest = manifest

    @classmethod
    def open(cls, path: str | Path) -> Workspace:
        path = Path(path)
        mpath = path / MANIFEST
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
        if manifest.get("format") != FORMAT:
            raise WorkspaceError(
                f"{path} was written by a tracer with workspace format {manifest.get('format')}; "
                f"this tracer {__version__} reads format {FORMAT}. Re-ingest the inputs into a "
                "new workspace."
            )
        return cls(path, manifest)

    @property
    def unit(self) -> str | None:
        return self.manifest.get("unit")

    @cached_property
    def graph(self) -> Graph:
        return Graph.load(self.path / "graph")

    @cached_property
    def entity_graph(self) -> Graph:
        """The graph between entities (the account graph when no account shares an owner)."""
        folder = self.path / "graph_entity"
        return Graph.load(folder) if folder.exists() else self.graph

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

    def table(self, name: str) -> pl.DataFrame:
        return pl.read_parquet(self.path / f"{name}.parquet")

    def scan(self, name: str) -> pl.LazyFrame:
        return pl.scan_parquet(self.path / f"{name}.parquet")


def load_manifest(path: Path) -> dict | None:
    if (path / MANIFEST).exists():
        return Workspace.open(path).manifest
    if path.exists() and any(path.iterdir()):
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
    """Write everything to the staging folder, then move it into place; the manifest last.
    ``written``: tables already in the staging folder (``<name>.parquet``)."""
    for name, df in tables.items():
        _write_table(df, staging / f"{name}.parquet")
    graph.save(staging / "graph")
    if entity_graph is not None:
        entity_graph.save(staging / "graph_entity")
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    for name in (*written, *tables):
        os.replace(staging / f"{name}.parquet", root / f"{name}.parquet")
    for folder in ("graph", "graph_entity"):
        old = root / f".{folder}-old"
        shutil.rmtree(old, ignore_errors=True)
        if (root / folder).exists():
            os.replace(root / folder, old)
        if (staging / folder).exists():
            os.replace(staging / folder, root / folder)
    os.replace(staging / MANIFEST, root / MANIFEST)
    for folder in ("graph", "graph_entity"):
        shutil.rmtree(root / f".{folder}-old", ignore_errors=True)
