"""The flow picture of the HTML report: a Sankey diagram of the trace, accounts layered by
the hop at which most of their taint arrived, links aggregated per account pair with width
proportional to the tainted value, only the largest links so a big trace stays readable; drawn
as inline SVG here in Python."""

from __future__ import annotations

import math
from collections import defaultdict

import pyarrow.compute as pc

from tracer.report.custody import ResultFolder
from tracer.report.layout import (
    contract_btctx,
    fit_text,
    floor_value,
    is_btctx,
    text_width,
)
from tracer.report.page import PASSES, RESTS, SOURCE, STOPPED, esc, money, plural
from tracer.report.text import safe

__all__ = ["sankey", "TOP_LINKS"]

TOP_LINKS = 40  # account pairs drawn in the flow picture


def _layers(data: ResultFolder) -> tuple[dict[str, int], dict[str, dict]]:
    """Column of each account in hops: 0 for the seed senders, else the hop at which most of
    its taint arrived (the fewest hops would put a service reached early by a trickle before
    the chain that brought it most of its money)."""
    held = {h["account"]: h for h in data.holdings.to_pylist()}
    layers = {a: int(h["min_hops"]) for a, h in held.items()}
    per_hop = (
        data.flows.group_by(["dst", "hop"])
        .aggregate([("tainted", "sum")])
        .sort_by([("dst", "ascending"), ("tainted_sum", "descending"), ("hop", "ascending")])
    )
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
        lk = links.setdefault(
            (f["src"], f["dst"]), {"value": 0.0, "txs": set(), "via": set(), "paired": False}
        )
        lk["value"] += f["tainted"]
        lk["txs"].add(f["tx_id"])
        lk["paired"] = lk["paired"] or f["tx_id"] in paired
    return contract_btctx(links)


def _picture_layers(
    data: ResultFolder, links: dict[tuple[str, str], dict]
) -> tuple[dict[str, int], dict[str, dict]]:
    """Column of each account of the picture: 0 for the seed senders, else one more than the
    column of the account it received most from (accounts taken in the order of the hop at
    which most of their taint arrived)."""
    hops, held = _layers(data)
    layer = {a: 0 for a, h in hops.items() if h == 0 and not is_btctx(a)}
    senders: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for (src, dst), lk in links.items():
        senders[dst].append((lk["value"], src))
    todo = sorted(
        {a for pair in links for a in pair} - set(layer), key=lambda a: (hops.get(a, 1), a)
    )
    for acc in todo:
        known = sorted(
            ((v, s) for v, s in senders.get(acc, []) if s in layer), key=lambda x: (-x[0], x[1])
        )
        layer[acc] = layer[known[0][1]] + 1 if known else 1
    return layer, held


def _chain_pairs(data: ResultFolder, endpoints: int = 10) -> dict[tuple[str, str], int]:
    """Account pairs on the best evidence chain of each of the largest endpoints, in order
    (Bitcoin transactions left out, as in the picture): drawn first, so the picture shows how
    the money reached where most of it rests."""
    if data.paths is None or data.paths.num_rows == 0 or "accounts" not in data.paths.column_names:
        return {}
    top = data.endpoints.column("account").slice(0, endpoints)
    best = data.paths.filter(
        pc.and_(
            pc.equal(data.paths.column("rank"), 1),
            pc.is_in(data.paths.column("account"), value_set=top),
        )
    )
    by_acc = {
        p["account"]: p["accounts"] or [] for p in best.select(["account", "accounts"]).to_pylist()
    }
    out: dict[tuple[str, str], int] = {}
    for acc in top.to_pylist():
        chain = [a for a in by_acc.get(acc, []) if not is_btctx(a)]
        for pair in zip(chain, chain[1:], strict=False):
            out.setdefault(pair, len(out))
    return out


LABEL_PX, DETAIL_PX, HEAD_PX = 11.5, 10.5, 12.0  # font sizes of the picture's text
COL_GAP = 22  # pixels between a column's longest label and the next column
MIN_LABEL, MAX_LABEL = 150.0, 330.0  # the room a label gets, in pixels, at least and at most


