"""`tracer verify` runs the manifest's recorded command again; a bad manifest is one line.
A damaged workspace is one `Error:` line naming the file, never a crash or a traceback."""

from __future__ import annotations

import errno
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tracer.cli import cli

HEADER = "tx_id,timestamp,src,dst,amount,asset\n"
# the rules disagree on what leaves m: fifo sends w's clean 100 to x first, lifo the victim's
ROWS = (
    "s0,2025-01-01T00:00:00Z,w,m,100,USD\n"
    "s1,2025-01-01T01:00:00Z,v,m,100,USD\n"
    "s3,2025-01-01T03:00:00Z,m,x,100,USD\n"
    "s4,2025-01-01T04:00:00Z,m,y,100,USD\n"
)


def run(*args) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


def one_error_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), text
    return lines[0]


@pytest.fixture()
def ws(tmp_path) -> Path:
    f = tmp_path / "t.csv"
    f.write_text(HEADER + ROWS)
    code, text = run("ingest", f, "-w", tmp_path / "ws")
    assert code == 0, text
    return tmp_path / "ws"


def trace(ws: Path, out: Path, rule: str = "fifo") -> Path:
    code, text = run("trace", "-w", ws, "--tx", "s1", "--rule", rule, "-o", out)
    assert code == 0, text
    return out


def edit_manifest(out: Path, change) -> None:
    m = json.loads((out / "manifest.json").read_text())
    change(m)
    (out / "manifest.json").write_text(json.dumps(m))


def rehash(out: Path, m: dict) -> None:
    for name in m["files"]:
        m["files"][name]["sha256"] = hashlib.sha256((out / name).read_bytes()).hexdigest()


def test_the_rules_differ_here(ws, tmp_path):
    a = trace(ws, tmp_path / "a", "fifo")
    b = trace(ws, tmp_path / "b", "lifo")
    assert (a / "flows.parquet").read_bytes() != (b / "flows.parquet").read_bytes()
    assert run("verify", a)[0] == 0 and run("verify", b)[0] == 0


def test_an_edited_rule_in_the_manifest_is_a_difference(ws, tmp_path):
    out = trace(ws, tmp_path / "r")
    edit_manifest(out, lambda m: m["command"].update(rule="lifo"))
    code, text = run("verify", out)
    assert code == 1
    assert "flows.parquet: differs from the re-run" in text


def test_a_seed_that_does_not_exist_in_the_manifest_is_a_difference(ws, tmp_path):
    out = trace(ws, tmp_path / "r")
    edit_manifest(out, lambda m: m["command"]["options"].update(tx_ids=["nope"]))
    code, text = run("verify", out)
    assert code == 1
    assert "re-run failed: --tx nope" in text


def test_a_lifo_result_relabelled_as_fifo_is_a_difference(ws, tmp_path):
    out = trace(ws, tmp_path / "r", "lifo")
    meta = json.loads((out / "result.json").read_text())
    meta["rule"] = "fifo"
    (out / "result.json").write_text(json.dumps(meta, indent=2) + "\n")

    def relabel(m):
        m["command"]["rule"] = "fifo"
        m["command"]["argv"] = [a.replace("lifo", "fifo") for a in m["command"]["argv"] or []]
        rehash(out, m)

    edit_manifest(out, relabel)
    code, text = run("verify", out)
    assert code == 1
    assert "flows.parquet: differs from the re-run" in text


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.update(workspace="x"),
        lambda m: m.update(files=[1, 2]),
        lambda m: m["files"].update({"../../etc/passwd": {"sha256": "0"}}),
        lambda m: m.update(command="fifo"),
        lambda m: m["workspace"].update(inputs="all"),
    ],
)
def test_a_bad_manifest_is_one_error_line(ws, tmp_path, change):
    out = trace(ws, tmp_path / "r")
    edit_manifest(out, change)
    code, text = run("verify", out)
    assert code == 1
    assert "manifest.json" in one_error_line(text)


# --- damaged workspaces ------------------------------------------------------------------------


def corrupt_npy(ws: Path, name: str, change) -> None:
    path = ws / "graph" / f"{name}.npy"
    arr = np.load(path)
    change(arr)
    np.save(path, arr)


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


CORRUPTIONS = {
    "dst out of range": ("dst.npy", lambda ws: corrupt_npy(ws, "dst", lambda a: a.fill(10**6))),
    "negative src": ("src.npy", lambda ws: corrupt_npy(ws, "src", lambda a: a.__setitem__(0, -5))),
    "fwd_edges -1": (
        "fwd_edges.npy",
        lambda ws: corrupt_npy(ws, "fwd_edges", lambda a: a.__setitem__(0, -1)),
    ),
    "NaN value": (
        "value.npy",
        lambda ws: corrupt_npy(ws, "value", lambda a: a.__setitem__(1, np.nan)),
    ),
    "truncated npy": ("ts.npy", lambda ws: truncate(ws / "graph" / "ts.npy")),
    "bad npy header": (
        "rev_indptr.npy",
        lambda ws: (ws / "graph" / "rev_indptr.npy").write_bytes(b"garbage"),
    ),
    "garbage meta": ("meta.json", lambda ws: (ws / "graph" / "meta.json").write_text("{{{")),
    "truncated arrow": ("tx_ids.arrow", lambda ws: truncate(ws / "graph" / "tx_ids.arrow")),
    "truncated transfers": (
        "transfers.parquet",
        lambda ws: truncate(ws / "transfers.parquet", 0.3),
    ),
    "truncated accounts": ("accounts.parquet", lambda ws: truncate(ws / "accounts.parquet", 0.3)),
    "garbage manifest": ("manifest.json", lambda ws: (ws / "manifest.json").write_text("[1]")),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_a_damaged_workspace_is_one_error_line_naming_the_file(ws, case):
    name, damage = CORRUPTIONS[case]
    damage(ws)
    for args in (
        ["trace", "-w", ws, "--tx", "s1"],
        ["trace", "-w", ws, "--tx", "s1", "--rule", "poison", "-o", ws.parent / "r"],
    ):
        code, text = run(*args)
        assert code == 1, text
        assert name in one_error_line(text)


def test_a_full_disk_names_the_file(ws, tmp_path, monkeypatch):
    import tracer.report.files as files

    def full(table, where, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(where))

    monkeypatch.setattr(files.pq, "write_table", full)
    code, text = run("trace", "-w", ws, "--tx", "s1", "-o", tmp_path / "r")
    assert code == 1
    line = one_error_line(text)
    assert "disk is full" in line and "flows.parquet" in line
    assert not (tmp_path / "r").exists()
