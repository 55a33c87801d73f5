"""Ingest of the synthetic CSV dump, against a floor of read + intern alone.

The floor is what any ingest must at least do (DESIGN §5): read the CSV with polars with an
explicit schema and timestamp format, and intern the account strings of src and dst together
with ``pyarrow.compute.dictionary_encode``. ``test_ingest`` records its ratio to the floor.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from benchmarks.common import Dump, SessionTimes
from benchmarks.gen import TIMESTAMP_FORMAT

FLOOR = "ingest_floor"
_SCHEMA = {
    "tx_id": pl.String,
    "timestamp": pl.String,
    "src": pl.String,
    "dst": pl.String,
    "amount": pl.Float64,
    "asset": pl.String,
}


def read_and_intern(path: Path) -> tuple[pl.DataFrame, pa.ChunkedArray]:
    """The floor: the typed transfers table and the interned accounts (src rows, then dst)."""
    df = pl.read_csv(path, schema_overrides=_SCHEMA).with_columns(
        pl.col("timestamp").str.strptime(pl.Datetime("us", "UTC"), format=TIMESTAMP_FORMAT)
    )
    # string_view with the newest compat level: zero-copy, no large_string conversion.
    accounts = df.select("src", "dst").to_arrow(compat_level=pl.CompatLevel.newest())
    ids = pc.dictionary_encode(
        pa.chunked_array(accounts["src"].chunks + accounts["dst"].chunks)
    )
    return df, ids


def _rounds(n: int) -> int:
    return 3 if n <= 10_000_000 else 1


def test_ingest_floor(benchmark, dump: Dump, session_times: SessionTimes) -> None:
    df, ids = benchmark.pedantic(
        read_and_intern, args=(dump.transfers,), rounds=_rounds(dump.n_transfers), iterations=1
    )
    assert df.height == dump.n_transfers
    assert len(ids) == 2 * dump.n_transfers
    n_distinct = len(ids.chunk(ids.num_chunks - 1).dictionary)
    median = benchmark.stats.stats.median
    session_times.medians[FLOOR] = median
    benchmark.extra_info.update(
        n_transfers=dump.n_transfers,
        n_accounts_distinct=n_distinct,
        csv_bytes=dump.transfers.stat().st_size,
        transfers_per_s=dump.n_transfers / median,
    )


def test_ingest(benchmark, dump: Dump, session_times: SessionTimes, tmp_path: Path) -> None:
    workspace_mod = pytest.importorskip("tracer.workspace")
    current: list[Path] = []

    def fresh_workspace():
        # The previous round's workspace goes first, so rounds do not pile up on disk.
        for old in current:
            shutil.rmtree(old.parent, ignore_errors=True)
        current.clear()
        ws = Path(tempfile.mkdtemp(dir=tmp_path)) / "ws"
        ws.mkdir()
        current.append(ws)
        return (ws, [dump.transfers]), {"labels": [dump.labels]}

    reports = benchmark.pedantic(
        workspace_mod.ingest,
        setup=fresh_workspace,
        rounds=_rounds(dump.n_transfers),
        iterations=1,
    )
    (report,) = [r for r in reports if getattr(r, "kind", "transfers") == "transfers"]
    assert (report.read, report.ingested, report.rejected) == (dump.n_transfers,) * 2 + (0,)

    median = benchmark.stats.stats.median
    floor = session_times.medians.get(FLOOR)
    if floor is None:  # run alone (e.g. -k test_ingest): time the floor once, untimed by pytest
        t0 = time.perf_counter()
        read_and_intern(dump.transfers)
        floor = time.perf_counter() - t0
    ws = current[0]
    benchmark.extra_info.update(
        n_transfers=dump.n_transfers,
        floor_median_s=floor,
        ratio_to_floor=median / floor,
        transfers_per_s=dump.n_transfers / median,
        workspace_bytes=sum(p.stat().st_size for p in ws.rglob("*") if p.is_file()),
    )
    print(f"\ningest: {median:.2f} s median, {median / floor:.2f}x the floor ({floor:.2f} s)")
