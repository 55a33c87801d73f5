"""Shared fixtures for the benchmarks: sizes, the cached dump, seeds and a cached workspace.

Environment:
    TRACER_BENCH_N: transfers in the synthetic dump (default 10_000_000); accounts are N / 10.
    TRACER_BENCH_REBUILD: set to 1 to rebuild the cached workspace even if it opens.

Everything generated lives in ``benchmarks/.data/`` (git-ignored) and is reused across runs:
the dump is keyed by (N, accounts, seed), the workspace by (N, accounts, seed, tracer version,
workspace FORMAT).
Delete ``benchmarks/.data/ws_*`` when the workspace format changes without a version bump.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from benchmarks.common import Dump, SessionTimes
from benchmarks.gen import DATA_DIR, cached, labels_path

DEFAULT_N = 10_000_000
N_SEEDS = 20
# Seeds are drawn from the first SEED_WINDOW of the rows (by time), so each trace has months of
# later transfers to run through, as when a dump is obtained after the fraud.
SEED_WINDOW = 0.75
_SEED_RNG = 20_250_301


def bench_n() -> int:
    """Transfers in the synthetic dump, from TRACER_BENCH_N."""
    raw = os.environ.get("TRACER_BENCH_N", "").strip()
    return int(raw) if raw else DEFAULT_N


@pytest.fixture(scope="session")
def dump() -> Dump:
    n = bench_n()
    n_accounts = max(n // 10, 2)
    path = cached(n, n_accounts, "csv")
    return Dump(n, n_accounts, path, labels_path(path))


@pytest.fixture(scope="session")
def session_times() -> SessionTimes:
    return SessionTimes()


@pytest.fixture(scope="session")
def seeds(dump: Dump) -> list[tuple[str, float]]:
    """``N_SEEDS`` (tx_id, amount) pairs: transfers between two ordinary accounts (``a…``),
    in the first ``SEED_WINDOW`` of the rows, chosen with a fixed random seed."""
    window = max(int(dump.n_transfers * SEED_WINDOW), 1)
    candidates = (
        pl.scan_csv(
            dump.transfers,
            schema_overrides={
                "tx_id": pl.String,
                "timestamp": pl.String,
                "src": pl.String,
                "dst": pl.String,
                "amount": pl.Float64,
                "asset": pl.String,
            },
            n_rows=window,
        )
        .filter(pl.col("src").str.starts_with("a") & pl.col("dst").str.starts_with("a"))
        .select("tx_id", "amount")
        .collect()
    )
    k = min(N_SEEDS, candidates.height)
    if k == 0:
        pytest.skip("no transfer between ordinary accounts to seed a trace from")
    rows = np.sort(np.random.default_rng(_SEED_RNG).choice(candidates.height, k, replace=False))
    picked = candidates[rows]
    return list(zip(picked["tx_id"].to_list(), picked["amount"].to_list(), strict=True))


def _tracer_version() -> str:
    try:
        return importlib.metadata.version("tracer")
    except importlib.metadata.PackageNotFoundError:
        return "dev"


@pytest.fixture(scope="session")
def workspace_path(dump: Dump) -> Path:
    """A workspace holding the dump and its labels, built once and cached on disk."""
    workspace_mod = pytest.importorskip("tracer.workspace")
    from tracer.errors import WorkspaceError

    fmt = getattr(workspace_mod, "FORMAT", 0)
    name = f"ws_n{dump.n_transfers}_a{dump.n_accounts}_s0_v{_tracer_version()}_f{fmt}"
    path = DATA_DIR / name
    done = DATA_DIR / f"{name}.ok"
    if done.exists() and os.environ.get("TRACER_BENCH_REBUILD") != "1":
        try:
            workspace_mod.Workspace.open(path)
            return path
        except WorkspaceError:  # damaged or built by another version: rebuild below
            pass
    done.unlink(missing_ok=True)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    try:
        workspace_mod.ingest(path, [dump.transfers], labels=[dump.labels])
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    done.touch()
    return path


@pytest.fixture(scope="session")
def workspace(workspace_path: Path):
    """The cached workspace, opened once per session."""
    from tracer.workspace import Workspace

    return Workspace.open(workspace_path)
