"""Types shared by the benchmark fixtures and files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Dump", "SessionTimes", "spread"]


@dataclass(frozen=True)
class Dump:
    """The synthetic dump used by every benchmark in a session."""

    n_transfers: int
    n_accounts: int
    transfers: Path
    labels: Path


@dataclass
class SessionTimes:
    """Medians measured earlier in the session (seconds), for ratios between benchmarks."""

    medians: dict[str, float] = field(default_factory=dict)


def spread(items: list, k: int) -> list:
    """``k`` of ``items`` evenly spaced, first and last included. The seeds are in time order,
    so a subset chosen this way spans the seed window rather than its start."""
    k = min(k, len(items))
    if k <= 1:
        return list(items[:k])
    return [items[round(i * (len(items) - 1) / (k - 1))] for i in range(k)]
