"""`tracer batch --engine ray`: long-lived Ray actors that each trace chunks of cases, and the
machine that runs the batch tracing beside them.

One actor per CPU of the cluster (or ``--workers``). Each actor opens the workspace once from
its path (shared storage: every node must see the folder at the same path), memory-maps its
graph once, loads the kernels with a first trace and keeps its scratch buffer; the driver then
feeds it chunks of cases, at most two in flight per actor, and hands the results to the writer
in case order (``tracer.batch._InOrder``). The driver traces chunks from the same queue on a
thread of its own (``_Driver``), from the start: while a Ray it starts comes up and while the
actors load, the batch goes on. A chunk whose actor is lost (its node died, its process was
killed) is given back to the queue; only when every actor is lost does the batch stop, with
one line.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from collections import deque

import numpy as np

from tracer.batch import Case, CaseOutput, TraceOptions, _InOrder, trace_case
from tracer.errors import TracerError, WorkspaceError, printable
from tracer.workspace import Workspace

LOCAL_CPUS = 2  # CPUs of a Ray started here without --workers
IN_FLIGHT = 2  # chunks queued per actor: one running, one waiting, so it never idles
MAX_CHUNK = 16  # cases per chunk at most


class CaseTracer:
    """A Ray actor (created through ``ray.remote``): one workspace, one scratch buffer."""

    def __init__(self, path: str, opts: TraceOptions, full: bool, warm: Case | None) -> None:
        self.opts, self.full = opts, full
        self.node = _node_name()
        self.error: str | None = None
        try:
            self.ws = Workspace.open(path)
            g = self.ws.graph_at(opts.level)
            self.ws.graph  # noqa: B018  (map the graphs once)
            self.scratch = np.full(g.n_accounts, -1, np.int64)
            if warm is not None:  # load the kernels (numba's cache) before the first chunk
                trace_case(self.ws, warm, opts, self.scratch, full=False)
        except TracerError as exc:
            self.error = (
                f"Ray node {self.node} cannot open the workspace {printable(path, 200)}"
                f": {_first_line(exc)} (every node must see the workspace folder at "
                "the same path: NFS or another shared file system)"
            )

    def ready(self) -> tuple[str, str | None]:
        return self.node, self.error

    def trace(self, cases: list[Case]) -> list[CaseOutput] | str:
        """The chunk's outputs, or the reason the workspace could not be opened (a value, not
        an exception, so that Ray logs no traceback for the chunks never waited for)."""
        if self.error is not None:
            return self.error
        return [trace_case(self.ws, c, self.opts, self.scratch, full=self.full) for c in cases]


def _node_name() -> str:
    try:
        import ray

        ip = ray.util.get_node_ip_address()
    except Exception:  # noqa: BLE001 - a name for messages only
        ip = "?"
    return f"{socket.gethostname()} ({ip})"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return printable(text.splitlines()[0] if text else type(exc).__name__, 300)


def start(ray, address: str | None, workers: int | None) -> None:
    """Join the cluster at ``address``, or start Ray here with ``workers`` CPUs (default 2)."""
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no network call at start
            ray.init(
                address="local",
                num_cpus=workers or LOCAL_CPUS,
                include_dashboard=False,
                object_store_memory=128 << 20,
                **quiet,
            )
    except Exception as exc:  # any failure to start or join Ray: one line
        where = f"join the Ray cluster at {address}" if address else "start Ray here"
        raise TracerError(f"--engine ray: could not {where}: {_first_line(exc)}") from None


class _Driver:
    """The machine that runs ``tracer batch`` traces too, on a thread of its own: it takes
    chunks from the front of the queue (the same queue the actors are fed from) while Ray
    starts and the actors load, and goes on until the queue is empty. Its results wait in
    ``finished`` for the main thread, the only one that writes."""

    def __init__(self, ws: Workspace, opts: TraceOptions, full: bool, chunks: list) -> None:
        self.ws, self.opts, self.full, self.chunks = ws, opts, full, chunks
        self.lock = threading.Lock()
        self.todo = deque(range(len(chunks)))
        self.finished: list[tuple[int, list[CaseOutput]]] = []
        self.error: BaseException | None = None
        self.stop = False
        g = ws.graph_at(opts.level)
        ws.graph  # noqa: B018  (map the graphs before the thread starts)
        self.scratch = np.full(g.n_accounts, -1, np.int64)
        self.thread = threading.Thread(target=self._work, name="tracer-driver", daemon=True)
        self.thread.start()

    def take(self) -> int | None:
        with self.lock:
            return self.todo.popleft() if self.todo else None

    def give_back(self, keys: list[int]) -> None:
        """Chunks of a lost actor go back to the queue, in order."""
        with self.lock:
            merged = sorted([*self.todo, *keys])
            self.todo.clear()
            self.todo.extend(merged)

    def _work(self) -> None:
        try:
            while not self.stop and (k := self.take()) is not None:
                outputs = [
                    trace_case(self.ws, c, self.opts, self.scratch, full=self.full)
                    for c in self.chunks[k]
                ]
                with self.lock:
                    self.finished.append((k, outputs))
        except BaseException as exc:  # handed to the main thread
            self.error = exc

    def collect(self) -> list[tuple[int, list[CaseOutput]]]:
        """The chunks traced since the last call; raises what the thread raised."""
        with self.lock:
            out, self.finished = self.finished, []
        if self.error is not None:
            raise self.error
        return out

    def halt(self) -> None:
        """Stop after the chunk at hand (its results are kept in ``finished``)."""
        self.stop = True
        self.thread.join()


def run(
    ray,
    ws: Workspace,
    cases: list[Case],
    opts: TraceOptions,
    workers: int | None,
    full: bool,
    order: _InOrder,
    start=None,
) -> bool:
    """Trace ``cases`` on actors and on this machine (``_Driver``); returns True when stopped
    by KeyboardInterrupt. ``start``: starts Ray here (``--workers`` CPUs), called once the
    driver is tracing, so that Ray's start costs no time the driver could trace in; None when
    Ray is joined or running already."""
    if start is not None:
        slots = workers or LOCAL_CPUS
    else:
        slots = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    size = max(1, min(MAX_CHUNK, math.ceil(len(cases) / (8 * (slots + 1)))))
    chunks = [cases[i : i + size] for i in range(0, len(cases), size)]
    driver = _Driver(ws, opts, full, chunks)
    try:
        if start is not None:
            try:
                start()
            except KeyboardInterrupt:  # stopped while Ray starts: the driver's chunks are kept
                driver.halt()
                for k, outputs in driver.finished:
                    order.hold(k, outputs)
                order.flush()
                return True
        return _run_actors(ray, str(ws.path.resolve()), chunks, opts, slots, full, order, driver)
    finally:
        driver.halt()


def _run_actors(ray, path, chunks, opts, slots, full, order, driver: _Driver) -> bool:
    """The actors' side of ``run``: chunks are taken from ``driver``'s queue, and the
    chunks it traced are handed to ``order`` with the actors' ones."""
    with driver.lock:
        n_actors = min(slots, len(driver.todo))
    warm = next((c for chunk in chunks for c in chunk if c.tx_ids or c.accounts), None)
    cls = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(CaseTracer)
    actors = [
        cls.options(scheduling_strategy="SPREAD").remote(path, opts, full, warm)
        for _ in range(n_actors)
    ]
    checks = {a.ready.remote(): a for a in actors}
    alive = set(range(n_actors))
    load = dict.fromkeys(alive, 0)  # chunks in flight per actor
    pending: dict = {}  # ref -> (chunk index, actor index)
    lost: list[str] = []
    written = 0  # chunks handed to ``order``

    def lose(i: int, exc: BaseException, k: int | None = None) -> None:
        if i in alive:
            alive.discard(i)
            lost.append(_first_line(exc))
        back = [] if k is None else [k]
        for ref, (k2, j) in list(pending.items()):  # its other chunks go back to the queue
            if j == i:
                del pending[ref]
                back.append(k2)
        driver.give_back(back)

    try:
        try:
            while True:
                for k, outputs in driver.collect():
                    order.put(k, outputs)
                    written += 1
                if written == len(chunks):
                    return False
                for i in sorted(alive, key=lambda i: load[i]):
                    while load[i] < IN_FLIGHT and (k := driver.take()) is not None:
                        pending[actors[i].trace.remote(chunks[k])] = (k, i)
                        load[i] += 1
                if actors and not alive:
                    done = order.done + sum(len(v) for v in order.held.values())
                    raise TracerError(
                        f"--engine ray: every Ray worker was lost, {done} of "
                        f"{order.total} cases traced; nothing written "
                        f"({lost[-1]})"
                    )
                waiting = list(pending) + list(checks)
                if not waiting:  # only the driver is tracing
                    time.sleep(0.005)
                    continue
                ready, _ = ray.wait(waiting, num_returns=1, timeout=0.02)
                for ref in ready:
                    if ref in checks:
                        actor = checks.pop(ref)
                        try:
                            _node, error = ray.get(ref)
                        except ray.exceptions.RayError as exc:
                            lose(actors.index(actor), exc)
                            continue
                        if error is not None:
                            raise WorkspaceError(error)
                        continue
                    k, i = pending.pop(ref)
                    load[i] -= 1
                    try:
                        outputs = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:  # raised inside trace()
                        cause = getattr(exc, "cause", None)
                        if isinstance(cause, TracerError):
                            raise type(cause)(str(cause)) from None
                        raise TracerError(f"--engine ray: {_first_line(exc)}") from None
                    except ray.exceptions.RayError as exc:  # the actor or its node was lost
                        lose(i, exc, k)
                        continue
                    if isinstance(outputs, str):
                        raise WorkspaceError(outputs)
                    order.put(k, outputs)
                    written += 1
        except KeyboardInterrupt:
            driver.halt()
            for k, outputs in driver.finished:
                order.hold(k, outputs)
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
            for ref in ready:
                k, _i = pending.pop(ref)
                try:
                    order.hold(k, ray.get(ref))
                except ray.exceptions.RayError:
                    pass
            order.flush()
            return True
    finally:
        for ref in pending:
            ray.cancel(ref, force=False)
        for a in actors:
            ray.kill(a)
