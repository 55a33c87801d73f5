"""`tracer ingest` as a user sees it: the files it writes, what it prints, and how it refuses."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from conftest import ok, run, write_csv  # noqa: E402

HEADER = ["tx_id", "timestamp", "src", "dst", "amount", "asset"]
UTC = dt.UTC


def assert_one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error:"), result.stderr
    return lines[0]


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def transfers(ws: Path) -> pl.DataFrame:
    return pl.read_parquet(ws / "transfers.parquet")


def rejects(ws: Path) -> pl.DataFrame:
    return pl.read_parquet(ws / "rejects.parquet")


def manifest(ws: Path) -> dict:
    return json.loads((ws / "manifest.json").read_text())


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def simple(path: Path, asset: str = "USD") -> Path:
    return write_csv(
        path,
        HEADER,
        [
            ("t1", "2025-01-01T00:00:00Z", "alice", "bob", "100", asset),
            ("t2", "2025-01-01T01:00:00Z", "bob", "carol", "60", asset),
        ],
    )


# --------------------------------------------------------------------------------------------
# Canonical transfers
# --------------------------------------------------------------------------------------------


def test_canonical_csv_is_ingested(tmp_path):
    src = write_csv(
        tmp_path / "t.csv",
        [*HEADER, "memo", "bank_ref"],
        [
            ("t1", "2025-01-01T00:00:00Z", "alice", "bob", "100", "EUR", "rent", "R1"),
            ("t2", "2025-01-01T01:00:00Z", "bob", "carol", "60.5", "EUR", "", "R2"),
        ],
    )
    ws = tmp_path / "ws"
    result = ok("ingest", src, "-w", ws)
    assert f"{src}: read 2, ingested 2, rejected 0" in result.stdout.splitlines()
    assert "trace unit EUR" in result.stdout
    df = transfers(ws).sort("seq")
    assert {"tx_id", "ts", "seq", "src", "dst", "amount", "asset", "value"} <= set(df.columns)
    assert df.get_column("tx_id").to_list() == ["t1", "t2"]
    assert df.get_column("src").to_list() == ["alice", "bob"]
    assert df.get_column("dst").to_list() == ["bob", "carol"]
    assert df.get_column("amount").to_list() == [100.0, 60.5]
    assert df.get_column("asset").to_list() == ["EUR", "EUR"]
    # no value column: value = amount, and the unit is the asset
    assert df.get_column("value").to_list() == [100.0, 60.5]
    assert manifest(ws)["unit"] == "EUR"
    # extra columns are kept
    assert df.get_column("memo").to_list() == ["rent", None]
    assert df.get_column("bank_ref").to_list() == ["R1", "R2"]
    assert df.get_column("ts").to_list() == [utc(2025, 1, 1, 0), utc(2025, 1, 1, 1)]


def test_timestamps_iso_8601_no_zone_is_utc_offsets_converted(tmp_path):
    rows = [
        ("z", "2025-01-01T08:00:00Z"),
        ("naive", "2025-01-01T08:00:00"),
        ("plus7", "2025-01-01T08:00:00+07:00"),
        ("minus530", "2025-01-01T08:00:00-05:30"),
        ("space", "2025-01-01 08:00:00"),
        ("frac", "2025-01-01T08:00:00.250Z"),
        ("date", "2025-01-02"),
        ("minutes", "2025-01-01T08:30"),
    ]
    src = write_csv(tmp_path / "t.csv", HEADER, [(tx, ts, "a", "b", "1", "USD") for tx, ts in rows])
    ws = tmp_path / "ws"
    ok("ingest", src, "-w", ws)
    got = dict(transfers(ws).select("tx_id", "ts").iter_rows())
    assert got == {
        "z": utc(2025, 1, 1, 8),
        "naive": utc(2025, 1, 1, 8),
        "plus7": utc(2025, 1, 1, 1),
        "minus530": utc(2025, 1, 1, 13, 30),
        "space": utc(2025, 1, 1, 8),
        "frac": utc(2025, 1, 1, 8, 0, 0, 250_000),
        "date": utc(2025, 1, 2),
        "minutes": utc(2025, 1, 1, 8, 30),
    }
    assert rejects(ws).height == 0


def test_account_ids_kept_exactly_as_written(tmp_path):
    names = [
        " padded ",
        "007",
        "Eth:0xAbC",
        "tron:TXyz",
        "Müller GmbH",
        "a,b",
        'say "hi"',
        "UPPER",
        "upper",
    ]
    src = write_csv(
        tmp_path / "t.csv",
        HEADER,
        [(f"t{i}", "2025-01-01T00:00:00Z", n, "sink", "1", "USD") for i, n in enumerate(names)],
    )
    ws = tmp_path / "ws"
    ok("ingest", src, "-w", ws)
    assert transfers(ws).sort("seq").get_column("src").to_list() == names
    accounts = pl.read_parquet(ws / "accounts.parquet").get_column("account").to_list()
    assert sorted(accounts) == sorted([*names, "sink"])


def test_seq_is_the_row_position_in_its_file(tmp_path):
    # rows out of time order, with a rejected row in the middle
    src = write_csv(
        tmp_path / "t.csv",
        HEADER,
        [
            ("r1", "2025-01-01T05:00:00Z", "a", "b", "1", "USD"),
            ("r2", "2025-01-01T01:00:00Z", "a", "b", "-1", "USD"),
            ("r3", "2025-01-01T01:00:00Z", "a", "b", "1", "USD"),
            ("r4", "2025-01-01T01:00:00Z", "b", "a", "1", "USD"),
        ],
    )
    ws = tmp_path / "ws"
    ok("ingest", src, "-w", ws)
    got = dict(transfers(ws).select("tx_id", "seq").iter_rows())
    assert got == {"r1": 1, "r3": 3, "r4": 4}


def test_value_column_and_unit(tmp_path):
    src = write_csv(
        tmp_path / "t.csv",
        [*HEADER, "value"],
        [
            ("t1", "2025-01-01T00:00:00Z", "a", "b", "0.5", "BTC", "30000"),
            ("t2", "2025-01-01T01:00:00Z", "b", "c", "1000", "USDT", "999.5"),
        ],
    )
    ws = tmp_path / "ws"
    result = ok("ingest", src, "-w", ws)
    assert "trace unit USD" in result.stdout
    df = transfers(ws).sort("seq")
    assert df.get_column("amount").to_list() == [0.5, 1000.0]
    assert df.get_column("value").to_list() == [30000.0, 999.5]
    assert df.get_column("asset").to_list() == ["BTC", "USDT"]
    assert manifest(ws)["unit"] == "USD"


def test_parquet_input(tmp_path):
    src = tmp_path / "t.parquet"
    pl.DataFrame(
        {
            "tx_id": ["p1", "p2", "p3"],
            "timestamp": pl.Series(
                [
                    dt.datetime(2025, 1, 1, 8),
                    dt.datetime(2025, 1, 1, 9),
                    dt.datetime(2025, 1, 1, 10),
                ]
            ).dt.replace_time_zone("Asia/Bangkok"),
            "src": ["a", "b", "c"],
            "dst": ["b", "c", "d"],
            "amount": [1.5, 2.0, float("nan")],
            "asset": ["USD", "USD", "USD"],
            "note": [1, 2, 3],
        }
    ).write_parquet(src)
    ws = tmp_path / "ws"
    result = ok("ingest", src, "-w", ws)
    assert f"{src}: read 3, ingested 2, rejected 1" in result.stdout
    df = transfers(ws).sort("seq")
    assert df.get_column("ts").to_list() == [utc(2025, 1, 1, 1), utc(2025, 1, 1, 2)]
    assert df.get_column("amount").to_list() == [1.5, 2.0]
    assert df.get_column("note").to_list() == [1, 2]
    assert rejects(ws).get_column("reason").to_list() == ["amount is NaN"]


def test_parquet_naive_datetimes_are_utc_and_text_timestamps_parsed(tmp_path):
    naive = tmp_path / "naive.parquet"
    pl.DataFrame(
        {
            "tx_id": ["n1"],
            "timestamp": [dt.datetime(2025, 1, 1, 8)],
            "src": ["a"],
            "dst": ["b"],
            "amount": ["5"],
            "asset": ["USD"],
        }
    ).write_parquet(naive)
    text = tmp_path / "text.parquet"
    pl.DataFrame(
        {
            "tx_id": ["x1"],
            "timestamp": ["2025-01-01T08:00:00+07:00"],
            "src": ["a"],
            "dst": ["b"],
            "amount": [5],
            "asset": ["USD"],
        }
    ).write_parquet(text)
    ws = tmp_path / "ws"
    ok("ingest", naive, text, "-w", ws)
    assert dict(transfers(ws).select("tx_id", "ts").iter_rows()) == {
        "n1": utc(2025, 1, 1, 8),
        "x1": utc(2025, 1, 1, 1),
    }


# --------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------


def test_labels_with_optional_columns(tmp_path):
    src = simple(tmp_path / "t.csv")
    labels = write_csv(
        tmp_path / "labels.csv",
        ["account", "label", "name", "entity", "opening_balance"],
        [
            ("carol", "exchange", "Carol Exchange", "Carol Holdings", ""),
            ("bob", "", "", "", "250.5"),
            ("dave", "otc", "Dave OTC", "", ""),  # not in any transfer
        ],
    )
    ws = tmp_path / "ws"
    result = ok("ingest", src, "--labels", labels, "-w", ws)
    assert f"{labels} (labels): read 3, ingested 3, rejected 0" in result.stdout.splitlines()
    acc = {r["account"]: r for r in pl.read_parquet(ws / "accounts.parquet").to_dicts()}
    assert set(acc) == {"alice", "bob", "carol", "dave"}
    assert (acc["carol"]["label"], acc["carol"]["name"], acc["carol"]["entity"]) == (
        "exchange",
        "Carol Exchange",
        "Carol Holdings",
    )
    assert acc["bob"]["opening_balance"] == 250.5
    assert acc["bob"]["label"] is None
    assert acc["dave"]["label"] == "otc"
    assert acc["alice"]["label"] is None and acc["alice"]["opening_balance"] is None


def test_labels_minimal_columns_and_bad_rows(tmp_path):
    labels = write_csv(
        tmp_path / "labels.csv",
        ["account", "label", "opening_balance"],
        [
            ("x", "exchange", ""),
            ("", "exchange", ""),
            ("y", "mixer", "-5"),
            ("z", "mixer", "lots"),
        ],
    )
    minimal = write_csv(tmp_path / "min.csv", ["account", "label"], [("w", "exchange")])
    ws = tmp_path / "ws"
    result = ok(
        "ingest", simple(tmp_path / "t.csv"), "--labels", labels, "--labels", minimal, "-w", ws
    )
    assert f"{labels} (labels): read 4, ingested 1, rejected 3" in result.stdout.splitlines()
    assert f"{minimal} (labels): read 1, ingested 1, rejected 0" in result.stdout.splitlines()
    acc = {r["account"]: r["label"] for r in pl.read_parquet(ws / "accounts.parquet").to_dicts()}
    assert acc["x"] == "exchange" and acc["w"] == "exchange"
    assert "y" not in acc and "z" not in acc
    rej = rejects(ws).filter(pl.col("source") == "labels.csv")
    assert rej.get_column("source_row").to_list() == [2, 3, 4]
    assert all(rej.get_column("reason").to_list())
    m = {i["name"]: i for i in manifest(ws)["inputs"]}
    assert (m["labels.csv"]["read"], m["labels.csv"]["ingested"], m["labels.csv"]["rejected"]) == (
        4,
        1,
        3,
    )


def test_labels_only_into_a_new_workspace(tmp_path):
    labels = write_csv(tmp_path / "labels.csv", ["account", "label"], [("x", "exchange")])
    ws = tmp_path / "ws"
    ok("ingest", "--labels", labels, "-w", ws)
    assert pl.read_parquet(ws / "accounts.parquet").get_column("account").to_list() == ["x"]
    assert transfers(ws).height == 0


def test_labels_missing_column(tmp_path):
    labels = write_csv(tmp_path / "labels.csv", ["account", "tag"], [("x", "exchange")])
    ws = tmp_path / "ws"
    line = assert_one_line_error(
        run("ingest", simple(tmp_path / "t.csv"), "--labels", labels, "-w", ws)
    )
    assert "labels.csv" in line and "label" in line
    assert not ws.exists()


# --------------------------------------------------------------------------------------------
# The workspace and its manifest
# --------------------------------------------------------------------------------------------


def test_workspace_files_and_manifest(tmp_path):
    src = write_csv(
        tmp_path / "t.csv",
        HEADER,
        [
            ("t1", "2025-01-01T00:00:00Z", "alice", "bob", "100", "USD"),
            ("t2", "2025-01-01T01:00:00Z", "bob", "carol", "x", "USD"),
            ("t3", "2025-01-01T02:00:00Z", "bob", "dave", "10", "USD"),
        ],
    )
    labels = write_csv(tmp_path / "labels.csv", ["account", "label"], [("carol", "exchange")])
    ws = tmp_path / "ws"
    result = ok("ingest", src, "--labels", labels, "-w", ws)
    for name in (
        "transfers.parquet",
        "accounts.parquet",
        "prices.parquet",
        "rejects.parquet",
        "manifest.json",
    ):
        assert (ws / name).is_file(), name
    assert (ws / "graph").is_dir() and any((ws / "graph").iterdir())
    assert not [p for p in ws.iterdir() if p.name.startswith(".")]  # no staging left behind

    m = manifest(ws)
    inputs = {i["name"]: i for i in m["inputs"]}
    assert set(inputs) == {"t.csv", "labels.csv"}
    for path in (src, labels):
        item = inputs[path.name]
        assert item["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert item["size"] == path.stat().st_size
        assert item["read"] == item["ingested"] + item["rejected"]
    assert (inputs["t.csv"]["read"], inputs["t.csv"]["ingested"], inputs["t.csv"]["rejected"]) == (
        3,
        2,
        1,
    )
    assert m["tables"]["transfers"] == 2 == transfers(ws).height
    assert m["tables"]["rejects"] == 1 == rejects(ws).height
    assert m["tables"]["accounts"] == 4
    assert result.stdout.splitlines()[-1] == (
        f"Workspace {ws}: 2 transfers, 4 accounts, 1 rejected rows (rejects.parquet); "
        "trace unit USD."
    )


def test_reingest_same_file_changes_nothing(tmp_path):
    src = simple(tmp_path / "t.csv")
    labels = write_csv(tmp_path / "labels.csv", ["account", "label"], [("carol", "exchange")])
    ws = tmp_path / "ws"
    ok("ingest", src, "--labels", labels, "-w", ws)
    before = snapshot(ws)
    result = ok("ingest", src, "--labels", labels, "-w", ws)
    assert snapshot(ws) == before
    lines = result.stdout.splitlines()
    assert f"{src}: unchanged (already in the workspace)" in lines
    assert f"{labels} (labels): unchanged (already in the workspace)" in lines
    # the same bytes under another name are the same file
    copy = tmp_path / "copy.csv"
    shutil.copy(src, copy)
    result = ok("ingest", copy, "-w", ws)
    assert "unchanged" in result.stdout
    assert snapshot(ws) == before


def test_second_file_adds_to_the_workspace(tmp_path):
    ws = tmp_path / "ws"
    ok("ingest", simple(tmp_path / "a.csv"), "-w", ws)
    b = write_csv(
        tmp_path / "b.csv",
        [*HEADER, "channel"],
        [
            ("u1", "2025-01-02T00:00:00Z", "carol", "erin", "30", "USD", "wire"),
        ],
    )
    result = ok("ingest", b, "-w", ws)
    assert f"{b}: read 1, ingested 1, rejected 0" in result.stdout.splitlines()
    df = transfers(ws)
    assert sorted(df.get_column("tx_id").to_list()) == ["t1", "t2", "u1"]
    assert dict(df.select("tx_id", "source").iter_rows()) == {
        "t1": "a.csv",
        "t2": "a.csv",
        "u1": "b.csv",
    }
    assert dict(df.select("tx_id", "channel").iter_rows()) == {"t1": None, "t2": None, "u1": "wire"}
    m = manifest(ws)
    assert [i["name"] for i in m["inputs"]] == ["a.csv", "b.csv"]
    assert m["tables"]["transfers"] == 3
    accounts = pl.read_parquet(ws / "accounts.parquet").get_column("account").to_list()
    assert sorted(accounts) == ["alice", "bob", "carol", "erin"]
    # and the trace sees both files
    out = json.loads(ok("trace", "-w", ws, "--tx", "t1", "--format", "json").stdout)
    assert [f["tx_id"] for f in out["flows"]] == ["t1", "t2", "u1"]


# --------------------------------------------------------------------------------------------
# Bad rows
# --------------------------------------------------------------------------------------------

BAD_ROWS = [
    # (row, reason must contain)
    (("b1", "not a time", "a", "b", "1", "USD"), "timestamp"),
    (("b2", "2025-13-45T00:00:00Z", "a", "b", "1", "USD"), "timestamp"),
    (("b3", "", "a", "b", "1", "USD"), "timestamp"),
    (("b4", "2025-01-01T00:00:00Z", "a", "b", "", "USD"), "empty amount"),
    (("b5", "2025-01-01T00:00:00Z", "a", "b", "-5", "USD"), "negative"),
    (("b6", "2025-01-01T00:00:00Z", "a", "b", "NaN", "USD"), "NaN"),
    (("b7", "2025-01-01T00:00:00Z", "a", "b", "nan", "USD"), "NaN"),
    (("b8", "2025-01-01T00:00:00Z", "a", "b", "ten", "USD"), "non-numeric"),
    (("b9", "2025-01-01T00:00:00Z", "a", "b", "1,000", "USD"), "non-numeric"),
    (("b10", "2025-01-01T00:00:00Z", "", "b", "1", "USD"), "empty src"),
    (("b11", "2025-01-01T00:00:00Z", "a", "", "1", "USD"), "empty dst"),
    (("b12", "2025-01-01T00:00:00Z", "a", "a", "1", "USD"), "self-transfer"),
    (("good", "2025-01-01T00:00:09Z", "a", "c", "2", "USD"), "duplicate tx_id"),
]


def test_bad_rows_go_to_rejects_with_reason_and_raw_row(tmp_path):
    rows = [("good", "2025-01-01T00:00:00Z", "a", "b", "1", "USD")]
    rows += [row for row, _ in BAD_ROWS]
    rows += [("good2", "2025-01-01T00:00:01Z", "b", "c", "1", "USD")]
    src = write_csv(tmp_path / "bad.csv", HEADER, rows)
    ws = tmp_path / "ws"
    result = ok("ingest", src, "-w", ws)
    n_bad = len(BAD_ROWS)
    assert f"{src}: read {n_bad + 2}, ingested 2, rejected {n_bad}" in result.stdout.splitlines()
    assert sorted(transfers(ws).get_column("tx_id").to_list()) == ["good", "good2"]

    rej = rejects(ws).sort("source_row")
    assert rej.height == n_bad
    assert rej.get_column("source").unique().to_list() == ["bad.csv"]
    assert rej.get_column("source_row").to_list() == list(range(2, n_bad + 2))
    for (row, reason), got in zip(BAD_ROWS, rej.iter_rows(named=True), strict=True):
        assert reason in got["reason"], (row, got["reason"])
        raw = json.loads(got["raw"])
        assert list(raw) == HEADER
        assert [raw[c] or "" for c in HEADER] == list(row)

    item = manifest(ws)["inputs"][0]
    assert (item["read"], item["ingested"], item["rejected"]) == (n_bad + 2, 2, n_bad)
    assert item["read"] == item["ingested"] + item["rejected"]


def test_all_rows_rejected_still_ingests_the_file(tmp_path):
    src = write_csv(tmp_path / "t.csv", HEADER, [("x", "never", "a", "b", "1", "USD")])
    ws = tmp_path / "ws"
    result = ok("ingest", src, "-w", ws)
    assert f"{src}: read 1, ingested 0, rejected 1" in result.stdout.splitlines()
    assert transfers(ws).height == 0 and rejects(ws).height == 1


def test_all_rows_rejected_into_an_existing_workspace(tmp_path):
    ws = tmp_path / "ws"
    ok("ingest", simple(tmp_path / "a.csv"), "-w", ws)
    src = write_csv(
        tmp_path / "t.csv",
        HEADER,
        [("x", "never", "a", "b", "1", "USD"), ("y", "2025-01-01", "a", "b", "-1", "USD")],
    )
    result = ok("ingest", src, "-w", ws)
    assert f"{src}: read 2, ingested 0, rejected 2" in result.stdout.splitlines()
    assert transfers(ws).height == 2 and rejects(ws).height == 2
    item = manifest(ws)["inputs"][1]
    assert (item["read"], item["ingested"], item["rejected"]) == (2, 0, 2)


def test_duplicate_tx_id_across_files_is_rejected(tmp_path):
    ws = tmp_path / "ws"
    ok("ingest", simple(tmp_path / "a.csv"), "-w", ws)
    b = write_csv(
        tmp_path / "b.csv",
        HEADER,
        [
            ("t2", "2025-01-03T00:00:00Z", "x", "y", "7", "USD"),
            ("t3", "2025-01-03T00:00:00Z", "x", "y", "8", "USD"),
        ],
    )
    result = ok("ingest", b, "-w", ws)
    assert f"{b}: read 2, ingested 1, rejected 1" in result.stdout.splitlines()
    df = transfers(ws)
    assert df.height == 3
    t2 = df.filter(pl.col("tx_id") == "t2").row(0, named=True)
    assert (t2["src"], t2["dst"], t2["source"]) == ("bob", "carol", "a.csv")  # the first one wins
    rej = rejects(ws).row(0, named=True)
    assert (rej["source"], rej["source_row"]) == ("b.csv", 1)
    assert "duplicate tx_id" in rej["reason"] and "a.csv" in rej["reason"]
    item = manifest(ws)["inputs"][1]
    assert (item["read"], item["ingested"], item["rejected"]) == (2, 1, 1)


def test_duplicate_tx_id_across_files_in_one_command(tmp_path):
    a = simple(tmp_path / "a.csv")
    b = write_csv(
        tmp_path / "b.csv", HEADER, [("t1", "2025-01-03T00:00:00Z", "x", "y", "7", "USD")]
    )
    ws = tmp_path / "ws"
    result = ok("ingest", a, b, "-w", ws)
    assert f"{b}: read 1, ingested 0, rejected 1" in result.stdout.splitlines()
    assert transfers(ws).height == 2
    assert "duplicate tx_id" in rejects(ws).get_column("reason")[0]


def test_duplicate_across_files_keeps_the_raw_row(tmp_path):
    ws = tmp_path / "ws"
    ok("ingest", simple(tmp_path / "a.csv"), "-w", ws)
    b = write_csv(
        tmp_path / "b.csv", HEADER, [("t1", "2025-01-03T00:00:00Z", "x", "y", "7", "USD")]
    )
    ok("ingest", b, "-w", ws)
    raw = json.loads(rejects(ws).get_column("raw")[0])
    assert raw == dict(
        zip(HEADER, ["t1", "2025-01-03T00:00:00Z", "x", "y", "7", "USD"], strict=True)
    )


# --------------------------------------------------------------------------------------------
# Files that stop the ingest: one line, exit 1, workspace untouched
# --------------------------------------------------------------------------------------------


def _missing_columns(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "nocols.csv",
        ["tx_id", "time", "from", "dst", "amount", "asset"],
        [("t9", "2025-01-01T00:00:00Z", "a", "b", "1", "USD")],
    )


def _corrupt_parquet(tmp_path: Path) -> Path:
    path = tmp_path / "corrupt.parquet"
    path.write_bytes(b"PAR1 this is not parquet \x00\x01\x02")
    return path


def _empty_csv(tmp_path: Path) -> Path:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    return path


def _missing_file(tmp_path: Path) -> Path:
    return tmp_path / "does-not-exist.csv"


def _mixed_assets(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "mixed.csv",
        HEADER,
        [
            ("m1", "2025-01-01T00:00:00Z", "a", "b", "1", "BTC"),
            ("m2", "2025-01-01T00:00:00Z", "a", "b", "1", "ETH"),
        ],
    )


FATAL = {
    "missing columns": (_missing_columns, "nocols.csv"),
    "corrupt parquet": (_corrupt_parquet, "corrupt.parquet"),
    "empty csv": (_empty_csv, "empty.csv"),
    "missing file": (_missing_file, "does-not-exist.csv"),
    "mixed assets without value": (_mixed_assets, "mixed.csv"),
}
FORMATS = {"default format": [], "--format canonical": ["--format", "canonical"]}


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("case", list(FATAL))
def test_fatal_file_into_new_workspace_creates_nothing(tmp_path, case, fmt):
    make, name = FATAL[case]
    bad = make(tmp_path)
    ws = tmp_path / "ws"
    line = assert_one_line_error(run("ingest", bad, "-w", ws, *FORMATS[fmt]))
    assert name in line
    assert not ws.exists()


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("case", list(FATAL))
def test_fatal_file_leaves_existing_workspace_byte_identical(tmp_path, case, fmt):
    make, name = FATAL[case]
    ws = tmp_path / "ws"
    ok("ingest", simple(tmp_path / "a.csv"), "-w", ws)
    before = snapshot(ws)
    good = write_csv(
        tmp_path / "good.csv", HEADER, [("g1", "2025-01-05T00:00:00Z", "a", "b", "1", "USD")]
    )
    # a good file before the bad one in the same command is not written either
    line = assert_one_line_error(run("ingest", good, make(tmp_path), "-w", ws, *FORMATS[fmt]))
    assert name in line
    assert snapshot(ws) == before


def test_mixed_assets_error_names_the_assets(tmp_path):
    line = assert_one_line_error(run("ingest", _mixed_assets(tmp_path), "-w", tmp_path / "ws"))
    assert "BTC" in line and "ETH" in line


def test_unreadable_parquet_says_so(tmp_path):
    line = assert_one_line_error(
        run("ingest", _corrupt_parquet(tmp_path), "-w", tmp_path / "ws", "--format", "canonical")
    )
    assert "corrupt.parquet" in line and "Parquet" in line


def _check_missing_columns_message(line: str, path: Path) -> None:
    assert str(path) in line
    missing, _, present = line.partition(";")
    assert "timestamp" in missing and "asset" in missing
    for col in ("tx_id", "when", "src", "dst", "amount"):
        assert col in present, (col, line)


def test_missing_columns_message_names_missing_and_present(tmp_path):
    bad = write_csv(
        tmp_path / "t.csv",
        ["tx_id", "when", "src", "dst", "amount"],
        [("t", "2025-01-01", "a", "b", "1")],
    )
    line = assert_one_line_error(run("ingest", bad, "-w", tmp_path / "ws", "--format", "canonical"))
    _check_missing_columns_message(line, bad)


def test_missing_columns_message_with_default_format(tmp_path):
    bad = write_csv(
        tmp_path / "t.csv",
        ["tx_id", "when", "src", "dst", "amount"],
        [("t", "2025-01-01", "a", "b", "1")],
    )
    line = assert_one_line_error(run("ingest", bad, "-w", tmp_path / "ws"))
    _check_missing_columns_message(line, bad)


def test_asset_not_the_workspace_unit_without_value(tmp_path):
    ws = tmp_path / "ws"
    ok("ingest", simple(tmp_path / "a.csv", asset="USD"), "-w", ws)
    before = snapshot(ws)
    eur = write_csv(
        tmp_path / "eur.csv", HEADER, [("e1", "2025-01-05T00:00:00Z", "a", "b", "1", "EUR")]
    )
    line = assert_one_line_error(run("ingest", eur, "-w", ws))
    assert "EUR" in line and "USD" in line
    assert snapshot(ws) == before


def test_folder_that_is_not_a_workspace_is_refused(tmp_path):
    folder = tmp_path / "stuff"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    assert_one_line_error(run("ingest", simple(tmp_path / "a.csv"), "-w", folder))
    assert snapshot(folder) == {"notes.txt": b"mine"}


def test_ingest_usage_errors_are_one_line(tmp_path):
    assert_one_line_error(run("ingest", "-w", tmp_path / "ws"))  # no file at all
    assert_one_line_error(run("ingest", simple(tmp_path / "a.csv")))  # no -w
    assert_one_line_error(
        run("ingest", simple(tmp_path / "a.csv"), "-w", tmp_path / "ws", "--format", "bankxml")
    )
    assert_one_line_error(
        run("ingest", "--labels", tmp_path / "nolabels.csv", "-w", tmp_path / "ws")
    )
    assert not (tmp_path / "ws").exists()


# --------------------------------------------------------------------------------------------
# Hostile data
# --------------------------------------------------------------------------------------------

HOSTILE = [
    '=HYPERLINK("http://x")',
    "<script>alert(1)</script>",
    "\x1b[31mred\x1b[0m",
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "tab\tin",
    "line\nbreak",
]


def test_hostile_account_names_ingested_exactly(tmp_path):
    rows = [
        (f"h{i}", "2025-01-01T00:00:00Z", name, f"dst {name}", "1", "USD")
        for i, name in enumerate(HOSTILE)
    ]
    src = write_csv(tmp_path / "t.csv", HEADER, rows)
    labels = write_csv(
        tmp_path / "labels.csv",
        ["account", "label", "name"],
        [(HOSTILE[0], "exchange", HOSTILE[2])],
    )
    ws = tmp_path / "ws"
    result = ok("ingest", src, "--labels", labels, "-w", ws)
    assert f"{src}: read {len(HOSTILE)}, ingested {len(HOSTILE)}, rejected 0" in result.stdout
    df = transfers(ws).sort("seq")
    assert df.get_column("src").to_list() == HOSTILE
    assert df.get_column("dst").to_list() == [f"dst {n}" for n in HOSTILE]
    acc = {r["account"]: r for r in pl.read_parquet(ws / "accounts.parquet").to_dicts()}
    assert set(acc) == set(HOSTILE) | {f"dst {n}" for n in HOSTILE}
    assert acc[HOSTILE[0]]["name"] == HOSTILE[2]


def test_column_named_like_an_internal_one(tmp_path):
    src = write_csv(
        tmp_path / "t.csv",
        [*HEADER, "__row"],
        [("t1", "2025-01-01T00:00:00Z", "a", "b", "1", "USD", "7")],
    )
    ws = tmp_path / "ws"
    result = run("ingest", src, "-w", ws)
    assert result.exit_code in (0, 1), result.exception
    assert isinstance(result.exception, (SystemExit, type(None))), repr(result.exception)
    if result.exit_code == 0:
        assert transfers(ws).get_column("__row").to_list() == ["7"]


def test_missing_columns_error_is_one_line_with_hostile_header(tmp_path):
    src = write_csv(
        tmp_path / "t.csv",
        ["tx_id", "time\nstamp", "src", "dst", "amount", "asset"],
        [("t1", "2025-01-01T00:00:00Z", "a", "b", "1", "USD")],
    )
    assert_one_line_error(run("ingest", src, "-w", tmp_path / "ws", "--format", "canonical"))
