"""Reading, the first phase of an ingest: each file hashed (SHA-256, so a file already ingested
changes nothing) and read in batches of rows by its reader; each batch's transfers become a
sorted part on disk (``tracer.ingest.parts``), its rejects another; the workspace's earlier
transfers are staged the same way before the first new file."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from tracer import io
from tracer.errors import InputError
from tracer.ingest.state import FileReport, Progress, Run
from tracer.ingest.value import OWN_USD, check_unit, has_own_usd
from tracer.io.common import iter_table
from tracer.io.prices import read_prices
from tracer.stamps import now
from tracer.workspace import data_folder

__all__ = ["read_all", "stage_existing"]


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


def _reads(
    reader: io.Reader, path: Path, source: str, options: dict, rows: int
) -> Iterator[io.ReadResult]:
    """The reader's results for ``path``: one per batch when the reader converts batches of
    rows, else one for the whole file."""
    if reader.batched:
        for frame in iter_table(path, rows, **reader.table):
            yield reader.read(path, source, options, frame=frame)
    else:
        yield reader.read(path, source, options)


def read_all(run: Run, files, labels, prices) -> list[FileReport]:
    """Read every file not ingested before (by SHA-256). A transfers file whose name and
    size match no earlier input is most likely new: it is read while a thread hashes it,
    and if the hash shows it was ingested after all, what was read is taken back."""
    known = {item["sha256"] for item in run.old_inputs}
    names = {item["name"] for item in run.old_inputs}
    met = {(Path(item["path"]).name, item.get("size")) for item in run.old_inputs}
    todo = [
        (Path(p), kind)
        for kind, paths in (("prices", prices), ("labels", labels), ("transfers", files))
        for p in paths
    ]
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
                stage_existing(run)
                mark = _mark(run, source)
                try:
                    _read_file(run, p, kind, source, None, hashed)
                    failed = None
                except Exception as exc:  # an input already ingested is not read at all
                    failed = exc
                digest, _ = hashed.result()
                if digest not in known:
                    if failed is not None:
                        raise failed
                    known.add(digest)
                    run.new_inputs[-1]["sha256"] = digest
                    continue
                _rollback(run, mark)
                names.discard(source)
            else:
                digest, lines = _hash_and_count(p, run.step)
                if digest not in known:
                    known.add(digest)
                    stage_existing(run)
                    _read_file(run, p, kind, new_source(p), digest, lines)
                    continue
            run.reports.append(FileReport(str(p), p.name, kind, "unchanged", 0, 0, 0))
    finally:
        hashing.shutdown()
    return run.reports


def _mark(run: Run, source: str) -> tuple:
    return (
        source,
        len(run.parts.paths),
        len(run.rejects),
        list(run.new_labels),
        run.ws_unit,
        len(run.unpriced),
        len(run.unpriced_sources),
        len(run.reports),
        len(run.new_inputs),
    )


def _rollback(run: Run, mark: tuple) -> None:
    """Forget a file read since ``mark`` (``_mark``)."""
    (
        source,
        n_parts,
        n_rejects,
        run.new_labels,
        run.ws_unit,
        n_unpriced,
        n_sources,
        n_reports,
        n_inputs,
    ) = mark
    run.parts.truncate(n_parts)
    for path in run.rejects[n_rejects:]:
        path.unlink(missing_ok=True)
    del run.rejects[n_rejects:], run.unpriced[n_unpriced:]
    del run.unpriced_sources[n_sources:], run.reports[n_reports:]
    del run.new_inputs[n_inputs:]
    run.batched.pop(source, None)
    run.columns.pop(source, None)


def stage_existing(run: Run) -> None:
    """Stage the workspace's transfers (once, before the first new file), so that a
    tx_id already ingested stays."""
    if not run.manifest or run.staged_existing:
        return
    run.staged_existing = True
    path = data_folder(run.root) / "transfers.parquet"
    total = pq.ParquetFile(path).metadata.num_rows
    done = 0
    for batch in pl.scan_parquet(path).collect_batches(chunk_size=run.rows):
        run.parts.add(batch)
        done += batch.height
        run.step("reading the workspace's transfers", done, total)


def _assets(table: pl.DataFrame) -> list[str]:
    """The assets a file without values is in; when it has several, rows with the source's
    own USD value (``OWN_USD``) count as USD (a file in one asset stays in it)."""
    assets = table.get_column("asset").unique().drop_nulls().to_list()
    if len(assets) < 2 or not has_own_usd(table):
        return assets
    own = pl.col(OWN_USD).is_not_null()
    return (
        table.select(pl.when(own).then(pl.lit("USD")).otherwise(pl.col("asset")))
        .to_series()
        .unique()
        .drop_nulls()
        .to_list()
    )


def _read_file(
    run: Run, p: Path, kind: str, source: str, digest: str | None, lines: int | Future
) -> None:
    """Read one file into the run. ``lines``: its line breaks, or the hashing that counts
    them (``digest`` is then filled in by the caller)."""
    notes: list[str] = []
    read = ingested = rejected = 0
    run.step(f"reading {p.name}")
    if kind == "prices":
        name = "prices"
        table, rejects, read = read_prices(p, source)
        run.new_prices.append(table)
        ingested, rejected = table.height, rejects.height
        run.stage_rejects(rejects)
    elif kind == "labels":
        name = io.detect_labels(p)
        table, rejects, read = io.label_reader(name).read_labels(p, source)
        run.new_labels.append(table)
        ingested, rejected = table.height, rejects.height
        run.stage_rejects(rejects)
    else:
        name = io.detect(p) if run.fmt == "auto" else run.fmt
        module = io.reader(name)  # the Reader record (tracer.io.base)
        counting = lines if isinstance(lines, Future) else None
        expected = _rows_expected(p, 0 if counting else lines)
        run.step(f"reading {p.name}", 0, expected)
        has_value = None
        assets: set[str] = set()
        accounts = []
        for res in _reads(module, p, source, run.options, run.rows):
            read += res.read
            rejected += res.rejects.height
            run.stage_rejects(res.rejects)
            table = res.transfers
            if not res.has_value:  # valued from prices (or as the unit) when merged
                table = table.with_columns(pl.lit(None, pl.Float64).alias("value"))
                assets.update(_assets(table))
            run.parts.add(table)
            run.columns.setdefault(source, table.columns)
            ingested += table.height
            has_value = res.has_value
            if res.accounts is not None:
                accounts.append(res.accounts)
            notes.extend(n for n in res.notes if n not in notes)
            if (
                expected is None
                and counting is not None
                and counting.done()
                and counting.exception() is None
            ):
                expected = _rows_expected(p, counting.result()[1])
            run.step(f"reading {p.name}", read, None if expected is None else max(expected, read))
        if module.batched:
            run.batched[source] = (p, dict(module.table))
        for table in reversed(accounts):
            run.new_labels.insert(0, table)  # explicit label files win
        if has_value:
            run.ws_unit = check_unit(p, True, [], run.ws_unit, run.unit_option)
        elif has_value is not None:
            run.unpriced.append((p, assets))
            run.unpriced_sources.append(source)
        if ingested == 0 and accounts:
            kind, ingested = "accounts", sum(t.height for t in accounts)  # an accounts file
    run.reports.append(
        FileReport(str(p), source, kind, "ingested", read, ingested, rejected, 0, tuple(notes))
    )
    run.new_inputs.append(
        {
            "name": source,
            "path": str(p),
            "kind": kind,
            "format": name,
            "sha256": digest,
            "size": p.stat().st_size,
            "read": read,
            "ingested": ingested,
            "rejected": rejected,
            "notes": notes,
            "ingested_at": now(),
        }
    )
