"""Types shared by the benchmark fixtures and files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Dump", "SessionTimes"]


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
