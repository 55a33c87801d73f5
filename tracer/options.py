"""The options of a trace, in one typed object: checked once, written and read back the same way.

``TraceOptions`` is what ``tracer trace``, ``tracer batch`` and ``tracer trace-back`` take
(the CLI fills it through the ``trace_options`` decorator in ``tracer.cli._base``), what
``tracer.api.trace`` runs, and what a result records (``to_dict``) and ``tracer verify`` reads
back (``from_dict``). Seeds are not options: they are given beside them.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace

from tracer.errors import InputError
from tracer.rules import FALLBACKS, rule_code

__all__ = ["TraceOptions", "DEFAULT_RULE", "MATCH_WINDOW"]

DEFAULT_RULE = "match"
MATCH_WINDOW = dt.timedelta(days=3)


@dataclass(frozen=True)
class TraceOptions:
    """How to trace. Semantics: docs/semantics.md.

    - ``rule``: poison, haircut, fifo, lifo, libr or match;
    - ``fallback``, ``match_window``, ``match_cut``, ``match_over``, ``match_group``: the match
      rule's fallback rule, window, tolerances and group width (ignored by the other rules);
    - ``stop_at``: labels whose accounts keep what reaches them; ``max_hops``; ``horizon``
      (replay this long after the earliest seed); ``min_amount`` (dust); ``level`` (account or
      entity); ``top_paths``: evidence chains kept per endpoint.
    """

    rule: str = DEFAULT_RULE
    fallback: str = "fifo"
    match_window: dt.timedelta = MATCH_WINDOW
    match_cut: float = 0.05
    match_over: float = 0.02
    match_group: int = 8
    stop_at: tuple[str, ...] = ("exchange",)
    max_hops: int | None = None
    horizon: dt.timedelta | None = None
    min_amount: float = 0.0
    level: str = "account"
    top_paths: int = 3

    def check(self) -> TraceOptions:
        """Raise InputError naming the bad option; return the options with ``stop_at``
        normalised (lower case, sorted, no blanks)."""
        rule_code(self.rule)
        if self.fallback not in FALLBACKS:
            raise InputError(f"--fallback {self.fallback}: choose one of {', '.join(FALLBACKS)}.")
        if self.level not in ("account", "entity"):
            raise InputError(f"--level {self.level}: choose account or entity.")
        if self.max_hops is not None and self.max_hops < 1:
            raise InputError(f"--max-hops {self.max_hops}: must be 1 or more.")
        if not (self.min_amount >= 0 and math.isfinite(self.min_amount)):
            raise InputError(f"--min-amount {self.min_amount}: must be a number, 0 or more.")
        if self.horizon is not None and self.horizon < dt.timedelta(0):
            raise InputError("--horizon: must not be negative.")
        if self.match_window < dt.timedelta(0):
            raise InputError("--match-window: must not be negative.")
        if not (0 <= self.match_cut < 1):
            raise InputError(
                f"--match-cut {self.match_cut}: a share from 0 up to (not "
                "including) 1, e.g. 0.05 for a cut of up to 5%."
            )
        if not (self.match_over >= 0 and math.isfinite(self.match_over)):
            raise InputError(f"--match-over {self.match_over}: a share, 0 or more, e.g. 0.02.")
        if self.match_group < 1:
            raise InputError(f"--match-group {self.match_group}: must be 1 or more.")
        if self.top_paths < 0:
            raise InputError(f"--top-paths {self.top_paths}: must be 0 or more.")
        stops = tuple(sorted({s.strip().lower() for s in self.stop_at if s.strip()}))
        return replace(self, stop_at=stops)

    @property
    def window_us(self) -> int:
        return self.match_window // dt.timedelta(microseconds=1)

    def to_dict(self, *, rule: bool = True) -> dict:
        """The options as JSON values (``result.json`` and ``batch.json``); the match rule's
        own options only under match, so the other rules' results read as before."""
        out = {"rule": self.rule} if rule else {}
        out.update(
            {
                "stop_at": sorted({s.strip().lower() for s in self.stop_at if s.strip()}),
                "max_hops": self.max_hops,
                "horizon_seconds": None if self.horizon is None else self.horizon.total_seconds(),
                "min_amount": float(self.min_amount),
                "level": self.level,
            }
        )
        if self.rule == "match":
            out.update(
                {
                    "fallback": self.fallback,
                    "match_window_seconds": self.match_window.total_seconds(),
                    "match_cut": float(self.match_cut),
                    "match_over": float(self.match_over),
                    "match_group": int(self.match_group),
                }
            )
        return out

    @classmethod
    def from_dict(cls, data: dict, rule: str | None = None) -> TraceOptions:
        """Options from ``to_dict``'s form (``rule`` when the dict has none, as in
        ``result.json`` whose rule is beside its options). Missing keys take the defaults;
        a result written before the match rule existed has no match keys."""
        kw: dict = {}
        name = rule if rule is not None else data.get("rule")
        if name is not None:
            kw["rule"] = name
        if data.get("stop_at") is not None:
            kw["stop_at"] = tuple(data["stop_at"])
        for key in ("max_hops", "level", "top_paths", "fallback", "match_group"):
            if data.get(key) is not None:
                kw[key] = data[key]
        for key in ("min_amount", "match_cut", "match_over"):
            if data.get(key) is not None:
                kw[key] = float(data[key])
        if data.get("horizon_seconds") is not None:
            kw["horizon"] = dt.timedelta(seconds=data["horizon_seconds"])
        if data.get("match_window_seconds") is not None:
            kw["match_window"] = dt.timedelta(seconds=data["match_window_seconds"])
        return cls(**kw)
