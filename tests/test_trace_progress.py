"""Progress of a long trace: the kernel's progress array, ``api.trace(on_progress=...)``, and
the command line on a terminal (a bar; Ctrl-C exits with status 130)."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from conftest import build
from strategies import random_transfers

from tracer import api


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    rng = random.Random(11)
    return build(tmp_path_factory.mktemp("prog"), random_transfers(rng, 30_000, 60))


def tables(res):
    return [res.flows, res.holdings, res.endpoints, res.allocations, res.paths]


@pytest.mark.parametrize("rule", ["haircut", "poison", "fifo", "match"])
def test_progress_increases_and_changes_nothing(ws, monkeypatch, rule):
    monkeypatch.setattr(api, "PROGRESS_EVERY_S", 0.0005)
    seed = ws.graph.tx_ids[5].as_py()
    calls = []
    got = api.trace(
        ws,
        tx_ids=[seed],
        rule=rule,
        stop_at=(),
        on_progress=lambda done, end: calls.append((done, end)),
    )
    want = api.trace(ws, tx_ids=[seed], rule=rule, stop_at=())
    assert got.summary == want.summary
    for a, b in zip(tables(got), tables(want), strict=True):
        assert a.equals(b)
    dones = [d for d, _ in calls]
    end = ws.graph.n_edges
    assert all(e == end for _, e in calls)
    assert dones[0] == 5 and dones[-1] == end
    assert all(a < b for a, b in zip(dones, dones[1:], strict=False))


def test_kernel_writes_its_rank_and_stops_when_asked(ws):
    from tracer.kernels.trace import trace_kernel
    from tracer.rules import rule_code

    g = ws.graph

    def run(progress):
        return trace_kernel(
            g.csr,
            g.src,
            g.dst,
            g.value,
            g.opening,
            np.zeros(g.n_accounts, np.bool_),
            np.array([0], np.int64),
            rule_code("poison"),
            0,
            g.n_edges,
            0.0,
            ws.scratch(g),
            progress=progress,
        )

    full = run(np.zeros(2, np.int64))
    progress = np.zeros(2, np.int64)
    progress[1] = 1  # asked to stop before it starts: it stops at its first report
    part = run(progress)
    assert 0 < progress[0] < g.n_edges
    assert part.flow_rank.shape[0] < full.flow_rank.shape[0]
    assert np.all(ws.scratch(g) == -1)  # the scratch is restored


def test_interrupt_stops_the_replay_and_is_raised(ws, monkeypatch):
    monkeypatch.setattr(api, "PROGRESS_EVERY_S", 0.0005)
    seed = ws.graph.tx_ids[0].as_py()
    seen = []

    def interrupt(done, end):
        seen.append(done)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.trace(ws, tx_ids=[seed], rule="poison", stop_at=(), on_progress=interrupt)
    assert not [t for t in threading.enumerate() if t.name == "tracer-trace"]
    # the workspace's scratch is usable again: the same trace as ever
    a = api.trace(ws, tx_ids=[seed], rule="poison", stop_at=())
    assert a.summary == api.trace(ws, tx_ids=[seed], rule="poison", stop_at=()).summary


# The command in a pseudo-terminal: a kernel that runs until asked to stop, reporting its rank,
# and a SIGINT once the bar is up.
_CHILD = textwrap.dedent("""
    import os, signal, sys, threading, time
    import numpy as np
    from tracer import api
    from tracer.cli import cli

    real = api.trace_kernel

    def slow(*args, progress, **kwargs):
        threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        while progress[1] == 0:
            progress[0] = min(progress[0] + 1, args[9] - 1)
            time.sleep(0.01)
        return real(*args, progress=progress, **kwargs)

    api.trace_kernel = slow
    cli(["trace", "-w", sys.argv[1], "--tx", sys.argv[2], "--rule", "haircut"])
""")


@pytest.mark.skipif(shutil.which("script") is None, reason="needs script(1) for a terminal")
def test_ctrl_c_on_a_terminal_exits_130(ws, tmp_path):
    child = tmp_path / "child.py"
    child.write_text(_CHILD)
    seed = ws.graph.tx_ids[0].as_py()
    cmd = f"{sys.executable} {child} {ws.path} {seed}; echo status=$?"
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    out = subprocess.run(
        ["script", "-qec", cmd, "/dev/null"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
    ).stdout
    assert "status=130" in out, out
    assert "Aborted." in out
    assert "Traceback" not in out
    assert "tracing" in out  # the bar was drawn