def sankey(data: ResultFolder, top: int = TOP_LINKS, names: dict[str, str] | None = None) -> str:
    names = names or {}
    floor = floor_value(data.meta.get("seed_value"))
    contracted, looped = _picture_links(data)
    layer_of, held = _picture_layers(data, contracted)
    ranked_all = sorted(
        ((lk["value"], k) for k, lk in contracted.items() if lk["value"] > 0),
        key=lambda x: (-x[0], x[1]),
    )
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
    shown = first + rest[: top - len(first)]
    hidden = rest[top - len(first) :]
    if not shown:
        return (
            "<h2>Flow of the funds</h2><p class=note>Every tainted transfer went between "
            "seed senders or back to accounts reached as early, or carried less than "
            f"{money(floor)} {esc(data.unit)}: no flow to draw (see flows.parquet).</p>"
        )
    nodes: dict[str, dict] = {}
    for value, (src, dst) in shown:
        for acc in (src, dst):
            if acc not in nodes:
                nodes[acc] = {
                    "layer": layer_of.get(acc, 0),
                    "in": 0.0,
                    "out": 0.0,
                    "ins": [],
                    "outs": [],
                }
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
            detail.append(("keeps " if h["stopped"] else "rests ") + money(h["tainted_balance"]))
        elif h is not None and layer_of.get(acc) != 0:
            detail.append("passed on")
        n["line1"] = safe(names.get(acc) or acc)
        n["line2"] = " · ".join(detail)

    # columns as wide as their labels need; the widest labels cut first if the canvas is full
    gap, node_w, canvas = 30, 12, 1120
    heads = ["seed senders" if c == 0 else f"hop {c}" for c in cols]

    def col_width(i: int, cap: float) -> float:
        label = max(
            (
                max(
                    min(cap, text_width(nodes[a]["line1"], LABEL_PX)),
                    text_width(nodes[a]["line2"], DETAIL_PX),
                )  # never cut: the amount
                for a in by_col[i]
            ),
            default=0.0,
        )
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
    k = min(
        (plot_h - (len(v) - 1) * gap) / sum(nodes[a]["size"] for a in v) for v in by_col.values()
    )

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
        link = {
            "src": src,
            "dst": dst,
            "value": value,
            "txs": lk["txs"],
            "via": lk["via"],
            "paired": lk["paired"],
            "w": max(1.0, value * k),
        }
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
        return f"{esc(name)} ({esc(acc)})" if name and name != acc else esc(acc)

    unit = esc(data.unit)
    out = []
    for i, head in enumerate(heads):
        out.append(
            f'<text x="{col_x[i]:.1f}" y="16" font-size="{HEAD_PX:g}" fill="#555">{head}</text>'
        )
    for link in sorted(links, key=lambda lk: (-lk["w"], lk["src"], lk["dst"])):
        a, b = nodes[link["src"]], nodes[link["dst"]]
        x0, x1, y0, y1 = a["x"] + node_w, b["x"], link["y0"], link["y1"]
        xm = (x0 + x1) / 2
        d = f"M{x0:.1f},{y0:.1f} C{xm:.1f},{y0:.1f} {xm:.1f},{y1:.1f} {x1:.1f},{y1:.1f}"
        tip = (
            f"{who(link['src'])} → {who(link['dst'])}: {money(link['value'])} {unit} "
            f"tainted in {plural(len(link['txs']), 'transfer')}"
        )
        if link["via"]:
            via = sorted(link["via"])
            tip += (
                f"; through Bitcoin transaction{'s' if len(via) > 1 else ''} "
                + ", ".join(esc(h) for h in via[:5])
                + (f" and {len(via) - 5:,} more" if len(via) > 5 else "")
                + " (shared among its inputs pro rata)"
            )
        dash = ""
        if link["paired"]:
            tip += "; paired: an outflow matched to the inflows it forwards"
            dash = ' stroke-dasharray="7 4"'
        out.append(
            f'<path d="{d}" fill="none" stroke="{kind(link["dst"])}" stroke-opacity="0.38" '
            f'stroke-width="{link["w"]:.2f}"{dash}><title>{tip}</title></path>'
        )
    halo = 'paint-order="stroke" stroke="#fff" stroke-width="3" stroke-linejoin="round"'
    for acc, n in sorted(nodes.items()):
        what = f" ({esc(held[acc]['label'])})" if acc in held and held[acc]["label"] else ""
        tip = f"{who(acc)}{what}: in {money(n['in'])}, out {money(n['out'])} {unit} (drawn links)"
        out.append(
            f'<rect x="{n["x"]:.1f}" y="{n["y"]:.1f}" width="{node_w}" height="{n["h"]:.1f}" '
            f'fill="{kind(acc)}"><title>{tip}</title></rect>'
        )
        tx = n["x"] + node_w + 5
        out.append(
            f'<text x="{tx:.1f}" y="{n["cy"] - 2.5:.1f}" font-size="{LABEL_PX:g}" {halo}>'
            f"{esc(n['line1'])}<title>{who(acc)}</title></text>"
        )
        if n["line2"]:
            out.append(
                f'<text x="{tx:.1f}" y="{n["cy"] + 12.5:.1f}" font-size="{DETAIL_PX:g}" '
                f'fill="#555" {halo}>{esc(n["line2"])}</text>'
            )
    out.append("</svg></div>")
    height = max(top_y + plot_h, max(n["y"] + n["h"] for n in nodes.values()) + 20) + 20
    out.insert(
        0,
        f'<div class=pic><svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height:.0f}" viewBox="0 0 {width} {height:.0f}" role="img" '
        'aria-label="Flow of the traced funds">',
    )
    legend = (
        f'<p class=legend><span><i style="background:{SOURCE}"></i>seed sender</span>'
        f'<span><i style="background:{PASSES}"></i>passed the taint on</span>'
        f'<span><i style="background:{RESTS}"></i>taint rests here</span>'
        f'<span><i style="background:{STOPPED}"></i>stopped service (request)</span></p>'
    )
    total = math.fsum(v for v, _p in ranked_all)
    note = (
        "Accounts in columns by the hop at which most of their taint arrived; each link is "
        "the taint one account sent another, summed over transfers, its width proportional "
        "to the value; a Bitcoin transaction is drawn as the links from its inputs' senders "
        "to its outputs' receivers. Full ids on hover."
    )
    if hidden:
        rest_v = math.fsum(v for v, _p in hidden)
        note += (
            f" Drawn: the links on the best evidence chain into each of the largest "
            f"endpoints, and the largest others: {len(shown)} of {len(forward):,} links to a "
            "later column; "
            f"the other {len(hidden):,} carry {money(rest_v)} {unit} "
            f"({100 * rest_v / total:.1f}% of all tainted transfers)."
        )
    if back:
        rest_v = math.fsum(v for v, _p in back)
        note += (
            f" Not drawn: {plural(len(back), 'link')} back to an account in the same or an "
            f"earlier column (taint going round), carrying {money(rest_v)} {unit} "
            f"({100 * rest_v / total:.1f}%); they are in flows.parquet and the GraphML export."
        )
    if small:
        rest_v = math.fsum(v for v, _p in small)
        note += (
            f" Not drawn: {plural(len(small), 'link')} carrying less than {money(floor)} "
            f"{unit} each (a cent, or 0.1% of the seed value), {money(rest_v)} {unit} "
            "in all."
        )
    if looped >= floor:
        note += (
            f" {money(looped)} {unit} went back to the sender that paid it into a Bitcoin "
            "transaction (change): no link."
        )
    return f"<h2>Flow of the funds</h2>{legend}{''.join(out)}<p class=note>{note}</p>"
