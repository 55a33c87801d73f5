"""Chain of custody: manifest.json, byte-identical result folders, and `tracer verify`.

The case is the one of tests/test_cli.py (USD, 2025-01-01, UTC):

    s1  00:00  V -> M  100   seed;  t2 M -> X 90 (X: exchange);  t3 M -> O 80;  t4 O -> P 30;
    s5  00:40  V -> Q   10   (a second outflow of V, seeded by --from V)
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from conftest import ok, run, write_csv  # noqa: E402

from tracer import __version__
from tracer.report.custody import sha256, versions

CASE = [
    ("s1", "2025-01-01T00:00:00Z", "V", "M", "100"),
    ("t2", "2025-01-01T00:10:00Z", "M", "X", "90"),
    ("t3", "2025-01-01T00:20:00Z", "M", "O", "80"),
    ("t4", "2025-01-01T00:30:00Z", "O", "P", "30"),
    ("s5", "2025-01-01T00:40:00Z", "V", "Q", "10"),
]
RESULT_FILES = [
    "allocations.parquet",
    "endpoints.parquet",
    "flows.parquet",
    "holdings.parquet",
    "paths.parquet",
    "requests.csv",
    "result.json",
]


def make_case(folder: Path) -> Path:
    """A workspace of CASE with labels; returns the workspace folder."""
    folder.mkdir(parents=True, exist_ok=True)
    transfers = write_csv(
        folder / "transfers.csv",
        ["tx_id", "timestamp", "src", "dst", "amount", "asset"],
        [(*row, "USD") for row in CASE],
    )
    labels = write_csv(
        folder / "labels.csv",
        ["account", "label", "name", "entity", "opening_balance"],
        [("X", "exchange", "Big Exchange", "ExCo Ltd", ""), ("M", "", "Mule", "", "50")],
    )
    ok("ingest", transfers, "--labels", labels, "-w", folder / "ws")
    return folder / "ws"


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    return make_case(tmp_path_factory.mktemp("case"))


@pytest.fixture
def own_ws(tmp_path) -> Path:
    """A workspace of its own, for tests that change it or its inputs."""
    return make_case(tmp_path / "own")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def verify_lines(*args) -> tuple[int, list[str]]:
    result = run("verify", *args)
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit) or result.exception is None
    return result.exit_code, result.stdout.splitlines()


# --------------------------------------------------------------------------------------------
# manifest.json and result.json
# --------------------------------------------------------------------------------------------


def test_result_folder_files(ws, tmp_path):
    out = tmp_path / "r"
    ok("trace", "-w", ws, "--tx", "s1", "-o", out)
    assert sorted(p.name for p in out.iterdir()) == sorted([*RESULT_FILES, "manifest.json"])


def test_manifest_records_inputs_command_versions_and_files(ws, tmp_path):
    out = tmp_path / "r"
    ok("trace", "-w", ws, "--tx", "s1", "--rule", "haircut", "--min-amount", "1", "-o", out)
    m = json.loads((out / "manifest.json").read_text())
    ws_manifest = json.loads((ws / "manifest.json").read_text())
    assert m["workspace"]["path"] == str(ws.resolve())
    assert m["workspace"]["inputs"] == ws_manifest["inputs"]
    assert [i["name"] for i in m["workspace"]["inputs"]] == ["labels.csv", "transfers.csv"]
    for item in m["workspace"]["inputs"]:
        assert item["sha256"] == sha256(Path(item["path"]))
    assert m["command"]["argv"] == sys.argv  # the process's command line
    assert m["command"]["rule"] == "haircut"
    assert m["command"]["options"] == json.loads((out / "result.json").read_text())["options"]
    assert set(m["versions"]) == {"tracer", "polars", "pyarrow", "numba", "numpy", "python"}
    assert m["versions"] == versions() and m["versions"]["tracer"] == __version__
    assert sorted(m["files"]) == RESULT_FILES
    for name, rec in m["files"].items():
        assert rec == {"sha256": sha256(out / name), "size": (out / name).stat().st_size}
    assert m["created"].endswith("Z")


def test_result_json_records_the_seeds_and_all_options(ws, tmp_path):
    out = tmp_path / "r"
    printed = json.loads(
        ok(
            "trace",
            "-w",
            ws,
            "--tx",
            "s1",
            "--max-hops",
            "3",
            "--horizon",
            "1d",
            "--format",
            "json",
            "-o",
            out,
        ).stdout
    )
    opts = json.loads((out / "result.json").read_text())["options"]
    assert opts == printed["options"]
    assert opts == {
        "stop_at": ["exchange"],
        "max_hops": 3,
        "horizon_seconds": 86400.0,
        "min_amount": 0.0,
        "level": "account",
        "tx_ids": ["s1"],
        "from_accounts": None,
        "since": None,
        "until": None,
        "top_paths": 3,
        "fallback": "fifo",
        "match_window_seconds": 259200.0,
        "match_cut": 0.05,
        "match_over": 0.02,
        "match_group": 8,
    }


def test_result_json_records_an_account_window(ws, tmp_path):
    out = tmp_path / "r"
    ok(
        "trace",
        "-w",
        ws,
        "--from",
        "V",
        "--since",
        "2025-01-01T00:30",
        "--until",
        "2025-01-02",
        "-o",
        out,
    )
    opts = json.loads((out / "result.json").read_text())["options"]
    assert (opts["tx_ids"], opts["from_accounts"], opts["since"], opts["until"]) == (
        None,
        ["V"],
        "2025-01-01T00:30:00Z",
        "2025-01-02T00:00:00Z",
    )


def test_the_run_time_is_only_in_the_manifest(ws, tmp_path):
    out = tmp_path / "r"
    ok("trace", "-w", ws, "--tx", "s1", "-o", out)
    created = json.loads((out / "manifest.json").read_text())["created"]
    for name in RESULT_FILES:
        assert created[:10].encode() not in (out / name).read_bytes(), name  # not even the day


def test_whole_result_folder_is_byte_identical_but_the_time(ws, tmp_path):
    out = tmp_path / "r"
    ok("trace", "-w", ws, "--tx", "s1", "-o", out)
    first = snapshot(out)
    ok("trace", "-w", ws, "--tx", "s1", "-o", out)
    second = snapshot(out)
    assert set(first) == set(second)
    for name in first:
        if name != "manifest.json":
            assert first[name] == second[name], name
    m1, m2 = (json.loads(s["manifest.json"]) for s in (first, second))
    m1.pop("created"), m2.pop("created")
    assert m1 == m2


# --------------------------------------------------------------------------------------------
# tracer verify
# --------------------------------------------------------------------------------------------


def test_verify_passes_on_a_fresh_result(ws, tmp_path):
    out = tmp_path / "r"
    ok("trace", "-w", ws, "--tx", "s1", "-o", out)
    code, lines = verify_lines(out)
    assert code == 0
    assert lines == [
        "OK: 7 result files match a re-run of the trace byte for byte; "
        "2 input files match their SHA-256."
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["--from", "V", "--since", "2025-01-01T00:30", "--until", "2025-01-02"],
        ["--tx", "s1,s5", "--rule", "libr", "--max-hops", "2", "--min-amount", "5"],
        ["--tx", "s1", "--rule", "poison", "--horizon", "25m", "--top-paths", "0"],
        ["--tx", "s1", "--level", "entity", "--stop-at", ""],
    ],
)
def test_verify_passes_whatever_the_options(ws, tmp_path, args):
    out = tmp_path / "r"
    ok("trace", "-w", ws, *args, "-o", out)
    code, lines = verify_lines(out)
    assert code == 0, lines


def test_verify_fails_after_one_byte_of_flows_changed(ws, tmp_path):
    out = tmp_path / "r"
    ok("trace", "-w", ws, "--tx", "s1", "-o", out)
    data = bytearray((out / "flows.parquet").read_bytes())
    data[len(data) // 2] ^= 0x01
    (out / "flows.parquet").write_bytes(bytes(data))
    code, lines = verify_lines(out)
    assert code == 1
    assert lines and all(line.startswith("flows.parquet: ") for line in lines), lines
    assert any("changed since the trace wrote it" in line for line in lines)
    assert any("differs from the re-run" in line for line in lines)


def test_verify_fails_when_a_result_file_is_missing(ws, tmp_path):
    out = tmp_path / "r"
    ok("trace", "-w", ws, "--tx", "s1", "-o", out)
    (out / "requests.csv").unlink()
    code, lines = verify_lines(out)
    assert (code, lines) == (1, ["requests.csv: missing (listed in manifest.json)"])


def test_verify_fails_after_an_input_file_changed(own_ws, tmp_path):
    out = tmp_path / "r"
    ok("trace", "-w", own_ws, "--tx", "s1", "-o", out)
    source = own_ws.parent / "transfers.csv"
    source.write_text(source.read_text().replace("100", "1000"))
    code, lines = verify_lines(out)
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith("input transfers.csv: "), lines
    assert "has changed since it was ingested" in lines[0]


def test_verify_fails_after_new_inputs_in_the_workspace(own_ws, tmp_path):
    out = tmp_path / "r"
    ok("trace", "-w", own_ws, "--tx", "s1", "-o", out)
    more = write_csv(
        tmp_path / "more.csv",
        ["tx_id", "timestamp", "src", "dst", "amount", "asset"],
        [("m1", "2025-01-01T00:05:00Z", "M", "Z", "70", "USD")],
    )
    ok("ingest", more, "-w", own_ws)
    code, lines = verify_lines(out)
    assert code == 1
    assert "input more.csv: ingested into the workspace after the trace" in lines
    assert any(line.startswith("flows.parquet: differs from the re-run") for line in lines)


def test_verify_after_moving_workspace_and_inputs(own_ws, tmp_path):
    out = tmp_path / "r"
    ok("trace", "-w", own_ws, "--tx", "s1", "-o", out)
    moved = tmp_path / "elsewhere"
    shutil.copytree(own_ws, moved / "ws")
    (moved / "inputs").mkdir()
    for name in ("transfers.csv", "labels.csv"):
        shutil.move(own_ws.parent / name, moved / "inputs" / name)
    shutil.rmtree(own_ws)
    code, lines = verify_lines(out, "-w", moved / "ws")
    assert code == 1
    assert sorted(lines) == [
        f"input labels.csv: file not found at {own_ws.parent / 'labels.csv'}, so its SHA-256 "
        "cannot be checked (run verify where ingest ran, or give --inputs DIR)",
        f"input transfers.csv: file not found at {own_ws.parent / 'transfers.csv'}, so its "
        "SHA-256 cannot be checked (run verify where ingest ran, or give --inputs DIR)",
    ]
    code, lines = verify_lines(out, "-w", moved / "ws", "--inputs", moved / "inputs")
    assert code == 0, lines


def test_verify_reports_a_rerun_that_fails(own_ws, tmp_path):
    out = tmp_path / "r"
    ok("trace", "-w", own_ws, "--tx", "s1", "-o", out)
    meta = json.loads((out / "result.json").read_text())
    meta["options"]["tx_ids"] = ["nope"]
    (out / "result.json").write_text(json.dumps(meta))
    code, lines = verify_lines(out)
    assert code == 1
    assert (
        lines[0] == "result.json: changed since the trace wrote it (SHA-256 differs from "
        "manifest.json)"
    )
    assert lines[1].startswith("re-run failed: --tx nope: no transfer with this id")


@pytest.mark.parametrize("case", ["no manifest", "no workspace", "not a folder"])
def test_verify_errors_are_one_line(ws, tmp_path, case):
    out = tmp_path / "r"
    ok("trace", "-w", ws, "--tx", "s1", "-o", out)
    if case == "no manifest":
        (out / "manifest.json").unlink()
        args = [out]
    elif case == "no workspace":
        args = [out, "-w", tmp_path / "nowhere"]
    else:
        args = [tmp_path / "missing"]
    result = run("verify", *args)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr


def test_write_result_without_workspace_keeps_its_old_files(ws, tmp_path):
    from tracer import api
    from tracer.report.files import write_result
    from tracer.workspace import Workspace

    res = api.trace(Workspace.open(ws), tx_ids=["s1"])
    write_result(res, tmp_path / "r")
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        "allocations.parquet",
        "endpoints.parquet",
        "flows.parquet",
        "holdings.parquet",
        "paths.parquet",
        "result.json",
    ]
