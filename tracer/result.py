"""The result of a forward trace: ``TraceResult`` and the tables built from the kernel's
arrays (flows, holdings, endpoints, allocations, evidence paths)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from tracer.graph.csr import Graph
from tracer.kernels.paths import best_chains, chains_into
from tracer.kernels.trace import TraceArrays
from tracer.options import TraceOptions
from tracer.rules import CONSERVED
from tracer.stamps import iso

__all__ = [
    "TraceResult",
    "PATHS_SCHEMA",
    "TS_TYPE",
    "build_result",
    "evidence_paths",
    "allocations_table",
    "records",
]

TS_TYPE = pa.timestamp("us", tz="UTC")
JSON_ALLOCATIONS_LIMIT = 100_000


@dataclass(frozen=True)
class TraceResult:
    """A forward trace. Tables as in docs/design.md section 6; ``summary`` holds the totals."""

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
        return {"allocations": records(table)}

    def to_dict(self) -> dict:
        """The JSON object printed by ``tracer trace --format json``."""
        return {
            "rule": self.rule,
            "unit": self.unit,
            "seed_value": self.seed_value,
            "seeds": self.n_seeds,
            "options": self.options,
            "summary": dict(self.summary),
            "endpoints": records(self.endpoints),
            "holdings": records(self.holdings),
            "flows": records(self.flows) if self.flows is not None else [],
            **self._allocations_json(),
            "paths": records(self.paths) if self.paths is not None else [],
        }


def records(table: pa.Table) -> list[dict]:
    """A table as JSON-ready rows (times as ISO 8601 UTC)."""
    rows = table.to_pylist()
    for row in rows:
        for key, val in row.items():
            if isinstance(val, dt.datetime):
                row[key] = iso(val)
    return rows


PATHS_SCHEMA = pa.schema(
    [
        ("account", pa.string()),
        ("rank", pa.int64()),
        ("value", pa.float64()),
        ("tx_ids", pa.list_(pa.string())),
        ("amounts", pa.list_(pa.float64())),
        ("accounts", pa.list_(pa.string())),
    ]
)


def evidence_paths(g: Graph, seeds, out: TraceArrays, k: int) -> pa.Table:
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
    sums = (
        np.add.reduceat(al_amt[np.argsort(key, kind="stable")], np.sort(first))
        if key.shape[0]
        else np.zeros(0)
    )
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
        group_ptr, group_flows.astype(np.int64), value, pred_f, pred_j, f_tau, a_out, a_in, sums, k
    )
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
    return pa.table(
        {
            "account": g.accounts.take(pa.array(ep[c_group], pa.int64())).cast(pa.string()),
            "rank": pa.array(rank_in_group, pa.int64()),
            "value": pa.array(c_value),
            "tx_ids": pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), tx),
            "amounts": pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(amounts)),
            "accounts": pa.ListArray.from_arrays(pa.array(acc_off, pa.int32()), accs),
        },
        schema=PATHS_SCHEMA,
    )


def _endpoint_ids(h_acc: np.ndarray, h_bal: np.ndarray) -> np.ndarray:
    """Endpoint account ids in the endpoint table's order (value down, then account)."""
    keep = h_bal > 0
    acc, bal = h_acc[keep], h_bal[keep]
    return acc[np.lexsort((acc, -bal))].astype(np.int64)


def allocations_table(g: Graph, out: TraceArrays, opts: TraceOptions) -> pa.Table:
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


def build_result(
    g: Graph, rule, unit, n_seeds, options, out: TraceArrays, detail: bool = True
) -> TraceResult:
    """The tables of a trace from the kernel's arrays (flows only with ``detail``)."""
    f_rank, f_tau, f_hop = out.flow_rank, out.flow_tau, out.flow_hop
    h_acc, h_in, h_out, h_bal = out.acc, out.tainted_in, out.tainted_out, out.tainted_balance
    h_unexp, h_minhop, h_first, h_stopped = (
        out.unexplained,
        out.min_hops,
        out.first_rank,
        out.stopped,
    )
    dust, seed_value = out.dust, out.seed_value
    label_names = np.array(list(g.labels) + [None], dtype=object)

    def labels_of(acc: np.ndarray) -> pa.Array:
        return pa.array(label_names[np.asarray(g.label_code[acc], dtype=np.int64)], pa.string())

    def names_of(acc: np.ndarray) -> pa.Array:
        return g.accounts.take(pa.array(acc, pa.int64())).cast(pa.string())

    src = np.asarray(g.src[f_rank], np.int64)
    dst = np.asarray(g.dst[f_rank], np.int64)
    flows = (
        None
        if not detail
        else pa.table(
            {
                "tx_id": g.tx_ids.take(pa.array(f_rank, pa.int64())).cast(pa.string()),
                "ts": pa.array(np.asarray(g.ts[f_rank]), pa.int64()).cast(TS_TYPE),
                "src": names_of(src),
                "dst": names_of(dst),
                "value": pa.array(np.asarray(g.value[f_rank], np.float64)),
                "tainted": pa.array(f_tau),
                "hop": pa.array(f_hop, pa.int64()),
            }
        )
    )
    order = np.argsort(h_acc, kind="stable")  # accounts are numbered in sorted order
    acc = h_acc[order]
    first_ts = np.asarray(g.ts[h_first[order]], np.int64)
    holdings = pa.table(
        {
            "account": names_of(acc),
            "label": labels_of(acc),
            "tainted_in": pa.array(h_in[order]),
            "tainted_out": pa.array(h_out[order]),
            "tainted_balance": pa.array(h_bal[order]),
            "unexplained": pa.array(h_unexp[order]),
            "min_hops": pa.array(h_minhop[order], pa.int64()),
            "first_ts": pa.array(first_ts, pa.int64()).cast(TS_TYPE),
            "stopped": pa.array(h_stopped[order]),
        }
    )
    bal = h_bal[order]
    ends = np.flatnonzero(bal > 0)
    ends = ends[np.lexsort((acc[ends], -bal[ends]))]  # value down, then account
    share = bal[ends] / seed_value if seed_value > 0 else np.zeros(ends.shape[0])
    endpoints = pa.table(
        {
            "account": names_of(acc[ends]),
            "label": labels_of(acc[ends]),
            "value": pa.array(bal[ends]),
            "share": pa.array(share),
            "stopped": pa.array(h_stopped[order][ends]),
            "min_hops": pa.array(h_minhop[order][ends], pa.int64()),
            "first_ts": pa.array(first_ts[ends], pa.int64()).cast(TS_TYPE),
        }
    )
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
    return TraceResult(
        rule=rule,
        unit=unit,
        seed_value=float(seed_value),
        n_seeds=n_seeds,
        summary=summary,
        flows=flows,
        holdings=holdings,
        endpoints=endpoints,
        options=options,
    )
