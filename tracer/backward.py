"""Source of funds: where the money an account holds (or received) came from.

The upstream accounts are found by a backward temporal search (``kernels.reach.upstream``).
What each of them contributed is then measured the way a forward trace would put it there: a
forward trace from every outflow of that account (or of every account of one label category,
acting as one source) that could still reach the target, and the target's tainted balance
at the end (or what it received) is the amount attributed. So what a forward trace puts on W
is exactly what tracing back from W attributes to the seed's account. Money that passed
through several upstream accounts counts for each of them: direct and indirect exposure.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from tracer.api import _to_us, entities_of, find_accounts, trace
from tracer.kernels.reach import upstream
from tracer.options import TraceOptions
from tracer.result import PATHS_SCHEMA, records
from tracer.rules import RULES
from tracer.workspace import Workspace

__all__ = ["TraceBackResult", "trace_back", "BACK_RULES", "write_trace_back"]

BACK_RULES = tuple(RULES)


@dataclass(frozen=True)
class TraceBackResult:
    rule: str
    unit: str | None
    account: str
    measure: str  # held | received
    total: float  # what the account holds at the end (or received in the window)
    origins: pa.Table
    categories: pa.Table
    paths: pa.Table
    options: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "unit": self.unit,
            "account": self.account,
            "measure": self.measure,
            "total": self.total,
            "options": self.options,
            "categories": records(self.categories),
            "origins": records(self.origins),
            "paths": records(self.paths),
        }


def _balance(g, acc: int, lo: int | None, hi: int) -> tuple[float, float]:
    """(balance held after edge rank hi-1, value received in ranks [lo, hi)) of an account,
    with shortfalls presumed as in a trace (the balance never goes below zero)."""
    ins = np.asarray(g.rev_edges[g.rev_indptr[acc] : g.rev_indptr[acc + 1]], np.int64)
    outs = np.asarray(g.fwd_edges[g.fwd_indptr[acc] : g.fwd_indptr[acc + 1]], np.int64)
    ins, outs = ins[ins < hi], outs[outs < hi]
    events = np.concatenate([ins, outs])
    sign = np.concatenate([np.ones(ins.shape[0]), -np.ones(outs.shape[0])])
    order = np.argsort(events, kind="stable")
    bal = float(g.opening[acc])
    for e, sg in zip(events[order], sign[order], strict=True):
        bal = bal + g.value[e] if sg > 0 else max(0.0, bal - g.value[e])
    received = float(g.value[ins[ins >= (lo or 0)]].sum())
    return bal, received


def trace_back(
    ws: Workspace,
    *,
    to: str,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    options: TraceOptions | None = None,
    max_origins: int = 200,
    **option_values,
) -> TraceBackResult:
    """Where the money held by ``to`` at ``until`` (default: the end of the data) came from;
    with ``since``, where the money it received between ``since`` and ``until`` came from.

    ``options`` (or its fields as keywords) are those of a forward trace, every rule and level
    included; ``stop_at`` defaults to none here (an exchange upstream would keep what it
    received and attribute nothing further), ``max_hops`` bounds the backward search too."""
    option_values.setdefault("stop_at", ())
    if options is None:
        options = TraceOptions(
            **{k: tuple(v) if k == "stop_at" else v for k, v in option_values.items()}
        )
    elif option_values:
        options = replace(options, **option_values)
    opts = options.check()
    rule, max_hops, top_paths = opts.rule, opts.max_hops, opts.top_paths
    g = ws.graph_at(opts.level)
    to_node = entities_of(ws, [to])[0] if opts.level == "entity" else to
    target = int(find_accounts(g, [to_node])[0])
    hi = g.n_edges if until is None else int(np.searchsorted(g.ts, _to_us(until), side="right"))
    lo = None if since is None else int(np.searchsorted(g.ts, _to_us(since), side="left"))
    measure = "received" if since is not None else "held"
    held, received = _balance(g, target, lo, hi)
    total = received if measure == "received" else held
    accs, bound, hops = upstream(
        g.rev_indptr, g.rev_edges, g.src, g.n_accounts, target, hi - 1, max_hops or 0
    )
    # the heaviest senders first: value of their relevant outflows
    if accs.shape[0] > max_origins:
        weight = np.array(
            [
                g.value[
                    np.asarray(g.fwd_edges[g.fwd_indptr[a] : g.fwd_indptr[a + 1]], np.int64)
                ].sum()
                for a in accs
            ]
        )
        keep = np.sort(np.argsort(-weight, kind="stable")[:max_origins])
        accs, bound, hops = accs[keep], bound[keep], hops[keep]
    names = g.accounts.take(pa.array(accs, pa.int64())).cast(pa.string()).to_pylist()
    labels = [g.labels[c] if c >= 0 else None for c in np.asarray(g.label_code[accs])]
    direct = set(
        np.asarray(
            g.src[
                np.asarray(g.rev_edges[g.rev_indptr[target] : g.rev_indptr[target + 1]], np.int64)
            ]
        ).tolist()
    )
    end = None if until is None else until

    lo_us = None if since is None else _to_us(since)

    def measure_from(sources: list[str]):
        res = trace(ws, from_accounts=sources, options=opts, end=end)
        if measure == "received":
            into = [
                f["tainted"]
                for f in res.flows.to_pylist()
                if f["dst"] == to_node and _to_us(f["ts"]) >= lo_us
            ]
            return math.fsum(into), res
        row = [h for h in res.holdings.to_pylist() if h["account"] == to_node]
        if not row:
            return 0.0, res
        return (row[0]["tainted_in"] if rule == "poison" else row[0]["tainted_balance"]), res

    origins, paths = [], []
    for name, label, hop, acc in zip(names, labels, hops.tolist(), accs.tolist(), strict=True):
        value, res = measure_from([name])
        if value <= 0:
            continue
        origins.append(
            {
                "account": name,
                "label": label,
                "direct": acc in direct,
                "hops": hop,
                "value": value,
                "share": value / total if total > 0 else math.nan,
            }
        )
        if res.paths is not None:
            paths += [p for p in res.paths.to_pylist() if p["account"] == to_node]
    categories = []
    for label in sorted({lab for lab in labels if lab}):
        members = [n for n, lab in zip(names, labels, strict=True) if lab == label]
        value, _ = measure_from(members)
        if value > 0:
            categories.append(
                {
                    "label": label,
                    "accounts": len(members),
                    "value": value,
                    "direct": any(find_accounts(g, [m])[0] in direct for m in members),
                    "share": value / total if total > 0 else math.nan,
                }
            )
    origins.sort(key=lambda o: (-o["value"], o["account"]))
    paths.sort(key=lambda p: (-p["value"], p["tx_ids"]))
    origin_schema = pa.schema(
        [
            ("account", pa.string()),
            ("label", pa.string()),
            ("direct", pa.bool_()),
            ("hops", pa.int64()),
            ("value", pa.float64()),
            ("share", pa.float64()),
        ]
    )
    cat_schema = pa.schema(
        [
            ("label", pa.string()),
            ("accounts", pa.int64()),
            ("value", pa.float64()),
            ("direct", pa.bool_()),
            ("share", pa.float64()),
        ]
    )

    return TraceBackResult(
        rule=rule,
        unit=ws.unit,
        account=to_node,
        measure=measure,
        total=total,
        origins=pa.Table.from_pylist(origins, schema=origin_schema),
        categories=pa.Table.from_pylist(categories, schema=cat_schema),
        paths=pa.Table.from_pylist(paths[: max(top_paths, 0) * 5], schema=PATHS_SCHEMA),
        options={
            **opts.to_dict(rule=False),
            "to": to,
            "since": None if since is None else since.isoformat(),
            "until": None if until is None else until.isoformat(),
            "max_origins": max_origins,
            "top_paths": top_paths,
            "upstream_accounts": int(accs.shape[0]),
        },
    )


def write_trace_back(
    res: TraceBackResult, folder: str | Path, *, workspace=None, argv=None
) -> Path:
    """``origins``, ``categories`` and ``paths`` as Parquet, ``trace_back.json`` (what
    ``--format json`` prints) and, with ``workspace``, ``manifest.json`` (chain of custody,
    as for a trace); each file written under a temporary name and renamed."""
    import json
    import os

    import pyarrow.parquet as pq

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ("origins", "categories", "paths"):
        tmp = folder / f".{name}.parquet.tmp"
        pq.write_table(getattr(res, name), tmp)
        os.replace(tmp, folder / f"{name}.parquet")
        written.append(f"{name}.parquet")
    tmp = folder / ".trace_back.json.tmp"
    tmp.write_text(json.dumps(res.to_dict(), indent=2, allow_nan=False, default=str) + "\n")
    os.replace(tmp, folder / "trace_back.json")
    written.append("trace_back.json")
    if workspace is not None:
        from tracer.report.custody import write_custody

        write_custody(res, folder, workspace, argv, files=written, what="tracer trace-back result")
    return folder
