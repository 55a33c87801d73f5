"""``tracer report --format html``: one self-contained page for a person to read.

No network: inline CSS, inline SVG drawn here in Python, no script at all (a Content Security
Policy forbids any, and any fetch). Every string that comes from the data goes through ``esc``
(``tracer.report.page``: control characters shown as ``\\xNN``, then ``html.escape``), in text
and in SVG attributes alike, so a label ``<script>alert(1)</script>`` shows as text.

Sections: summary, the flow picture (``tracer.report.picture``), where the money rests, the
requests to stopped services, the evidence chains, a timeline, and the chain of custody.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

from tracer.report.custody import ResultFolder
from tracer.report.layout import (
    asset_amount,
    floor_value,
)
from tracer.report.page import CSP, CSS, RESTS, STOPPED, esc, money, plural, when
from tracer.report.picture import TOP_LINKS, sankey
from tracer.report.requests import by_service

__all__ = ["render_html", "TOP_LINKS"]

TOP_ENDPOINTS = 30  # rows of the endpoint table
TOP_CHAINS = 10  # endpoints whose evidence chains are listed
CHAINS_EACH = 3  # evidence chains listed per endpoint
TOP_REQUEST_ROWS = 20  # deposits listed per stopped service
TIMELINE_POINTS = 2000  # flows drawn on the timeline


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------


def _seeds_text(opts: dict) -> str:
    if opts.get("tx_ids"):
        ids = list(opts["tx_ids"])
        shown = ", ".join(f"<code>{esc(i)}</code>" for i in ids[:20])
        more = f" and {len(ids) - 20:,} more" if len(ids) > 20 else ""
        return f"transfers {shown}{more}"
    if opts.get("from_accounts"):
        accs = list(opts["from_accounts"])
        shown = ", ".join(f"<code>{esc(a)}</code>" for a in accs[:20])
        more = f" and {len(accs) - 20:,} more" if len(accs) > 20 else ""
        window = ""
        if opts.get("since") or opts.get("until"):
            window = f" from {esc(opts.get('since') or 'the start')} until {esc(opts.get('until') or 'the end')}"
        return f"every outflow of {shown}{more}{window}"
    return "not recorded in this result"


def _summary(data: ResultFolder) -> str:
    meta, unit = data.meta, esc(data.unit)
    s, opts = meta.get("summary", {}), meta.get("options") or {}
    horizon = opts.get("horizon_seconds")
    rows = [
        ("Seeds", f"{plural(int(meta.get('seeds') or 0), 'seed transfer')}: {_seeds_text(opts)}"),
        ("Seed value", f"{money(meta.get('seed_value'))} {unit}"),
        ("Rule", f"<b>{esc(meta.get('rule'))}</b> at {esc(opts.get('level', 'account'))} level"),
        ("Stops at", ", ".join(esc(x) for x in opts.get("stop_at", [])) or "nowhere"),
        ("Max hops", esc(opts.get("max_hops") or "none")),
        ("Horizon", "none" if horizon is None else esc(dt.timedelta(seconds=horizon))),
        ("Dust below", f"{money(opts.get('min_amount', 0.0))} {unit}"),
        (
            "At endpoints",
            f"{money(s.get('at_endpoints'))} {unit} in "
            f"{plural(int(s.get('endpoints', 0)), 'account')}",
        ),
        ("At stopped services", f"{money(s.get('at_stops'))} {unit}"),
        ("Dust", f"{money(s.get('dust'))} {unit}"),
        (
            "Unexplained",
            f"{money(s.get('unexplained'))} {unit} "
            "<span class=note>(outflows larger than the dump shows the account "
            "holding: presumed older clean funds)</span>",
        ),
        (
            "Reached",
            f"{plural(int(s.get('accounts_reached', 0)), 'account')} through "
            f"{plural(int(s.get('flows', 0)), 'tainted transfer')}",
        ),
    ]
    if "conservation_error" in s:
        seed, total = (
            meta.get("seed_value") or 0.0,
            (s.get("at_endpoints") or 0) + (s.get("dust") or 0),
        )
        holds = math.isclose(seed, total, rel_tol=1e-9, abs_tol=1e-12)
        cls, word = ("ok", "holds") if holds else ("bad", "FAILS")
        line = (
            f"seed value = at endpoints + dust <span class={cls}>{word}</span> "
            f"(difference {s['conservation_error']:.3g})"
        )
    else:
        line = "poison measures exposure, not amounts: totals can exceed the seed value"
    rows.append(("Conservation", line))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<h2>Summary</h2><table class=kv>{body}</table>"


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def _endpoints(data: ResultFolder, names: dict[str, str] | None = None) -> str:
    names = names or {}
    every = data.endpoints.to_pylist()
    unit = esc(data.unit)
    floor = floor_value(data.meta.get("seed_value"))
    rows = [r for r in every if r["value"] >= floor]
    small = [r for r in every if r["value"] < floor]
    if not rows:
        return (
            "<h2>Where the money rests</h2><p>No tainted funds rest anywhere"
            + (f" (only amounts below {money(floor)} {unit})" if every else "")
            + ".</p>"
        )
    head = (
        "<tr><th>account</th><th>name</th><th>label</th><th class=n>value</th>"
        "<th class=n>share</th><th class=n>hops</th><th>first arrival (UTC)</th>"
        "<th>stopped</th></tr>"
    )
    body = []
    for r in rows[:TOP_ENDPOINTS]:
        stop = "<span class='tag stop'>stopped</span>" if r["stopped"] else ""
        body.append(
            f"<tr><td class=id>{esc(r['account'])}</td>"
            f"<td>{esc(names.get(r['account']) or '')}</td><td>{esc(r['label'] or '')}</td>"
            f"<td class=n>{money(r['value'])}</td><td class=n>{100 * r['share']:.2f}%</td>"
            f"<td class=n>{r['min_hops']}</td><td>{when(r['first_ts'])}</td>"
            f"<td>{stop}</td></tr>"
        )
    more = []
    if len(rows) > TOP_ENDPOINTS:
        rest = math.fsum(r["value"] for r in rows[TOP_ENDPOINTS:])
        more.append(
            f"… {len(rows) - TOP_ENDPOINTS:,} more endpoints holding {money(rest)} {unit} in all"
        )
    if small:
        rest = math.fsum(r["value"] for r in small)
        more.append(
            f"{plural(len(small), 'endpoint')} holding less than {money(floor)} {unit} "
            f"each (a cent, or 0.1% of the seed value; {money(rest)} {unit} in all) "
            "not listed"
        )
    tail = ""
    if more:
        tail = (
            f"<p class=note>{'; '.join(more)}. All of them: endpoints.parquet in the result "
            "folder, or tracer report --format csv.</p>"
        )
    return (
        f"<h2>Where the money rests ({plural(len(rows), 'endpoint')}, values in {unit})</h2>"
        f"<table>{head}{''.join(body)}</table>{tail}"
    )


def _requests(data: ResultFolder) -> str:
    title = "<h2>Requests to stopped services</h2>"
    if data.requests is None:
        return (
            title + "<p class=note>This result folder has no requests.csv (it is written by "
            "tracer trace -o DIR).</p>"
        )
    if not data.requests:
        return title + "<p>The trace reached no stopped service.</p>"
    parts = [
        title,
        "<p class=note>Per service, the deposits that carried traced funds, for a "
        "freeze or information request (the same rows are in requests.csv). Amounts are in "
        "the transferred asset; tainted is the traced part, in the trace unit and in the "
        "asset.</p>",
    ]
    for info, transfers, totals in by_service(data.requests):
        unit = esc(info["unit"] or "")
        name = f" — {esc(info['name'])}" if info["name"] else ""
        parts.append(
            f"<div class=svc><h3>{esc(info['service'] or 'service')}{name}</h3>"
            f"<p>Entity <code>{esc(info['entity'])}</code>; deposit account"
            f"{'s' if len(info['accounts']) != 1 else ''} "
            f"{', '.join(f'<code>{esc(a)}</code>' for a in info['accounts'])}; "
            f"{plural(info['transfers'], 'transfer')} carrying "
            f"<b>{money(info['tainted'])} {unit}</b> of traced funds.</p>"
            "<table><tr><th>time (UTC)</th><th>tx id</th><th>from</th><th>deposit account</th>"
            "<th>asset</th><th class=n>amount</th><th class=n>tainted (asset)</th>"
            f"<th class=n>tainted ({unit})</th></tr>"
        )
        for r in transfers[:TOP_REQUEST_ROWS]:
            parts.append(
                f"<tr><td>{esc(r['time'])}</td><td class=id>{esc(r['tx_id'])}</td>"
                f"<td class=id>{esc(r['from_account'])}</td><td class=id>{esc(r['deposit_account'])}</td>"
                f"<td>{esc(r['asset'])}</td><td class=n>{asset_amount(r['amount'], r['asset'])}</td>"
                f"<td class=n>{asset_amount(r['tainted_amount'], r['asset'])}</td>"
                f"<td class=n>{money(r['tainted'])}</td></tr>"
            )
        if len(transfers) > TOP_REQUEST_ROWS:
            parts.append(
                f"<tr><td colspan=8 class=note>… {len(transfers) - TOP_REQUEST_ROWS:,} "
                "more deposits: all of them in requests.csv in the result folder "
                "(tracer report --format csv --table requests).</td></tr>"
            )
        for r in totals:
            parts.append(
                f"<tr><th colspan=4>total {esc(r['asset'])} ({esc(r['tx_id'])})</th>"
                f"<th>{esc(r['asset'])}</th><th class=n>{asset_amount(r['amount'], r['asset'])}</th>"
                f"<th class=n>{asset_amount(r['tainted_amount'], r['asset'])}</th>"
                f"<th class=n>{money(r['tainted'])}</th></tr>"
            )
        parts.append("</table></div>")
    return "".join(parts)


def _chains(data: ResultFolder) -> str:
    unit = esc(data.unit)
    flows = {f["tx_id"]: f for f in data.flows.to_pylist()}
    seed = data.meta.get("seed_value") or 0.0
    floor = floor_value(seed)
    every = data.endpoints.to_pylist()
    listed = [e for e in every if e["value"] >= floor]
    endpoints = listed[:TOP_CHAINS]
    title = "<h2>Evidence chains</h2>"
    tiny = max(floor, 0.01 * abs(seed))  # endpoints below this: their chains folded

    def head(e: dict) -> str:
        return (
            f"<code>{esc(e['account'])}</code> {esc(e['label'] or '')} — holds "
            f"{money(e['value'])} {unit}"
        )

    def block(e: dict, body: str) -> str:
        if e["value"] >= tiny:
            return f"<h3>{head(e)}</h3>{body}"
        return (
            f"<details><summary>{head(e)} <span class=note>(less than 1% of the seed "
            f"value: chains folded)</span></summary>{body}</details>"
        )

    more = ""
    if len(listed) > len(endpoints) or len(every) > len(listed):
        more = (
            f"<p class=note>Chains listed for the {len(endpoints):,} largest endpoints of "
            f"{len(every):,} (at most {CHAINS_EACH} each; none for endpoints holding less "
            f"than {money(floor)} {unit}); every chain: paths.parquet and allocations.parquet "
            "in the result folder, or tracer explain.</p>"
        )
    if data.paths is not None and data.paths.num_rows:
        by_acc: dict[str, list[dict]] = defaultdict(list)
        for p in data.paths.to_pylist():
            by_acc[p["account"]].append(p)
        out = [
            title,
            "<p class=note>For the largest endpoints, the chains of transfers that "
            f"carried the most traced funds to them ({esc(data.meta.get('rule'))}): each "
            "step drew the amount shown from the step before.</p>",
        ]
        for e in endpoints:
            chains = sorted(by_acc.get(e["account"], []), key=lambda p: p["rank"])[:CHAINS_EACH]
            if not chains:
                continue
            body = []
            for p in chains:
                steps = []
                for i, (tx, amount) in enumerate(zip(p["tx_ids"], p["amounts"], strict=True)):
                    f = flows.get(tx, {})
                    src = p["accounts"][i] if p.get("accounts") else f.get("src")
                    dst = p["accounts"][i + 1] if p.get("accounts") else f.get("dst")
                    how = "seed" if i == 0 else "drawn"
                    steps.append(
                        f"<li>{when(f.get('ts'))} <code>{esc(tx)}</code> "
                        f"<code>{esc(src)}</code> → <code>{esc(dst)}</code> "
                        f"{money(amount)} {unit} <span class=note>({how})</span></li>"
                    )
                body.append(
                    f"<p>Chain {p['rank']}: {money(p['value'])} {unit} carried all the "
                    f"way</p><ol class=chain>{''.join(steps)}</ol>"
                )
            out.append(block(e, "".join(body)))
        return "".join(out) + more
    if data.allocations is None or data.allocations.num_rows == 0:
        return title + (
            "<p class=note>No evidence chains in this result (poison keeps no allocations).</p>"
        )
    # no paths table: follow the largest allocation back from the largest inflows
    drawn: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for a in data.allocations.to_pylist():
        drawn[a["tx_id"]].append((a["amount"], a["from_tx_id"]))
    into: dict[str, list[dict]] = defaultdict(list)
    for f in flows.values():
        into[f["dst"]].append(f)
    out = [
        title,
        "<p class=note>This result has no evidence paths; for the largest endpoints, "
        "their largest tainted inflows, each followed back through the allocation it drew "
        "most from.</p>",
    ]
    for e in endpoints:
        body = []
        for f in sorted(into[e["account"]], key=lambda f: (-f["tainted"], f["tx_id"]))[
            :CHAINS_EACH
        ]:
            steps, tx, seen = [], f["tx_id"], set()
            while tx in flows and tx not in seen:
                seen.add(tx)
                g = flows[tx]
                steps.append(
                    f"<li>{when(g['ts'])} <code>{esc(tx)}</code> <code>{esc(g['src'])}"
                    f"</code> → <code>{esc(g['dst'])}</code> tainted "
                    f"{money(g['tainted'])} {unit}</li>"
                )
                if not drawn.get(tx):
                    break
                tx = max(drawn[tx], key=lambda x: (x[0], x[1]))[1]
            body.append(f"<ol class=chain>{''.join(reversed(steps))}</ol>")
        out.append(block(e, "".join(body)))
    return "".join(out) + more


# --------------------------------------------------------------------------------------------
# Timeline
# --------------------------------------------------------------------------------------------

_STEPS = [
    60,
    300,
    900,
    1800,
    3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86400,
    2 * 86400,
    7 * 86400,
    14 * 86400,
    30 * 86400,
    91 * 86400,
    182 * 86400,
    365 * 86400,
]


def _timeline(data: ResultFolder) -> str:
    flows = data.flows.select(["tx_id", "ts", "src", "dst", "tainted", "hop"]).to_pylist()
    floor = floor_value(data.meta.get("seed_value"))
    flows = [f for f in flows if f["tainted"] >= floor]
    if not flows:
        return ""
    stopped = {h["account"] for h in data.holdings.to_pylist() if h["stopped"]}
    drawn = sorted(flows, key=lambda f: (-f["tainted"], f["tx_id"]))[:TIMELINE_POINTS]
    t0 = min(f["ts"] for f in flows).timestamp()
    t1 = max(f["ts"] for f in flows).timestamp()
    if t1 - t0 < 3600:
        t0, t1 = t0 - 1800, t1 + 1800
    hops = max(f["hop"] for f in flows)
    lane = max(12.0, min(38.0, 440.0 / hops))
    width, left, right, top = 1120, 70, 30, 14
    height = top + lane * hops + 40

    def x(ts: float) -> float:
        return left + 16 + (ts - t0) / (t1 - t0) * (width - left - right - 16)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0f}" '
        f'viewBox="0 0 {width} {height:.0f}" role="img" aria-label="Timeline of the tainted '
        'transfers">'
    ]
    for h in range(1, hops + 1):
        y = top + lane * (h - 0.5)
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
        )
        if lane >= 14 or h == 1 or h % 5 == 0:
            out.append(
                f'<text x="{left - 8}" y="{y + 4:.1f}" font-size="11" fill="#555" '
                f'text-anchor="end">hop {h}</text>'
            )
    step = next((s for s in _STEPS if (t1 - t0) / s <= 8), _STEPS[-1])
    tick = math.ceil(t0 / step) * step
    fmt = "%Y-%m-%d" if step >= 86400 else "%m-%d %H:%M"
    axis = top + lane * hops + 6
    while tick <= t1:
        tx = x(tick)
        label = dt.datetime.fromtimestamp(tick, dt.UTC).strftime(fmt)
        out.append(
            f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{top}" y2="{axis:.1f}" stroke="#e4e4e4"/>'
            f'<text x="{tx:.1f}" y="{axis + 14:.1f}" font-size="11" fill="#555" '
            f'text-anchor="middle">{label}</text>'
        )
        tick += step
    biggest = max(f["tainted"] for f in drawn)
    unit = esc(data.unit)
    for f in sorted(drawn, key=lambda f: (-f["tainted"], f["tx_id"])):
        r = 2.5 + 11 * math.sqrt(f["tainted"] / biggest)
        colour = STOPPED if f["dst"] in stopped else RESTS
        tip = (
            f"{when(f['ts'])} {esc(f['tx_id'])}: {esc(f['src'])} → {esc(f['dst'])}, "
            f"{money(f['tainted'])} {unit} tainted"
        )
        out.append(
            f'<circle cx="{x(f["ts"].timestamp()):.1f}" '
            f'cy="{top + lane * (f["hop"] - 0.5):.1f}" r="{r:.1f}" fill="{colour}" '
            f'fill-opacity="0.55" stroke="{colour}"><title>{tip}</title></circle>'
        )
    out.append("</svg>")
    note = (
        "Each tainted transfer at its time (UTC) and hop; area proportional to the tainted "
        "value; red: into a stopped service."
    )
    if len(flows) > len(drawn):
        note += f" Drawn: the {len(drawn):,} largest of {len(flows):,}."
    note += f" Transfers carrying less than {money(floor)} {unit} are not drawn."
    return f"<h2>Timeline</h2>{''.join(out)}<p class=note>{note}</p>"


# --------------------------------------------------------------------------------------------
# Custody
# --------------------------------------------------------------------------------------------


def _custody(data: ResultFolder) -> str:
    m = data.manifest
    title = "<h2>Chain of custody</h2>"
    if not m:
        return title + "<p class=note>No manifest.json in this result folder.</p>"
    ws = m.get("workspace", {})
    rows = "".join(
        f"<tr><td>{esc(i.get('name'))}</td><td class=id>{esc(i.get('sha256'))}</td>"
        f"<td class=n>{int(i.get('size') or 0):,}</td><td class=n>{i.get('read', '')}</td>"
        f"<td class=n>{i.get('ingested', '')}</td><td class=n>{i.get('rejected', '')}</td></tr>"
        for i in ws.get("inputs", [])
    )
    files = "".join(
        f"<tr><td>{esc(name)}</td><td class=id>{esc(rec.get('sha256'))}</td>"
        f"<td class=n>{int(rec.get('size') or 0):,}</td></tr>"
        for name, rec in sorted(m.get("files", {}).items())
    )
    versions = ", ".join(f"{esc(k)} {esc(v)}" for k, v in sorted(m.get("versions", {}).items()))
    return (
        f"{title}<p>Workspace <code>{esc(ws.get('path'))}</code>, built from these inputs:</p>"
        "<table><tr><th>input</th><th>SHA-256</th><th class=n>bytes</th><th class=n>read</th>"
        f"<th class=n>ingested</th><th class=n>rejected</th></tr>{rows}</table>"
        f"<p>Result files:</p><table><tr><th>file</th><th>SHA-256</th><th class=n>bytes</th>"
        f"</tr>{files}</table><p>Computed with {versions}. "
        "<code>tracer verify</code> on the result folder checks the inputs' SHA-256 and runs "
        "the trace again to show that every file still matches byte for byte.</p>"
    )


def render_html(
    data: ResultFolder, *, top_links: int = TOP_LINKS, names: dict[str, str] | None = None
) -> str:
    """The report page for a result folder; ``names``: readable names of accounts or entities
    (``tracer.report.layout.account_names``), shown beside their ids."""
    meta = data.meta
    title = (
        f"Trace ({esc(meta.get('rule'))}) of {money(meta.get('seed_value'))} {esc(data.unit)}"
    ).rstrip()
    parts = [
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>",
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{title}</h1><p class=sub>Result folder <code>{esc(data.path.name)}</code>; "
        f"report by tracer. Times are UTC.</p>",
        _summary(data),
        sankey(data, top_links, names),
        _endpoints(data, names),
        _requests(data),
        _chains(data),
        _timeline(data),
        _custody(data),
        "</main></body></html>\n",
    ]
    return "\n".join(parts)
