"""Ingest: files in, workspace out, in bounded memory (DESIGN sections 3 and 4).

The pipeline, for transfer files of any size:

1. each file is hashed (SHA-256, so a file already ingested changes nothing) and read in
   batches of ``batch_rows`` rows by its reader; each batch's transfers become a sorted part on
   disk (``tracer.parts``), its rejects another; the workspace's earlier transfers are staged
   the same way;
2. duplicates of a tx_id already staged are rejected, naming the first row;
3. steps that span files (two banks' legs of one transfer, Bitcoin fees) run over the rows
   they concern only;
4. the parts are merged in (ts, seq, tx_id) order block by block: each block is valued from
   the prices, written to ``transfers.parquet`` and reduced to the graph's arrays (times,
   values, interned account ids), so no step holds the whole table;
5. accounts, entities and graphs are built from those arrays and everything is committed as
   a new generation of the workspace, made current by one rename (``tracer.workspace.commit``).

The whole ingest holds the workspace's lock; it first removes what a killed ingest left.

Peak memory is the graph's arrays, the transfer ids, 24 bytes of sort keys per transfer and
one block, not the size of the files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from tracer import __version__, io
from tracer.entities import assign_entities, entity_links
from tracer.errors import InputError, WorkspaceError
from tracer.graph.build import Interner, build_graph
from tracer.io.common import ROW, iter_table, reset_encoding, use_encoding
from tracer.io.labels import LABEL_COLUMNS, merge_labels
from tracer.io.prices import read_prices
from tracer.parts import Parts
from tracer.schema import ACCOUNTS, PRICES, REJECTS, TRANSFERS, account_kind, empty
from tracer.workspace import (
    FORMAT,
    FileReport,
    check_unit,
    clean_stale,
    commit,
    data_folder,
    disk_full,
    entity_graph,
    load_manifest,
    lock,
    now,
)

__all__ = ["ingest", "BATCH_ROWS", "Progress"]

BATCH_ROWS = int(os.environ.get("TRACER_INGEST_BATCH_ROWS", 1_000_000))

# on_step(message, done, total): what ingest is doing, with a count when it knows one
Progress = Callable[..., None]

def _hash_and_count(path: Path, step: Progress) -> tuple[str, int]:
    """SHA-256 of the file and its number of line breaks, in one pass."""
    h = hashlib.sha256()
    size, done, lines = path.stat().st_size, 0, 0
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
            lines += block.count(b"\n")
            done += len(block)
            step(f"checking {path.name}", done, size)
    return h.hexdigest(), lines


def _rows_expected(path: Path, lines: int) -> int | None:
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            return pq.ParquetFile(path).metadata.num_rows
        except (OSError, pa.ArrowException):
            return None
    return max(lines - 1, 0) if lines else None


def _reads(module, path: Path, source: str, options: dict, rows: int) -> Iterator[io.ReadResult]:
    """The reader's results for ``path``: one per batch when the reader converts batches of
    rows, else one for the whole file."""
    if getattr(module, "BATCHED", False):
        for frame in iter_table(path, rows, **getattr(module, "TABLE", {})):
            yield module.read(path, source, options, frame=frame)
    else:
        yield module.read(path, source, options)


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
        raise WorkspaceError(f"-w {root}: cannot create the workspace folder "
                             f"({exc.strerror or exc}).") from exc
    staging = root / f".staging-{os.getpid()}"
    held = None
    encoding = use_encoding(options.get("encoding"))  # --encoding: text files read in it
    try:
        held = lock(root, staging)  # one writer at a time; fails at once if another holds it
        clean_stale(root, staging)  # what an ingest that was killed left behind
        manifest = load_manifest(root)  # read under the lock: the latest commit
        staging.mkdir()
        held.claim()
        run = _Run(root, staging, manifest, unit, fmt, options, rows_at_once, step)
        reports = run.read_all(files, labels, prices)
        if run.new_inputs:
            run.finish()
        return reports
    except BaseException as exc:
        if created and held is not None:
            shutil.rmtree(root, ignore_errors=True)
        full = disk_full(exc, getattr(exc, "filename", None) or staging) \
            if isinstance(exc, Exception) else exc
        if full is not exc:
            raise full from exc
        raise
    finally:
        reset_encoding(encoding)
        if held is not None:
            shutil.rmtree(staging, ignore_errors=True)
            held.release()


class _Run:
    """One ingest: what has been read so far and the steps after reading."""

    def __init__(self, root: Path, staging: Path, manifest: dict | None, unit: str | None,
                 fmt: str, options: dict, rows: int, step: Progress) -> None:
        self.root, self.staging, self.manifest = root, staging, manifest
        self.unit_option, self.fmt, self.options, self.rows, self.step = (
            unit, fmt, options, rows, step)
        self.old_inputs = list((manifest or {}).get("inputs", []))
        self.ws_unit = (manifest or {}).get("unit")
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
        self._staged_existing = False

    # --- 1. reading --------------------------------------------------------------------------

    def read_all(self, files, labels, prices) -> list[FileReport]:
        """Read every file not ingested before (by SHA-256). A transfers file whose name and
        size match no earlier input is most likely new: it is read while a thread hashes it,
        and if the hash shows it was ingested after all, what was read is taken back."""
        known = {item["sha256"] for item in self.old_inputs}
        names = {item["name"] for item in self.old_inputs}
        met = {(Path(item["path"]).name, item.get("size")) for item in self.old_inputs}
        todo = [(Path(p), kind) for kind, paths in
                (("prices", prices), ("labels", labels), ("transfers", files)) for p in paths]
        for p, _ in todo:
            if not p.is_file():
                raise InputError(f"{p}: no such file.")

        def new_source(p: Path) -> str:
            source, k = p.name, 2
            while source in names:
                source = f"{p.name}#{k}"
                k += 1
            names.add(source)
            return source

        hashing = ThreadPoolExecutor(1)
        try:
            for p, kind in todo:
                size = p.stat().st_size
                if kind == "transfers" and (p.name, size) not in met:
                    met.add((p.name, size))  # the same file again: hashed first
                    hashed = hashing.submit(_hash_and_count, p, lambda *_a, **_k: None)
                    source = new_source(p)
                    self._stage_existing()
                    mark = self._mark(source)
                    try:
                        self._read_file(p, kind, source, None, hashed)
                        failed = None
                    except Exception as exc:  # an input already ingested is not read at all
                        failed = exc
                    digest, _ = hashed.result()
                    if digest not in known:
                        if failed is not None:
                            raise failed
                        known.add(digest)
                        self.new_inputs[-1]["sha256"] = digest
                        continue
                    self._rollback(mark)
                    names.discard(source)
                else:
                    digest, lines = _hash_and_count(p, self.step)
                    if digest not in known:
                        known.add(digest)
                        self._stage_existing()
                        self._read_file(p, kind, new_source(p), digest, lines)
                        continue
                self.reports.append(FileReport(str(p), p.name, kind, "unchanged", 0, 0, 0))
        finally:
            hashing.shutdown()
        return self.reports

    def _mark(self, source: str) -> tuple:
        return (source, len(self.parts.paths), len(self.rejects), list(self.new_labels),
                self.ws_unit, len(self.unpriced), len(self.unpriced_sources),
                len(self.reports), len(self.new_inputs))

    def _rollback(self, mark: tuple) -> None:
        """Forget a file read since ``mark`` (``_mark``)."""
        (source, n_parts, n_rejects, self.new_labels, self.ws_unit, n_unpriced, n_sources,
         n_reports, n_inputs) = mark
        self.parts.truncate(n_parts)
        for path in self.rejects[n_rejects:]:
            path.unlink(missing_ok=True)
        del self.rejects[n_rejects:], self.unpriced[n_unpriced:]
        del self.unpriced_sources[n_sources:], self.reports[n_reports:]
        del self.new_inputs[n_inputs:]
        self.batched.pop(source, None)
        self.columns.pop(source, None)

    def _stage_existing(self) -> None:
        """Stage the workspace's transfers (once, before the first new file), so that a
        tx_id already ingested stays."""
        if not self.manifest or self._staged_existing:
            return
        self._staged_existing = True
        path = data_folder(self.root) / "transfers.parquet"
        total = pq.ParquetFile(path).metadata.num_rows
        done = 0
        for batch in pl.scan_parquet(path).collect_batches(chunk_size=self.rows):
            self.parts.add(batch)
            done += batch.height
            self.step("reading the workspace's transfers", done, total)

    def _stage_rejects(self, rejects: pl.DataFrame) -> None:
        if rejects.height:
            path = self.staging / f"rejects-{len(self.rejects):06d}.arrow"
            rejects.cast(REJECTS).write_ipc(path, compression="uncompressed")
            self.rejects.append(path)

    def _read_file(self, p: Path, kind: str, source: str, digest: str | None,
                   lines: int | Future) -> None:
        """Read one file into the run. ``lines``: its line breaks, or the hashing that counts
        them (``digest`` is then filled in by the caller)."""
        notes: list[str] = []
        read = ingested = rejected = 0
        self.step(f"reading {p.name}")
        if kind == "prices":
            name = "prices"
            table, rejects, read = read_prices(p, source)
            self.new_prices.append(table)
            ingested, rejected = table.height, rejects.height
            self._stage_rejects(rejects)
        elif kind == "labels":
            name = io.detect_labels(p)
            table, rejects, read = io.label_reader(name).read_labels(p, source)
            self.new_labels.append(table)
            ingested, rejected = table.height, rejects.height
            self._stage_rejects(rejects)
        else:
            name = io.detect(p) if self.fmt == "auto" else self.fmt
            module = io.reader(name)
            counting = lines if isinstance(lines, Future) else None
            expected = _rows_expected(p, 0 if counting else lines)
            self.step(f"reading {p.name}", 0, expected)
            has_value = None
            assets: set[str] = set()
            accounts = []
            for res in _reads(module, p, source, self.options, self.rows):
                read += res.read
                rejected += res.rejects.height
                self._stage_rejects(res.rejects)
                table = res.transfers
                if not res.has_value:  # valued from prices (or as the unit) when merged
                    table = table.with_columns(pl.lit(None, pl.Float64).alias("value"))
                    assets.update(table.get_column("asset").unique().drop_nulls().to_list())
                self.parts.add(table)
                self.columns.setdefault(source, table.columns)
                ingested += table.height
                has_value = res.has_value
                if res.accounts is not None:
                    accounts.append(res.accounts)
                notes.extend(n for n in res.notes if n not in notes)
                if expected is None and counting is not None and counting.done() \
                        and counting.exception() is None:
                    expected = _rows_expected(p, counting.result()[1])
                self.step(f"reading {p.name}", read,
                          None if expected is None else max(expected, read))
            if getattr(module, "BATCHED", False):
                self.batched[source] = (p, getattr(module, "TABLE", {}))
            for table in reversed(accounts):
                self.new_labels.insert(0, table)  # explicit label files win
            if has_value:
                self.ws_unit = check_unit(p, True, [], self.ws_unit, self.unit_option)
            elif has_value is not None:
                self.unpriced.append((p, assets))
                self.unpriced_sources.append(source)
            if ingested == 0 and accounts:
                kind, ingested = "accounts", sum(t.height for t in accounts)  # an accounts file
        self.reports.append(FileReport(str(p), source, kind, "ingested", read, ingested,
                                       rejected, 0, tuple(notes)))
        self.new_inputs.append({
            "name": source, "path": str(p), "kind": kind, "format": name, "sha256": digest,
            "size": p.stat().st_size, "read": read, "ingested": ingested, "rejected": rejected,
            "notes": notes, "ingested_at": now(),
        })

    # --- 2.-5. after reading ---------------------------------------------------------------------

    def finish(self) -> None:
        old_prices = pl.read_parquet(data_folder(self.root) / "prices.parquet") if self.manifest \
            else empty(PRICES)
        self.price_table = (pl.concat([old_prices, *self.new_prices], how="vertical_relaxed")
                            .unique(subset=["date", "asset"], keep="last")
                            .sort(["date", "asset"]))
        if self.unpriced:
            if self.price_table.height == 0:
                for p, assets in self.unpriced:  # no prices: one asset, which is the unit
                    self.ws_unit = check_unit(p, False, sorted(assets), self.ws_unit,
                                              self.unit_option)
            else:
                self.ws_unit = self.ws_unit or self.unit_option or "USD"
        self.step("finding duplicate tx_ids")
        self._reject_duplicates()
        post_rejects = []
        for column, post in io.post_steps():
            self.step("matching records across files")
            rows, where = self.parts.select_rows(column)
            if not len(where):
                continue
            out, extra = post(self._value(rows))
            self.parts.drop(where)
            self.parts.add(out)
            if extra.height:
                post_rejects.append(extra)
                self._move_to_rejected(extra)
        for extra in post_rejects:
            self._stage_rejects(extra)
        self.step("sorting transfers in time order")
        perm = self.parts.order()
        self.parts.forget_keys()
        self.writer = _TableWriter(self.staging / "transfers.parquet", self.parts.schema())
        try:
            self._build(*self._merge(perm))
        finally:
            self.writer.close()

    def _reject_duplicates(self) -> None:
        dups = self.parts.duplicates()
        if dups.height == 0:
            return
        self.parts.drop(dups.get_column("row").to_numpy())
        reason = (pl.when(pl.col("source_first") == pl.col("source"))
                  .then(pl.lit("duplicate tx_id (first at row ")
                        + pl.col("source_row_first").cast(pl.String) + pl.lit(")"))
                  .otherwise(pl.lit("duplicate tx_id (already in ") + pl.col("source_first")
                             + pl.lit(" row ") + pl.col("source_row_first").cast(pl.String)
                             + pl.lit(")")))
        for source, group in dups.group_by("source", maintain_order=True):
            source = source[0]
            raw = self._raw_rows(source, group)
            rejects = group.select(pl.col("source"), pl.col("source_row"),
                                   reason.alias("reason")).join(
                raw, on="source_row", how="left", maintain_order="left")
            self._stage_rejects(rejects)
            self._move_to_rejected(rejects)

    def _raw_rows(self, source: str, group: pl.DataFrame) -> pl.DataFrame:
        """The raw rows of duplicates: as written in the file when it is a table read by rows
        (read again, in batches, keeping only those rows), else the transfer as read."""
        wanted = group.get_column("source_row")
        if source in self.batched:
            path, table = self.batched[source]
            found = []
            for frame in iter_table(path, self.rows, **table):
                hit = frame.filter(pl.col(ROW).is_in(wanted.implode()))
                if hit.height:
                    cols = [c for c in hit.columns if c != ROW]
                    found.append(hit.select(
                        pl.col(ROW).alias("source_row"),
                        pl.struct([pl.col(c).cast(pl.String) for c in cols])
                        .struct.json_encode().alias("raw")))
            if found:
                return pl.concat(found)
        rows = self.parts.gather(group.get_column("row").to_numpy(), self.parts.schema(),
                                 self.columns.get(source))
        keep = [c for c in rows.columns
                if c not in ("source", "source_row", "seq", "ts", "amount", "value")]
        return rows.select("source_row", pl.struct(keep).struct.json_encode().alias("raw"))

    def _move_to_rejected(self, extra: pl.DataFrame) -> None:
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

    def _value(self, transfers: pl.DataFrame) -> pl.DataFrame:
        """Fill null values: a value already known stays; the unit's own amounts (in files
        without values, or whenever there are prices) are their value; others are amount ×
        usd(asset, day) / usd(unit, day), null where a price is missing."""
        unit, prices = self.ws_unit, self.price_table
        if unit is None or transfers.height == 0:
            return transfers
        known = pl.col("value").is_not_null()
        if prices.height == 0:
            own = pl.col("source").is_in(self.unpriced_sources) & (pl.col("asset") == unit)
            return transfers.with_columns(
                pl.when(known).then(pl.col("value")).when(own).then(pl.col("amount"))
                .otherwise(None).alias("value"))
        day = pl.col("ts").dt.date()
        usd = prices.rename({"usd": "__usd"})
        unit_usd = prices.filter(pl.col("asset") == unit).select(
            "date", pl.col("usd").alias("__unit"))
        priced = (transfers.with_columns(day.alias("date"))
                  .join(usd, on=["date", "asset"], how="left", maintain_order="left")
                  .join(unit_usd, on="date", how="left", maintain_order="left"))
        per_unit = pl.lit(1.0) if unit == "USD" else pl.col("__unit")
        value = (pl.when(known).then(pl.col("value"))
                 .when(pl.col("asset") == unit).then(pl.col("amount"))
                 .otherwise(pl.col("amount") * pl.col("__usd") / per_unit))
        return priced.with_columns(value.alias("value")).drop("date", "__usd", "__unit")

    def _merge(self, perm: np.ndarray) -> tuple:
        """Write transfers.parquet block by block in time order; return the graph's arrays
        (times, values, ids, the interned accounts), the Bitcoin rows that entities need and
        the count of transfers without value per file. The Parquet writing and the interning
        of each block run on their own threads while the next block is gathered; the writing
        of the last block goes on while the graph is built (``self.writer.close()``)."""
        total = len(perm)
        ts, values, tx_ids, btc = [], [], [], []
        unvalued: dict[str, int] = {}
        interner = Interner()
        interning = ThreadPoolExecutor(1)
        pending: Future | None = None
        done = 0
        try:
            for block in self.parts.blocks(perm, self.rows):
                block = self._value(block)
                table = self.writer.write(block)
                if pending is not None:
                    pending.result()
                pending = interning.submit(interner.add, table.column("src").combine_chunks(),
                                           table.column("dst").combine_chunks())
                ts.append(block.get_column("ts").dt.epoch("us").to_numpy())
                value = block.get_column("value")
                values.append(value.fill_null(0.0).to_numpy())
                for source, n in (block.filter(value.is_null()).group_by("source").len()
                                  .iter_rows()):
                    unvalued[source] = unvalued.get(source, 0) + n
                tx_ids.append(table.column("tx_id").combine_chunks().cast(pa.large_string()))
                btc.append(block.filter(pl.col("src").str.starts_with("btctx:")
                                        | pl.col("dst").str.starts_with("btctx:"))
                           .select("src", "dst", "value"))
                done += block.height
                self.step("writing transfers in time order", done, total)
            if pending is not None:
                pending.result()
        finally:
            interning.shutdown()
            self.parts.close()
        del perm
        return (np.concatenate(ts) if ts else np.empty(0, np.int64),
                np.concatenate(values) if values else np.empty(0, np.float64),
                pa.concat_arrays(tx_ids) if tx_ids else pa.array([], pa.large_string()),
                interner,
                pl.concat(btc) if btc else pl.DataFrame(
                    schema={"src": pl.String, "dst": pl.String, "value": pl.Float64}),
                unvalued)

    def _build(self, ts, values, tx_ids, interner: Interner, btc: pl.DataFrame,
               unvalued: dict[str, int]) -> None:
        """Rejects, accounts, entities, graphs, manifest; then the commit."""
        for item in (*self.old_inputs, *self.new_inputs):
            if item["kind"] == "transfers":
                item["unvalued"] = int(unvalued.get(item["name"], 0))
        self.reports[:] = [replace(r, unvalued=int(unvalued.get(r.source, 0)))
                           if r.kind == "transfers" and r.status == "ingested" else r
                           for r in self.reports]
        self.step("writing rejects")
        n_rejects = self._write_rejects(self.staging / "rejects.parquet")
        old_labels = (pl.read_parquet(data_folder(self.root) / "labels.parquet") if self.manifest
                      else empty(ACCOUNTS).select(LABEL_COLUMNS))
        # what is known of accounts (tracer.io.labels.merge_labels: the stronger label wins,
        # conflicts become notes of the file that brought them)
        label_rows, conflicts = merge_labels([old_labels, *self.new_labels])
        self.reports[:] = [replace(r, notes=(*r.notes, *conflicts.get(r.source, ())))
                           for r in self.reports]
        for item in self.new_inputs:
            item["notes"] = [*item.get("notes", []), *conflicts.get(item["name"], [])]
        self.step("interning accounts")
        extra = label_rows.get_column("account").to_arrow()
        src, dst, account_ids = interner.finish(
            extra.combine_chunks() if isinstance(extra, pa.ChunkedArray) else extra)
        accounts = (
            pl.DataFrame({"account": pl.Series(account_ids).cast(pl.String)})
            .join(label_rows, on="account", how="left", maintain_order="left")
            .with_columns(account_kind().alias("kind"))
            .select(list(ACCOUNTS))
        )
        self.step("finding entities")
        links = entity_links(btc, accounts.filter(pl.col("entity").is_not_null()))
        accounts = accounts.with_columns(assign_entities(accounts, links))
        self.step("building the graph")
        graph = build_graph(ts, values, tx_ids, accounts, src, dst)
        by_entity = entity_graph(ts, values, tx_ids, accounts, src, dst)

        self.step("writing the workspace")
        self.writer.close()
        shutil.rmtree(self.parts.folder, ignore_errors=True)
        stamp = now()
        out = dict(self.manifest or {"format": FORMAT, "created": stamp})
        out.update(
            format=FORMAT, tool=f"tracer {__version__}", unit=self.ws_unit, updated=stamp,
            inputs=self.old_inputs + self.new_inputs,
            tables={"transfers": len(ts), "accounts": accounts.height, "rejects": n_rejects,
                    "prices": self.price_table.height,
                    "unvalued": int(sum(unvalued.values()))},
        )
        out["tables"]["entities"] = by_entity.n_accounts if by_entity else accounts.height
        commit(self.root, self.staging,
               {"accounts": accounts, "prices": self.price_table, "labels": label_rows,
                "entity_links": links},
               graph, out, by_entity, written=("transfers", "rejects"))

    def _write_rejects(self, path: Path) -> int:
        """Earlier rejects, then this ingest's, streamed into one Parquet file."""
        sources = ([data_folder(self.root) / "rejects.parquet"] if self.manifest else []) \
            + self.rejects
        n = 0
        schema = empty(REJECTS).to_arrow().schema
        with pq.ParquetWriter(path, schema, compression="lz4") as writer:
            for src in sources:
                lf = pl.scan_parquet(src) if src.suffix == ".parquet" else pl.scan_ipc(src)
                for batch in lf.collect_batches(chunk_size=self.rows):
                    table = batch.cast(REJECTS).to_arrow().cast(schema)
                    writer.write_table(table)
                    n += len(table)
        return n


_UNIQUE = {"tx_id", "ts", "seq", "amount", "amount_raw", "value", "source_row"}


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


class _TableWriter:
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
                self.path, table.schema, compression="lz4",
                use_dictionary=[c for c in names if c not in _UNIQUE],
                write_statistics=[c for c in names if not _is_text(table.schema.field(c).type)])
        else:
            table = table.cast(self._writer.schema)
        if self._pending is not None:
            self._pending.result()
        self._pending = self._thread.submit(self._writer.write_table, table,
                                            row_group_size=len(table))
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
