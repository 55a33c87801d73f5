"""Ingest in batches: the workspace does not depend on how many rows are read at a time.

A small ``batch_rows`` makes every step of the bounded-memory path work across batches:
duplicates in two batches of one file, ties in (ts, seq) between parts, post steps over rows
of many parts, interning block by block."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import write_csv
from tracer.errors import InputError
from tracer.graph import edges
from tracer.ingest import ingest
from tracer.simulate import ingest_files
from tracer.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
HEADER = ["tx_id", "timestamp", "src", "dst", "amount", "asset"]


def snapshot(ws_path: Path) -> dict:
    """Everything a workspace holds, in a form to compare. Rejects as a set (their order
    follows the batches), and a duplicate's reason only as "duplicate": a tx_id twice in a
    file and also in an earlier file is rejected both times either way, but whole, the second
    is named a duplicate of the first (itself rejected), in batches of the earlier file's."""
    ws = Workspace.open(ws_path)
    out = {
        name: ws.table(name)
        for name in ("transfers", "accounts", "labels", "prices", "entity_links")
    }
    reason = pl.col("reason")
    out["rejects"] = (
        ws.table("rejects")
        .with_columns(
            pl.when(reason.str.starts_with("duplicate"))
            .then(pl.lit("duplicate"))
            .otherwise(reason)
            .alias("reason")
        )
        .sort(["source", "source_row", "reason"])
    )
    for folder in ("graph", "graph_entity"):
        for f in sorted((ws_path / folder).glob("*")) if (ws_path / folder).exists() else []:
            out[f"{folder}/{f.name}"] = f.read_bytes()
    inputs = ws.manifest["inputs"]
    out["counts"] = [
        (i["name"], i["read"], i["ingested"], i["rejected"], i.get("unvalued")) for i in inputs
    ]
    out["tables"] = ws.manifest["tables"]
    return out


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], pl.DataFrame):
            assert a[key].equals(b[key]), key
        else:
            assert a[key] == b[key], key


def test_sample_world_is_the_same_in_small_batches(tmp_path, monkeypatch):
    files = ingest_files(SAMPLE)
    kw = dict(labels=[SAMPLE / "labels.csv"], prices=[SAMPLE / "prices.csv"])
    ingest(tmp_path / "whole", files, **kw)
    # the graph's edges staged on disk are read back and renumbered in small slices too
    monkeypatch.setattr(edges, "SLICE", 1009)
    ingest(tmp_path / "batches", files, batch_rows=997, **kw)
    whole, batches = snapshot(tmp_path / "whole"), snapshot(tmp_path / "batches")
    assert whole["tables"]["transfers"] > 10_000
    assert any(key.startswith("graph_entity/") for key in whole)
    assert_same(whole, batches)


