"""Shared fixtures for the benchmarks: sizes, the cached dump, seeds and a cached workspace.

Environment:
    TRACER_BENCH_N: transfers in the synthetic dump (default 1_000_000; ``--large``: 100_000_000);
        accounts are N / 10.
    TRACER_BENCH_SEEDS: seed transfers for the full traces (default 100).
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

DEFAULT_N = 1_000_000
LARGE_N = 100_000_000
N_SEEDS = 100
# Seeds are drawn from the first SEED_WINDOW of the rows (by time), so each trace has months of
# later transfers to run through, as when a dump is obtained after the fraud.
SEED_WINDOW = 0.75
_SEED_RNG = 20_250_301


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--large",
        action="store_true",
        default=False,
        help=f"benchmark {LARGE_N:,} transfers (unless TRACER_BENCH_N is set); ingest alone "
        "needs ~500 bytes per transfer today (see BENCHMARKS.md)",
    )


def pytest_configure(config) -> None:
    if config.getoption("--large", default=False) and not os.environ.get("TRACER_BENCH_N"):
        os.environ["TRACER_BENCH_N"] = str(LARGE_N)
    _LOAD["start"] = os.getloadavg()


_LOAD: dict[str, tuple[float, float, float]] = {}


def pytest_benchmark_update_machine_info(config, machine_info: dict) -> None:
    """Versions of tracer and its peers, memory and load, for BENCHMARKS.md."""
    from benchmarks.machine import machine_facts

    machine_info.update(machine_facts())
    machine_info["loadavg_start"] = _LOAD.get("start")
    machine_info["loadavg_end"] = os.getloadavg()
    machine_info["bench_n"] = bench_n()


def bench_n() -> int:
    """Transfers in the synthetic dump, from TRACER_BENCH_N."""
    raw = os.environ.get("TRACER_BENCH_N", "").strip().replace("_", "")
    return int(raw) if raw else DEFAULT_N


def n_seeds() -> int:
    """Seed transfers for the full traces, from TRACER_BENCH_SEEDS."""
    raw = os.environ.get("TRACER_BENCH_SEEDS", "").strip()
    return int(raw) if raw else N_SEEDS


@pytest.fixture(scope="session")
def parquet_dump() -> Dump:
    """The same dump as ``dump`` (same rows, same seed), as Parquet."""
    n = bench_n()
    n_accounts = max(n // 10, 2)
    path = cached(n, n_accounts, "parquet")
    return Dump(n, n_accounts, path, labels_path(path))


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
    """``n_seeds()`` (tx_id, amount) pairs: transfers between two ordinary accounts (``a…``),
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
    k = min(n_seeds(), candidates.height)
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
    ingest_mod = pytest.importorskip("tracer.ingest")
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
        ingest_mod.ingest(path, [dump.transfers], labels=[dump.labels])
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


@pytest.fixture(scope="session")
def graph(workspace):
    """The workspace's graph arrays (memory-mapped)."""
    return workspace.graph


@pytest.fixture(scope="session")
def seed_ranks(graph, seeds) -> list[int]:
    """Edge rank (position in replay order) of each seed transfer, in the order of ``seeds``."""
    from tracer.api import find_transfers

    return [int(r) for r in find_transfers(graph, [tx for tx, _ in seeds])]
