"""``ingest``: the phases in order, under the workspace's lock (``tracer.ingest`` describes
the pipeline)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tracer import io
from tracer.errors import WorkspaceError
from tracer.graph.edges import Column
from tracer.ingest.commit import build, clean_stale, lock
from tracer.ingest.dedupe import reject_duplicates
from tracer.ingest.merge import TableWriter, match_across_files, merge
from tracer.ingest.read import read_all, stage_existing
from tracer.ingest.state import BATCH_ROWS, FileReport, Progress, Run
from tracer.ingest.value import settle_unit
from tracer.io.common import reset_encoding, use_encoding
from tracer.memory import return_large_blocks
from tracer.workspace import disk_full, load_manifest

__all__ = ["ingest", "finish"]


def ingest(
    workspace: str | Path,
    files: Sequence[str | Path] = (),
    *,
    labels: Sequence[str | Path] = (),
    prices: Sequence[str | Path] = (),
    unit: str | None = None,
    fmt: str = "auto",
    options: dict | None = None,
    on_step: Progress | None = None,
    batch_rows: int | None = None,
) -> list[FileReport]:
    """Add transfer, label and price files to a workspace (created if missing).

    ``fmt``: a reader's name (``tracer.io.FORMATS``) or ``auto`` to sniff each file.
    ``options``: reader options (``map``, ``date_format``). Values: a file with a ``value``
    column is in ``unit`` (default USD); otherwise amounts are valued from the prices (workspace
    and ``prices``) in ``unit``, or, with no prices at all, the file's single asset is the unit.
    ``on_step(message, done=None, total=None)`` hears of progress. ``batch_rows``: rows read
    and merged at a time (memory against speed; the result does not depend on it). Nothing is
    written when a file fails (missing columns, unreadable, mixed units): the workspace is
    unchanged.
    """
    step = on_step or (lambda *_a, **_k: None)
    return_large_blocks()  # the batches' arrays go back to the system when freed
    rows_at_once = max(1, batch_rows or BATCH_ROWS)
    options = options or {}
    if fmt != "auto":
        io.reader(fmt)  # an unknown name fails before anything is read
    root = Path(workspace)
    load_manifest(root)  # a folder that is not a workspace is refused before it is touched
    created = not root.exists()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(
            f"-w {root}: cannot create the workspace folder ({exc.strerror or exc})."
        ) from exc
    staging = root / f".staging-{os.getpid()}"
    held = None
    encoding = use_encoding(options.get("encoding"))  # --encoding: text files read in it
    try:
        held = lock(root, staging)  # one writer at a time; fails at once if another holds it
        clean_stale(root, staging)  # what an ingest that was killed left behind
        manifest = load_manifest(root)  # read under the lock: the latest commit
        staging.mkdir()
        held.claim()
        run = Run(root, staging, manifest, unit, fmt, options, rows_at_once, step)
        reports = read_all(run, files, labels, prices)
        if run.revalue:  # --unit changes the unit: the workspace's transfers are re-valued
            stage_existing(run)
        if run.new_inputs or run.revalue:
            finish(run)
        return reports
    except BaseException as exc:
        if created and held is not None:
            shutil.rmtree(root, ignore_errors=True)
        full = (
            disk_full(exc, getattr(exc, "filename", None) or staging)
            if isinstance(exc, Exception)
            else exc
        )
        if full is not exc:
            raise full from exc
        raise
    finally:
        reset_encoding(encoding)
        if held is not None:
            shutil.rmtree(staging, ignore_errors=True)
            held.release()


def finish(run: Run) -> None:
    """The phases after reading: values, duplicates, steps across files, the merge in time
    order and the commit."""
    settle_unit(run)
    run.step("finding duplicate tx_ids")
    reject_duplicates(run)
    match_across_files(run)
    run.step("sorting transfers in time order")
    perm = run.parts.order()  # the sort keys are let go
    # the order waits on disk, read a block at a time by the merge
    order = Column(run.staging / "order.npy", np.int64, len(perm))
    order.append(perm)
    del perm
    run.writer = TableWriter(run.staging / "transfers.parquet", run.parts.schema())
    try:
        edges, *rest = merge(run, order)
        order.close()
        try:
            build(run, edges, *rest)
        finally:
            edges.close()
    finally:
        order.close()
        run.writer.close()
