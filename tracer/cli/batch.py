"""`tracer batch`."""

from __future__ import annotations

import json
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import click

from tracer.cli._base import cli, cli_errors, trace_options, workspace_option


class _Progress:
    """Cases done, rate and ETA on stderr when it is a terminal; case errors as lines."""

    def __init__(self, stack: ExitStack) -> None:
        self.bar = None
        self.task = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = stack.enter_context(
                Progress(
                    TextColumn("cases"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]}"),
                    TimeElapsedColumn(),
                    TextColumn("ETA"),
                    TimeRemainingColumn(),
                    console=Console(stderr=True),
                    transient=True,
                )
            )

    def line(self, text: str) -> None:
        if self.bar is not None:
            self.bar.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            click.echo(text, err=True)

    def reject(self, row, source: str) -> None:
        self.line(row.message(source))

    def start(self, total: int) -> None:
        if self.bar is not None:
            self.task = self.bar.add_task("cases", total=total, rate="")

    def case(self, out, done: int, total: int) -> None:
        from tracer.errors import printable

        if out.status != "ok":
            self.line(f"case {printable(out.case_id, 60)} failed: {out.error}")
        if self.bar is not None:
            self.bar.update(self.task, completed=done)
            speed = self.bar.tasks[0].speed
            self.bar.update(self.task, rate=f"{speed:,.1f}/s" if speed else "")


@cli.command(epilog="Example: tracer batch cases.csv -w ws --level entity -o all-cases")
@click.argument("cases", type=click.Path(dir_okay=False, path_type=Path))
@workspace_option
@trace_options
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the result folder here (without it, only the summary is printed).",
)
@click.option(
    "--engine",
    default="local",
    show_default=True,
    type=click.Choice(["local", "ray"]),
    help="local: threads on this machine; ray: tasks on a Ray cluster.",
)
@click.option(
    "--address",
    default=None,
    metavar="ADDR",
    help="With --engine ray: join this cluster (e.g. auto); without it Ray starts "
    "on this machine and stops after.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Cases traced at once (local default: all cores; ray default: 2 CPUs for "
    "a local Ray, the cluster's CPUs with --address).",
)
@click.option("--full", is_flag=True, help="Also write every case's holdings and flows (large).")
@click.option(
    "--format",
    "fmt",
    default="summary",
    show_default=True,
    type=click.Choice(["summary", "table", "json"]),
    help="summary: counts, totals and the top 10 hubs; table: the top hubs; json: batch.json.",
)
@click.pass_context
def batch(
    ctx: click.Context,
    cases: Path,
    workspace: Path,
    options,
    output: Path | None,
    engine: str,
    address: str | None,
    workers: int | None,
    full: bool,
    fmt: str,
) -> None:
    """Trace many cases at once: CASES is a CSV of case_id and tx_id (one row per seed
    transfer), or case_id, account and optional since, until.

    Each case is traced on its own, as `tracer trace` would; the result folder holds per-case
    summaries and endpoints, hubs (reached from two cases or more) and a case x hub matrix.
    Bad rows are reported one per line and counted; the other rows still run. Ctrl-C stops
    cleanly, keeping the cases finished (exit status 130).
    """
    from tracer.batch import run_batch
    from tracer.report.batch_text import hubs_text, summary_text

    if address and engine != "ray":
        raise click.UsageError("--address joins a Ray cluster: use it with --engine ray")
    with cli_errors(), ExitStack() as stack:
        if output is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tracer-batch-")))
        else:  # written beside and swapped in at the end: an earlier result is replaced whole
            from tracer.report.output import result_folder

            folder = stack.enter_context(result_folder(output, "batch"))
        progress = _Progress(stack)
        report = run_batch(
            workspace,
            cases,
            folder,
            options=options,
            engine=engine,
            workers=workers,
            address=address,
            full=full,
            on_reject=progress.reject,
            on_start=progress.start,
            on_case=progress.case,
        )
        if progress.bar is not None:
            progress.bar.stop()
        if fmt == "json":
            click.echo(json.dumps(report.meta, indent=2, sort_keys=True))
        else:
            click.echo(summary_text(report) if fmt == "summary" else hubs_text(report))
            if output is not None:
                click.echo(f"Results written to {output}/")
        if report.meta["interrupted"]:
            c = report.meta["counts"]
            where = f", written to {output}/" if output is not None else ""
            click.echo(
                f"Interrupted: {c['cases_done']:,} of {c['cases']:,} cases done{where}.", err=True
            )
    if report.meta["interrupted"]:
        ctx.exit(130)
