"""Batch tracing (docs/design.md section 7): many cases over one workspace, each traced on its own.

A case file (CSV) lists each case's seeds: ``case_id`` and either ``tx_id`` (one row per seed
transfer) or ``account`` with optional ``since``/``until`` (every outflow in the window).
Every case is traced by ``tracer.api.trace`` with the batch's options, so a batch of one gives
what ``tracer trace`` gives. Cases run in parallel, on a thread pool (the kernel releases the
GIL; one scratch buffer per thread) or as tasks on a Ray cluster that each memory-map the
workspace from shared storage. Results go to a folder (``tracer.report.batch``) in case order,
whatever the engine or the number of workers.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, CancelledError, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tracer import __version__, api
from tracer.errors import InputError, TracerError, printable
from tracer.links import links  # noqa: F401 - moved to tracer.links; re-exported
from tracer.options import TraceOptions
from tracer.report.batch import BatchReport, BatchSink, CaseOutput
from tracer.stamps import sha256
from tracer.workspace import Workspace

__all__ = [
    "TraceOptions",
    "AccountSeed",
    "Case",
    "RejectedRow",
    "CaseFile",
    "read_cases",
    "trace_case",
    "run_batch",
    "links",
    "RAY_MISSING",
]

RAY_MISSING = "--engine ray needs Ray, which is not installed: pip install 'tracer[ray]'"
ENGINES = ("local", "ray")


@dataclass(frozen=True)
class AccountSeed:
    """An ``account`` row: every outflow of the account in [since, until]."""

    account: str
    since: dt.datetime | None = None
    until: dt.datetime | None = None


@dataclass(frozen=True)
class Case:
    """A case's valid rows; ``rejected_rows`` counts its rows that were rejected."""

    case_id: str
    tx_ids: tuple[str, ...] = ()
    accounts: tuple[AccountSeed, ...] = ()
    rejected_rows: int = 0


@dataclass(frozen=True)
class RejectedRow:
    """A row of the case file that is not traced. ``row``: 1 is the first row after the header."""

    row: int
    case_id: str | None
    reason: str

    def message(self, source: str) -> str:
        case = f" (case {printable(self.case_id, 60)})" if self.case_id else ""
        return f"{printable(source, 100)} row {self.row}{case} rejected: {self.reason}"


@dataclass(frozen=True)
class CaseFile:
    path: Path
    rows: int
    cases: list[Case]
    rejects: list[RejectedRow]


# --------------------------------------------------------------------------------------------
# The case file
# --------------------------------------------------------------------------------------------


def _parse_time(text: str) -> dt.datetime | None:
    """ISO 8601 date or date-time, UTC without a zone (as ``tracer trace --since``)."""
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _present(values: pa.Array, wanted: set[str]) -> set[str]:
    """Those of ``wanted`` that occur in ``values`` (one vectorised pass over ``values``)."""
    if not wanted:
        return set()
    mask = pc.is_in(values, value_set=pa.array(sorted(wanted), pa.string()))
    return set(values.filter(mask).to_pylist())


