"""What an investigator asks first of an account: ``tracer account``.

Its labels and entity (and why), when it was first and last seen, what came in and went out by
asset, its largest counterparties, its balance over time and which cases of a batch touch it.
The account's transfers come from the graph's CSR arrays (its in- and out-edges), never a scan
of every transfer; amounts by asset read only its rows of ``transfers.parquet`` (edge rank =
row).
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import numpy as np
import polars as pl

from tracer.errors import InputError, printable
from tracer.workspace import Workspace

__all__ = ["account_summary", "summary_text", "summary_html", "TOP"]

TOP = 10  # counterparties listed, in and out
CHART_POINTS = 400  # points of the balance chart at most


def _iso(us: int | None) -> str | None:
    if us is None:
        return None
    t = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(us))
    return t.isoformat().replace("+00:00", "Z")


def _conflicts(ws: Workspace, account: str) -> list[str]:
    """Label conflicts the ingest noted for this account (two sources, two labels)."""
    out = []
    for item in ws.manifest.get("inputs", []):
        for note in item.get("notes", []) or []:
            if isinstance(note, str) and "label conflict" in note:
                for part in note.split("; "):
                    part = part.removeprefix("e.g. ").split(" e.g. ")[-1]
                    if part.startswith(f"{account}: "):
                        out.append(
                            f"{part.removeprefix(f'{account}: ')} "
                            f"(noted by {item.get('name', '?')})"
                        )
    return out


def account_summary(ws: Workspace, name: str, batch: str | Path | None = None) -> dict:
    """The summary of the account ``name`` (written however: ``tracer.lookup``), as a JSON-ready
    dict; ``notes`` say which id a name stood for."""
    from tracer.lookup import resolve_accounts

    ids, notes = resolve_accounts(ws, [name])
    node = int(ids[0])
    g = ws.graph
    account = g.accounts[node].as_py()
    row = ws.scan("accounts").filter(pl.col("account") == account).collect()
    info = row.row(0, named=True) if row.height else {}
    entity = info.get("entity") or account
    members = (
        ws.scan("accounts").filter(pl.col("entity") == entity).select(pl.len()).collect().item()
    )
    links = []
    if (ws.data / "entity_links.parquet").exists():
        links = (
            ws.scan("entity_links")
            .filter((pl.col("account_a") == account) | (pl.col("account_b") == account))
            .sort("account_a", "account_b", "evidence")
            .head(20)
            .collect()
            .to_dicts()
        )
    out_e = np.asarray(g.fwd_edges[g.fwd_indptr[node] : g.fwd_indptr[node + 1]], np.int64)
    in_e = np.asarray(g.rev_edges[g.rev_indptr[node] : g.rev_indptr[node + 1]], np.int64)
    ranks = np.unique(np.concatenate([out_e, in_e]))
    rows = (
        ws.scan("transfers")
        .with_row_index("__rank")
        .filter(pl.col("__rank").is_in(pl.Series(ranks, dtype=pl.UInt32)))
        .select("__rank", "asset", "amount")
        .collect()
        .sort("__rank")
    )
    by_rank = {
        "asset": rows.get_column("asset").to_list(),
        "amount": rows.get_column("amount").to_list(),
    }
    pos = {int(r): i for i, r in enumerate(rows.get_column("__rank").to_list())}

    def flows(edges: np.ndarray, other: np.ndarray) -> tuple[list[dict], list[dict]]:
        assets: dict[str, list[float]] = {}
        for e in edges.tolist():
            i = pos[e]
            a = by_rank["asset"][i] or ""
            item = assets.setdefault(a, [0, 0.0, 0.0])
            item[0] += 1
            item[1] += by_rank["amount"][i] or 0.0
            item[2] += float(g.value[e])
        by_asset = [
            {"asset": a, "count": int(c), "amount": s, "value": v}
            for a, (c, s, v) in sorted(assets.items())
        ]
        if edges.shape[0] == 0:
            return by_asset, []
        peers = other[edges]
        vals = np.asarray(g.value[edges], np.float64)
        uniq, inv = np.unique(peers, return_inverse=True)
        total = np.bincount(inv, weights=vals, minlength=uniq.shape[0])
        count = np.bincount(inv, minlength=uniq.shape[0])
        order = sorted(
            range(uniq.shape[0]), key=lambda k: (-total[k], g.accounts[int(uniq[k])].as_py())
        )[:TOP]
        codes = g.label_code
        top = [
            {
                "account": g.accounts[int(uniq[k])].as_py(),
                "label": g.labels[codes[int(uniq[k])]] if codes[int(uniq[k])] >= 0 else None,
                "count": int(count[k]),
                "value": float(total[k]),
            }
            for k in order
        ]
        return by_asset, top

    in_assets, top_in = flows(in_e, np.asarray(g.src))
    out_assets, top_out = flows(out_e, np.asarray(g.dst))
    ts = np.asarray(g.ts[ranks], np.int64) if ranks.shape[0] else np.zeros(0, np.int64)
    delta = np.where(np.asarray(g.dst[ranks]) == node, 1.0, -1.0) * np.asarray(g.value[ranks])
    balance = np.cumsum(delta) + float(g.opening[node])
    step = max(1, -(-ranks.shape[0] // CHART_POINTS))
    keep = (
        np.unique(np.r_[np.arange(0, ranks.shape[0], step), ranks.shape[0] - 1])
        if ranks.shape[0]
        else np.zeros(0, np.int64)
    )
    cases: list[dict] = []
    if batch is not None:
        cases = _batch_cases(Path(batch), account, entity)
    return {
        "account": account,
        "notes": notes,
        "unit": ws.unit,
        "kind": info.get("kind"),
        "label": info.get("label"),
        "name": info.get("name"),
        "label_source": info.get("source"),
        "confidence": info.get("confidence"),
        "opening_balance": info.get("opening_balance"),
        "label_conflicts": _conflicts(ws, account),
        "entity": entity,
        "entity_accounts": int(members),
        "entity_links": links,
        "first_seen": _iso(int(ts.min())) if ts.shape[0] else None,
        "last_seen": _iso(int(ts.max())) if ts.shape[0] else None,
        "in": {
            "count": int(in_e.shape[0]),
            "value": float(np.sum(g.value[in_e])),
            "by_asset": in_assets,
            "top": top_in,
        },
        "out": {
            "count": int(out_e.shape[0]),
            "value": float(np.sum(g.value[out_e])),
            "by_asset": out_assets,
            "top": top_out,
        },
        "balance": [{"ts": _iso(int(ts[k])), "value": float(balance[k])} for k in keep.tolist()],
        "cases": cases,
    }


def _batch_cases(folder: Path, account: str, entity: str) -> list[dict]:
    """Cases of a ``tracer batch -o`` folder whose money passed through or rests at the
    account (or its entity, for a batch traced at entity level)."""
    hubs, eps = folder / "hub_cases.parquet", folder / "endpoints.parquet"
    if not (folder / "batch.json").is_file() or not eps.is_file():
        raise InputError(
            f"--batch {folder}: not a batch result folder (no batch.json and "
            "endpoints.parquet). Give a folder written by tracer batch -o."
        )
    keys = list(dict.fromkeys([account, entity]))
    try:
        found: dict[str, dict] = {}
        if hubs.is_file():
            for cid, acc, value, tin, endpoint in (
                pl.scan_parquet(hubs)
                .filter(pl.col("account").is_in(keys))
                .select("case_id", "account", "value", "tainted_in", "endpoint")
                .collect()
                .iter_rows()
            ):
                found[cid] = {
                    "case_id": cid,
                    "account": acc,
                    "tainted_in": tin,
                    "rests": value if endpoint else 0.0,
                }
        for cid, acc, value in (
            pl.scan_parquet(eps)
            .filter(pl.col("account").is_in(keys))
            .select("case_id", "account", "value")
            .collect()
            .iter_rows()
        ):
            item = found.setdefault(
                cid, {"case_id": cid, "account": acc, "tainted_in": None, "rests": 0.0}
            )
            item["rests"] = value
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"--batch {folder}: unreadable ({printable(exc, 120)}).") from exc
    return [found[c] for c in sorted(found)]


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


def summary_text(s: dict) -> str:
    from tracer.report.text import safe

    unit = safe(s["unit"] or "")
    lines = [f"Account {safe(s['account'])}"]
    label = safe(s["label"]) if s["label"] else "none"
    extra = ", ".join(
        x
        for x in (
            safe(s["name"]) if s["name"] else "",
            f"source {safe(s['label_source'])}" if s["label_source"] else "",
            f"confidence {s['confidence']:g}" if s["confidence"] is not None else "",
        )
        if x
    )
    lines.append(f"  label: {label}{f' ({extra})' if extra else ''}")
    for c in s["label_conflicts"]:
        lines.append(f"  label conflict: {safe(c, 200)}")
    if s["opening_balance"] is not None:
        lines.append(f"  opening balance: {_money(s['opening_balance'])} {unit}".rstrip())
    lines.append(
        f"  entity: {safe(s['entity'])} ({s['entity_accounts']} account"
        f"{'' if s['entity_accounts'] == 1 else 's'})"
    )
    for link in s["entity_links"]:
        lines.append(
            f"    {safe(link['account_a'])} + {safe(link['account_b'])}: "
            f"{safe(link['reason'])}, {safe(link['evidence'])}"
        )
    lines.append(f"  first seen: {s['first_seen'] or '-'}   last seen: {s['last_seen'] or '-'}")
    for side, word in (("in", "In"), ("out", "Out")):
        d = s[side]
        lines.append("")
        lines.append(
            f"{word}: {d['count']:,} transfer{'' if d['count'] == 1 else 's'}, "
            f"{_money(d['value'])} {unit}".rstrip()
        )
        for a in d["by_asset"]:
            lines.append(
                f"  {safe(a['asset'], 24):<12} {a['count']:>8,}  {_money(a['amount']):>20}"
                f"  ({_money(a['value'])} {unit})".rstrip()
            )
        if d["top"]:
            lines.append(f"  largest counterparties ({'from' if side == 'in' else 'to'}):")
            for p in d["top"]:
                tag = f" [{safe(p['label'])}]" if p["label"] else ""
                lines.append(
                    f"    {safe(p['account'], 60)}{tag}: {_money(p['value'])} {unit} in "
                    f"{p['count']} transfer{'' if p['count'] == 1 else 's'}"
                )
    if s["balance"]:
        b = [p["value"] for p in s["balance"]]
        lines.append("")
        lines.append(
            f"Balance ({unit}, from the known opening balance): ends at "
            f"{_money(b[-1])}, highest {_money(max(b))}, lowest {_money(min(b))}"
        )
    if s["cases"]:
        lines.append("")
        lines.append(f"Cases of the batch that touch it ({len(s['cases'])}):")
        for c in s["cases"]:
            lines.append(
                f"  {safe(c['case_id'])}: passed in {_money(c['tainted_in'])}, "
                f"rests {_money(c['rests'])} {unit}".rstrip()
            )
    return "\n".join(lines)


def _chart(points: list[dict]) -> str:
    """The balance over time as a small inline SVG (no script)."""
    if len(points) < 2:
        return ""
    w, h, pad = 600, 160, 4
    ts = [dt.datetime.fromisoformat(p["ts"].replace("Z", "+00:00")).timestamp() for p in points]
    vs = [p["value"] for p in points]
    t0, t1 = min(ts), max(ts)
    v0, v1 = min(vs + [0.0]), max(vs + [0.0])
    tx = (lambda t: pad + (w - 2 * pad) * (t - t0) / (t1 - t0)) if t1 > t0 else (lambda t: w / 2)
    vy = (
        (lambda v: h - pad - (h - 2 * pad) * (v - v0) / (v1 - v0)) if v1 > v0 else (lambda v: h / 2)
    )
    path = " ".join(f"{tx(t):.1f},{vy(v):.1f}" for t, v in zip(ts, vs, strict=True))
    zero = vy(0.0)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="balance over time">'
        f'<line x1="0" y1="{zero:.1f}" x2="{w}" y2="{zero:.1f}" stroke="#bbb"/>'
        f'<polyline fill="none" stroke="#2a6" stroke-width="1.5" points="{path}"/></svg>'
    )


def summary_html(s: dict) -> str:
    e = html.escape
    text = summary_text(s)
    parts = text.split("\n\n")
    body = "".join(f"<pre>{e(p)}</pre>" for p in parts)
    chart = _chart(s["balance"])
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">"
        f"<title>Account {e(s['account'])}</title>"
        "<style>body{font-family:sans-serif;margin:2em}pre{white-space:pre-wrap}</style>"
        f"</head><body><h1>Account {e(s['account'])}</h1>{body}"
        + (f"<h2>Balance over time ({e(s['unit'] or '')})</h2>{chart}" if chart else "")
        + "</body></html>\n"
    )
