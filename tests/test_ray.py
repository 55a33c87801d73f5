"""`tracer batch --engine ray` on a local Ray instance with 2 CPUs gives the local engine's bytes.

Ray is an optional extra (``pip install 'tracer[ray]'``); the test extra installs it, so CI runs
this. It is skipped only when ``import ray`` fails.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import build, minutes
from oracle import Transfer

from tracer.cli import cli

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'tracer[ray]'")

pytestmark = [
    pytest.mark.slow,
    # Ray 2.60 emits no warning here; newer releases may deprecate things inside ray itself.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*"),
]


def _cases(rng, path: Path, n_tx: int) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case_id", "tx_id", "account", "until"])
        for c in range(40):
            if c % 9 == 4:
                w.writerow([f"r{c:02d}", "", f"a{rng.integers(3, 60):02d}", "2025-01-01T03:00:00Z"])
                continue
            for tx in rng.choice(n_tx // 2, rng.integers(1, 4), replace=False):
                w.writerow([f"r{c:02d}", f"t{tx:04d}", "", ""])
        w.writerow(["bad", "missing-tx", "", ""])  # rejected, in both engines
    return path


@pytest.mark.parametrize("driver", ["traces", "idle"])
def test_ray_engine_gives_the_local_bytes(tmp_path, monkeypatch, driver):
    """The driver traces beside the actors (``traces``; with 40 cases it may trace them all
    while Ray starts), or leaves every chunk to the actors (``idle``)."""
    if driver == "idle":
        from tracer import ray_engine

        monkeypatch.setattr(ray_engine._Driver, "_work", lambda self: None)
    rng = np.random.default_rng(11)
    rows = []
    for i in range(1000):
        a, b = rng.choice(60, 2, replace=False)
        rows.append(
            Transfer(
                f"t{i:04d}",
                minutes(i * 0.5),
                i + 1,
                f"a{a:02d}",
                f"a{b:02d}",
                float(round(rng.lognormal(4, 1), 2)),
            )
        )
    ws = build(tmp_path, rows, {f"a{k:02d}": "exchange" for k in range(3)}).path
    cases = _cases(rng, tmp_path / "cases.csv", 1000)

    runner = CliRunner()
    local = runner.invoke(
        cli,
        [
            "batch",
            "-w",
            str(ws),
            str(cases),
            "--full",
            "--workers",
            "2",
            "-o",
            str(tmp_path / "local"),
        ],
    )
    assert local.exit_code == 0, (local.output, local.exception)
    remote = runner.invoke(
        cli,
        [
            "batch",
            "-w",
            str(ws),
            str(cases),
            "--full",
            "--engine",
            "ray",
            "--workers",
            "2",
            "-o",
            str(tmp_path / "ray"),
        ],
    )
    assert remote.exit_code == 0, (remote.output, remote.exception)
    assert not ray.is_initialized()  # a Ray started by the batch is shut down after

    names = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "ray").iterdir())
    assert "allocations.parquet" in names and "matrix.parquet" in names
    for name in names:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), (
            name
        )
    assert remote.stdout == local.stdout.replace(str(tmp_path / "local"), str(tmp_path / "ray"))
    assert remote.stderr == local.stderr


def test_ctrl_c_while_ray_starts_keeps_what_the_driver_traced(tmp_path, monkeypatch):
    """The driver traces while Ray starts; a stop then writes the cases it finished, in
    order, and says the batch was interrupted."""
    import json
    import time

    import pyarrow.parquet as pq

    from tracer import ray_engine

    rng = np.random.default_rng(3)
    rows = [
        Transfer(f"t{i:04d}", minutes(i), i + 1, f"a{i % 30:02d}", f"a{(i * 7 + 1) % 30:02d}", 50.0)
        for i in range(600)
    ]
    ws = build(tmp_path, rows, {"a00": "exchange"}).path
    cases = _cases(rng, tmp_path / "cases.csv", 600)
    traced = []
    real = ray_engine.trace_case

    def counted(*args, **kwargs):
        traced.append(1)
        return real(*args, **kwargs)

    def interrupted_start(ray, address, workers):
        deadline = time.monotonic() + 60
        while len(traced) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        raise KeyboardInterrupt

    monkeypatch.setattr(ray_engine, "trace_case", counted)
    monkeypatch.setattr(ray_engine, "start", interrupted_start)
    r = CliRunner().invoke(
        cli,
        ["batch", "-w", str(ws), str(cases), "--engine", "ray", "-o", str(tmp_path / "out")],
    )
    assert r.exit_code == 130, r.output
    assert not ray.is_initialized()
    done = pq.read_table(tmp_path / "out" / "cases.parquet").column("case_id").to_pylist()
    assert len(done) >= 16 and done == sorted(done)
    meta = json.loads((tmp_path / "out" / "batch.json").read_text())
    assert meta["interrupted"] is True and meta["counts"]["cases_done"] == len(done)
