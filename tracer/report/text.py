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
    poison = result.rule == "poison"
    every = result.endpoints.to_pylist()
    rows = [r for r in every if r["value"] >= 0.005]  # what shows as 0.00 is summed below
    crumbs = len(every) - len(rows)
    if poison:  # exposure: every account reached, what passed in, no shares (they add up to
        # more than 100%)
        stopped = {r["account"] for r in every if r["stopped"]}
        held = {r["account"]: r["value"] for r in every}
        every = sorted(result.holdings.to_pylist(), key=lambda r: (-r["tainted_in"], r["account"]))
        rows = [r for r in every if r["tainted_in"] >= 0.005]
        crumbs = len(every) - len(rows)
        head = ("account", "label", "tainted in", "held at end", "hops", "stopped")
        body = [
            (
                safe(r["account"], 48),
                safe(r["label"] or "", 16),
                _money(r["tainted_in"]),
                _money(held.get(r["account"], 0.0)),
                str(r["min_hops"]),
                "yes" if r["account"] in stopped else "",
            )
            for r in rows[:limit]
        ]
    else:
        head = ("account", "label", "value", "share", "hops", "stopped")
        body = [
            (
                safe(r["account"], 48),
                safe(r["label"] or "", 16),
                _money(r["value"]),
                f"{100 * r['share']:.2f}%",
                str(r["min_hops"]),
                "yes" if r["stopped"] else "",
            )
            for r in rows[:limit]
        ]
    if body:
        widths = [max(len(head[i]), *(len(b[i]) for b in body)) for i in range(len(head))]
        right = {2, 3, 4}

        def fmt(cells: tuple[str, ...]) -> str:
            return "  ".join(
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()

        lines.append(
            f"Reach: the tainted money passed through {len(every)} account"
            f"{'' if len(every) == 1 else 's'}:"
            if poison
            else f"Where the money rests ({len(every)} endpoint{'' if len(every) == 1 else 's'}):"
        )
        lines.append(fmt(head))
        lines.extend(fmt(b) for b in body)
        if len(rows) > limit:
            rest = sum(r["value"] for r in rows[limit:])
            rest = sum(r["tainted_in"] for r in rows[limit:]) if poison else rest
            lines.append(
                f"... {len(rows) - limit} more "
                f"{'accounts taking in' if poison else 'endpoints holding'} "
                f"{_money(rest)} {unit}".rstrip()
            )
        if crumbs and poison:
            lines.append(
                f"... {crumbs} more account{'' if crumbs == 1 else 's'} taking in less "
                "than 0.01 each"
            )
        elif crumbs:
            lines.append(
                f"... {crumbs} more endpoint{'' if crumbs == 1 else 's'} holding less than "
                f"0.01 each (rounding remainders of split amounts)"
            )
    else:
        lines.append("No tainted funds rest anywhere.")
    lines.append("")
    if poison:
        lines.append(
            f"Totals: tainted value held at the end {_money(s['at_endpoints'])} {unit}".rstrip()
            + f" (at stopped services {_money(s['at_stops'])})."
        )
        lines.append(
            "Poison measures exposure, not amounts: every account the tainted money "
            "touched counts all of it, so the values add up to more than the seed value; "
            "trace with another --rule to apportion the loss."
        )
        return "\n".join(lines)
    total = (
        f"Totals: at endpoints {_money(s['at_endpoints'])} (at stopped services "
        f"{_money(s['at_stops'])}), dust {_money(s['dust'])}, unexplained "
        f"{_money(s['unexplained'])} {unit}"
    ).rstrip()
    lines.append(total)
    if s["unexplained"] >= 0.005 and s["unexplained"] > result.seed_value:
        times = (
            f", {s['unexplained'] / result.seed_value:,.0f} times the seed value"
            if result.seed_value > 0
            else ""
        )
        lines.append(
            f"Unexplained ({_money(s['unexplained'])} {unit}".rstrip() + f"{times}): "
            "outflows of reached accounts that the dump shows no incoming funds for, "
            "presumed their older clean money; it is not part of the victim's loss."
        )
    if "conservation_error" in s:
        ok = "holds" if result.conserved else "FAILS"
        lines.append(
            f"Conservation: seed value = at endpoints + dust {ok} "
            f"(difference {s['conservation_error']:.3g})."
        )
    else:
        lines.append("Poison measures exposure, not amounts: totals can exceed the seed value.")
    return "\n".join(lines)