def read_cases(ws: Workspace, path: str | Path, level: str = "account") -> CaseFile:
    """Read and check a case file. Bad rows are returned as rejects (one reason each), never
    dropped silently; a file without the needed columns raises InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file.")
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
            if header is None:
                raise InputError(
                    f"{path}: empty file. Write a header: case_id,tx_id or "
                    "case_id,account,since,until."
                )
            names = [h.strip() for h in header]
            if "case_id" not in names or not {"tx_id", "account"} & set(names):
                raise InputError(
                    f"{printable(path, 200)}: needs columns case_id and tx_id or account; the "
                    f"file has {', '.join(printable(n, 40) for n in names[:20]) or 'none'}."
                )
            where = {
                n: names.index(n)
                for n in ("case_id", "tx_id", "account", "since", "until")
                if n in names
            }
            raw = []
            n = 0
            for record in reader:
                if not record:  # a blank line is not a row
                    continue
                n += 1
                raw.append(
                    (n, {k: record[i].strip() if i < len(record) else "" for k, i in where.items()})
                )
        except csv.Error as exc:
            raise InputError(
                f"{path}: not a readable CSV near line {reader.line_num} ({exc})."
            ) from exc
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{printable(path, 200)}: not UTF-8 text near line "
                f"{reader.line_num + 1} (a byte {exc.object[exc.start]:#04x} that "
                "UTF-8 does not allow); save the case file as UTF-8 CSV."
            ) from None
    if not raw:
        raise InputError(f"{path}: no rows after the header; nothing to trace.")

    rejects: list[RejectedRow] = []
    good: list[tuple[int, str, str, AccountSeed | None]] = []
    for n, row in raw:
        case_id = row.get("case_id", "")
        tx, acc = row.get("tx_id", ""), row.get("account", "")
        since, until = row.get("since", ""), row.get("until", "")

        def reject(reason: str, n=n, case_id=case_id) -> None:
            rejects.append(RejectedRow(n, case_id or None, reason))

        if not case_id:
            reject("empty case_id")
        elif tx and acc:
            reject("both tx_id and account are given; give one of them per row")
        elif not tx and not acc:
            reject("neither tx_id nor account is given")
        elif tx and (since or until):
            reject("since/until select outflows of an account; a tx_id row takes none")
        elif tx:
            good.append((n, case_id, tx, None))
        else:
            lo = _parse_time(since) if since else None
            hi = _parse_time(until) if until else None
            if since and lo is None:
                reject(
                    f"since {printable(since, 40)!r} is not an ISO 8601 time "
                    "(e.g. 2025-03-01 or 2025-03-01T12:00:00Z)"
                )
            elif until and hi is None:
                reject(
                    f"until {printable(until, 40)!r} is not an ISO 8601 time "
                    "(e.g. 2025-03-01 or 2025-03-01T12:00:00Z)"
                )
            elif lo is not None and hi is not None and lo > hi:
                reject("since is after until: no outflow can be in that window")
            else:
                good.append((n, case_id, acc, AccountSeed(acc, lo, hi)))

    g = ws.graph
    known_tx = _present(g.tx_ids, {v for _, _, v, a in good if a is None})
    wanted = {v for _, _, v, a in good if a is not None}
    known_acc = _present(g.accounts, wanted)
    if level == "entity" and ws.entity_graph is not g:
        known_acc |= _present(ws.entity_graph.accounts, wanted - known_acc)

    per_case: dict[str, tuple[list[str], list[AccountSeed]]] = {}
    rejected: dict[str, int] = {}
    for n, case_id, value, seed in good:
        if seed is None and value not in known_tx:
            rejects.append(
                RejectedRow(
                    n,
                    case_id,
                    f"no transfer with id {printable(value, 60)!r}"
                    " in the workspace (ids match exactly)",
                )
            )
        elif seed is not None and value not in known_acc:
            rejects.append(
                RejectedRow(
                    n,
                    case_id,
                    f"no account {printable(value, 60)!r} in the "
                    "workspace (ids match exactly, namespace included)",
                )
            )
        else:
            txs, accs = per_case.setdefault(case_id, ([], []))
            (txs.append(value) if seed is None else accs.append(seed))
    rejects.sort(key=lambda r: r.row)
    for r in rejects:
        if r.case_id:
            rejected[r.case_id] = rejected.get(r.case_id, 0) + 1
    cases = [
        Case(
            cid,
            tuple(per_case.get(cid, ((), ()))[0]),
            tuple(per_case.get(cid, ((), ()))[1]),
            rejected.get(cid, 0),
        )
        for cid in sorted(set(per_case) | set(rejected))
    ]
    return CaseFile(path, len(raw), cases, rejects)


# --------------------------------------------------------------------------------------------
# One case
# --------------------------------------------------------------------------------------------


def _trace(
    ws: Workspace, case: Case, opts: TraceOptions, scratch: np.ndarray | None, full: bool = False
):
    common = {"options": replace(opts, top_paths=0), "scratch": scratch, "detail": full}
    if not case.accounts:
        return api.trace(ws, tx_ids=list(case.tx_ids), **common)
    names = list(dict.fromkeys(a.account for a in case.accounts))
    windows = list(dict.fromkeys((a.since, a.until) for a in case.accounts))
    if not case.tx_ids and len(windows) == 1:
        since, until = windows[0]
        return api.trace(ws, from_accounts=names, since=since, until=until, **common)
    # Rows with different windows, or tx_id rows beside account rows: the seeds are the union
    # of the rows' seeds; an account row's seeds exclude transfers to any of the case's accounts
    # (several seed accounts act as one source, as in trace --from).
    g = ws.graph_at(opts.level)
    nodes = api.entities_of(ws, names) if opts.level == "entity" else names
    node_of = dict(zip(names, nodes, strict=True))
    ids = api.find_accounts(g, nodes)
    id_of = dict(zip(nodes, ids.tolist(), strict=True))
    parts = []
    for since, until in windows:
        members = [
            id_of[node_of[a.account]] for a in case.accounts if (a.since, a.until) == (since, until)
        ]
        edges = api.seeds_from_accounts(g, ids, since, until)
        parts.append(edges[np.isin(np.asarray(g.src[edges]), members)])
    edges = np.unique(np.concatenate(parts))
    tx_ids = list(case.tx_ids) + g.tx_ids.take(pa.array(edges, pa.int64())).to_pylist()
    if not tx_ids:
        raise InputError(
            "No seed: the case's accounts sent nothing to other accounts in their "
            "windows. Widen since/until or check the accounts."
        )
    return api.trace(ws, tx_ids=tx_ids, **common)


def trace_case(
    ws: Workspace,
    case: Case,
    opts: TraceOptions,
    scratch: np.ndarray | None = None,
    *,
    full: bool = False,
) -> CaseOutput:
    """Trace one case. A case that cannot be traced (no valid row, no seed, ...) gives an
    ``error`` output with the reason; it does not raise."""
    if not case.tx_ids and not case.accounts:
        return CaseOutput(
            case.case_id,
            "error",
            f"no valid row ({case.rejected_rows} rejected)",
            case.rejected_rows,
        )
    try:
        result = _trace(ws, case, opts, scratch, full)
    except TracerError as exc:
        return CaseOutput(case.case_id, "error", str(exc), case.rejected_rows)
    s = result.summary
    summary = {
        "seeds": result.n_seeds,
        "seed_value": result.seed_value,
        **{
            k: s[k]
            for k in (
                "at_endpoints",
                "at_stops",
                "dust",
                "unexplained",
                "endpoints",
                "accounts_reached",
                "flows",
            )
        },
    }
    return CaseOutput(
        case.case_id,
        "ok",
        None,
        case.rejected_rows,
        summary,
        result.endpoints,
        result.holdings,
        result.flows if full else None,
        result.allocations if full else None,
    )


# --------------------------------------------------------------------------------------------
# Engines
# --------------------------------------------------------------------------------------------


class _InOrder:
    """Results of chunks of cases, handed to the sink in chunk order as they complete."""

    def __init__(
        self, sink: BatchSink, total: int, on_case: Callable[[CaseOutput, int, int], None] | None
    ) -> None:
        self.sink, self.total, self.on_case = sink, total, on_case
        self.next = 0
        self.held: dict[int, list[CaseOutput]] = {}
        self.done = 0

    def put(self, key: int, outputs: list[CaseOutput]) -> None:
        self.held[key] = outputs
        while self.next in self.held:
            key = self.next
            self.next += 1
            self._emit(key, self.held.pop(key))

    def hold(self, key: int, outputs: list[CaseOutput]) -> None:
        self.held[key] = outputs

    def flush(self) -> None:
        """After a stop: write every finished chunk, in order, gaps skipped."""
        for key in sorted(self.held):
            self._emit(key, self.held.pop(key))

    def _emit(self, key: int, outputs: list[CaseOutput]) -> None:
        for i, out in enumerate(outputs):
            self.sink.add(out)
            self.done += 1
            if self.on_case is not None:
                try:
                    self.on_case(out, self.done, self.total)
                except BaseException:  # a stop from the callback: keep the chunk's rest
                    if i + 1 < len(outputs):
                        self.held[key] = outputs[i + 1 :]
                    raise


def _run_local(
    ws: Workspace,
    cases: list[Case],
    opts: TraceOptions,
    workers: int | None,
    full: bool,
    order: _InOrder,
) -> bool:
    """Cases on a thread pool; returns True when stopped by KeyboardInterrupt."""
    g = ws.graph_at(opts.level)
    ws.graph  # noqa: B018  (map the graphs before the threads start)
    local = threading.local()

    def work(case: Case) -> list[CaseOutput]:
        scratch = getattr(local, "scratch", None)
        if scratch is None:
            scratch = local.scratch = np.full(g.n_accounts, -1, np.int64)
        return [trace_case(ws, case, opts, scratch, full=full)]

    n = workers or os.cpu_count() or 1
    pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="tracer-batch")
    pending: dict = {}
    todo = iter(enumerate(cases))
    try:
        while True:
            while len(pending) < 4 * n:
                item = next(todo, None)
                if item is None:
                    break
                pending[pool.submit(work, item[1])] = item[0]
            if not pending:
                return False
            done, _ = wait(list(pending), timeout=0.25, return_when=FIRST_COMPLETED)
            for fut in done:
                order.put(pending.pop(fut), fut.result())
    except KeyboardInterrupt:
        for fut in pending:
            fut.cancel()
        for fut, key in pending.items():  # the running cases finish; keep them
            try:
                order.hold(key, fut.result())
            except CancelledError:
                pass
        pending.clear()
        order.flush()
        return True
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise TracerError(RAY_MISSING) from None
    return ray


def _run_ray(
    ws: Workspace,
    cases: list[Case],
    opts: TraceOptions,
    workers: int | None,
    address: str | None,
    full: bool,
    order: _InOrder,
) -> bool:
    """Chunks of cases on long-lived Ray actors (``tracer.ray_engine``); returns True when
    stopped by KeyboardInterrupt."""
    from tracer import ray_engine

    ray = _import_ray()
    started = not ray.is_initialized()
    start = None
    if started and address:  # joining a cluster is quick: its CPUs size the chunks
        ray_engine.start(ray, address, workers)
    elif started:  # Ray starts here while this machine traces the first chunks

        def start() -> None:
            ray_engine.start(ray, None, workers)

    try:
        return ray_engine.run(ray, ws, cases, opts, workers, full, order, start)
    finally:
        if started and ray.is_initialized():
            ray.shutdown()


_DEFAULT_OPTIONS = TraceOptions()


def run_batch(
    workspace: str | Path,
    cases: str | Path,
    output: str | Path,
    *,
    options: TraceOptions = _DEFAULT_OPTIONS,
    engine: str = "local",
    workers: int | None = None,
    address: str | None = None,
    full: bool = False,
    on_reject: Callable[[RejectedRow, str], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_case: Callable[[CaseOutput, int, int], None] | None = None,
) -> BatchReport:
    """Trace every case of the case file ``cases`` and write the result folder ``output``.

    ``engine``: ``local`` (a thread pool of ``workers`` threads, default all cores) or ``ray``
    (``address`` joins a cluster; without it Ray starts here with ``workers`` CPUs, default 2).
    ``on_reject(row, source)`` is called for each rejected row before any case runs,
    ``on_start(total)`` when the cases start, ``on_case(output, done, total)`` after each case
    is written, in case order. A
    KeyboardInterrupt stops the batch cleanly: the finished cases are written, and the report
    says ``interrupted``. Raises InputError for a bad case file or option, and when no row of
    the file can be traced.
    """
    if engine not in ENGINES:
        raise InputError(f"--engine {engine}: choose local or ray.")
    if address and engine != "ray":
        raise InputError("--address joins a Ray cluster: use it with --engine ray.")
    if engine == "ray":
        _import_ray()  # fail before any work
    ws = Workspace.open(workspace)
    options = options.check()
    ws.graph_at(options.level)
    api.check_stop_labels(ws, options.stop_at)
    case_file = read_cases(ws, cases, options.level)
    source = Path(cases).name
    for r in case_file.rejects:
        if on_reject is not None:
            on_reject(r, source)
    if not any(c.tx_ids or c.accounts for c in case_file.cases):
        raise InputError(
            f"{printable(cases, 200)}: no row can be traced "
            f"({len(case_file.rejects)} of {case_file.rows} rows rejected)."
        )
    total = len(case_file.cases)
    if on_start is not None:
        on_start(total)
    sink = BatchSink(output, full=full, rule=options.rule)
    order = _InOrder(sink, total, on_case)
    try:
        if engine == "local":
            interrupted = _run_local(ws, case_file.cases, options, workers, full, order)
        else:
            interrupted = _run_ray(ws, case_file.cases, options, workers, address, full, order)
        meta = {
            "tracer": __version__,
            "workspace": str(workspace),
            "cases_file": str(cases),
            "cases_sha256": sha256(Path(cases)),
            "unit": ws.unit,
            "options": options.to_dict(),
            "interrupted": interrupted,
            "counts": {
                "rows": case_file.rows,
                "rows_rejected": len(case_file.rejects),
                "cases": total,
            },
        }
        return sink.close(meta, [(r.row, r.case_id, r.reason) for r in case_file.rejects])
    except BaseException:
        sink.abort()
        raise
