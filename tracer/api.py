"""The library: validate, run a kernel, return Arrow tables."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa

from tracer.errors import InputError, UnknownAccountError, UnknownTransferError
from tracer.graph.csr import Graph
from tracer.kernels.paths import best_chains, chains_into
from tracer.kernels.reach import SCAN_AFTER, earliest_arrival
from tracer.kernels.trace import SCAN_CHOOSE, TraceArrays, trace_kernel
from tracer.options import TraceOptions
from tracer.rules import CONSERVED, RULES, rule_code
from tracer.stamps import iso
from tracer.workspace import Workspace

__all__ = ["TraceResult", "trace", "reach", "find_transfers", "find_accounts", "seeds_from_accounts"]

TS_TYPE = pa.timestamp("us", tz="UTC")
JSON_ALLOCATIONS_LIMIT = 100_000
PROGRESS_EVERY_S = 0.2  # how often ``trace`` reports progress to ``on_progress``


@dataclass(frozen=True)
class TraceResult:
    """A forward trace. Tables as in DESIGN section 6; ``summary`` holds the totals."""

    rule: str
    unit: str | None
    seed_value: float
    n_seeds: int
    summary: dict[str, float]
    flows: pa.Table | None
    holdings: pa.Table
    endpoints: pa.Table
    options: dict = field(default_factory=dict)
    allocations: pa.Table | None = None
    paths: pa.Table | None = None

    @property
    def conserved(self) -> bool:
        """seed value = at endpoints + dust, to 1e-9 relative (not asked of poison)."""
        total = self.summary["at_endpoints"] + self.summary["dust"]
        return math.isclose(self.seed_value, total, rel_tol=1e-9, abs_tol=1e-12)

    def _allocations_json(self) -> dict:
        """Allocations in JSON, unless there are too many for a JSON document (a haircut
        trace over a large graph makes millions): then null, with their number; they are in
        allocations.parquet either way."""
        table = self.allocations
        if table is None:
            return {"allocations": []}
        if table.num_rows > JSON_ALLOCATIONS_LIMIT:
            return {"allocations": None, "allocations_rows": table.num_rows}
        return {"allocations": _records(table)}

    def to_dict(self) -> dict:
        """The JSON object printed by ``tracer trace --format json``."""
        return {
            "rule": self.rule,
            "unit": self.unit,
            "seed_value": self.seed_value,
            "seeds": self.n_seeds,
            "options": self.options,
            "summary": dict(self.summary),
            "endpoints": _records(self.endpoints),
            "holdings": _records(self.holdings),
            "flows": _records(self.flows) if self.flows is not None else [],
            **self._allocations_json(),
            "paths": _records(self.paths) if self.paths is not None else [],
        }


def _records(table: pa.Table) -> list[dict]:
    rows = table.to_pylist()
    for row in rows:
        for key, val in row.items():
            if isinstance(val, dt.datetime):
                row[key] = iso(val)
    return rows


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
    acc, at = earliest_arrival(g.fwd_indptr, g.fwd_edges, g.fwd_dst, g.src, g.dst, g.value,
                               g.zero_values, seeds, end_rank,
                               ws.scratch(g) if scratch is None else scratch, _budget)
    codes = np.asarray(g.label_code[acc], np.int64)
    label_names = pa.array(list(g.labels) + [None], pa.string())  # code -1: the last, none
    return pa.table({
        "account": g.accounts.take(pa.array(acc, pa.int64())).cast(pa.string()),
        "label": label_names.take(pa.array(np.where(codes < 0, len(g.labels), codes))),
        "first_ts": pa.array(np.asarray(g.ts[at], np.int64), pa.int64()).cast(TS_TYPE),
        "first_tx_id": g.tx_ids.take(pa.array(at, pa.int64())).cast(pa.string()),
    })


def check_stop_labels(ws: Workspace, stop_at: Sequence[str]) -> None:
    """An unknown label in ``--stop-at`` (a typo: ``exchnge``) would stop nowhere without a
    word: refuse a label that is neither one the workspace has nor one of tracer's categories."""
    from tracer.io.categories import CATEGORIES

    have = set(ws.graph.labels) | set(ws.graph_at("entity").labels)
    unknown = [s for s in stop_at if s not in have and s not in CATEGORIES.values()]
    if unknown:
        listed = ", ".join(sorted(have)) or "none"
        raise InputError(f"--stop-at {','.join(unknown)}: no such label. The workspace's labels: "
                         f"{listed}; use --stop-at \"\" to stop nowhere.")


