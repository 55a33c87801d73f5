"""`tracer batch --engine ray --address` on a real two-node Ray cluster on this machine.

A head and a second node are started with ``ray start`` as processes of their own (1 CPU each,
loopback addresses, ports of their own, a temporary HOME and temp dir, so that no other Ray on
the machine is joined or disturbed). The batch gives the local engine's bytes; when the second
node is killed in the middle of a batch, the chunks it held are traced again on the head and
the batch still gives those bytes, every case once. The cluster is stopped at the end, whatever
happens: its processes are found by their temp dir and killed by pid (``ray stop`` would stop
every Ray of the user on the machine).
"""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import build, minutes
from oracle import Transfer

from tracer.cli import cli

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")

BIN = Path(sys.executable).parent


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _procs() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process we can read."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        out[int(entry.name)] = (ppid, cmd)
    return out


def _tree(roots: set[int], procs: dict[int, tuple[int, str]]) -> set[int]:
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _) in procs.items():
            if ppid in found and pid not in found:
                found.add(pid)
                grew = True
    return found


def _kill(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        self.env.update(
            HOME=str(self.home),  # no ~/.ray of the user's (an auth token, a session)
            RAY_USAGE_STATS_ENABLED="0",
            # a lost node is noticed within about 2 s rather than 30
            RAY_health_check_period_ms="500",
            RAY_health_check_timeout_ms="500",
            RAY_health_check_failure_threshold="3",
        )
        self.port = _free_ports(1)[0]
        self.address = f"127.0.0.1:{self.port}"
        self.node2_port: int | None = None

    def _start(self, *args: str) -> int:
        p = _free_ports(7)
        cmd = [
            str(BIN / "ray"),
            "start",
            *args,
            "--num-cpus=1",
            "--node-ip-address=127.0.0.1",
            "--object-store-memory=80000000",
            f"--node-manager-port={p[0]}",
            f"--object-manager-port={p[1]}",
            f"--metrics-export-port={p[2]}",
            f"--dashboard-agent-listen-port={p[3]}",
            f"--dashboard-agent-grpc-port={p[4]}",
            f"--runtime-env-agent-port={p[5]}",
            "--disable-usage-stats",
        ]
        proc = subprocess.run(
            cmd, env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
        return p[0]

    def start(self) -> None:
        self._start(
            "--head",
            f"--port={self.port}",
            "--include-dashboard=false",
            f"--temp-dir={self.root / 'ray'}",
        )
        self.node2_port = self._start(f"--address={self.address}")

    def node2(self) -> set[int]:
        """The second node's raylet and every process under it (its workers and agents)."""
        procs = _procs()
        mark = f"--node_manager_port={self.node2_port} "
        return _tree({pid for pid, (_, cmd) in procs.items() if mark in cmd}, procs)

    def kill_node2(self) -> None:
        _kill(self.node2())

    def stop(self) -> None:
        """Kill every process of this cluster (found by its temp dir), by pid."""
        for _ in range(3):
            procs = _procs()
            ours = {pid for pid, (_, cmd) in procs.items() if str(self.root) in cmd}
            ours = _tree(ours, procs) - {os.getpid()}
            if not ours:
                return
            _kill(ours)
            time.sleep(0.5)


@pytest.fixture
def cluster():
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'tracer[ray]'")
    del ray
    # a short path: Ray's Unix sockets live under the temp dir (at most 107 bytes)
    root = Path(tempfile.mkdtemp(prefix="trc", dir="/tmp"))
    c = Cluster(root)
    try:
        c.start()
        yield c
    finally:
        c.stop()
        subprocess.run(["rm", "-rf", str(root)], check=False)


def _world(tmp_path: Path) -> tuple[Path, Path]:
    """400 accounts, 20,000 transfers, 600 cases of 1 to 3 seeds."""
    rng = np.random.default_rng(5)
    rows = []
    for i in range(20_000):
        a, b = rng.choice(400, 2, replace=False)
        rows.append(
            Transfer(
                f"t{i:05d}",
                minutes(i * 0.2),
                i + 1,
                f"a{a:03d}",
                f"a{b:03d}",
                float(round(rng.lognormal(4, 1), 2)),
            )
        )
    ws = build(tmp_path / "ws", rows, {f"a{k:03d}": "exchange" for k in range(4)}).path
    cases = tmp_path / "cases.csv"
    with cases.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case_id", "tx_id"])
        for c in range(600):
            for tx in rng.choice(10_000, rng.integers(1, 4), replace=False):
                w.writerow([f"c{c:04d}", f"t{tx:05d}"])
    return ws, cases


def _same_bytes(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.mark.slow
def test_two_node_cluster_same_bytes_and_survives_a_lost_node(cluster, tmp_path):
    ws, cases = _world(tmp_path)
    local = CliRunner().invoke(
        cli, ["batch", "-w", str(ws), str(cases), "--full", "-o", str(tmp_path / "local")]
    )
    assert local.exit_code == 0, (local.output, local.exception)

    def batch(out: str) -> subprocess.Popen:
        return subprocess.Popen(
            [
                str(BIN / "tracer"),
                "batch",
                "-w",
                str(ws),
                str(cases),
                "--full",
                "--engine",
                "ray",
                "--address",
                cluster.address,
                "-o",
                str(tmp_path / out),
            ],
            env=cluster.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    # both nodes: the local engine's bytes
    first = batch("ray")
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-3000:]
    _same_bytes(tmp_path / "local", tmp_path / "ray")

    # the second node dies once its actor is tracing: the batch still completes, every case once
    second = batch("ray2")
    deadline = time.monotonic() + 120
    while not any(
        "CaseTracer" in cmd
        for pid, cmd in ((p, _procs().get(p, (0, ""))[1]) for p in cluster.node2())
    ):
        assert second.poll() is None, "the batch ended before the second node traced"
        assert time.monotonic() < deadline, "no actor on the second node"
        time.sleep(0.05)
    time.sleep(0.3)
    assert second.poll() is None, "the batch ended before the second node was killed"
    cluster.kill_node2()
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err[-3000:]
    _same_bytes(tmp_path / "local", tmp_path / "ray2")


def test_a_node_without_the_workspace_is_one_line(tmp_path):
    """An actor that cannot open the workspace says which node and which path, in one line."""
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'tracer[ray]'")
    from tracer.batch import Case, TraceOptions
    from tracer.ray_engine import CaseTracer

    missing = tmp_path / "not-shared"
    actor = CaseTracer(str(missing), TraceOptions(), False, Case("c", ("t1",)))
    node, error = actor.ready()
    assert error is not None and "\n" not in error
    assert node in error and str(missing) in error and "same path" in error
    assert actor.trace([Case("c", ("t1",))]) == error  # the driver raises it: one line
