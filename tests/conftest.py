"""Shared test helpers: build a workspace from oracle transfers."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from oracle import Transfer

from tracer.cli import cli
from tracer.ingest import ingest
from tracer.workspace import Workspace

EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def iso(us: int) -> str:
    return (
        (dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us))
        .isoformat()
        .replace("+00:00", "Z")
    )


def minutes(k: float) -> int:
    """µs timestamp k minutes after 2025-01-01."""
    return int(
        (EPOCH - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds() * 1_000_000
        + k * 60_000_000
    )


def write_transfers(path: Path, transfers: list[Transfer], asset: str = "USD") -> Path:
    """Canonical CSV in the given row order (so seq = position + 1)."""
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["tx_id", "timestamp", "src", "dst", "amount", "asset"])
        for t in transfers:
            w.writerow([t.tx_id, iso(t.ts), t.src, t.dst, repr(t.value), asset])
    return path


def write_labels(
    path: Path, labels: dict[str, str], opening: dict[str, float] | None = None
) -> Path:
    opening = opening or {}
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["account", "label", "opening_balance"])
        for acc in sorted(set(labels) | set(opening)):
            w.writerow([acc, labels.get(acc, ""), repr(opening[acc]) if acc in opening else ""])
    return path


def build(
    folder: Path,
    transfers: list[Transfer],
    labels: dict[str, str] | None = None,
    opening: dict[str, float] | None = None,
) -> Workspace:
    """A workspace holding ``transfers`` (seq must be row position + 1) and labels."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [write_transfers(folder / "transfers.csv", transfers)]
    lab = (
        [write_labels(folder / "labels.csv", labels or {}, opening)] if (labels or opening) else []
    )
    ingest(folder / "ws", files, labels=lab)
    return Workspace.open(folder / "ws")


@pytest.fixture
def make_ws(tmp_path):
    counter = iter(range(10_000))

    def make(transfers, labels=None, opening=None):
        return build(tmp_path / f"case{next(counter)}", transfers, labels, opening)

    return make


def run(*args, color: bool = False):
    """Run the CLI as a user would, with every argument as text."""
    return CliRunner().invoke(cli, [str(a) for a in args], color=color)


def ok(*args, color: bool = False):
    """Run the CLI and require exit status 0."""
    result = run(*args, color=color)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def write_csv(path: Path, header: list[str], rows) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path
