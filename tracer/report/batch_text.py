"""The printed renderings of a batch: its summary, the hubs its cases share, and the case
networks of ``tracer links``, as plain text for a terminal."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from tracer.report.batch import BatchReport
from tracer.report.text import safe

__all__ = ["summary_text", "hubs_text", "links_text"]


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def _grid(head: tuple[str, ...], body: list[tuple[str, ...]], right: set[int]) -> list[str]:
    widths = [max(len(head[i]), *(len(b[i]) for b in body)) for i in range(len(head))]

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [fmt(head), *(fmt(b) for b in body)]


def _hub_rows(hubs: pa.Table, limit: int) -> list[str]:
    rows = hubs.slice(0, limit).to_pylist()
    body = [
        (
            safe(r["account"], 48),
            safe(r["label"] or "", 16),
            f"{r['cases']:,}",
            _money(r["value"]),
            f"{r['as_endpoint']:,}",
            f"{r['as_intermediary']:,}",
        )
        for r in rows
    ]
    lines = _grid(
        ("account", "label", "cases", "value", "endpoint", "intermediary"), body, {2, 3, 4, 5}
    )
    if hubs.num_rows > limit:
        lines.append(f"... {_plural(hubs.num_rows - limit, 'more hub')}")
    return lines


def _what(meta: dict) -> str:
    return "entities" if meta["options"]["level"] == "entity" else "accounts"


def hubs_text(report: BatchReport, *, limit: int = 50) -> str:
    """``tracer batch --format table``: the top hubs."""
    if report.hubs.num_rows == 0:
        return "No hubs: nothing was reached from two cases or more."
    head = (
        f"Hubs: {_what(report.meta)} reached from two cases or more "
        f"({report.hubs.num_rows:,}), by cases, then value at endpoints:"
    )
    return "\n".join([head, *_hub_rows(report.hubs, limit)])


def summary_text(report: BatchReport, *, top: int = 10) -> str:
    """The default print of ``tracer batch``: counts, totals and the top hubs."""
    m = report.meta
    c, t, o = m["counts"], m["totals"], m["options"]
    unit = safe(m.get("unit") or "", 24)
    lines = [
        f"Batch ({o['rule']}, {o['level']} level) of {_plural(c['cases'], 'case')} from "
        f"{safe(Path(m['cases_file']).name, 60)}: {c['cases_ok']:,} ok, {c['cases_failed']:,} "
        f"failed; {_plural(c['rows_rejected'], 'row')} rejected",
    ]
    if m.get("interrupted"):
        lines.append(
            f"Interrupted: {c['cases_done']:,} of {c['cases']:,} cases done; "
            "the results cover those only."
        )
    lines.append(
        f"Seed value {_money(t['seed_value'])} {unit}: at endpoints {_money(t['at_endpoints'])} "
        f"(at stopped services {_money(t['at_stops'])}), dust {_money(t['dust'])}, "
        f"unexplained {_money(t['unexplained'])} {unit}".rstrip()
    )
    lines.append("")
    if report.hubs.num_rows:
        shown = min(top, report.hubs.num_rows)
        lines.append(
            f"Hubs ({_what(m)} reached from two cases or more): "
            f"{report.hubs.num_rows:,}; top {shown}:"
        )
        lines.extend(_hub_rows(report.hubs, top)[: shown + 1])
    else:
        lines.append("No hubs: nothing was reached from two cases or more.")
    return "\n".join(lines)


def links_text(links: dict, *, max_cases: int = 8, max_hubs: int = 4) -> str:
    """``tracer links --format table``."""
    nets = links["networks"]
    if not nets:
        return (
            f"No two cases share a hub reached with at least {_money(links['min_value'])} "
            "from each."
        )
    body = []
    for net in nets:
        ids = [safe(c, 24) for c in net["cases"][:max_cases]]
        if len(net["cases"]) > max_cases:
            ids.append(f"+{len(net['cases']) - max_cases}")
        hubs = [
            f"{safe(h['account'], 32)} ({_plural(h['cases'], 'case')})"
            for h in net["hubs"][:max_hubs]
        ]
        if len(net["hubs"]) > max_hubs:
            hubs.append(f"+{len(net['hubs']) - max_hubs}")
        body.append(
            (str(net["network"]), f"{len(net['cases']):,}", ", ".join(ids), ", ".join(hubs))
        )
    head = (
        f"{_plural(len(nets), 'network')} link {links['linked_cases']:,} of "
        f"{_plural(links['cases'], 'case')} (shared hubs reached with at least "
        f"{_money(links['min_value'])} from each case):"
    )
    return "\n".join([head, *_grid(("network", "cases", "case ids", "shared hubs"), body, {0, 1})])