def test_duplicates_and_ties_across_batches(tmp_path):
    a = write_csv(
        tmp_path / "a.csv",
        HEADER,
        [
            ("t1", "2025-01-01T00:00:00Z", "alice", "bob", "100", "EUR"),
            ("t2", "2025-01-01T01:00:00Z", "bob", "carol", "60", "EUR"),
            ("t3", "2025-01-01T02:00:00Z", "carol", "dave", "10", "EUR"),
            ("t1", "2025-01-01T03:00:00Z", "alice", "erin", "5", "EUR"),  # duplicate of row 1
            ("", "2025-01-01T03:00:00Z", "alice", "erin", "5", "EUR"),  # no tx_id
            ("t9", "2025-01-01T00:00:00Z", "dave", "erin", "1", "EUR"),
        ],
    )
    b = write_csv(
        tmp_path / "b.csv",
        HEADER,
        [
            ("s1", "2025-01-01T00:00:00Z", "zed", "alice", "7", "EUR"),  # (ts, seq) as a.csv row 1
            ("s0", "2025-01-01T01:00:00Z", "zed", "bob", "3", "EUR"),  # (ts, seq) as a.csv row 2
            ("t3", "2025-01-02T00:00:00Z", "carol", "dave", "10", "EUR"),  # in a.csv
        ],
    )
    reports = {}
    for rows in (1, 2, 3, 1000):
        reports[rows] = ingest(tmp_path / f"ws{rows}", [a, b], batch_rows=rows)
        if rows > 1:
            assert_same(snapshot(tmp_path / "ws1"), snapshot(tmp_path / f"ws{rows}"))
    assert [(r.read, r.ingested, r.rejected) for r in reports[1]] == [(6, 4, 2), (3, 2, 1)]
    ws = Workspace.open(tmp_path / "ws1")
    assert ws.table("transfers").get_column("tx_id").to_list() == [
        "s1",
        "t1",
        "t9",
        "s0",
        "t2",
        "t3",
    ]
    rejects = ws.table("rejects").sort(["source", "source_row"])
    assert rejects.select("source", "source_row", "reason").rows() == [
        ("a.csv", 4, "duplicate tx_id (first at row 1)"),
        ("a.csv", 5, "empty tx_id"),
        ("b.csv", 3, "duplicate tx_id (already in a.csv row 3)"),
    ]
    # the raw row of a duplicate is the line as written in the file
    assert '"dst":"erin"' in rejects.get_column("raw")[0]


def test_a_second_ingest_in_batches_keeps_the_first(tmp_path):
    a = write_csv(
        tmp_path / "a.csv",
        HEADER,
        [
            (f"t{i}", f"2025-01-01T00:{i:02d}:00Z", f"u{i % 5}", f"u{(i + 1) % 5}", "1", "EUR")
            for i in range(20)
        ],
    )
    b = write_csv(
        tmp_path / "b.csv",
        HEADER,
        [(f"t{i}", f"2025-01-02T00:{i:02d}:00Z", "x", "y", "2", "EUR") for i in range(15, 25)],
    )
    for rows, name in ((3, "small"), (10**6, "large")):
        ingest(tmp_path / name, [a], batch_rows=rows)
        reports = ingest(tmp_path / name, [b], batch_rows=rows)
        assert (reports[0].ingested, reports[0].rejected) == (5, 5)
    assert_same(snapshot(tmp_path / "small"), snapshot(tmp_path / "large"))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 12),
            st.integers(0, 3),
            st.integers(0, 4),
            st.integers(0, 4),
            st.integers(0, 50),
        ),
        min_size=1,
        max_size=30,
    ),
    batch=st.integers(1, 7),
)
def test_any_batch_size_gives_the_same_workspace(tmp_path_factory, rows, batch):
    tmp = tmp_path_factory.mktemp("b")
    half = len(rows) // 2
    files = []
    for k, chunk in enumerate((rows[:half], rows[half:])):
        files.append(
            write_csv(
                tmp / f"f{k}.csv",
                HEADER,
                [
                    (f"t{tx}", f"2025-01-01T0{hour}:00:00Z", f"a{s}", f"a{d}", str(amount), "EUR")
                    for tx, hour, s, d, amount in chunk
                ],
            )
        )
    try:
        ingest(tmp / "whole", files)
    except Exception as exc:  # a file with no good row at all fails the same way in batches
        with pytest.raises(type(exc)):
            ingest(tmp / "batches", files, batch_rows=batch)
        return
    ingest(tmp / "batches", files, batch_rows=batch)
    assert_same(snapshot(tmp / "whole"), snapshot(tmp / "batches"))


