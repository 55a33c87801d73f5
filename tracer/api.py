"""The library: validate, run a kernel, return Arrow tables (built in ``tracer.result``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

import numpy as np
import pyarrow as pa

from tracer.errors import InputError, UnknownAccountError, UnknownTransferError
from tracer.graph.csr import Graph
from tracer.kernels.reach import SCAN_AFTER, earliest_arrival
from tracer.kernels.trace import SCAN_CHOOSE, TraceArrays, trace_kernel
from tracer.options import TraceOptions
from tracer.result import (
    TS_TYPE,
    TraceResult,
    allocations_table,
    build_result,
    evidence_paths,
)
from tracer.rules import RULES, rule_code
from tracer.workspace import Workspace

__all__ = [
    "TraceResult",
    "trace",
    "reach",
    "find_transfers",
    "find_accounts",
    "seeds_from_accounts",
]

PROGRESS_EVERY_S = 0.2  # how often ``trace`` reports progress to ``on_progress``


def _bisect(sorted_text: pa.Array, order: np.ndarray | None, key: str) -> int:
    """Position of ``key`` in a text array sorted through ``order`` (or sorted itself), or -1."""
    lo, hi = 0, len(sorted_text) if order is None else order.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        pos = mid if order is None else int(order[mid])
        if sorted_text[pos].as_py() < key:
            lo = mid + 1
        else:
            hi = mid
    if lo < (len(sorted_text) if order is None else order.shape[0]):
        pos = lo if order is None else int(order[lo])
        if sorted_text[pos].as_py() == key:
            return pos
    return -1


def find_transfers(graph: Graph, tx_ids: Iterable[str]) -> np.ndarray:
    """Edge ranks of the given transfer ids (exact match); raises naming the unknown ones."""
    ranks, unknown = [], []
    for tx in tx_ids:
        r = _bisect(graph.tx_ids, graph.tx_order, tx)
        (unknown.append(tx) if r < 0 else ranks.append(r))
    if unknown:
        raise UnknownTransferError.from_ids(unknown)
    return np.array(ranks, dtype=np.int64)


def find_accounts(graph: Graph, accounts: Iterable[str]) -> np.ndarray:
    """Account ids of the given account names (exact match); raises naming the unknown ones."""
    ids, unknown = [], []
    for name in accounts:
        i = _bisect(graph.accounts, None, name)
        (unknown.append(name) if i < 0 else ids.append(i))
    if unknown:
        raise UnknownAccountError.from_names(unknown)
    return np.array(ids, dtype=np.int64)


def user_accounts(ws: Workspace, names: Sequence[str], level: str = "account") -> np.ndarray:
    """Node numbers in ``ws.graph_at(level)`` of accounts named by a user, however written
    (``tracer.lookup.resolve_accounts``: raw addresses, IBANs, bank numbers, ids cut short);
    which id a name stood for is said on stderr."""
    import sys

    from tracer.lookup import resolve_accounts

    ids, notes = resolve_accounts(ws, names, level)
    for note in notes:
        print(note, file=sys.stderr)
    return ids


def reach(
    ws: Workspace,
    *,
    tx_ids: Sequence[str] | None = None,
    from_accounts: Sequence[str] | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    horizon: dt.timedelta | None = None,
    level: str = "account",
    scratch: np.ndarray | None = None,
    _budget: int | None = None,
) -> pa.Table:
    """Every account the seeds' money can reach by time-respecting paths (later transfers out
    of an account it reached), with the first transfer that brings it: ``account, label,
    first_ts, first_tx_id``, in order of arrival. The same accounts as the holdings of a poison
    trace with no stops, found by an earliest-arrival search that scans each account's
    outflows once; when that search grows large (``SCAN_AFTER`` in ``tracer.kernels.reach``) it
    finishes with one pass over the later transfers in time order. ``_budget`` (tests) sets
    the search's work before that pass: 0 scans from the first seed."""
    g = ws.graph_at(level)
    if (tx_ids is None) == (from_accounts is None):
        raise InputError("Give seeds either as --tx ID... or as --from ACCOUNT..., not both.")
    if tx_ids is not None:
        seeds = np.unique(find_transfers(g, tx_ids))
    else:
        seeds = seeds_from_accounts(g, user_accounts(ws, from_accounts, level), since, until)
    if seeds.shape[0] == 0:
        raise InputError("No seed: nothing to reach from.")
    end_rank = g.n_edges
    if horizon is not None:
        limit = int(g.ts[seeds[0]]) + horizon // dt.timedelta(microseconds=1)
        end_rank = int(np.searchsorted(g.ts, limit, side="right"))
    if _budget is None:
        _budget = int(max(end_rank - int(seeds[0]), 0) * SCAN_AFTER)
    acc, at = earliest_arrival(
        g.fwd_indptr,
        g.fwd_edges,
        g.fwd_dst,
        g.src,
        g.dst,
        g.value,
        g.zero_values,
        seeds,
        end_rank,
        ws.scratch(g) if scratch is None else scratch,
        _budget,
    )
    codes = np.asarray(g.label_code[acc], np.int64)
    label_names = pa.array(list(g.labels) + [None], pa.string())  # code -1: the last, none
    return pa.table(
        {
            "account": g.accounts.take(pa.array(acc, pa.int64())).cast(pa.string()),
            "label": label_names.take(pa.array(np.where(codes < 0, len(g.labels), codes))),
            "first_ts": pa.array(np.asarray(g.ts[at], np.int64), pa.int64()).cast(TS_TYPE),
            "first_tx_id": g.tx_ids.take(pa.array(at, pa.int64())).cast(pa.string()),
        }
    )