def entities_of(ws: Workspace, names: Sequence[str]) -> list[str]:
    """The entity of each account name (an entity name stands for itself)."""
    import polars as pl

    found = dict(ws.scan("accounts").filter(pl.col("account").is_in(list(names)))
                 .select("account", "entity").collect().iter_rows())
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
            "--level account.")


def _to_us(value: dt.datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def seeds_from_accounts(graph: Graph, accounts: np.ndarray, since: dt.datetime | None = None,
                        until: dt.datetime | None = None) -> np.ndarray:
    """Every outflow of ``accounts`` within [since, until] whose receiver is not one of them."""
    lo, hi = _to_us(since), _to_us(until)
    members = np.zeros(graph.n_accounts, dtype=np.bool_)
    members[accounts] = True
    parts = []
    for a in np.unique(accounts):
        edges = np.asarray(graph.fwd_edges[graph.fwd_indptr[a]:graph.fwd_indptr[a + 1]], np.int64)
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
        raise InputError("--since/--until select outflows of --from accounts; with --tx, drop them.")
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
            raise InputError("No seed: those accounts sent nothing to other accounts in the "
                             "window. Widen --since/--until or check the accounts.")
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
    args = (g.csr, g.src, g.dst, g.value, g.opening, stopped_acc, seeds.astype(np.int64), code,
            opts.max_hops or 0, end_rank, float(opts.min_amount),
            ws.scratch(g) if scratch is None else scratch, _scan_mode)
    kwargs = dict(ts=g.ts, fallback=RULES[opts.fallback], match_window=opts.window_us,
                  match_cut=opts.match_cut, match_over=opts.match_over,
                  match_group=opts.match_group, progress=progress)
    if on_progress is None:
        out = trace_kernel(*args, **kwargs)
    else:
        out = _watched(lambda: trace_kernel(*args, **kwargs), progress, end_rank, on_progress)
    n_seeds = int(np.count_nonzero(seeds < end_rank))
    recorded = opts.to_dict(rule=False)
    if n_seeds < seeds.shape[0]:  # seeds the horizon (or --until of trace-back) leaves out
        late = seeds[seeds >= end_rank]
        recorded["seeds_not_traced"] = g.tx_ids.take(pa.array(late, pa.int64())).to_pylist()
    result = _result(g, opts.rule, ws.unit, n_seeds, recorded, out, detail)
    if not detail:
        return result
    paths = _paths(g, seeds, out, opts.top_paths) if opts.top_paths > 0 else None
    return replace(result, allocations=_allocations(g, out, opts), paths=paths)


def _watched(run: Callable[[], TraceArrays], progress: np.ndarray, end_rank: int,
             on_progress: Callable[[int, int], None]) -> TraceArrays:
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


PATHS_SCHEMA = pa.schema([
    ("account", pa.string()), ("rank", pa.int64()), ("value", pa.float64()),
    ("tx_ids", pa.list_(pa.string())), ("amounts", pa.list_(pa.float64())),
    ("accounts", pa.list_(pa.string())),
])


def _paths(g: Graph, seeds, out: TraceArrays, k: int) -> pa.Table:
    """The k best evidence chains into each endpoint, by carried value (bottleneck)."""
    f_rank, f_tau, h_acc, h_bal = out.flow_rank, out.flow_tau, out.acc, out.tainted_balance
    al_out, al_in, al_amt = out.alloc_out, out.alloc_in, out.alloc_amount
    n = f_rank.shape[0]
    if n == 0:
        return PATHS_SCHEMA.empty_table()
    out_f = np.searchsorted(f_rank, al_out)
    in_f = np.searchsorted(f_rank, al_in)
    key = out_f * n + in_f  # aggregate lots of one inflow taken by one outflow
    uniq, first = np.unique(key, return_index=True)
    sums = np.add.reduceat(al_amt[np.argsort(key, kind="stable")], np.sort(first)) \
        if key.shape[0] else np.zeros(0)
    a_out, a_in = uniq // n, uniq % n
    value, pred_f, pred_j = best_chains(n, np.isin(f_rank, seeds), f_tau, a_out, a_in, sums, k)
    # flows into each endpoint, endpoints in the endpoint table's order
    fdst = np.asarray(g.dst[f_rank], np.int64)
    order = np.argsort(fdst, kind="stable")
    ep = _endpoint_ids(h_acc, h_bal)
    lo = np.searchsorted(fdst[order], ep)
    hi = np.searchsorted(fdst[order], ep, side="right")
    group_ptr = np.zeros(ep.shape[0] + 1, np.int64)
    group_ptr[1:] = np.cumsum(hi - lo)
    # order[lo[e]:hi[e]] for each endpoint e, one after the other
    group_flows = order[np.repeat(lo - group_ptr[:-1], hi - lo) + np.arange(group_ptr[-1])]
    c_group, c_value, offsets, flows, amounts = chains_into(
        group_ptr, group_flows.astype(np.int64), value, pred_f, pred_j, f_tau, a_out, a_in, sums, k)
    ranks = f_rank[flows]
    tx = g.tx_ids.take(pa.array(ranks, pa.int64())).cast(pa.string())
    # accounts along each chain: the seed's sender, then every receiver
    acc_ids = np.empty(flows.shape[0] + c_group.shape[0], np.int64)
    acc_off = offsets + np.arange(offsets.shape[0])
    head = np.zeros(acc_ids.shape[0], np.bool_)
    head[acc_off[:-1]] = True
    acc_ids[head] = g.src[ranks[offsets[:-1]]]
    acc_ids[~head] = g.dst[ranks]
    accs = g.accounts.take(pa.array(acc_ids, pa.int64())).cast(pa.string())
    rank_in_group = np.arange(c_group.shape[0]) - np.searchsorted(c_group, c_group) + 1
    return pa.table({
        "account": g.accounts.take(pa.array(ep[c_group], pa.int64())).cast(pa.string()),
        "rank": pa.array(rank_in_group, pa.int64()),
        "value": pa.array(c_value),
        "tx_ids": pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), tx),
        "amounts": pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(amounts)),
        "accounts": pa.ListArray.from_arrays(pa.array(acc_off, pa.int32()), accs),
    }, schema=PATHS_SCHEMA)