def test_progress_counts_the_rows_read(tmp_path):
    a = write_csv(
        tmp_path / "a.csv",
        HEADER,
        [(f"t{i}", f"2025-01-01T00:{i:02d}:00Z", "x", "y", "1", "EUR") for i in range(10)],
    )
    seen = []
    ingest(
        tmp_path / "ws",
        [a],
        batch_rows=4,
        on_step=lambda msg, done=None, total=None: seen.append((msg, done, total)),
    )
    reading = [(d, t) for m, d, t in seen if m == "reading a.csv" and d is not None]
    # a new file is read while it is hashed: the total is known once its lines are counted
    assert [d for d, _ in reading] == [0, 4, 8, 10]
    assert all(t in (None, 10) for _, t in reading)
    # a file named and sized as one ingested before is hashed first (likely the same file):
    # here it is not, and its lines were counted before reading
    write_csv(
        a,
        HEADER,
        [(f"u{i}", f"2025-01-01T00:{i:02d}:00Z", "x", "y", "2", "EUR") for i in range(10)],
    )
    again = []
    ingest(
        tmp_path / "ws",
        [a],
        batch_rows=4,
        on_step=lambda msg, done=None, total=None: again.append((msg, done, total)),
    )
    assert [(d, t) for m, d, t in again if m == "reading a.csv" and d is not None] == [
        (0, 10),
        (4, 10),
        (8, 10),
        (10, 10),
    ]
    writing = [(d, t) for m, d, t in seen if m.startswith("writing transfers")]
    assert writing[-1] == (10, 10)
    assert np.all(np.diff([d for d, _ in writing]) > 0)
    # the graph is built an array at a time, and says so
    assert [(d, t) for m, d, t in seen if m == "building the graph"] == [(i, 5) for i in range(6)]


def test_a_copy_of_an_ingested_file_is_read_then_taken_back(tmp_path):
    """A new name is read while it is hashed; when the hash shows the content is already in
    the workspace, nothing of it stays: no transfers, no rejects, no input."""
    rows = [(f"t{i}", f"2025-01-01T00:{i:02d}:00Z", "x", "y", "1", "EUR") for i in range(9)]
    a = write_csv(tmp_path / "a.csv", HEADER, [*rows, ("t9", "not a time", "x", "y", "1", "EUR")])
    ws = tmp_path / "ws"
    ingest(ws, [a], batch_rows=4)
    before = {
        name: (ws / name).read_bytes()
        for name in ("transfers.parquet", "rejects.parquet", "manifest.json")
    }
    b = tmp_path / "b.csv"
    b.write_bytes(a.read_bytes())
    (report,) = ingest(ws, [b], batch_rows=4)
    assert report.status == "unchanged"
    assert {name: (ws / name).read_bytes() for name in before} == before
    assert not list(ws.glob(".staging-*"))

    c = write_csv(
        tmp_path / "c.csv",
        HEADER,
        [("u1", "2025-01-02T00:00:00Z", "y", "z", "1", "EUR"), ("u2", "bad", "y", "z", "1", "EUR")],
    )
    reports = ingest(ws, [b, c], batch_rows=4)
    assert [(r.source, r.status) for r in reports] == [
        ("b.csv", "unchanged"),
        ("c.csv", "ingested"),
    ]
    w = Workspace.open(ws)
    assert [i["name"] for i in w.manifest["inputs"]] == ["a.csv", "c.csv"]
    rejects = pl.read_parquet(ws / "rejects.parquet")
    assert rejects.get_column("source").to_list() == ["a.csv", "c.csv"]
    assert pl.read_parquet(ws / "transfers.parquet").height == 10


def test_a_copy_that_its_reader_refuses_is_still_only_unchanged(tmp_path):
    """Read while hashed, a file may fail in its reader (here a wrong --format); when its
    content is already in the workspace it is reported unchanged, as if hashed first."""
    a = write_csv(
        tmp_path / "a.csv", HEADER, [("t1", "2025-01-01T00:00:00Z", "x", "y", "1", "EUR")]
    )
    ws = tmp_path / "ws"
    ingest(ws, [a])
    b = tmp_path / "b.csv"
    b.write_bytes(a.read_bytes())
    (report,) = ingest(ws, [b], fmt="etherscan-txs")
    assert report.status == "unchanged"
    c = tmp_path / "c.csv"
    c.write_bytes(a.read_bytes().replace(b"t1,", b"t2,"))
    with pytest.raises(InputError, match="c.csv"):
        ingest(ws, [c], fmt="etherscan-txs")