def check_stop_labels(ws: Workspace, stop_at: Sequence[str]) -> None:
    """An unknown label in ``--stop-at`` (a typo: ``exchnge``) would stop nowhere without a
    word: refuse a label that is neither one the workspace has nor one of tracer's categories."""
    from tracer.io.categories import CATEGORIES

    have = set(ws.graph.labels) | set(ws.graph_at("entity").labels)
    unknown = [s for s in stop_at if s not in have and s not in CATEGORIES.values()]
    if unknown:
        listed = ", ".join(sorted(have)) or "none"
        raise InputError(
            f"--stop-at {','.join(unknown)}: no such label. The workspace's labels: "
            f'{listed}; use --stop-at "" to stop nowhere.'
        )


def entities_of(ws: Workspace, names: Sequence[str]) -> list[str]:
    """The entity of each account name (an entity name stands for itself)."""
    import polars as pl

    found = dict(
        ws.scan("accounts")
        .filter(pl.col("account").is_in(list(names)))
        .select("account", "entity")
        .collect()
        .iter_rows()
    )
    return [found.get(n, n) for n in names]


def _check_not_internal(ws: Workspace, g: Graph, tx_ids: Sequence[str]) -> None:
    if g is ws.graph:
        return
    missing = [t for t in tx_ids if _bisect(g.tx_ids, g.tx_order, t) < 0]
    inside = [t for t in missing if _bisect(ws.graph.tx_ids, ws.graph.tx_order, t) >= 0]
    if inside:
        raise InputError(
            f"--tx {', '.join(inside[:5])}: moves funds between accounts of one entity, so at "
            "entity level it is internal. Seed a transfer that leaves the entity, or trace with "
            "--level account."
        )


