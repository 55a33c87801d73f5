"""What one ingest holds between its phases (``Run``): the workspace's manifest, the files read
so far and their reports, the staged parts and rejects; and what each file's report says
(``FileReport``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from tracer.ingest.parts import Parts
from tracer.schema import REJECTS

__all__ = ["BATCH_ROWS", "FileReport", "Progress", "Run"]

BATCH_ROWS = int(os.environ.get("TRACER_INGEST_BATCH_ROWS", 1_000_000))

# on_step(message, done, total): what ingest is doing, with a count when it knows one
Progress = Callable[..., None]


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


class Run:
    """One ingest: what has been read so far, shared by the phases that follow reading."""

    def __init__(
        self,
        root: Path,
        staging: Path,
        manifest: dict | None,
        unit: str | None,
        fmt: str,
        options: dict,
        rows: int,
        step: Progress,
    ) -> None:
        self.root, self.staging, self.manifest = root, staging, manifest
        self.unit_option, self.fmt, self.options, self.rows, self.step = (
            unit,
            fmt,
            options,
            rows,
            step,
        )
        self.old_inputs = list((manifest or {}).get("inputs", []))
        self.ws_unit = self.old_unit = (manifest or {}).get("unit")
        # the transfers already in the workspace, by their file's name
        self.old_sources = [i["name"] for i in self.old_inputs if i.get("kind") == "transfers"]
        self.revalue = bool(unit and self.old_unit and unit != self.old_unit)
        if self.revalue:  # --unit changes the workspace's unit (``value.fill_values``)
            self.ws_unit = unit
        self.new_inputs: list[dict] = []
        self.reports: list[FileReport] = []
        self.parts = Parts(staging / "parts", keep_rows=rows)
        self.rejects: list[Path] = []  # reject batches staged as IPC files, in order
        self.new_labels: list[pl.DataFrame] = []
        self.new_prices: list[pl.DataFrame] = []
        self.unpriced: list[tuple[Path, set[str]]] = []  # files without values: their assets
        self.unpriced_sources: list[str] = []
        self.batched: dict[str, tuple[Path, dict]] = {}  # source -> (path, TABLE) if by rows
        self.columns: dict[str, list[str]] = {}  # source -> its transfers' columns
        self.staged_existing = False
        self.price_table: pl.DataFrame | None = None  # set by ``value.settle_unit``
        self.writer = None  # transfers.parquet's writer while merging (``merge.TableWriter``)

    def stage_rejects(self, rejects: pl.DataFrame) -> None:
        """Keep a batch of rejected rows on disk until they are written (``rejects.parquet``)."""
        if rejects.height:
            path = self.staging / f"rejects-{len(self.rejects):06d}.arrow"
            rejects.cast(REJECTS).write_ipc(path, compression="uncompressed")
            self.rejects.append(path)

    def move_to_rejected(self, extra: pl.DataFrame) -> None:
        """Rows turned into rejects after reading: from ingested to rejected, per file."""
        counts = dict(extra.group_by("source").len().iter_rows())
        for item in (*self.old_inputs, *self.new_inputs):
            n = counts.get(item["name"], 0)
            item["ingested"] -= n
            item["rejected"] += n
        for i, r in enumerate(self.reports):
            n = counts.get(r.source, 0)
            if n and r.status == "ingested":
                self.reports[i] = replace(r, ingested=r.ingested - n, rejected=r.rejected + n)
