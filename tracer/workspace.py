"""The workspace (DESIGN section 4): a folder of Parquet tables, graph arrays and a manifest.

Every write goes to a staging folder first and is moved into place by rename, the manifest
last, so a workspace is never seen half written. Ingesting a file already in the manifest
(same SHA-256) changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from tracer import __version__, io
from tracer.entities import assign_entities, entity_label, entity_links
from tracer.errors import InputError, WorkspaceError
from tracer.graph.build import build_graph, intern
from tracer.graph.csr import Graph
from tracer.io.common import ROW, read_table
from tracer.io.labels import LABEL_COLUMNS
from tracer.io.prices import read_prices
from tracer.schema import ACCOUNTS, PRICES, REJECTS, TRANSFERS, account_kind, empty

__all__ = ["FORMAT", "FileReport", "Workspace", "ingest"]

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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _now() -> str:
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


def _load_manifest(path: Path) -> dict | None:
    if (path / MANIFEST).exists():
        return Workspace.open(path).manifest
    if path.exists() and any(path.iterdir()):
        raise WorkspaceError(f"{path} is not empty and is not a tracer workspace (no {MANIFEST}). "
                             "Choose a new folder for the workspace.")
    return None


def _check_unit(path: Path, has_value: bool, assets: list[str], unit: str | None,
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


def ingest(
    workspace: str | Path,
    files: Sequence[str | Path] = (),
    *,
    labels: Sequence[str | Path] = (),
    prices: Sequence[str | Path] = (),
    unit: str | None = None,
    fmt: str = "auto",
    options: dict | None = None,
    on_step: Callable[[str], None] | None = None,
) -> list[FileReport]:
    """Add transfer, label and price files to a workspace (created if missing).

    ``fmt``: a reader's name (``tracer.io.FORMATS``) or ``auto`` to sniff each file.
    ``options``: reader options (``map``, ``date_format``). Values: a file with a ``value``
    column is in ``unit`` (default USD); otherwise amounts are valued from the prices (workspace
    and ``prices``) in ``unit``, or, with no prices at all, the file's single asset is the unit.
    Nothing is written when a file fails (missing columns, unreadable, mixed units): the
    workspace is unchanged.
    """
    step = on_step or (lambda _msg: None)
    options = options or {}
    if fmt != "auto":
        io.reader(fmt)  # an unknown name fails before anything is read
    root = Path(workspace)
    manifest = _load_manifest(root)
    old_inputs = list((manifest or {}).get("inputs", []))
    known = {item["sha256"] for item in old_inputs}
    names = {item["name"] for item in old_inputs}
    ws_unit = (manifest or {}).get("unit")
    reports: list[FileReport] = []
    new_inputs: list[dict] = []
    new_transfers: list[pl.DataFrame] = []
    unpriced: list[pl.DataFrame] = []  # files without values, valued from prices below
    new_rejects: list[pl.DataFrame] = []
    new_labels: list[pl.DataFrame] = []
    new_prices: list[pl.DataFrame] = []

    existing = pl.read_parquet(root / "transfers.parquet") if manifest else empty(TRANSFERS)
    old_prices = pl.read_parquet(root / "prices.parquet") if manifest else empty(PRICES)
    seen_ids = existing.select("tx_id", "source", "source_row")
    for kind, paths in (("prices", prices), ("labels", labels), ("transfers", files)):
        for p in map(Path, paths):
            if not p.is_file():
                raise InputError(f"{p}: no such file.")
            digest = _sha256(p)
            source = p.name
            k = 2
            while source in names:
                source = f"{p.name}#{k}"
                k += 1
            if digest in known:
                reports.append(FileReport(str(p), p.name, kind, "unchanged", 0, 0, 0))
                continue
            known.add(digest)
            names.add(source)
            step(f"reading {p}")
            unvalued = 0
            notes: list[str] = []
            if kind == "prices":
                name = "prices"
                table, rejects, read = read_prices(p, source)
                new_prices.append(table)
            elif kind == "labels":
                name = io.detect_labels(p)
                table, rejects, read = io.label_reader(name).read_labels(p, source)
                new_labels.append(table)
            else:
                name = io.detect(p) if fmt == "auto" else fmt
                res = io.reader(name).read(p, source, options)
                table, rejects, read = res.transfers, res.rejects, res.read
                notes = list(res.notes)
                if res.accounts is not None:
                    new_labels.insert(0, res.accounts)  # explicit label files win
                dup = table.join(seen_ids, on="tx_id", how="inner", suffix="_first")
                if dup.height:
                    rejects = pl.concat([rejects, _duplicate_rejects(dup, table, source, p, name)])
                    table = table.join(dup.select("tx_id"), on="tx_id", how="anti")
                seen_ids = pl.concat([seen_ids, table.select("tx_id", "source", "source_row")])
                if res.has_value:
                    new_transfers.append(table)
                else:
                    unpriced.append((p, table))
                if res.has_value:
                    ws_unit = _check_unit(p, True, [], ws_unit, unit)
            new_rejects.append(rejects)
            ingested, file_kind = table.height, kind
            if kind == "transfers" and ingested == 0 and res.accounts is not None:
                file_kind, ingested = "accounts", res.accounts.height  # an accounts file
            reports.append(FileReport(str(p), source, file_kind, "ingested", read, ingested,
                                      rejects.height, unvalued, tuple(notes)))
            new_inputs.append({
                "name": source, "path": str(p), "kind": file_kind, "format": name,
                "sha256": digest, "size": p.stat().st_size, "read": read,
                "ingested": ingested, "rejected": rejects.height, "notes": notes,
                "ingested_at": _now(),
            })
    if not new_inputs:
        return reports

    price_table = (pl.concat([old_prices, *new_prices], how="vertical_relaxed")
                   .unique(subset=["date", "asset"], keep="last").sort(["date", "asset"]))
    if unpriced:
        if price_table.height == 0:
            for p, table in unpriced:  # no prices: one asset, which is the unit
                assets = sorted(table.get_column("asset").unique().to_list())
                ws_unit = _check_unit(p, False, assets, ws_unit, unit)
        else:
            ws_unit = ws_unit or unit or "USD"
        new_transfers.extend(t.with_columns(
            (pl.when(pl.col("asset") == ws_unit).then(pl.col("amount")).otherwise(None)
             if ws_unit is not None else pl.lit(None, pl.Float64)).alias("value"))
            for _, t in unpriced)

    step("sorting transfers in time order")
    transfers = pl.concat([existing, *new_transfers], how="diagonal_relaxed")
    if price_table.height and ws_unit is not None:
        transfers = _value_from_prices(transfers, price_table, ws_unit)
    for post in io.post_steps():
        transfers, extra = post(transfers)
        if extra.height:
            new_rejects.append(extra)
            _move_to_rejected(extra, new_inputs, old_inputs, reports)
    transfers = transfers.sort(["ts", "seq", "tx_id"])
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    writer = ThreadPoolExecutor(1)
    try:
        # the transfers table is final: write it while the rest is built (polars releases
        # the GIL while it writes)
        pending = writer.submit(_write_table, transfers, staging / "transfers.parquet")
        _build_and_commit(root, staging, pending, transfers, manifest, out_inputs=(
            old_inputs, new_inputs, reports), new_rejects=new_rejects, new_labels=new_labels,
            price_table=price_table, ws_unit=ws_unit, step=step)
    except BaseException:
        if created:
            shutil.rmtree(root, ignore_errors=True)
        raise
    finally:
        writer.shutdown()
        shutil.rmtree(staging, ignore_errors=True)
    return reports


def _write_table(df: pl.DataFrame, path: Path) -> None:
    df.write_parquet(path, compression="lz4", statistics=True)


def _build_and_commit(root: Path, staging: Path, pending, transfers: pl.DataFrame,
                      manifest: dict | None, *, out_inputs, new_rejects, new_labels, price_table,
                      ws_unit, step) -> None:
    """Everything after the transfers are final: rejects, accounts, entities, graphs, and the
    commit of the staging folder."""
    old_inputs, new_inputs, reports = out_inputs
    unvalued_by_source = dict(
        transfers.filter(pl.col("value").is_null()).group_by("source").len().iter_rows())
    for item in (*old_inputs, *new_inputs):
        if item["kind"] == "transfers":
            item["unvalued"] = int(unvalued_by_source.get(item["name"], 0))
    reports[:] = [replace(r, unvalued=int(unvalued_by_source.get(r.source, 0)))
                  if r.kind == "transfers" and r.status == "ingested" else r for r in reports]

    old_rejects = pl.read_parquet(root / "rejects.parquet") if manifest else empty(REJECTS)
    rejects = pl.concat([old_rejects, *new_rejects], how="vertical_relaxed")
    old_labels = (pl.read_parquet(root / "labels.parquet") if manifest
                  else empty(ACCOUNTS).select(LABEL_COLUMNS))
    # what is known of accounts, merged per column: a later file's value wins, and a file that
    # says nothing of a column (an accounts file without labels) does not erase it
    label_rows = (
        pl.concat([old_labels, *(t.select(LABEL_COLUMNS) for t in new_labels)],
                  how="vertical_relaxed")
        .group_by("account", maintain_order=True)
        .agg([pl.col(c).drop_nulls().last() for c in LABEL_COLUMNS if c != "account"])
        .select(LABEL_COLUMNS)
    )

    step("interning accounts")
    src, dst, account_ids = intern(
        _arrow(transfers, "src"), _arrow(transfers, "dst"), _arrow(label_rows, "account"))
    accounts = (
        pl.DataFrame({"account": pl.Series(account_ids).cast(pl.String)})
        .join(label_rows, on="account", how="left", maintain_order="left")
        .with_columns(account_kind().alias("kind"))
        .select(list(ACCOUNTS))
    )
    step("finding entities")
    links = entity_links(transfers, accounts.filter(pl.col("entity").is_not_null()))
    accounts = accounts.with_columns(assign_entities(accounts, links))
    step("building the graph")
    graph = build_graph(transfers, accounts, src, dst)
    entity_graph = _entity_graph(transfers, accounts, src, dst)

    step("writing the workspace")
    now = _now()
    out = dict(manifest or {"format": FORMAT, "created": now})
    out.update(
        format=FORMAT, tool=f"tracer {__version__}", unit=ws_unit, updated=now,
        inputs=old_inputs + new_inputs,
        tables={"transfers": transfers.height, "accounts": accounts.height,
                "rejects": rejects.height, "prices": price_table.height,
                "unvalued": int(transfers.get_column("value").null_count())},
    )
    out["tables"]["entities"] = entity_graph.n_accounts if entity_graph else accounts.height
    _commit(root, staging, {"accounts": accounts, "prices": price_table, "rejects": rejects,
                            "labels": label_rows, "entity_links": links}, graph, out,
            entity_graph, pending={"transfers": pending})


def _value_from_prices(transfers: pl.DataFrame, prices: pl.DataFrame, unit: str) -> pl.DataFrame:
    """Fill null values: amount × usd(asset, day) / usd(unit, day); null where a price is missing."""
    day = pl.col("ts").dt.date()
    usd = prices.rename({"usd": "__usd"})
    unit_usd = prices.filter(pl.col("asset") == unit).select("date", pl.col("usd").alias("__unit"))
    priced = (
        transfers.with_columns(day.alias("date"))
        .join(usd, on=["date", "asset"], how="left", maintain_order="left")
        .join(unit_usd, on="date", how="left", maintain_order="left")
    )
    per_unit = pl.lit(1.0) if unit == "USD" else pl.col("__unit")
    value = (pl.when(pl.col("value").is_not_null()).then(pl.col("value"))
             .when(pl.col("asset") == unit).then(pl.col("amount"))
             .otherwise(pl.col("amount") * pl.col("__usd") / per_unit))
    return priced.with_columns(value.alias("value")).drop("date", "__usd", "__unit")


def _move_to_rejected(extra: pl.DataFrame, *lists) -> None:
    """Rows a post step turned into rejects: move them from ingested to rejected, per file."""
    counts = dict(extra.group_by("source").len().iter_rows())
    new_inputs, old_inputs, reports = lists
    for item in (*old_inputs, *new_inputs):
        n = counts.get(item["name"], 0)
        item["ingested"] -= n
        item["rejected"] += n
    for i, r in enumerate(reports):
        n = counts.get(r.source, 0)
        if n and r.status == "ingested":
            reports[i] = replace(r, ingested=r.ingested - n, rejected=r.rejected + n)


def _arrow(df: pl.DataFrame, col: str) -> pa.Array:
    arr = df.get_column(col).to_arrow()
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _duplicate_rejects(dup: pl.DataFrame, table: pl.DataFrame, source: str,
                       path: Path, fmt: str) -> pl.DataFrame:
    """Rejects for rows whose tx_id is already in the workspace or an earlier file, with the
    row as written when the file is a table (CSV or Parquet), else as read."""
    rows = table.join(dup.select("tx_id", "source_first", "source_row_first"), on="tx_id")
    reason = (pl.lit("duplicate tx_id (already in ") + pl.col("source_first") + pl.lit(" row ")
              + pl.col("source_row_first").cast(pl.String) + pl.lit(")"))
    raw = None
    try:
        if fmt in ("camt053", "tronscan-json") or path.suffix.lower() not in (
                ".csv", ".tsv", ".txt", ".parquet", ".pq", ".gz"):
            raise InputError("not a table")
        original = read_table(path)
        cols = [c for c in original.columns if c != ROW]
        raw = original.select(
            pl.col(ROW).alias("source_row"),
            pl.struct([pl.col(c).cast(pl.String) for c in cols]).struct.json_encode().alias("raw"))
    except InputError:
        pass
    if raw is None:
        raw = rows.select("source_row", pl.struct(pl.exclude(
            "source_first", "source_row_first", "source", "source_row", "seq", "ts", "amount",
            "value")).struct.json_encode().alias("raw"))
    return rows.select(
        pl.lit(source, dtype=pl.String).alias("source"), pl.col("source_row"), reason.alias("reason"),
    ).join(raw, on="source_row", how="left", maintain_order="left")


def _entity_graph(transfers: pl.DataFrame, accounts: pl.DataFrame, src: np.ndarray,
                  dst: np.ndarray) -> Graph | None:
    """The graph between entities, or None when every entity is a single account. Transfers
    within an entity are internal and left out."""
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
    return build_graph(transfers.filter(pl.Series(keep)), entities, esrc[keep], edst[keep])


def _commit(root: Path, staging: Path, tables: dict[str, pl.DataFrame], graph: Graph,
            manifest: dict, entity_graph: Graph | None = None, pending: dict | None = None) -> None:
    """Write everything to the staging folder, then move it into place; the manifest last.
    ``pending``: tables being written in the background (name -> future)."""
    pending = pending or {}
    for name, df in tables.items():
        _write_table(df, staging / f"{name}.parquet")
    graph.save(staging / "graph")
    if entity_graph is not None:
        entity_graph.save(staging / "graph_entity")
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    for future in pending.values():
        future.result()
    for name in (*pending, *tables):
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