def _to_us(value: dt.datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def seeds_from_accounts(
    graph: Graph,
    accounts: np.ndarray,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> np.ndarray:
    """Every outflow of ``accounts`` within [since, until] whose receiver is not one of them."""
    lo, hi = _to_us(since), _to_us(until)
    members = np.zeros(graph.n_accounts, dtype=np.bool_)
    members[accounts] = True
    parts = []
    for a in np.unique(accounts):
        edges = np.asarray(graph.fwd_edges[graph.fwd_indptr[a] : graph.fwd_indptr[a + 1]], np.int64)
        ts = graph.ts[edges]
        keep = ~members[graph.dst[edges]]
        if lo is not None:
            keep &= ts >= lo
        if hi is not None:
            keep &= ts <= hi
        parts.append(edges[keep])
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)


def trace(
    ws: Workspace,
    *,
    tx_ids: Sequence[str] | None = None,
    from_accounts: Sequence[str] | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    options: TraceOptions | None = None,
    end: dt.datetime | None = None,
    detail: bool = True,
    scratch: np.ndarray | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    _scan_mode: int = SCAN_CHOOSE,
    **option_values,
) -> TraceResult:
    """Trace forward from the named transfers, or from every outflow of the named accounts.

    ``options``: a ``tracer.options.TraceOptions`` (the rule and its parameters, stops, hops,
    horizon, dust, level, evidence chains); or give its fields as keywords (``rule="fifo"``,
    ``stop_at=...``), which fill the defaults' gaps. Semantics: ``docs/semantics.md``. Raises
    InputError (or a subclass) for unknown ids, an empty seed set and bad options.
    ``scratch``: a work buffer of ``n_accounts`` int64, all -1 (one per thread when tracing in
    parallel); the workspace's own by default. ``detail``: False leaves out flows,
    allocations and paths (``None``), for many traces at once. ``on_progress(done_rank,
    end_rank)``: called about every 0.2 s while the replay runs (in a thread of its own), first
    with the first seed's rank, last with ``done_rank == end_rank``; ranks are positions in
    time order, so ``done_rank - first`` of ``end_rank - first`` transfers are replayed. A
    KeyboardInterrupt while it runs stops the replay and is raised again. ``_scan_mode``
    (tests): how the kernel walks the transfers (``tracer.kernels.trace``); the result does
    not depend on it.
    """
    if options is None:
        if "stop_at" in option_values:
            option_values["stop_at"] = tuple(option_values["stop_at"])
        try:
            options = TraceOptions(**option_values)
        except TypeError as exc:
            raise InputError(f"unknown trace option: {exc}") from None
    elif option_values:
        options = replace(options, **option_values)
    opts = options.check()
    code = rule_code(opts.rule)
    if (tx_ids is None) == (from_accounts is None):
        raise InputError("Give seeds either as --tx ID... or as --from ACCOUNT..., not both.")
    if tx_ids is not None and (since is not None or until is not None):
        raise InputError(
            "--since/--until select outflows of --from accounts; with --tx, drop them."
        )
    if since is not None and until is not None and _to_us(since) > _to_us(until):
        raise InputError("--since is after --until: no outflow can be in that window.")
    level = opts.level
    g = ws.graph_at(level)
    if tx_ids is not None:
        if not tx_ids:
            raise InputError("--tx: give at least one transfer id.")
        if level == "entity":
            _check_not_internal(ws, g, tx_ids)
        seeds = np.unique(find_transfers(g, tx_ids))
    else:
        if not from_accounts:
            raise InputError("--from: give at least one account.")
        seeds = seeds_from_accounts(g, user_accounts(ws, from_accounts, level), since, until)
        if seeds.shape[0] == 0:
            raise InputError(
                "No seed: those accounts sent nothing to other accounts in the "
                "window. Widen --since/--until or check the accounts."
            )
    end_rank = g.n_edges
    if opts.horizon is not None:
        limit = int(g.ts[seeds[0]]) + opts.horizon // dt.timedelta(microseconds=1)
        end_rank = int(np.searchsorted(g.ts, limit, side="right"))
    if end is not None:
        end_rank = min(end_rank, int(np.searchsorted(g.ts, _to_us(end), side="right")))

    check_stop_labels(ws, opts.stop_at)
    stop_codes = [i for i, name in enumerate(g.labels) if name in opts.stop_at]
    stopped_acc = np.isin(g.label_code, np.array(stop_codes, dtype=np.int16))
    progress = np.zeros(2, np.int64)
    progress[0] = seeds[0]
    args = (
        g.csr,
        g.src,
        g.dst,
        g.value,
        g.opening,
        stopped_acc,
        seeds.astype(np.int64),
        code,
        opts.max_hops or 0,
        end_rank,
        float(opts.min_amount),
        ws.scratch(g) if scratch is None else scratch,
        _scan_mode,
    )
    kwargs = dict(
        ts=g.ts,
        fallback=RULES[opts.fallback],
        match_window=opts.window_us,
        match_cut=opts.match_cut,
        match_over=opts.match_over,
        match_group=opts.match_group,
        progress=progress,
    )
    if on_progress is None:
        out = trace_kernel(*args, **kwargs)
    else:
        out = _watched(lambda: trace_kernel(*args, **kwargs), progress, end_rank, on_progress)
    n_seeds = int(np.count_nonzero(seeds < end_rank))
    recorded = opts.to_dict(rule=False)
    if n_seeds < seeds.shape[0]:  # seeds the horizon (or --until of trace-back) leaves out
        late = seeds[seeds >= end_rank]
        recorded["seeds_not_traced"] = g.tx_ids.take(pa.array(late, pa.int64())).to_pylist()
    result = build_result(g, opts.rule, ws.unit, n_seeds, recorded, out, detail)
    if not detail:
        return result
    paths = evidence_paths(g, seeds, out, opts.top_paths) if opts.top_paths > 0 else None
    return replace(result, allocations=allocations_table(g, out, opts), paths=paths)


def _watched(
    run: Callable[[], TraceArrays],
    progress: np.ndarray,
    end_rank: int,
    on_progress: Callable[[int, int], None],
) -> TraceArrays:
    """Run the kernel in a thread (it releases the GIL) and report ``progress[0]`` every
    ``PROGRESS_EVERY_S``. On KeyboardInterrupt (or an error in ``on_progress``) ask the kernel
    to stop (``progress[1]``), wait for it and raise again."""
    import threading

    box: dict = {}

    def work() -> None:
        try:
            box["out"] = run()
        except BaseException as exc:  # raised again in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="tracer-trace", daemon=True)
    last = min(int(progress[0]), end_rank)
    on_progress(last, end_rank)
    try:
        worker.start()
        while True:
            worker.join(PROGRESS_EVERY_S)
            if not worker.is_alive():
                break
            done = min(int(progress[0]), end_rank)
            if done > last:
                on_progress(done, end_rank)
                last = done
    except BaseException:
        progress[1] = 1
        worker.join()
        raise
    if "error" in box:
        raise box["error"]
    if last < end_rank:
        on_progress(end_rank, end_rank)
    return box["out"]


def entity_members(workspace, account: str) -> tuple[str, list[dict], list[dict]]:
    """(entity name, member accounts with labels, links that merged them) for an account."""
    import polars as pl

    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)
    accounts = ws.scan("accounts")
    found = accounts.filter(pl.col("account") == account).select("entity").collect()
    if found.height == 0:
        found = accounts.filter(pl.col("entity") == account).select("entity").head(1).collect()
        if found.height == 0:
            raise UnknownAccountError(
                f"{account}: no such account or entity in the workspace. "
                "Account ids match exactly, namespace included."
            )
    name = found.item(0, 0)
    members = (
        accounts.filter(pl.col("entity") == name)
        .select("account", "label")
        .sort("account")
        .collect()
        .to_dicts()
    )
    ids = [m["account"] for m in members]
    links = []
    if (ws.path / "entity_links.parquet").exists():
        links = (
            ws.scan("entity_links")
            .filter(pl.col("account_a").is_in(ids))
            .sort("account_a", "account_b", "evidence")
            .collect()
            .to_dicts()
        )
    return name, members, links
