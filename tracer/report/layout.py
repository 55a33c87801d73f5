"""Helpers of the HTML report's flow picture: text widths, amounts, Bitcoin transactions drawn
as links, readable names from the workspace.

Text widths are estimated from the characters and the font size (no font metrics without a
browser): a generous average per character class, so that a label laid out with the estimate
never runs into its neighbour (``tests/test_browser_layout.py`` checks this in Chromium).
"""

from __future__ import annotations

import math
import unicodedata
from pathlib import Path

__all__ = [
    "text_width",
    "fit_text",
    "asset_amount",
    "floor_value",
    "contract_btctx",
    "is_btctx",
    "account_names",
    "BTCTX",
]

BTCTX = "btctx:"

_NARROW = set("iIjl.,:;'|!()[]{}` ")
_SEMI = set('frt1-/\\"*')
_WIDE = set("mwMW@%")
# decimals an amount of the asset is shown with (others: up to 8, trailing zeros dropped)
_DECIMALS = {"BTC": 8, "LTC": 8, "BCH": 8, "DOGE": 8, "USDT": 6, "USDC": 6, "TRX": 6}


def _char_em(c: str) -> float:
    if c in _NARROW:
        return 0.34
    if c in _SEMI:
        return 0.45
    if c in _WIDE:
        return 0.92
    if unicodedata.east_asian_width(c) in ("W", "F"):
        return 1.05
    if unicodedata.combining(c):
        return 0.0
    if c.isupper() or c.isdigit():
        return 0.68
    return 0.58


def text_width(text: str, size: float) -> float:
    """Estimated width in pixels of ``text`` set in a sans-serif font of ``size`` pixels (on
    the generous side)."""
    return size * sum(_char_em(c) for c in text)


def fit_text(text: str, px: float, size: float, *, middle: bool = False) -> str:
    """``text`` cut (with an ellipsis) so that its estimated width is at most ``px``; with
    ``middle``, its head and its tail are kept (ids: ``btc:bc1q5f4z…y6kw8z``)."""
    if text_width(text, size) <= px:
        return text
    room = px - text_width("…", size)
    if middle:
        head, tail, used = [], [], 0.0
        i, j = 0, len(text) - 1
        while i <= j:
            take_head = len(head) <= 1.6 * len(tail)
            c = text[i] if take_head else text[j]
            w = size * _char_em(c)
            if used + w > room:
                break
            used += w
            if take_head:
                head.append(c)
                i += 1
            else:
                tail.append(c)
                j -= 1
        return "".join(head) + "…" + "".join(reversed(tail))
    out, used = [], 0.0
    for c in text:
        w = size * _char_em(c)
        if used + w > room:
            break
        out.append(c)
        used += w
    return "".join(out) + "…"


def asset_amount(x: float | None, asset: str | None) -> str:
    """An amount in its asset's precision: 0.01256801 BTC, 1,500.00 EUR, 12.345678 USDT."""
    if x is None or not math.isfinite(x):
        return ""
    places = _DECIMALS.get((asset or "").upper())
    if places is not None:
        return f"{x:,.{places}f}"
    s = f"{x:,.8f}".rstrip("0")
    whole, _, frac = s.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def floor_value(seed_value: float | None) -> float:
    """Smallest value drawn or listed as resting somewhere: a cent, or 0.1% of the seed
    value if more."""
    seed = seed_value if seed_value is not None and math.isfinite(seed_value) else 0.0
    return max(0.01, 0.001 * abs(seed))


def is_btctx(account: str) -> bool:
    return account.startswith(BTCTX)


def contract_btctx(links: dict[tuple[str, str], dict]) -> tuple[dict[tuple[str, str], dict], float]:
    """Bitcoin transactions (``btctx:<hash>`` nodes) taken out of a graph of links: each
    input's sender joined to each output's receiver, the outputs shared among the inputs pro
    rata to what each put in. ``links`` maps (src, dst) to ``{"value", "txs" (set of tx ids),
    "via" (set of tx hashes), "paired" (bool)}``. Returns the new links and the value that went
    back to its own sender (change), which is no link. A transaction with no output keeps its
    node. Deterministic: transactions are taken out in the order of their ids."""
    links = {k: {**v, "txs": set(v["txs"]), "via": set(v["via"])} for k, v in links.items()}
    looped = 0.0
    nodes = sorted({a for pair in links for a in pair if is_btctx(a)})
    for node in nodes:
        ins = sorted(k for k in links if k[1] == node and k[0] != node)
        outs = sorted(k for k in links if k[0] == node and k[1] != node)
        total_in = math.fsum(links[k]["value"] for k in ins)
        if not outs or total_in <= 0:
            continue
        taken_in = [(k[0], links.pop(k)) for k in ins]
        taken_out = [(k[1], links.pop(k)) for k in outs]
        links.pop((node, node), None)
        for src, a in taken_in:
            for dst, b in taken_out:
                value = b["value"] * a["value"] / total_in
                if src == dst:
                    looped += value
                    continue
                link = links.setdefault(
                    (src, dst), {"value": 0.0, "txs": set(), "via": set(), "paired": False}
                )
                link["value"] += value
                link["txs"] |= a["txs"] | b["txs"]
                link["via"] |= a["via"] | b["via"] | {node[len(BTCTX) :]}
                link["paired"] = link["paired"] or a["paired"] or b["paired"]
    return links, looped


def account_names(data, workspace: str | Path | None = None) -> tuple[dict[str, str], str | None]:
    """Readable names of the accounts (or entities) of a result, from the workspace named in
    its manifest (or ``workspace``): the account's name, else its entity's name. Returns
    (names, None), or ({}, why) when the workspace cannot be read."""
    import polars as pl

    from tracer.errors import TracerError
    from tracer.workspace import Workspace

    path = workspace or ((data.manifest or {}).get("workspace") or {}).get("path") or ""
    if not str(path):
        return {}, "no workspace recorded in the result"
    try:
        ws = Workspace.open(path)
        ids = set(data.holdings.column("account").to_pylist())
        ids.update(data.flows.column("src").to_pylist(), data.flows.column("dst").to_pylist())
        ids = sorted(i for i in ids if i is not None and not is_btctx(i))
        rows = (
            ws.scan("accounts")
            .filter(pl.col("account").is_in(ids) | pl.col("entity").is_in(ids))
            .filter(pl.col("name").is_not_null() & (pl.col("name") != ""))
            .select("account", "entity", "name")
            .sort("account")
            .collect()
        )
    except (TracerError, OSError, pl.exceptions.PolarsError) as exc:
        return {}, f"{path}: {exc}"
    wanted = set(ids)
    names: dict[str, str] = {}
    by_entity: dict[str, str] = {}
    for acc, ent, name in rows.iter_rows():
        if acc in wanted:
            names[acc] = name
        if ent in wanted and ent not in by_entity:
            by_entity[ent] = name
    for ent, name in by_entity.items():
        names.setdefault(ent, name)
    return names, None
