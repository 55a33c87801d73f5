"""``tracer report --format html``: one self-contained page for a person to read.

No network: inline CSS, inline SVG drawn here in Python, no script at all (a Content Security
Policy forbids any, and any fetch). Every string that comes from the data goes through ``_t``
(control characters shown as ``\\xNN``, then ``html.escape``), in text and in SVG attributes
alike, so a label ``<script>alert(1)</script>`` shows as text.

Sections: summary, the flow picture (accounts layered by the hop at which most of their taint
arrived, links aggregated per account pair with width proportional to the tainted value, only the
largest links so a big trace stays readable), where the money rests, the requests to stopped
services, the evidence chains, a timeline, and the chain of custody.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections import defaultdict

import pyarrow.compute as pc

from tracer.report.custody import ResultFolder
from tracer.report.layout import (
    asset_amount,
    contract_btctx,
    fit_text,
    floor_value,
    is_btctx,
    text_width,
)
from tracer.report.requests import by_service
from tracer.report.text import safe

__all__ = ["render_html", "TOP_LINKS"]

TOP_LINKS = 40  # account pairs drawn in the flow picture
TOP_ENDPOINTS = 30  # rows of the endpoint table
TOP_CHAINS = 10  # endpoints whose evidence chains are listed
CHAINS_EACH = 3  # evidence chains listed per endpoint
TOP_REQUEST_ROWS = 20  # deposits listed per stopped service
TIMELINE_POINTS = 2000  # flows drawn on the timeline

SOURCE, STOPPED, RESTS, PASSES = "#2e7d32", "#c62828", "#1565c0", "#8d8d8d"

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans Thai",sans-serif;
 color:#1d1d1f;margin:0;background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:24px 28px 60px;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:2px solid #e3e3e3;
 padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.sub{color:#555;margin:0 0 16px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{padding:3px 10px 3px 0;text-align:left;vertical-align:top;border-bottom:1px solid #eee}
th{font-weight:600;color:#444;border-bottom:1px solid #ccc}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code,.id{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12px;
 word-break:break-all}
.nw{white-space:nowrap}
.kv th{width:210px;font-weight:500;color:#555}
.ok{color:#2e7d32;font-weight:600}.bad{color:#c62828;font-weight:600}
.note{color:#666;font-size:12.5px}
.tag{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px;background:#eee}
.tag.stop{background:#fde3e3;color:#8e1a1a}
.svc{border:1px solid #e3e3e3;border-left:4px solid #c62828;padding:6px 12px;margin:10px 0}
details{margin:6px 0}summary{cursor:pointer}
.chain{margin:4px 0 12px 0;padding-left:22px}.chain li{margin:1px 0}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
.legend span{display:inline-block;margin-right:16px;font-size:12.5px}
.pic{overflow-x:auto}
.legend i{display:inline-block;width:11px;height:11px;margin-right:5px;vertical-align:-1px}
@media print{body{background:#fff}main{padding:0}}
"""

_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "script-src 'none'; connect-src 'none'; form-action 'none'; base-uri 'none'")


def _t(value: object, width: int | None = None) -> str:
    """Text from the data, safe inside HTML text and inside quoted attributes (SVG too)."""
    return html.escape(safe(value, width), quote=True)


