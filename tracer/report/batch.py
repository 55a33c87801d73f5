"""The result folder of ``tracer batch`` (its printed renderings are in
``tracer.report.batch_text``, ``tracer report`` on a batch folder in
``tracer.report.batch_folder``).

Files (README, "Batch: many victims"): ``cases.parquet``, ``endpoints.parquet``,
``hubs.parquet``, ``hub_cases.parquet``, ``matrix.parquet``, ``rejects.parquet``,
``batch.json`` (written last), and with ``full`` also ``holdings.parquet``, ``flows.parquet``
and ``allocations.parquet``.

Cases arrive in case order (sorted by case_id) and are streamed to disk in row groups of a fixed
size, so memory does not grow with the number of cases, and the bytes of every file depend only
on the cases' results: not on how many workers computed them, nor on the engine.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

__all__ = [
    "CaseOutput",
    "BatchSink",
    "BatchReport",
    "CASES_SCHEMA",
    "ENDPOINTS_SCHEMA",
    "HOLDINGS_SCHEMA",
    "FLOWS_SCHEMA",
    "ALLOCATIONS_SCHEMA",
    "HUBS_SCHEMA",
    "HUB_CASES_SCHEMA",
    "REJECTS_SCHEMA",
    "MATRIX_MAX_HUBS",
]

ROW_GROUP = 65_536  # rows per row group in every file (fixed: the bytes must not depend on chunks)
MATRIX_MAX_HUBS = 1_000  # columns of matrix.parquet: the top hubs that are endpoints of a case
_MATRIX_CELLS = 1 << 22  # cells per row group of matrix.parquet

_TS = pa.timestamp("us", tz="UTC")
_CASE = pa.field("case_id", pa.string(), nullable=False)

CASES_SCHEMA = pa.schema(
    [
        _CASE,
        ("seeds", pa.int64()),
        ("seed_value", pa.float64()),
        ("at_endpoints", pa.float64()),
        ("at_stops", pa.float64()),
        ("dust", pa.float64()),
        ("unexplained", pa.float64()),
        ("endpoints", pa.int64()),
        ("accounts_reached", pa.int64()),
        ("flows", pa.int64()),
        ("rejected_rows", pa.int64()),
        ("status", pa.string()),
        ("error", pa.string()),
    ]
)
ENDPOINTS_SCHEMA = pa.schema(
    [
        _CASE,
        ("account", pa.string()),
        ("label", pa.string()),
        ("value", pa.float64()),
        ("share", pa.float64()),
        ("stopped", pa.bool_()),
        ("min_hops", pa.int64()),
        ("first_ts", _TS),
    ]
)
HOLDINGS_SCHEMA = pa.schema(
    [
        _CASE,
        ("account", pa.string()),
        ("label", pa.string()),
        ("tainted_in", pa.float64()),
        ("tainted_out", pa.float64()),
        ("tainted_balance", pa.float64()),
        ("unexplained", pa.float64()),
        ("min_hops", pa.int64()),
        ("first_ts", _TS),
        ("stopped", pa.bool_()),
    ]
)
FLOWS_SCHEMA = pa.schema(
    [
        _CASE,
        ("tx_id", pa.string()),
        ("ts", _TS),
        ("src", pa.string()),
        ("dst", pa.string()),
        ("value", pa.float64()),
        ("tainted", pa.float64()),
        ("hop", pa.int64()),
    ]
)
ALLOCATIONS_SCHEMA = pa.schema(
    [
        _CASE,
        ("tx_id", pa.string()),
        ("from_tx_id", pa.string()),
        ("account", pa.string()),
        ("amount", pa.float64()),
    ]
)
# under match, how each allocation was made (``tracer.api``'s allocations)
MATCH_ALLOCATIONS_SCHEMA = pa.schema(
    list(ALLOCATIONS_SCHEMA)
    + [
        ("how", pa.string()),
        ("ratio", pa.float64()),
        ("delay_seconds", pa.float64()),
    ]
)
HUBS_SCHEMA = pa.schema(
    [
        ("account", pa.string()),
        ("label", pa.string()),
        ("cases", pa.int64()),
        ("value", pa.float64()),
        ("as_endpoint", pa.int64()),
        ("as_intermediary", pa.int64()),
    ]
)
HUB_CASES_SCHEMA = pa.schema(
    [
        _CASE,
        ("account", pa.string()),
        ("label", pa.string()),
        ("value", pa.float64()),
        ("tainted_in", pa.float64()),
        ("endpoint", pa.bool_()),
        ("intermediary", pa.bool_()),
    ]
)
REJECTS_SCHEMA = pa.schema([("row", pa.int64()), ("case_id", pa.string()), ("reason", pa.string())])


@dataclass(frozen=True)
class CaseOutput:
    """What one case gives: its summary row and its tables (without case_id).

    ``status`` is ``ok`` or ``error`` (then ``error`` says why and the tables are None).
    ``summary`` holds the numeric columns of ``cases.parquet``.
    """

    case_id: str
    status: str
    error: str | None = None
    rejected_rows: int = 0
    summary: dict = field(default_factory=dict)
    endpoints: pa.Table | None = None
    holdings: pa.Table | None = None
    flows: pa.Table | None = None
    allocations: pa.Table | None = None


@dataclass(frozen=True)
class BatchReport:
    """The finished batch: ``meta`` is the content of batch.json, ``hubs`` the hubs table."""

    folder: Path
    meta: dict
    hubs: pa.Table


def _with_case(case_id: str, table: pa.Table, schema: pa.Schema) -> pa.Table:
    names = schema.names[1:]
    cols = [pa.array([case_id] * table.num_rows, pa.string()), *table.select(names).columns]
    return pa.Table.from_arrays(cols, schema=schema)


class _Stream:
    """A Parquet file written in row groups of exactly ``rows`` rows (the last one shorter),
    to a hidden name first, moved into place by ``close``."""

    def __init__(self, path: Path, schema: pa.Schema, rows: int | None = None) -> None:
        self.path, self.schema, self.rows = path, schema, rows or ROW_GROUP
        self.tmp = path.with_name(f".{path.name}.tmp")
        self.writer = pq.ParquetWriter(self.tmp, schema)
        self.buf: list[pa.Table] = []
        self.n = 0
        self.written = 0

    def add(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self.buf.append(table)
        self.n += table.num_rows
        while self.n >= self.rows:
            self._write(self.rows)

    def _write(self, k: int) -> None:
        table = pa.concat_tables(self.buf) if len(self.buf) > 1 else self.buf[0]
        self.writer.write_table(table.slice(0, k).combine_chunks(), row_group_size=k)
        rest = table.slice(k)
        self.buf = [rest] if rest.num_rows else []
        self.n = rest.num_rows
        self.written += k

    def finish(self) -> Path:
        """Write what is buffered and close; the file stays at its hidden name."""
        if self.n:
            self._write(self.n)
        self.writer.close()
        return self.tmp

    def close(self) -> Path:
        self.finish()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            self.writer.close()
        finally:
            self.tmp.unlink(missing_ok=True)


def _write_table(path: Path, table: pa.Table) -> None:
    s = _Stream(path, table.schema)
    s.add(table)
    s.close()


class BatchSink:
    """Takes each case's output in case order, streams it to the folder, and tallies hubs."""

    def __init__(self, folder: str | Path, *, full: bool = False, rule: str | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.full = full
        f = self.folder
        self.cases = _Stream(f / "cases.parquet", CASES_SCHEMA)
        self.endpoints = _Stream(f / "endpoints.parquet", ENDPOINTS_SCHEMA)
        self.holdings = _Stream(f / "holdings.parquet", HOLDINGS_SCHEMA)  # hidden unless full
        self.flows = _Stream(f / "flows.parquet", FLOWS_SCHEMA) if full else None
        self.alloc_schema = MATCH_ALLOCATIONS_SCHEMA if rule == "match" else ALLOCATIONS_SCHEMA
        self.allocations = _Stream(f / "allocations.parquet", self.alloc_schema) if full else None
        # account -> [label, cases, endpoint value, as endpoint, as intermediary]
        self.reached: dict[str, list] = {}
        self.case_ids: list[str] = []
        self.ok = 0
        self.failed = 0
        self.totals = dict.fromkeys(
            ("seed_value", "at_endpoints", "at_stops", "dust", "unexplained"), 0.0
        )

    def add(self, out: CaseOutput) -> None:
        s = out.summary if out.status == "ok" else {}
        row = {
            "case_id": out.case_id,
            **{k: s.get(k) for k in CASES_SCHEMA.names[1:]},
            "rejected_rows": out.rejected_rows,
            "status": out.status,
            "error": out.error,
        }
        self.cases.add(pa.Table.from_pylist([row], schema=CASES_SCHEMA))
        self.case_ids.append(out.case_id)
        if out.status != "ok":
            self.failed += 1
            return
        self.ok += 1
        for key in self.totals:
            self.totals[key] += s[key]
        self.endpoints.add(_with_case(out.case_id, out.endpoints, ENDPOINTS_SCHEMA))
        self.holdings.add(_with_case(out.case_id, out.holdings, HOLDINGS_SCHEMA))
        if self.flows is not None:
            self.flows.add(_with_case(out.case_id, out.flows, FLOWS_SCHEMA))
        if self.allocations is not None and out.allocations is not None:
            self.allocations.add(_with_case(out.case_id, out.allocations, self.alloc_schema))
        h = out.holdings
        reached = self.reached
        for acc, label, bal, sent in zip(
            h["account"].to_pylist(),
            h["label"].to_pylist(),
            h["tainted_balance"].to_pylist(),
            h["tainted_out"].to_pylist(),
            strict=True,
        ):
            tally = reached.get(acc)
            if tally is None:
                tally = reached[acc] = [label, 0, 0.0, 0, 0]
            tally[1] += 1
            if bal > 0:
                tally[2] += bal
                tally[3] += 1
            if sent > 0:
                tally[4] += 1

    def abort(self) -> None:
        for s in (self.cases, self.endpoints, self.holdings, self.flows, self.allocations):
            if s is not None:
                s.abort()

    def close(self, meta: dict, rejects: list[tuple[int, str | None, str]]) -> BatchReport:
        """Finish the streamed files, then write hubs, hub_cases, matrix, rejects and batch.json
        (last)."""
        f = self.folder
        self.cases.close()
        self.endpoints.close()
        holdings = self.holdings.close() if self.full else self.holdings.finish()
        if self.flows is not None:
            self.flows.close()
            self.allocations.close()
        hubs = self._hubs()
        self.reached = {}
        _write_table(f / "hubs.parquet", hubs)
        self._hub_cases(holdings, hubs)
        if not self.full:
            holdings.unlink()
        columns = self._matrix(hubs)
        _write_table(
            f / "rejects.parquet",
            pa.Table.from_pylist(
                [{"row": r, "case_id": c, "reason": why} for r, c, why in rejects],
                schema=REJECTS_SCHEMA,
            ),
        )
        files = [
            "cases.parquet",
            "endpoints.parquet",
            "hubs.parquet",
            "hub_cases.parquet",
            "matrix.parquet",
            "rejects.parquet",
        ]
        if self.full:
            files += ["holdings.parquet", "flows.parquet", "allocations.parquet"]
        meta = dict(meta)
        meta["counts"] = {
            **meta.get("counts", {}),
            "cases_done": len(self.case_ids),
            "cases_ok": self.ok,
            "cases_failed": self.failed,
            "hubs": hubs.num_rows,
            "matrix_columns": columns,
        }
        meta["totals"] = dict(self.totals)
        meta["files"] = sorted(files)
        tmp = f / ".batch.json.tmp"
        tmp.write_text(json.dumps(meta, indent=1, sort_keys=True, allow_nan=False) + "\n")
        os.replace(tmp, f / "batch.json")
        return BatchReport(f, meta, hubs)

    def _hubs(self) -> pa.Table:
        rows = [(acc, *t) for acc, t in self.reached.items() if t[1] >= 2]
        rows.sort(key=lambda r: (-r[2], -r[3], r[0]))
        cols = list(zip(*rows, strict=True)) if rows else [()] * 6
        return pa.Table.from_arrays(
            [pa.array(c, t.type) for c, t in zip(cols, HUBS_SCHEMA, strict=True)],
            schema=HUBS_SCHEMA,
        )

    def _hub_cases(self, holdings: Path, hubs: pa.Table) -> None:
        out = _Stream(self.folder / "hub_cases.parquet", HUB_CASES_SCHEMA)
        hub_set = hubs.column("account").combine_chunks()
        try:
            for batch in pq.ParquetFile(holdings).iter_batches(batch_size=ROW_GROUP):
                t = pa.Table.from_batches([batch])
                t = t.filter(pc.is_in(t["account"], value_set=hub_set))
                if t.num_rows == 0:
                    continue
                bal = t["tainted_balance"]
                ends = pc.greater(bal, 0.0)
                out.add(
                    pa.Table.from_arrays(
                        [
                            t["case_id"],
                            t["account"],
                            t["label"],
                            pc.if_else(ends, bal, 0.0),
                            t["tainted_in"],
                            ends,
                            pc.greater(t["tainted_out"], 0.0),
                        ],
                        schema=HUB_CASES_SCHEMA,
                    )
                )
        except BaseException:
            out.abort()
            raise
        out.close()

    def _matrix(self, hubs: pa.Table) -> int:
        """matrix.parquet: one row per case (case order), one column per hub that is an
        endpoint of some case (hub order, at most MATRIX_MAX_HUBS), value resting there."""
        ends = hubs.filter(pc.greater(hubs["as_endpoint"], 0)).slice(0, MATRIX_MAX_HUBS)
        names = ends.column("account").to_pylist()
        col = {name: j for j, name in enumerate(names)}
        schema = pa.schema([_CASE, *((n, pa.float64()) for n in names)])
        block = max(1, min(ROW_GROUP, _MATRIX_CELLS // max(1, len(names))))  # rows per group
        out = _Stream(self.folder / "matrix.parquet", schema, rows=block)
        index = {cid: i for i, cid in enumerate(self.case_ids)}
        n = len(self.case_ids)
        lo = 0
        dense = np.zeros((min(block, n), len(names)))

        def flush(upto: int) -> None:
            nonlocal lo, dense
            while lo < upto:
                hi = min(lo + block, n)
                arrays = [
                    pa.array(self.case_ids[lo:hi], pa.string()),
                    *(pa.array(dense[: hi - lo, j]) for j in range(len(names))),
                ]
                out.add(pa.Table.from_arrays(arrays, schema=schema))
                dense = np.zeros_like(dense)
                lo = hi

        try:
            if names:
                src = pq.ParquetFile(self.folder / "hub_cases.parquet")
                for batch in src.iter_batches(
                    batch_size=ROW_GROUP, columns=["case_id", "account", "value"]
                ):
                    for cid, acc, value in zip(
                        *(c.to_pylist() for c in batch.columns), strict=True
                    ):
                        j = col.get(acc)
                        if j is None or value == 0:
                            continue
                        i = index[cid]
                        if i >= lo + block:
                            flush(i - (i - lo) % block)
                        dense[i - lo, j] = value
            flush(n)
        except BaseException:
            out.abort()
            raise
        out.close()
        return len(names)
