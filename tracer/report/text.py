"""The readable summary printed by ``tracer trace`` (default ``--format table``)."""

from __future__ import annotations

import re

from tracer.api import TraceResult

__all__ = ["trace_table", "safe"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def safe(text: object, width: int | None = None) -> str:
    """Text from the data made harmless for a terminal: control characters (escape sequences
    included) shown as ``\\xNN``; cut to ``width`` with an ellipsis."""
    s = "" if text is None else _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))
    if width is not None and len(s) > width:
        s = s[: width - 1] + "…"
    return s


def _money(x: float) -> str:
    return f"{x:,.2f}"


def trace_table(result: TraceResult, *, limit: int = 25) -> str:
    unit = safe(result.unit or "", 24)
    s = result.summary
    lines = [
        f"Trace ({result.rule}) from {result.n_seeds} seed transfer"
        f"{'' if result.n_seeds == 1 else 's'}: {_money(result.seed_value)} {unit}".rstrip(),
        "",
    ]
    every = result.endpoints.to_pylist()
    rows = [r for r in every if r["value"] >= 0.005]  # what shows as 0.00 is summed below
    crumbs = len(every) - len(rows)
    head = ("account", "label", "value", "share", "hops", "stopped")
    body = [
        (safe(r["account"], 48), safe(r["label"] or "", 16), _money(r["value"]),
         f"{100 * r['share']:.2f}%", str(r["min_hops"]), "yes" if r["stopped"] else "")
        for r in rows[:limit]
    ]
    if body:
        widths = [max(len(head[i]), *(len(b[i]) for b in body)) for i in range(len(head))]
        right = {2, 3, 4}

        def fmt(cells: tuple[str, ...]) -> str:
            return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                             for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

        lines.append(f"Where the money rests ({len(every)} endpoint{'' if len(every) == 1 else 's'}):")
        lines.append(fmt(head))
        lines.extend(fmt(b) for b in body)
        if len(rows) > limit:
            rest = sum(r["value"] for r in rows[limit:])
            lines.append(f"... {len(rows) - limit} more endpoints holding {_money(rest)} {unit}".rstrip())
        if crumbs:
            lines.append(f"... {crumbs} more endpoint{'' if crumbs == 1 else 's'} holding less than "
                         f"0.01 each (rounding remainders of split amounts)")
    else:
        lines.append("No tainted funds rest anywhere.")
    lines.append("")
    total = (f"Totals: at endpoints {_money(s['at_endpoints'])} (at stopped services "
             f"{_money(s['at_stops'])}), dust {_money(s['dust'])}, unexplained "
             f"{_money(s['unexplained'])} {unit}").rstrip()
    lines.append(total)
    if "conservation_error" in s:
        ok = "holds" if result.conserved else "FAILS"
        lines.append(f"Conservation: seed value = at endpoints + dust {ok} "
                     f"(difference {s['conservation_error']:.3g}).")
    else:
        lines.append("Poison measures exposure, not amounts: totals can exceed the seed value.")
    return "\n".join(lines)
