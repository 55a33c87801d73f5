"""The printed scores of ``tracer evaluate``: per case and overall, as a plain-text table
(poison, which measures exposure rather than placement, gets its own)."""

from __future__ import annotations

from pathlib import Path

from tracer.evaluate.score import Score

__all__ = ["score_text"]


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _grid(head: tuple[str, ...], rows: list[tuple[str, ...]], right: set[int]) -> list[str]:
    widths = [
        max(len(head[i]), *(len(r[i]) for r in rows)) if rows else len(head[i])
        for i in range(len(head))
    ]

    def fmt(cells):
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [fmt(head), *(fmt(r) for r in rows)]


def score_text(scores: list[Score], truth: str | Path, *, limit: int = 20) -> str:
    """A readable report: per case for one result, by result (rule) for several."""
    from tracer.report.text import safe

    lines = []
    if len(scores) == 1 and scores[0].result.rule == "poison":
        return _poison_text(scores[0], truth, limit)
    if len(scores) == 1:
        s = scores[0]
        o = s.overall()
        r = s.result
        lines.append(
            f"Evaluation of {safe(r.path)} ({r.rule}, {r.level} level) against "
            f"{safe(truth)}: {o['cases']} case{'' if o['cases'] == 1 else 's'}, loss "
            f"{_money(o['loss'])} USD"
        )
        lines.append("")
        cases = sorted(s.cases, key=lambda c: (-c.loss, c.case_id))
        body = [
            (
                safe(c.case_id, 40),
                _money(c.loss),
                _money(c.correct),
                _pct(c.recall),
                _money(c.outside),
                _pct(c.false_attribution),
                _money(c.misplaced),
                f"{c.hits}/{c.endpoints}",
                f"{c.hits}/{c.truth_endpoints}",
            )
            for c in cases[:limit]
        ]
        lines += _grid(
            (
                "case",
                "loss",
                "where truth says",
                "recall",
                "outside network",
                "false attr.",
                "misplaced",
                "endpoints P",
                "endpoints R",
            ),
            body,
            {1, 2, 3, 4, 5, 6, 7, 8},
        )
        if len(cases) > limit:
            lines.append(f"... {len(cases) - limit} more cases (--format json lists them all)")
        lines.append("")
        lines.append(
            f"Total: {_pct(o['recall'])} of the loss where the truth says it rests "
            f"({_pct(o['recall_by_case'])} counting each case apart, median "
            f"{_pct(o['recall_median'])}), {_pct(o['false_attribution'])} outside the scam "
            f"network, {_pct(o['misplaced'])} elsewhere in it; endpoints precision "
            f"{_pct(o['endpoint_precision'])}, recall {_pct(o['endpoint_recall'])}."
        )
        for title, d in (
            ("Found, by where the truth says it rests", s.by_kind),
            ("Elsewhere in the network, at", s.misplaced_by_role),
            ("Outside the network, at", s.outside_by_role),
        ):
            if d:
                lines.append(
                    f"{title}: "
                    + ", ".join(f"{k.replace('_', ' ')} {_pct(v)}" for k, v in list(d.items())[:7])
                    + "."
                )
        if s.misplaced_by_role or s.outside_by_role:
            lines.append(
                "(found: share of each kind of rest; elsewhere and outside: share of the loss)"
            )
        for note in r.notes:
            lines.append(f"Note: {note}")
    else:
        lines.append(f"Evaluation against {safe(truth)}")
        lines.append("")
        body = []
        for s in scores:
            o = s.overall()
            if s.result.rule == "poison":  # exposure: only its reach is scored
                body.append(
                    (
                        safe(s.result.path, 40),
                        s.result.rule,
                        s.result.level,
                        str(o["cases"]),
                        _money(o["loss"]),
                        "-",
                        "-",
                        "-",
                        "-",
                        "-",
                        _pct(o["endpoint_recall"]),
                    )
                )
                continue
            body.append(
                (
                    safe(s.result.path, 40),
                    s.result.rule,
                    s.result.level,
                    str(o["cases"]),
                    _money(o["loss"]),
                    _pct(o["recall"]),
                    _pct(o["recall_median"]),
                    _pct(o["false_attribution"]),
                    _pct(o["misplaced"]),
                    _pct(o["endpoint_precision"]),
                    _pct(o["endpoint_recall"]),
                )
            )
        lines += _grid(
            (
                "result",
                "rule",
                "level",
                "cases",
                "loss",
                "recall",
                "median",
                "false attr.",
                "misplaced",
                "endpoints P",
                "endpoints R",
            ),
            body,
            {3, 4, 5, 6, 7, 8, 9, 10},
        )
        for s in scores:
            for note in s.result.notes:
                lines.append(f"Note ({safe(s.result.path, 40)}): {note}")
        if any(s.result.rule == "poison" for s in scores):
            lines.append(_POISON_NOTE + " Only its reach (endpoints R) is scored.")
    lines.append("")
    lines.append(
        f"recall: share of the loss put where the truth says it rests (per account, up "
        f"to the truth's amount); false attr.: share put on accounts outside the scam "
        f"network; endpoints: those holding at least {_pct(scores[0].threshold)} of a "
        "case's loss."
    )
    return "\n".join(lines)


_POISON_NOTE = (
    "Poison measures exposure, not placement: every account the tainted money "
    "touched counts all of it, so its values are not shares of the loss and are not "
    "scored as where the loss rests."
)


def _poison_text(s: Score, truth: str | Path, limit: int) -> str:
    """A poison result scored by its reach only: which of the accounts where the truth says
    the loss rests it reached."""
    from tracer.report.text import safe

    o = s.overall()
    r = s.result
    lines = [
        f"Evaluation of {safe(r.path)} (poison, {r.level} level) against {safe(truth)}: "
        f"{o['cases']} case{'' if o['cases'] == 1 else 's'}, loss {_money(o['loss'])} USD",
        "",
        _POISON_NOTE,
        "",
    ]
    cases = sorted(s.cases, key=lambda c: (-c.loss, c.case_id))
    body = [
        (
            safe(c.case_id, 40),
            _money(c.loss),
            f"{c.hits}/{c.truth_endpoints}",
            _pct(c.hits / c.truth_endpoints if c.truth_endpoints else None),
        )
        for c in cases[:limit]
    ]
    lines += _grid(("case", "loss", "truth endpoints reached", "reach"), body, {1, 2, 3})
    if len(cases) > limit:
        lines.append(f"... {len(cases) - limit} more cases (--format json lists them all)")
    lines.append("")
    lines.append(
        f"Total: the trace reached {_pct(o['endpoint_recall'])} of the accounts where "
        "the truth says the loss rests."
    )
    for note in r.notes:
        lines.append(f"Note: {note}")
    lines.append("")
    lines.append(
        f"truth endpoints: accounts holding at least {_pct(s.threshold)} of a case's "
        "loss in the truth."
    )
    return "\n".join(lines)
