"""Ingest of the synthetic dump (canonical CSV and Parquet), against a floor of read + intern.

The floor is what any ingest must at least do (DESIGN §5): read the file with polars
(``read_csv`` with an explicit schema and timestamp format, or ``read_parquet``), and intern
the account strings of src and dst together with ``pyarrow.compute.dictionary_encode``.
``test_ingest`` records its ratio to the floor of the same format (target: at most 1.5x), and
``test_ingest_peak_memory`` the peak RSS of one ingest in a fresh process.
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

FLOOR = "ingest_floor_{}"
FORMATS = ("csv", "parquet")
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
    if Path(path).suffix == ".parquet":
        df = pl.read_parquet(path)
    else:
        df = pl.read_csv(path, schema_overrides=_SCHEMA).with_columns(
            pl.col("timestamp").str.strptime(pl.Datetime("us", "UTC"), format=TIMESTAMP_FORMAT)
        )
    # string_view with the newest compat level: zero-copy, no large_string conversion.
    accounts = df.select("src", "dst").to_arrow(compat_level=pl.CompatLevel.newest())
    ids = pc.dictionary_encode(pa.chunked_array(accounts["src"].chunks + accounts["dst"].chunks))
    return df, ids


def _rounds(n: int) -> int:
    return 3 if n <= 10_000_000 else 1


def _dump(fmt: str, request) -> Dump:
    return request.getfixturevalue("dump" if fmt == "csv" else "parquet_dump")


@pytest.mark.parametrize("fmt", FORMATS)
def test_ingest_floor(benchmark, fmt: str, request, session_times: SessionTimes) -> None:
    dump = _dump(fmt, request)
    df, ids = benchmark.pedantic(
        read_and_intern, args=(dump.transfers,), rounds=_rounds(dump.n_transfers), iterations=1
    )
    assert df.height == dump.n_transfers
    assert len(ids) == 2 * dump.n_transfers
    n_distinct = len(ids.chunk(ids.num_chunks - 1).dictionary)
    median = benchmark.stats.stats.median
    session_times.medians[FLOOR.format(fmt)] = median
    benchmark.extra_info.update(
        n_transfers=dump.n_transfers,
        format=fmt,
        n_accounts_distinct=n_distinct,
        file_bytes=dump.transfers.stat().st_size,
        transfers_per_s=dump.n_transfers / median,
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_ingest(benchmark, fmt: str, request, session_times: SessionTimes, tmp_path: Path) -> None:
    ingest_mod = pytest.importorskip("tracer.ingest")
    dump = _dump(fmt, request)
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
        ingest_mod.ingest,
        setup=fresh_workspace,
        rounds=_rounds(dump.n_transfers),
        iterations=1,
    )
    (report,) = [r for r in reports if getattr(r, "kind", "transfers") == "transfers"]
    assert (report.read, report.ingested, report.rejected) == (dump.n_transfers,) * 2 + (0,)

    median = benchmark.stats.stats.median
    floor = session_times.medians.get(FLOOR.format(fmt))
    if floor is None:  # run alone (e.g. -k test_ingest): time the floor once, untimed by pytest
        t0 = time.perf_counter()
        read_and_intern(dump.transfers)
        floor = time.perf_counter() - t0
    ws = current[0]
    benchmark.extra_info.update(
        n_transfers=dump.n_transfers,
        format=fmt,
        floor_median_s=floor,
        ratio_to_floor=median / floor,
        transfers_per_s=dump.n_transfers / median,
        workspace_bytes=sum(p.stat().st_size for p in ws.rglob("*") if p.is_file()),
    )
    print(f"\ningest {fmt}: {median:.2f} s median, {median / floor:.2f}x the floor ({floor:.2f} s)")


_INGEST_CHILD = """
from pathlib import Path
from tracer.ingest import ingest
after_import = _peak()
reports = ingest(Path(sys.argv[1]), [Path(sys.argv[2])], labels=[Path(sys.argv[3])])
out["after_import"] = after_import
out["ingested"] = sum(getattr(r, "ingested", 0) for r in reports
                      if getattr(r, "kind", "transfers") == "transfers")
"""


@pytest.mark.parametrize("fmt", FORMATS)
def test_ingest_peak_memory(benchmark, fmt: str, request, tmp_path: Path) -> None:
    """Peak RSS (VmHWM) of one ingest into an empty workspace, in a fresh interpreter."""
    pytest.importorskip("tracer.workspace")
    from benchmarks.machine import run_child

    dump = _dump(fmt, request)
    ws = tmp_path / "ws"
    ws.mkdir()
    m = benchmark.pedantic(
        run_child,
        args=(_INGEST_CHILD, str(ws), str(dump.transfers), str(dump.labels)),
        rounds=1,
        iterations=1,
    )
    assert m["ingested"] == dump.n_transfers
    shutil.rmtree(ws, ignore_errors=True)
    mib = 1 << 20
    benchmark.extra_info.update(
        n_transfers=dump.n_transfers,
        format=fmt,
        peak_rss_bytes=m["peak_rss"],
        peak_rss_after_import_bytes=m["after_import"],
        peak_rss_bytes_per_transfer=m["peak_rss"] / dump.n_transfers,
    )
    print(
        f"\ningest {fmt}: peak RSS {m['peak_rss'] / mib:.0f} MiB "
        f"({m['peak_rss'] / dump.n_transfers:.0f} bytes per transfer)"
    )
