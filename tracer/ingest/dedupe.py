"""Duplicates, the second phase of an ingest: a transfer whose tx_id is already staged (in the
workspace, an earlier file or an earlier row of the same file) is rejected, naming the first."""

from __future__ import annotations

import polars as pl

from tracer.ingest.state import Run
from tracer.io.common import ROW, iter_table

__all__ = ["reject_duplicates"]


def reject_duplicates(run: Run) -> None:
    """Reject every transfer whose tx_id is already staged (in the workspace, an earlier file
    or an earlier row), naming where the first one is."""
    dups = run.parts.duplicates()
    if dups.height == 0:
        return
    run.parts.drop(dups.get_column("row").to_numpy())
    reason = (
        pl.when(pl.col("source_first") == pl.col("source"))
        .then(
            pl.lit("duplicate tx_id (first at row ")
            + pl.col("source_row_first").cast(pl.String)
            + pl.lit(")")
        )
        .otherwise(
            pl.lit("duplicate tx_id (already in ")
            + pl.col("source_first")
            + pl.lit(" row ")
            + pl.col("source_row_first").cast(pl.String)
            + pl.lit(")")
        )
    )
    for source, group in dups.group_by("source", maintain_order=True):
        source = source[0]
        raw = _raw_rows(run, source, group)
        rejects = group.select(pl.col("source"), pl.col("source_row"), reason.alias("reason")).join(
            raw, on="source_row", how="left", maintain_order="left"
        )
        run.stage_rejects(rejects)
        run.move_to_rejected(rejects)


def _raw_rows(run: Run, source: str, group: pl.DataFrame) -> pl.DataFrame:
    """The raw rows of duplicates: as written in the file when it is a table read by rows
    (read again, in batches, keeping only those rows), else the transfer as read."""
    wanted = group.get_column("source_row")
    if source in run.batched:
        path, table = run.batched[source]
        found = []
        for frame in iter_table(path, run.rows, **table):
            hit = frame.filter(pl.col(ROW).is_in(wanted.implode()))
            if hit.height:
                cols = [c for c in hit.columns if c != ROW]
                found.append(
                    hit.select(
                        pl.col(ROW).alias("source_row"),
                        pl.struct([pl.col(c).cast(pl.String) for c in cols])
                        .struct.json_encode()
                        .alias("raw"),
                    )
                )
        if found:
            return pl.concat(found)
    rows = run.parts.gather(
        group.get_column("row").to_numpy(), run.parts.schema(), run.columns.get(source)
    )
    keep = [
        c for c in rows.columns if c not in ("source", "source_row", "seq", "ts", "amount", "value")
    ]
    return rows.select("source_row", pl.struct(keep).struct.json_encode().alias("raw"))
