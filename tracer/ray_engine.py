"""`tracer batch --engine ray`: long-lived Ray actors that each trace chunks of cases.

One actor per CPU of the cluster (or ``--workers``). Each actor opens the workspace once from
its path (shared storage: every node must see the folder at the same path), memory-maps its
graph once, loads the kernels with a first trace and keeps its scratch buffer; the driver then
feeds it chunks of cases, at most two in flight per actor, and hands the results to the writer
in case order (``tracer.batch._InOrder``). A chunk whose actor is lost (its node died, its
process was killed) is given to another actor; only when every actor is lost does the batch
stop, with one line.
"""

from __future__ import annotations

import logging
import math
import os
import socket
from collections import deque

import numpy as np

from tracer.batch import Case, CaseOutput, TraceOptions, _InOrder, trace_case
from tracer.errors import TracerError, WorkspaceError, printable
from tracer.workspace import Workspace

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
                num_cpus=workers or 2,
                include_dashboard=False,
                object_store_memory=128 << 20,
                **quiet,
            )
    except Exception as exc:  # any failure to start or join Ray: one line
        where = f"join the Ray cluster at {address}" if address else "start Ray here"
        raise TracerError(f"--engine ray: could not {where}: {_first_line(exc)}") from None


def run(
    ray,
    path: str,
    cases: list[Case],
    opts: TraceOptions,
    workers: int | None,
    full: bool,
    order: _InOrder,
) -> bool:
    """Trace ``cases`` on actors; returns True when stopped by KeyboardInterrupt."""
    slots = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    size = max(1, min(MAX_CHUNK, math.ceil(len(cases) / (8 * slots))))
    chunks = [cases[i : i + size] for i in range(0, len(cases), size)]
    n_actors = min(slots, len(chunks))
    warm = next((c for c in cases if c.tx_ids or c.accounts), None)
    cls = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(CaseTracer)
    actors = [
        cls.options(scheduling_strategy="SPREAD").remote(path, opts, full, warm)
        for _ in range(n_actors)
    ]
    checks = {a.ready.remote(): a for a in actors}
    alive = set(range(n_actors))
    load = dict.fromkeys(alive, 0)  # chunks in flight per actor
    todo = deque(range(len(chunks)))
    pending: dict = {}  # ref -> (chunk index, actor index)
    lost: list[str] = []

    def lose(i: int, exc: BaseException) -> None:
        if i in alive:
            alive.discard(i)
            lost.append(_first_line(exc))
        for ref, (k, j) in list(pending.items()):  # its other chunks go back to the queue
            if j == i:
                del pending[ref]
                todo.appendleft(k)
        todo_sorted = sorted(todo)
        todo.clear()
        todo.extend(todo_sorted)

    try:
        try:
            while True:
                for i in sorted(alive, key=lambda i: load[i]):
                    while todo and load[i] < IN_FLIGHT:
                        k = todo.popleft()
                        pending[actors[i].trace.remote(chunks[k])] = (k, i)
                        load[i] += 1
                if not pending and not todo:
                    return False
                if not alive:
                    done = order.done + sum(len(v) for v in order.held.values())
                    raise TracerError(
                        f"--engine ray: every Ray worker was lost, {done} of "
                        f"{order.total} cases traced; nothing written "
                        f"({lost[-1]})"
                    )
                waiting = list(pending) + list(checks)
                ready, _ = ray.wait(waiting, num_returns=1, timeout=0.25)
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
                        todo.appendleft(k)
                        lose(i, exc)
                        continue
                    if isinstance(outputs, str):
                        raise WorkspaceError(outputs)
                    order.put(k, outputs)
        except KeyboardInterrupt:
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
