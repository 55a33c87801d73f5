"""``tracer explain``: how the taint reached one account, from a result folder."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from tracer.errors import InputError, UnknownAccountError
from tracer.report.text import safe

__all__ = ["explain"]


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _load(folder: Path, name: str) -> pl.DataFrame:
    path = folder / f"{name}.parquet"
    if not path.is_file():
        raise InputError(
            f"{folder}: no {name}.parquet; is it a folder written by tracer trace -o DIR?"
        )
    return pl.read_parquet(path)


def _delay(seconds: float) -> str:
    """``2 h 28 min``, ``3 d 4 h``, ``45 s``."""
    s = int(round(seconds))
    d, s = divmod(s, 86_400)
    h, s = divmod(s, 3_600)
    m, s = divmod(s, 60)
    parts = [
        f"{d} d" if d else "",
        f"{h} h" if h else "",
        f"{m} min" if m and not d else "",
        f"{s} s" if s and not (d or h) else "",
    ]
    return " ".join(p for p in parts if p) or "0 s"


def _how(a: dict) -> str:
    """How an allocation was made, in words (match only; other rules: the rule itself)."""
    how = a.get("how")
    if how == "paired":
        return (
            f"paired: this payment forwards {safe(a['from_tx_id'])}, "
            f"{_delay(a['delay_seconds'])} later, at {100 * a['ratio']:.1f}% of its value"
        )
    if how:
        return (
            f"drawn by the {safe(how.removeprefix('fallback '))} fallback (no pairing explains it)"
        )
    return ""


def _match_rule(options: dict) -> str:
    window = _delay(options.get("match_window_seconds") or 0)
    cut, over = options.get("match_cut", 0.0), options.get("match_over", 0.0)
    return (
        f"Rule match: each payment out of an account is paired with the payments into it "
        f"that it forwards (received at most {window} before it, worth "
        f"{100 * (1 - cut):.0f}% to {100 * (1 + over):.0f}% of it, at most "
        f"{options.get('match_group')} payments each way); what no pairing explains is drawn "
        f"by the {safe(options.get('fallback', ''))} rule (docs/semantics.md)."
    )


def explain(folder: str | Path, account: str, *, limit: int = 5) -> str:
    folder = Path(folder)
    if not (folder / "result.json").is_file():
        raise InputError(
            f"{folder}: not a trace result (no result.json). Write one with "
            "tracer trace ... -o DIR."
        )
    meta = json.loads((folder / "result.json").read_text())
    unit = safe(meta.get("unit") or "")
    rule = meta["rule"]
    holdings = _load(folder, "holdings")
    row = holdings.filter(pl.col("account") == account)
    if row.height == 0:
        raise UnknownAccountError(
            f"{account}: the trace did not reach this account. "
            "See endpoints.parquet for the accounts it reached."
        )
    h = row.row(0, named=True)
    flows = _load(folder, "flows")
    by_tx = {f["tx_id"]: f for f in flows.to_dicts()}
    seed_value = meta["seed_value"] or 0.0
    label = f" [{safe(h['label'])}]" if h["label"] else ""
    share = (
        f" ({100 * h['tainted_balance'] / seed_value:.2f}% of {_money(seed_value)})"
        if seed_value
        else ""
    )
    lines = [
        f"{safe(account)}{label} holds {_money(h['tainted_balance'])} {unit} of the traced funds"
        f"{share}; first reached at hop {h['min_hops']} on {h['first_ts']:%Y-%m-%dT%H:%M:%SZ}"
        f"{'; stopped service' if h['stopped'] else ''}.",
        f"Tainted in {_money(h['tainted_in'])}, out {_money(h['tainted_out'])}, unexplained "
        f"{_money(h['unexplained'])} {unit}.".rstrip(),
    ]
    paths = (
        _load(folder, "paths").filter(pl.col("account") == account).sort("rank")
        if (folder / "paths.parquet").is_file()
        else pl.DataFrame()
    )
    if paths.height == 0:
        lines.append(
            "No evidence chain is recorded for this account (poison keeps none, or the "
            "trace ran with --top-paths 0)."
        )
        return "\n".join(lines)
    allocations = _load(folder, "allocations")
    paired = set()
    if "how" in allocations.columns:
        paired = set(
            allocations.filter(pl.col("how") == "paired")
            .select(pl.concat_str("tx_id", pl.lit("\x00"), "from_tx_id"))
            .to_series()
            .to_list()
        )
    on_paths: list[str] = []
    if rule == "match":
        lines += ["", _match_rule(meta.get("options") or {})]
    lines += ["", f"Evidence chains ({rule}), best first:"]
    for p in paths.head(limit).to_dicts():
        lines.append(f"{p['rank']:>3}. {_money(p['value'])} {unit} carried all the way".rstrip())
        for i, (tx, amount) in enumerate(zip(p["tx_ids"], p["amounts"], strict=True)):
            f = by_tx[tx]
            before = p["tx_ids"][i - 1] if i else None
            how = (
                "seed"
                if i == 0
                else f"paired with {safe(before)}"
                if f"{tx}\x00{before}" in paired
                else f"drawn from {safe(before)}"
            )
            lines.append(
                f"     {f['ts']:%Y-%m-%dT%H:%M:%SZ}  {safe(tx)}  {safe(f['src'])} -> "
                f"{safe(f['dst'])}  {_money(amount)} ({how})"
            )
            if i > 0 and tx not in on_paths:
                on_paths.append(tx)
    lines += ["", f"Decisions of the rule ({rule}) along these chains:"]
    for tx in on_paths:
        f = by_tx[tx]
        parts = allocations.filter(pl.col("tx_id") == tx).to_dicts()
        drawn = ", ".join(
            f"{_money(a['amount'])} from {safe(a['from_tx_id'])}"
            + (f" ({_how(a)})" if a.get("how") else "")
            for a in parts
        )
        lines.append(
            f"  at {safe(f['src'])}: {safe(tx)} ({_money(f['value'])}) took "
            f"{_money(f['tainted'])} of taint: {drawn}"
        )
    accounts = {by_tx[t]["src"] for t in on_paths}
    met = holdings.filter(
        pl.col("account").is_in(sorted(accounts)) & (pl.col("unexplained") >= 0.005)
    )  # a cent, rounded
    if met.height:
        lines += [
            "",
            "Unexplained funds met on the way (outflows larger than the dump shows the "
            "account holding, presumed older clean funds):",
        ]
        lines += [
            f"  {safe(r['account'])}: {_money(r['unexplained'])} {unit}".rstrip()
            for r in met.sort("account").to_dicts()
        ]
    return "\n".join(lines)