def _endpoint_ids(h_acc: np.ndarray, h_bal: np.ndarray) -> np.ndarray:
    """Endpoint account ids in the endpoint table's order (value down, then account)."""
    keep = h_bal > 0
    acc, bal = h_acc[keep], h_bal[keep]
    return acc[np.lexsort((acc, -bal))].astype(np.int64)


def _allocations(g: Graph, out: TraceArrays, opts: TraceOptions) -> pa.Table:
    """The evidence DAG: outflow ``tx_id`` drew ``amount`` of taint from inflow ``from_tx_id``
    at ``account``; ordered by outflow, then inflow, as replayed. Under match, ``how`` says
    whether the outflow was ``paired`` with that inflow (``ratio``: its group's out / in, and
    ``delay_seconds`` between the two) or drew it from the fallback pool (``fallback <rule>``).
    The other rules' allocations have no such columns."""
    al_out, al_in, al_amt = out.alloc_out, out.alloc_in, out.alloc_amount
    ranks = pa.array(al_out, pa.int64())
    columns = {
        "tx_id": g.tx_ids.take(ranks).cast(pa.string()),
        "from_tx_id": g.tx_ids.take(pa.array(al_in, pa.int64())).cast(pa.string()),
        "account": g.accounts.take(pa.array(np.asarray(g.src[al_out], np.int64))).cast(pa.string()),
        "amount": pa.array(al_amt, pa.float64()),
    }
    if opts.rule == "match":
        paired = ~np.isnan(out.alloc_ratio)
        how = np.where(paired, "paired", f"fallback {opts.fallback}")
        delay = (np.asarray(g.ts[al_out], np.int64) - np.asarray(g.ts[al_in], np.int64)) / 1e6
        columns["how"] = pa.array(how.tolist(), pa.string())
        columns["ratio"] = pa.array(out.alloc_ratio, pa.float64(), mask=~paired)
        columns["delay_seconds"] = pa.array(delay, pa.float64(), mask=~paired)
    return pa.table(columns)