def _money(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return ""
    return f"{x:,.2f}"


def _time(value: dt.datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------


def _seeds_text(opts: dict) -> str:
    if opts.get("tx_ids"):
        ids = list(opts["tx_ids"])
        shown = ", ".join(f"<code>{_t(i)}</code>" for i in ids[:20])
        more = f" and {len(ids) - 20:,} more" if len(ids) > 20 else ""
        return f"transfers {shown}{more}"
    if opts.get("from_accounts"):
        accs = list(opts["from_accounts"])
        shown = ", ".join(f"<code>{_t(a)}</code>" for a in accs[:20])
        more = f" and {len(accs) - 20:,} more" if len(accs) > 20 else ""
        window = ""
        if opts.get("since") or opts.get("until"):
            window = f" from {_t(opts.get('since') or 'the start')} until {_t(opts.get('until') or 'the end')}"
        return f"every outflow of {shown}{more}{window}"
    return "not recorded in this result"


def _summary(data: ResultFolder) -> str:
    meta, unit = data.meta, _t(data.unit)
    s, opts = meta.get("summary", {}), meta.get("options") or {}
    horizon = opts.get("horizon_seconds")
    rows = [
        ("Seeds", f"{_plural(int(meta.get('seeds') or 0), 'seed transfer')}: {_seeds_text(opts)}"),
        ("Seed value", f"{_money(meta.get('seed_value'))} {unit}"),
        ("Rule", f"<b>{_t(meta.get('rule'))}</b> at {_t(opts.get('level', 'account'))} level"),
        ("Stops at", ", ".join(_t(x) for x in opts.get("stop_at", [])) or "nowhere"),
        ("Max hops", _t(opts.get("max_hops") or "none")),
        ("Horizon", "none" if horizon is None else _t(dt.timedelta(seconds=horizon))),
        ("Dust below", f"{_money(opts.get('min_amount', 0.0))} {unit}"),
        ("At endpoints", f"{_money(s.get('at_endpoints'))} {unit} in "
                         f"{_plural(int(s.get('endpoints', 0)), 'account')}"),
        ("At stopped services", f"{_money(s.get('at_stops'))} {unit}"),
        ("Dust", f"{_money(s.get('dust'))} {unit}"),
        ("Unexplained", f"{_money(s.get('unexplained'))} {unit} "
                        "<span class=note>(outflows larger than the dump shows the account "
                        "holding: presumed older clean funds)</span>"),
        ("Reached", f"{_plural(int(s.get('accounts_reached', 0)), 'account')} through "
                    f"{_plural(int(s.get('flows', 0)), 'tainted transfer')}"),
    ]
    if "conservation_error" in s:
        seed, total = meta.get("seed_value") or 0.0, (s.get("at_endpoints") or 0) + (s.get("dust") or 0)
        holds = math.isclose(seed, total, rel_tol=1e-9, abs_tol=1e-12)
        cls, word = ("ok", "holds") if holds else ("bad", "FAILS")
        line = (f"seed value = at endpoints + dust <span class={cls}>{word}</span> "
                f"(difference {s['conservation_error']:.3g})")
    else:
        line = ("poison measures exposure, not amounts: totals can exceed the seed value")
    rows.append(("Conservation", line))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<h2>Summary</h2><table class=kv>{body}</table>"


# --------------------------------------------------------------------------------------------
# Flow picture: a Sankey diagram layered by hop
# --------------------------------------------------------------------------------------------


def _layers(data: ResultFolder) -> tuple[dict[str, int], dict[str, dict]]:
    """Column of each account in hops: 0 for the seed senders, else the hop at which most of
    its taint arrived (the fewest hops would put a service reached early by a trickle before
    the chain that brought it most of its money)."""
    held = {h["account"]: h for h in data.holdings.to_pylist()}
    layers = {a: int(h["min_hops"]) for a, h in held.items()}
    per_hop = (data.flows.group_by(["dst", "hop"]).aggregate([("tainted", "sum")])
               .sort_by([("dst", "ascending"), ("tainted_sum", "descending"),
                         ("hop", "ascending")]))
    seen: set[str] = set()
    for row in per_hop.to_pylist():
        if row["dst"] not in seen:
            seen.add(row["dst"])
            if row["tainted_sum"] > 0:
                layers[row["dst"]] = int(row["hop"])
    for f in data.flows.filter(pc.equal(data.flows.column("hop"), 1)).column("src").to_pylist():
        layers[f] = 0
    return layers, held


def _paired_txs(data: ResultFolder) -> set[str]:
    """Transfers that a paired hop carried: under match, the allocations say ``how`` each
    outflow drew its taint (``paired``, or ``fallback <rule>``)."""
    al = data.allocations
    if al is None or "how" not in al.column_names:
        return set()
    return {r["tx_id"] for r in al.select(["tx_id", "how"]).to_pylist() if r["how"] == "paired"}


def _picture_links(data: ResultFolder) -> tuple[dict[tuple[str, str], dict], float]:
    """Tainted links per account pair, Bitcoin transactions contracted into links."""
    paired = _paired_txs(data)
    links: dict[tuple[str, str], dict] = {}
    for f in data.flows.select(["src", "dst", "tainted", "tx_id"]).to_pylist():
        if not (f["tainted"] or 0) > 0 or f["src"] == f["dst"]:
            continue
        lk = links.setdefault((f["src"], f["dst"]), {"value": 0.0, "txs": set(), "via": set(),
                                                     "paired": False})
        lk["value"] += f["tainted"]
        lk["txs"].add(f["tx_id"])
        lk["paired"] = lk["paired"] or f["tx_id"] in paired
    return contract_btctx(links)


def _picture_layers(data: ResultFolder, links: dict[tuple[str, str], dict]
                    ) -> tuple[dict[str, int], dict[str, dict]]:
    """Column of each account of the picture: 0 for the seed senders, else one more than the
    column of the account it received most from (accounts taken in the order of the hop at
    which most of their taint arrived)."""
    hops, held = _layers(data)
    layer = {a: 0 for a, h in hops.items() if h == 0 and not is_btctx(a)}
    senders: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for (src, dst), lk in links.items():
        senders[dst].append((lk["value"], src))
    todo = sorted({a for pair in links for a in pair} - set(layer),
                  key=lambda a: (hops.get(a, 1), a))
    for acc in todo:
        known = sorted(((v, s) for v, s in senders.get(acc, []) if s in layer),
                       key=lambda x: (-x[0], x[1]))
        layer[acc] = layer[known[0][1]] + 1 if known else 1
    return layer, held


def _chain_pairs(data: ResultFolder, endpoints: int = 10) -> dict[tuple[str, str], int]:
    """Account pairs on the best evidence chain of each of the largest endpoints, in order
    (Bitcoin transactions left out, as in the picture): drawn first, so the picture shows how
    the money reached where most of it rests."""
    if data.paths is None or data.paths.num_rows == 0 or "accounts" not in data.paths.column_names:
        return {}
    top = data.endpoints.column("account").slice(0, endpoints)
    best = data.paths.filter(pc.and_(pc.equal(data.paths.column("rank"), 1),
                                     pc.is_in(data.paths.column("account"), value_set=top)))
    by_acc = {p["account"]: p["accounts"] or [] for p in best.select(["account", "accounts"]).to_pylist()}
    out: dict[tuple[str, str], int] = {}
    for acc in top.to_pylist():
        chain = [a for a in by_acc.get(acc, []) if not is_btctx(a)]
        for pair in zip(chain, chain[1:], strict=False):
            out.setdefault(pair, len(out))
    return out


LABEL_PX, DETAIL_PX, HEAD_PX = 11.5, 10.5, 12.0  # font sizes of the picture's text
COL_GAP = 22  # pixels between a column's longest label and the next column
MIN_LABEL, MAX_LABEL = 150.0, 330.0  # the room a label gets, in pixels, at least and at most


def _sankey(data: ResultFolder, top: int = TOP_LINKS, names: dict[str, str] | None = None) -> str:
    names = names or {}
    floor = floor_value(data.meta.get("seed_value"))
    contracted, looped = _picture_links(data)
    layer_of, held = _picture_layers(data, contracted)
    ranked_all = sorted(((lk["value"], k) for k, lk in contracted.items() if lk["value"] > 0),
                        key=lambda x: (-x[0], x[1]))
    if not ranked_all:
        return "<p class=note>No transfer carried taint: nothing to draw.</p>"
    ranked = [r for r in ranked_all if r[0] >= floor]
    small = [r for r in ranked_all if r[0] < floor]
    forward = [r for r in ranked if layer_of.get(r[1][1], 0) > layer_of.get(r[1][0], 0)]
    back = [r for r in ranked if layer_of.get(r[1][1], 0) <= layer_of.get(r[1][0], 0)]
    chained = _chain_pairs(data)
    first = sorted((r for r in forward if r[1] in chained), key=lambda r: chained[r[1]])[:top]
    firsts = {r[1] for r in first}
    rest = [r for r in forward if r[1] not in firsts]
    shown = first + rest[:top - len(first)]
    hidden = rest[top - len(first):]
    if not shown:
        return ("<h2>Flow of the funds</h2><p class=note>Every tainted transfer went between "
                "seed senders or back to accounts reached as early, or carried less than "
                f"{_money(floor)} {_t(data.unit)}: no flow to draw (see flows.parquet).</p>")
    nodes: dict[str, dict] = {}
    for value, (src, dst) in shown:
        for acc in (src, dst):
            if acc not in nodes:
                nodes[acc] = {"layer": layer_of.get(acc, 0), "in": 0.0, "out": 0.0,
                              "ins": [], "outs": []}
        nodes[src]["out"] += value
        nodes[dst]["in"] += value
    cols = sorted({n["layer"] for n in nodes.values()})
    col_of = {c: i for i, c in enumerate(cols)}
    by_col: dict[int, list[str]] = defaultdict(list)
    for acc, n in nodes.items():
        n["size"] = max(n["in"], n["out"])
        by_col[col_of[n["layer"]]].append(acc)

    # the text of each node: its name (or id), and what it is and holds
    for acc, n in nodes.items():
        h = held.get(acc)
        detail = []
        if h is not None and h["label"] and not names.get(acc):
            detail.append(safe(h["label"]))
        if h is not None and h["tainted_balance"] >= floor:
            detail.append(("keeps " if h["stopped"] else "rests ") + _money(h["tainted_balance"]))
        elif h is not None and layer_of.get(acc) != 0:
            detail.append("passed on")
        n["line1"] = safe(names.get(acc) or acc)
        n["line2"] = " · ".join(detail)

    # columns as wide as their labels need; the widest labels cut first if the canvas is full
    gap, node_w, canvas = 30, 12, 1120
    heads = ["seed senders" if c == 0 else f"hop {c}" for c in cols]

    def col_width(i: int, cap: float) -> float:
        label = max((max(min(cap, text_width(nodes[a]["line1"], LABEL_PX)),
                         text_width(nodes[a]["line2"], DETAIL_PX))  # never cut: the amount
                     for a in by_col[i]), default=0.0)
        return max(node_w + 5 + label, text_width(heads[i], HEAD_PX)) + COL_GAP

    cap = MAX_LABEL
    while cap > MIN_LABEL and 10 + sum(col_width(i, cap) for i in range(len(cols))) > canvas:
        cap -= 10
    col_w = [col_width(i, cap) for i in range(len(cols))]
    col_x = [10 + sum(col_w[:i]) for i in range(len(cols))]
    width = max(canvas, math.ceil(10 + sum(col_w)))
    for acc, n in nodes.items():
        n["line1"] = fit_text(n["line1"], cap, LABEL_PX, middle=not names.get(acc))

    top_y = 40
    most = max(len(v) for v in by_col.values())
    plot_h = max(440, most * 46)
    k = min((plot_h - (len(v) - 1) * gap) / sum(nodes[a]["size"] for a in v)
            for v in by_col.values())

    def place(col: int) -> None:
        accs = by_col[col]
        total = sum(max(2.0, nodes[a]["size"] * k) for a in accs) + gap * (len(accs) - 1)
        y = top_y + max(0.0, (plot_h - total) / 2)
        for a in accs:
            h = max(2.0, nodes[a]["size"] * k)
            nodes[a].update(y=y, h=h)
            y += h + gap

    # order: first column by size, then each column by the weighted position of its sources
    by_col[0].sort(key=lambda a: (-nodes[a]["size"], a))
    place(0)

    def bary(a: str, col: int) -> tuple:
        srcs = [(v, s) for v, (s, d) in shown if d == a and col_of[nodes[s]["layer"]] < col]
        w = sum(v for v, _ in srcs)
        mid = sum(v * (nodes[s]["y"] + nodes[s]["h"] / 2) for v, s in srcs) / w if w else 1e9
        return (mid, -nodes[a]["size"], a)

    for col in range(1, len(cols)):
        by_col[col].sort(key=lambda a, col=col: bary(a, col))
        place(col)
    for n in nodes.values():
        n["x"] = col_x[col_of[n["layer"]]]
        n["cy"] = n["y"] + n["h"] / 2

    # link ends stacked on each node, in the order of the other end's position
    links = []
    for value, (src, dst) in shown:
        lk = contracted[(src, dst)]
        link = {"src": src, "dst": dst, "value": value, "txs": lk["txs"], "via": lk["via"],
                "paired": lk["paired"], "w": max(1.0, value * k)}
        nodes[src]["outs"].append(link)
        nodes[dst]["ins"].append(link)
        links.append(link)
    for n in nodes.values():
        off = 0.0
        for link in sorted(n["outs"], key=lambda lk: (nodes[lk["dst"]]["cy"], lk["dst"])):
            link["y0"] = n["y"] + off + link["w"] / 2
            off += link["w"]
        off = 0.0
        for link in sorted(n["ins"], key=lambda lk: (nodes[lk["src"]]["cy"], lk["src"])):
            link["y1"] = n["y"] + off + link["w"] / 2
            off += link["w"]

    def kind(acc: str) -> str:
        h = held.get(acc)
        if h is None or layer_of.get(acc) == 0:
            return SOURCE
        if h["stopped"]:
            return STOPPED
        return RESTS if h["tainted_balance"] >= floor else PASSES

    def who(acc: str) -> str:
        name = names.get(acc)
        return f"{_t(name)} ({_t(acc)})" if name and name != acc else _t(acc)

    unit = _t(data.unit)
    out = []
    for i, head in enumerate(heads):
        out.append(f'<text x="{col_x[i]:.1f}" y="16" font-size="{HEAD_PX:g}" fill="#555">'
                   f'{head}</text>')
    for link in sorted(links, key=lambda lk: (-lk["w"], lk["src"], lk["dst"])):
        a, b = nodes[link["src"]], nodes[link["dst"]]
        x0, x1, y0, y1 = a["x"] + node_w, b["x"], link["y0"], link["y1"]
        xm = (x0 + x1) / 2
        d = f"M{x0:.1f},{y0:.1f} C{xm:.1f},{y0:.1f} {xm:.1f},{y1:.1f} {x1:.1f},{y1:.1f}"
        tip = (f'{who(link["src"])} → {who(link["dst"])}: {_money(link["value"])} {unit} '
               f'tainted in {_plural(len(link["txs"]), "transfer")}')
        if link["via"]:
            via = sorted(link["via"])
            tip += (f"; through Bitcoin transaction{'s' if len(via) > 1 else ''} "
                    + ", ".join(_t(h) for h in via[:5])
                    + (f" and {len(via) - 5:,} more" if len(via) > 5 else "")
                    + " (shared among its inputs pro rata)")
        dash = ""
        if link["paired"]:
            tip += "; paired: an outflow matched to the inflows it forwards"
            dash = ' stroke-dasharray="7 4"'
        out.append(f'<path d="{d}" fill="none" stroke="{kind(link["dst"])}" stroke-opacity="0.38" '
                   f'stroke-width="{link["w"]:.2f}"{dash}><title>{tip}</title></path>')
    halo = 'paint-order="stroke" stroke="#fff" stroke-width="3" stroke-linejoin="round"'
    for acc, n in sorted(nodes.items()):
        what = f" ({_t(held[acc]['label'])})" if acc in held and held[acc]["label"] else ""
        tip = f"{who(acc)}{what}: in {_money(n['in'])}, out {_money(n['out'])} {unit} (drawn links)"
        out.append(f'<rect x="{n["x"]:.1f}" y="{n["y"]:.1f}" width="{node_w}" height="{n["h"]:.1f}" '
                   f'fill="{kind(acc)}"><title>{tip}</title></rect>')
        tx = n["x"] + node_w + 5
        out.append(f'<text x="{tx:.1f}" y="{n["cy"] - 2.5:.1f}" font-size="{LABEL_PX:g}" {halo}>'
                   f'{_t(n["line1"])}<title>{who(acc)}</title></text>')
        if n["line2"]:
            out.append(f'<text x="{tx:.1f}" y="{n["cy"] + 12.5:.1f}" font-size="{DETAIL_PX:g}" '
                       f'fill="#555" {halo}>{_t(n["line2"])}</text>')
    out.append("</svg></div>")
    height = max(top_y + plot_h, max(n["y"] + n["h"] for n in nodes.values()) + 20) + 20
    out.insert(0, f'<div class=pic><svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
                  f'height="{height:.0f}" viewBox="0 0 {width} {height:.0f}" role="img" '
                  'aria-label="Flow of the traced funds">')
    legend = (f'<p class=legend><span><i style="background:{SOURCE}"></i>seed sender</span>'
              f'<span><i style="background:{PASSES}"></i>passed the taint on</span>'
              f'<span><i style="background:{RESTS}"></i>taint rests here</span>'
              f'<span><i style="background:{STOPPED}"></i>stopped service (request)</span></p>')
    total = math.fsum(v for v, _p in ranked_all)
    note = ("Accounts in columns by the hop at which most of their taint arrived; each link is "
            "the taint one account sent another, summed over transfers, its width proportional "
            "to the value; a Bitcoin transaction is drawn as the links from its inputs' senders "
            "to its outputs' receivers. Full ids on hover.")
    if hidden:
        rest_v = math.fsum(v for v, _p in hidden)
        note += (f" Drawn: the links on the best evidence chain into each of the largest "
                 f"endpoints, and the largest others: {len(shown)} of {len(forward):,} links to a "
                 "later column; "
                 f"the other {len(hidden):,} carry {_money(rest_v)} {unit} "
                 f"({100 * rest_v / total:.1f}% of all tainted transfers).")
    if back:
        rest_v = math.fsum(v for v, _p in back)
        note += (f" Not drawn: {_plural(len(back), 'link')} back to an account in the same or an "
                 f"earlier column (taint going round), carrying {_money(rest_v)} {unit} "
                 f"({100 * rest_v / total:.1f}%); they are in flows.parquet and the GraphML export.")
    if small:
        rest_v = math.fsum(v for v, _p in small)
        note += (f" Not drawn: {_plural(len(small), 'link')} carrying less than {_money(floor)} "
                 f"{unit} each (a cent, or 0.1% of the seed value), {_money(rest_v)} {unit} "
                 "in all.")
    if looped >= floor:
        note += (f" {_money(looped)} {unit} went back to the sender that paid it into a Bitcoin "
                 "transaction (change): no link.")
    return f"<h2>Flow of the funds</h2>{legend}{''.join(out)}<p class=note>{note}</p>"


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def _endpoints(data: ResultFolder, names: dict[str, str] | None = None) -> str:
    names = names or {}
    every = data.endpoints.to_pylist()
    unit = _t(data.unit)
    floor = floor_value(data.meta.get("seed_value"))
    rows = [r for r in every if r["value"] >= floor]
    small = [r for r in every if r["value"] < floor]
    if not rows:
        return ("<h2>Where the money rests</h2><p>No tainted funds rest anywhere"
                + (f" (only amounts below {_money(floor)} {unit})" if every else "") + ".</p>")
    head = ("<tr><th>account</th><th>name</th><th>label</th><th class=n>value</th>"
            "<th class=n>share</th><th class=n>hops</th><th>first arrival (UTC)</th>"
            "<th>stopped</th></tr>")
    body = []
    for r in rows[:TOP_ENDPOINTS]:
        stop = "<span class='tag stop'>stopped</span>" if r["stopped"] else ""
        body.append(f"<tr><td class=id>{_t(r['account'])}</td>"
                    f"<td>{_t(names.get(r['account']) or '')}</td><td>{_t(r['label'] or '')}</td>"
                    f"<td class=n>{_money(r['value'])}</td><td class=n>{100 * r['share']:.2f}%</td>"
                    f"<td class=n>{r['min_hops']}</td><td>{_time(r['first_ts'])}</td>"
                    f"<td>{stop}</td></tr>")
    more = []
    if len(rows) > TOP_ENDPOINTS:
        rest = math.fsum(r["value"] for r in rows[TOP_ENDPOINTS:])
        more.append(f"… {len(rows) - TOP_ENDPOINTS:,} more endpoints holding {_money(rest)} "
                    f"{unit} in all")
    if small:
        rest = math.fsum(r["value"] for r in small)
        more.append(f"{_plural(len(small), 'endpoint')} holding less than {_money(floor)} {unit} "
                    f"each (a cent, or 0.1% of the seed value; {_money(rest)} {unit} in all) "
                    "not listed")
    tail = ""
    if more:
        tail = (f"<p class=note>{'; '.join(more)}. All of them: endpoints.parquet in the result "
                "folder, or tracer report --format csv.</p>")
    return (f"<h2>Where the money rests ({_plural(len(rows), 'endpoint')}, values in {unit})</h2>"
            f"<table>{head}{''.join(body)}</table>{tail}")


def _requests(data: ResultFolder) -> str:
    title = "<h2>Requests to stopped services</h2>"
    if data.requests is None:
        return (title + "<p class=note>This result folder has no requests.csv (it is written by "
                "tracer trace -o DIR).</p>")
    if not data.requests:
        return title + "<p>The trace reached no stopped service.</p>"
    parts = [title, "<p class=note>Per service, the deposits that carried traced funds, for a "
             "freeze or information request (the same rows are in requests.csv). Amounts are in "
             "the transferred asset; tainted is the traced part, in the trace unit and in the "
             "asset.</p>"]
    for info, transfers, totals in by_service(data.requests):
        unit = _t(info["unit"] or "")
        name = f" — {_t(info['name'])}" if info["name"] else ""
        parts.append(
            f"<div class=svc><h3>{_t(info['service'] or 'service')}{name}</h3>"
            f"<p>Entity <code>{_t(info['entity'])}</code>; deposit account"
            f"{'s' if len(info['accounts']) != 1 else ''} "
            f"{', '.join(f'<code>{_t(a)}</code>' for a in info['accounts'])}; "
            f"{_plural(info['transfers'], 'transfer')} carrying "
            f"<b>{_money(info['tainted'])} {unit}</b> of traced funds.</p>"
            "<table><tr><th>time (UTC)</th><th>tx id</th><th>from</th><th>deposit account</th>"
            "<th>asset</th><th class=n>amount</th><th class=n>tainted (asset)</th>"
            f"<th class=n>tainted ({unit})</th></tr>")
        for r in transfers[:TOP_REQUEST_ROWS]:
            parts.append(
                f"<tr><td>{_t(r['time'])}</td><td class=id>{_t(r['tx_id'])}</td>"
                f"<td class=id>{_t(r['from_account'])}</td><td class=id>{_t(r['deposit_account'])}</td>"
                f"<td>{_t(r['asset'])}</td><td class=n>{asset_amount(r['amount'], r['asset'])}</td>"
                f"<td class=n>{asset_amount(r['tainted_amount'], r['asset'])}</td>"
                f"<td class=n>{_money(r['tainted'])}</td></tr>")
        if len(transfers) > TOP_REQUEST_ROWS:
            parts.append(f"<tr><td colspan=8 class=note>… {len(transfers) - TOP_REQUEST_ROWS:,} "
                         "more deposits: all of them in requests.csv in the result folder "
                         "(tracer report --format csv --table requests).</td></tr>")
        for r in totals:
            parts.append(
                f"<tr><th colspan=4>total {_t(r['asset'])} ({_t(r['tx_id'])})</th>"
                f"<th>{_t(r['asset'])}</th><th class=n>{asset_amount(r['amount'], r['asset'])}</th>"
                f"<th class=n>{asset_amount(r['tainted_amount'], r['asset'])}</th>"
                f"<th class=n>{_money(r['tainted'])}</th></tr>")
        parts.append("</table></div>")
    return "".join(parts)


def _chains(data: ResultFolder) -> str:
    unit = _t(data.unit)
    flows = {f["tx_id"]: f for f in data.flows.to_pylist()}
    seed = data.meta.get("seed_value") or 0.0
    floor = floor_value(seed)
    every = data.endpoints.to_pylist()
    listed = [e for e in every if e["value"] >= floor]
    endpoints = listed[:TOP_CHAINS]
    title = "<h2>Evidence chains</h2>"
    tiny = max(floor, 0.01 * abs(seed))  # endpoints below this: their chains folded

    def head(e: dict) -> str:
        return (f"<code>{_t(e['account'])}</code> {_t(e['label'] or '')} — holds "
                f"{_money(e['value'])} {unit}")

    def block(e: dict, body: str) -> str:
        if e["value"] >= tiny:
            return f"<h3>{head(e)}</h3>{body}"
        return (f"<details><summary>{head(e)} <span class=note>(less than 1% of the seed "
                f"value: chains folded)</span></summary>{body}</details>")

    more = ""
    if len(listed) > len(endpoints) or len(every) > len(listed):
        more = (f"<p class=note>Chains listed for the {len(endpoints):,} largest endpoints of "
                f"{len(every):,} (at most {CHAINS_EACH} each; none for endpoints holding less "
                f"than {_money(floor)} {unit}); every chain: paths.parquet and allocations.parquet "
                "in the result folder, or tracer explain.</p>")
    if data.paths is not None and data.paths.num_rows:
        by_acc: dict[str, list[dict]] = defaultdict(list)
        for p in data.paths.to_pylist():
            by_acc[p["account"]].append(p)
        out = [title, "<p class=note>For the largest endpoints, the chains of transfers that "
               f"carried the most traced funds to them ({_t(data.meta.get('rule'))}): each "
               "step drew the amount shown from the step before.</p>"]
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
                    steps.append(f"<li>{_time(f.get('ts'))} <code>{_t(tx)}</code> "
                                 f"<code>{_t(src)}</code> → <code>{_t(dst)}</code> "
                                 f"{_money(amount)} {unit} <span class=note>({how})</span></li>")
                body.append(f"<p>Chain {p['rank']}: {_money(p['value'])} {unit} carried all the "
                            f"way</p><ol class=chain>{''.join(steps)}</ol>")
            out.append(block(e, "".join(body)))
        return "".join(out) + more
    if data.allocations is None or data.allocations.num_rows == 0:
        return title + ("<p class=note>No evidence chains in this result (poison keeps no "
                        "allocations).</p>")
    # no paths table: follow the largest allocation back from the largest inflows
    drawn: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for a in data.allocations.to_pylist():
        drawn[a["tx_id"]].append((a["amount"], a["from_tx_id"]))
    into: dict[str, list[dict]] = defaultdict(list)
    for f in flows.values():
        into[f["dst"]].append(f)
    out = [title, "<p class=note>This result has no evidence paths; for the largest endpoints, "
           "their largest tainted inflows, each followed back through the allocation it drew "
           "most from.</p>"]
    for e in endpoints:
        body = []
        for f in sorted(into[e["account"]], key=lambda f: (-f["tainted"], f["tx_id"]))[:CHAINS_EACH]:
            steps, tx, seen = [], f["tx_id"], set()
            while tx in flows and tx not in seen:
                seen.add(tx)
                g = flows[tx]
                steps.append(f"<li>{_time(g['ts'])} <code>{_t(tx)}</code> <code>{_t(g['src'])}"
                             f"</code> → <code>{_t(g['dst'])}</code> tainted "
                             f"{_money(g['tainted'])} {unit}</li>")
                if not drawn.get(tx):
                    break
                tx = max(drawn[tx], key=lambda x: (x[0], x[1]))[1]
            body.append(f"<ol class=chain>{''.join(reversed(steps))}</ol>")
        out.append(block(e, "".join(body)))
    return "".join(out) + more


# --------------------------------------------------------------------------------------------
# Timeline
# --------------------------------------------------------------------------------------------

_STEPS = [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400,
          7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400, 182 * 86400, 365 * 86400]


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

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0f}" '
           f'viewBox="0 0 {width} {height:.0f}" role="img" aria-label="Timeline of the tainted '
           'transfers">']
    for h in range(1, hops + 1):
        y = top + lane * (h - 0.5)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                   'stroke="#eee"/>')
        if lane >= 14 or h == 1 or h % 5 == 0:
            out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" font-size="11" fill="#555" '
                       f'text-anchor="end">hop {h}</text>')
    step = next((s for s in _STEPS if (t1 - t0) / s <= 8), _STEPS[-1])
    tick = math.ceil(t0 / step) * step
    fmt = "%Y-%m-%d" if step >= 86400 else "%m-%d %H:%M"
    axis = top + lane * hops + 6
    while tick <= t1:
        tx = x(tick)
        label = dt.datetime.fromtimestamp(tick, dt.UTC).strftime(fmt)
        out.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{top}" y2="{axis:.1f}" stroke="#e4e4e4"/>'
                   f'<text x="{tx:.1f}" y="{axis + 14:.1f}" font-size="11" fill="#555" '
                   f'text-anchor="middle">{label}</text>')
        tick += step
    biggest = max(f["tainted"] for f in drawn)
    unit = _t(data.unit)
    for f in sorted(drawn, key=lambda f: (-f["tainted"], f["tx_id"])):
        r = 2.5 + 11 * math.sqrt(f["tainted"] / biggest)
        colour = STOPPED if f["dst"] in stopped else RESTS
        tip = (f"{_time(f['ts'])} {_t(f['tx_id'])}: {_t(f['src'])} → {_t(f['dst'])}, "
               f"{_money(f['tainted'])} {unit} tainted")
        out.append(f'<circle cx="{x(f["ts"].timestamp()):.1f}" '
                   f'cy="{top + lane * (f["hop"] - 0.5):.1f}" r="{r:.1f}" fill="{colour}" '
                   f'fill-opacity="0.55" stroke="{colour}"><title>{tip}</title></circle>')
    out.append("</svg>")
    note = ("Each tainted transfer at its time (UTC) and hop; area proportional to the tainted "
            "value; red: into a stopped service.")
    if len(flows) > len(drawn):
        note += f" Drawn: the {len(drawn):,} largest of {len(flows):,}."
    note += f" Transfers carrying less than {_money(floor)} {unit} are not drawn."
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
        f"<tr><td>{_t(i.get('name'))}</td><td class=id>{_t(i.get('sha256'))}</td>"
        f"<td class=n>{int(i.get('size') or 0):,}</td><td class=n>{i.get('read', '')}</td>"
        f"<td class=n>{i.get('ingested', '')}</td><td class=n>{i.get('rejected', '')}</td></tr>"
        for i in ws.get("inputs", []))
    files = "".join(f"<tr><td>{_t(name)}</td><td class=id>{_t(rec.get('sha256'))}</td>"
                    f"<td class=n>{int(rec.get('size') or 0):,}</td></tr>"
                    for name, rec in sorted(m.get("files", {}).items()))
    versions = ", ".join(f"{_t(k)} {_t(v)}" for k, v in sorted(m.get("versions", {}).items()))
    return (f"{title}<p>Workspace <code>{_t(ws.get('path'))}</code>, built from these inputs:</p>"
            "<table><tr><th>input</th><th>SHA-256</th><th class=n>bytes</th><th class=n>read</th>"
            f"<th class=n>ingested</th><th class=n>rejected</th></tr>{rows}</table>"
            f"<p>Result files:</p><table><tr><th>file</th><th>SHA-256</th><th class=n>bytes</th>"
            f"</tr>{files}</table><p>Computed with {versions}. "
            "<code>tracer verify</code> on the result folder checks the inputs' SHA-256 and runs "
            "the trace again to show that every file still matches byte for byte.</p>")


def render_html(data: ResultFolder, *, top_links: int = TOP_LINKS,
                names: dict[str, str] | None = None) -> str:
    """The report page for a result folder; ``names``: readable names of accounts or entities
    (``tracer.report.layout.account_names``), shown beside their ids."""
    meta = data.meta
    title = (f"Trace ({_t(meta.get('rule'))}) of {_money(meta.get('seed_value'))} "
             f"{_t(data.unit)}").rstrip()
    parts = [
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>",
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{title}</h1><p class=sub>Result folder <code>{_t(data.path.name)}</code>; "
        f"report by tracer. Times are UTC.</p>",
        _summary(data), _sankey(data, top_links, names), _endpoints(data, names), _requests(data),
        _chains(data), _timeline(data), _custody(data),
        "</main></body></html>\n",
    ]
    return "\n".join(parts)
