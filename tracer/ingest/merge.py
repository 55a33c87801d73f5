"""Merging, the phase after duplicates: steps that span files run over the rows they concern,
then the sorted parts (``tracer.ingest.parts``) are merged in (ts, seq, tx_id) order block by
block; each block is valued from the prices, written to ``transfers.parquet`` and reduced to
the graph's edges on disk (times, values, tx ids, interned account ids:
``tracer.graph.edges``), so no step holds the whole table."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from tracer import io
from tracer.graph.build import Interner
from tracer.graph.edges import Column, EdgeFiles
from tracer.ingest.state import Run
from tracer.ingest.value import fill_values
from tracer.schema import TRANSFERS, empty

__all__ = ["match_across_files", "merge", "TableWriter"]


def match_across_files(run: Run) -> None:
    """Steps that span files (``tracer.io.post_steps``: two banks' legs of one transfer, Bitcoin
    fees), run over the rows they concern only; what they reject is moved to the rejects."""
    post_rejects = []
    for column, post in io.post_steps():
        run.step("matching records across files")
        rows, where = run.parts.select_rows(column)
        if not len(where):
            continue
        out, extra = post(fill_values(run, rows))
        run.parts.drop(where)
        run.parts.add(out)
        if extra.height:
            post_rejects.append(extra)
            run.move_to_rejected(extra)
    for extra in post_rejects:
        run.stage_rejects(extra)


def merge(run: Run, order: Column) -> tuple:
    """Write transfers.parquet block by block in the order ``order`` (the rows' global
    positions); return the graph's edges (``EdgeFiles`` in the staging folder: times, values,
    tx ids and first-seen account ids), the interned accounts, the Bitcoin rows that entities
    need and the count of transfers without value per file. The Parquet writing and the
    interning of each block run on their own threads while the next block is gathered; the
    writing of the last block goes on while the graph is built (``run.writer.close()``)."""
    edges = EdgeFiles(run.staging / "edges", order.n)
    btc = []
    unvalued: dict[str, int] = {}
    interner = Interner()
    interning = ThreadPoolExecutor(1)
    pending: Future | None = None
    done = 0

    def intern(src: pa.ChunkedArray, dst: pa.ChunkedArray) -> None:
        edges.append_accounts(*interner.add(src.combine_chunks(), dst.combine_chunks()))

    try:
        for block in run.parts.blocks(order, run.rows):
            block = fill_values(run, block)
            table = run.writer.write(block)
            if pending is not None:
                pending.result()
            pending = interning.submit(intern, table.column("src"), table.column("dst"))
            value = block.get_column("value")
            edges.append_numbers(
                block.get_column("ts").dt.epoch("us").to_numpy(), value.fill_null(0.0).to_numpy()
            )
            for source, n in block.filter(value.is_null()).group_by("source").len().iter_rows():
                unvalued[source] = unvalued.get(source, 0) + n
            edges.append_tx_ids(table.column("tx_id").combine_chunks())
            btc.append(
                block.filter(
                    pl.col("src").str.starts_with("btctx:")
                    | pl.col("dst").str.starts_with("btctx:")
                ).select("src", "dst", "value")
            )
            done += block.height
            run.step("writing transfers in time order", done, order.n)
        if pending is not None:
            pending.result()
        edges.check()
    except BaseException:
        edges.close()
        raise
    finally:
        interning.shutdown()
        run.parts.close()
    return (
        edges,
        interner,
        pl.concat(btc)
        if btc
        else pl.DataFrame(schema={"src": pl.String, "dst": pl.String, "value": pl.Float64}),
        unvalued,
    )


_UNIQUE = {"tx_id", "ts", "seq", "amount", "amount_raw", "value", "source_row"}


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


class TableWriter:
    """transfers.parquet written block by block on a thread of its own: ``write`` hands a
    block over (after the previous one is written) and returns it as Arrow; ``close`` waits
    for the last block and closes the file (an empty table when no block came)."""

    def __init__(self, path: Path, schema: pl.Schema) -> None:
        self.path, self.schema = path, dict(schema) or dict(TRANSFERS)
        self._writer: pq.ParquetWriter | None = None
        self._thread = ThreadPoolExecutor(1)
        self._pending: Future | None = None
        self._closed = False

    def write(self, block: pl.DataFrame) -> pa.Table:
        table = block.to_arrow()
        if self._writer is None:
            names = table.schema.names
            # dictionaries only where values repeat, statistics only on numbers: encoding
            # unique ids and strings' min/max cost a third of the writing and gain nothing
            self._writer = pq.ParquetWriter(
                self.path,
                table.schema,
                compression="lz4",
                use_dictionary=[c for c in names if c not in _UNIQUE],
                write_statistics=[c for c in names if not _is_text(table.schema.field(c).type)],
            )
        else:
            table = table.cast(self._writer.schema)
        if self._pending is not None:
            self._pending.result()
        self._pending = self._thread.submit(
            self._writer.write_table, table, row_group_size=len(table)
        )
        return table

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._pending is not None:
                self._pending.result()
        finally:
            self._thread.shutdown()
            if self._writer is not None:
                self._writer.close()
            else:
                empty(self.schema).write_parquet(self.path, compression="lz4")