def _result(g: Graph, rule, unit, n_seeds, options, out: TraceArrays,
            detail: bool = True) -> TraceResult:
    """The tables of a trace from the kernel's arrays (flows only with ``detail``)."""
    f_rank, f_tau, f_hop = out.flow_rank, out.flow_tau, out.flow_hop
    h_acc, h_in, h_out, h_bal = out.acc, out.tainted_in, out.tainted_out, out.tainted_balance
    h_unexp, h_minhop, h_first, h_stopped = (out.unexplained, out.min_hops, out.first_rank,
                                             out.stopped)
    dust, seed_value = out.dust, out.seed_value
    label_names = np.array(list(g.labels) + [None], dtype=object)

    def labels_of(acc: np.ndarray) -> pa.Array:
        return pa.array(label_names[np.asarray(g.label_code[acc], dtype=np.int64)], pa.string())

    def names_of(acc: np.ndarray) -> pa.Array:
        return g.accounts.take(pa.array(acc, pa.int64())).cast(pa.string())

    src = np.asarray(g.src[f_rank], np.int64)
    dst = np.asarray(g.dst[f_rank], np.int64)
    flows = None if not detail else pa.table({
        "tx_id": g.tx_ids.take(pa.array(f_rank, pa.int64())).cast(pa.string()),
        "ts": pa.array(np.asarray(g.ts[f_rank]), pa.int64()).cast(TS_TYPE),
        "src": names_of(src),
        "dst": names_of(dst),
        "value": pa.array(np.asarray(g.value[f_rank], np.float64)),
        "tainted": pa.array(f_tau),
        "hop": pa.array(f_hop, pa.int64()),
    })
    order = np.argsort(h_acc, kind="stable")  # accounts are numbered in sorted order
    acc = h_acc[order]
    first_ts = np.asarray(g.ts[h_first[order]], np.int64)
    holdings = pa.table({
        "account": names_of(acc),
        "label": labels_of(acc),
        "tainted_in": pa.array(h_in[order]),
        "tainted_out": pa.array(h_out[order]),
        "tainted_balance": pa.array(h_bal[order]),
        "unexplained": pa.array(h_unexp[order]),
        "min_hops": pa.array(h_minhop[order], pa.int64()),
        "first_ts": pa.array(first_ts, pa.int64()).cast(TS_TYPE),
        "stopped": pa.array(h_stopped[order]),
    })
    bal = h_bal[order]
    ends = np.flatnonzero(bal > 0)
    ends = ends[np.lexsort((acc[ends], -bal[ends]))]  # value down, then account
    share = bal[ends] / seed_value if seed_value > 0 else np.zeros(ends.shape[0])
    endpoints = pa.table({
        "account": names_of(acc[ends]),
        "label": labels_of(acc[ends]),
        "value": pa.array(bal[ends]),
        "share": pa.array(share),
        "stopped": pa.array(h_stopped[order][ends]),
        "min_hops": pa.array(h_minhop[order][ends], pa.int64()),
        "first_ts": pa.array(first_ts[ends], pa.int64()).cast(TS_TYPE),
    })
    stopped = h_stopped[order]
    summary = {
        "at_endpoints": math.fsum(bal.tolist()),
        "at_stops": math.fsum(bal[stopped].tolist()),
        "dust": float(dust),
        "unexplained": math.fsum(h_unexp[order].tolist()),
        "endpoints": int(ends.shape[0]),
        "accounts_reached": int(acc.shape[0]),
        "flows": int(f_rank.shape[0]),
    }
    if rule in CONSERVED:
        summary["conservation_error"] = float(seed_value) - summary["at_endpoints"] - float(dust)
    return TraceResult(rule=rule, unit=unit, seed_value=float(seed_value), n_seeds=n_seeds,
                       summary=summary, flows=flows, holdings=holdings, endpoints=endpoints,
                       options=options)


def entity_members(workspace, account: str) -> tuple[str, list[dict], list[dict]]:
    """(entity name, member accounts with labels, links that merged them) for an account."""
    import polars as pl

    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)
    accounts = ws.scan("accounts")
    found = accounts.filter(pl.col("account") == account).select("entity").collect()
    if found.height == 0:
        found = accounts.filter(pl.col("entity") == account).select("entity").head(1).collect()
        if found.height == 0:
            raise UnknownAccountError(f"{account}: no such account or entity in the workspace. "
                                      "Account ids match exactly, namespace included.")
    name = found.item(0, 0)
    members = (accounts.filter(pl.col("entity") == name).select("account", "label")
               .sort("account").collect().to_dicts())
    ids = [m["account"] for m in members]
    links = []
    if (ws.path / "entity_links.parquet").exists():
        links = (ws.scan("entity_links").filter(pl.col("account_a").is_in(ids))
                 .sort("account_a", "account_b", "evidence").collect().to_dicts())
    return name, members, links
