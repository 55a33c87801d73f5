"""`tracer trace`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import click

from tracer.cli._base import (
    Timestamp,
    cli,
    cli_errors,
    split_list,
    trace_options,
    workspace_option,
)


@cli.command(
    epilog="Example: tracer trace -w ws --level entity --tx VICTIM-TX-1,VICTIM-TX-2 -o result"
)
@workspace_option
@click.option(
    "--tx",
    "tx_ids",
    multiple=True,
    metavar="ID",
    help="Seed transfer id (the victim's payment); repeat or separate with commas.",
)
@click.option(
    "--from",
    "from_accounts",
    multiple=True,
    metavar="ACCOUNT",
    help="Seed every outflow of this account; repeat or separate with commas.",
)
@click.option(
    "--tx-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Seed transfer ids, one per line, exactly as written (an id may hold a comma).",
)
@click.option(
    "--from-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Seed accounts, one per line, exactly as written.",
)
@click.option("--since", type=Timestamp(), help="With --from: outflows at or after this time.")
@click.option("--until", type=Timestamp(), help="With --from: outflows at or before this time.")
@trace_options
@click.option(
    "--top-paths",
    default=3,
    show_default=True,
    type=click.IntRange(min=0),
    help="Evidence chains kept per endpoint (0: none).",
)
@click.option(
    "--format",
    "fmt",
    default="table",
    show_default=True,
    type=click.Choice(["table", "json"]),
    help="What to print.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the result tables (Parquet) and result.json to this folder.",
)
def trace(
    workspace: Path,
    tx_ids: tuple[str, ...],
    from_accounts: tuple[str, ...],
    tx_file: Path | None,
    from_file: Path | None,
    since,
    until,
    options,
    top_paths: int,
    fmt: str,
    output: Path | None,
) -> None:
    """Follow a victim's money forward from seed transfers, under a tracing rule.

    The default rule, match, pairs each outflow with the inflows it forwards (close in time,
    close in value less a cut); what no pairing explains is left to --fallback."""
    from tracer import api
    from tracer.report.custody import with_seeds
    from tracer.report.files import to_json, write_result
    from tracer.report.text import trace_table
    from tracer.workspace import Workspace

    if bool(tx_ids or tx_file) == bool(from_accounts or from_file):
        raise click.UsageError(
            "give seeds with --tx ID (or --tx-file) or with --from ACCOUNT "
            "(or --from-file), one of them"
        )
    with cli_errors():
        txs = split_list(tx_ids) + (_lines(tx_file) if tx_file else [])
        accounts = split_list(from_accounts) + (_lines(from_file) if from_file else [])
        ws = Workspace.open(workspace)
        options = replace(options, top_paths=top_paths)
        seeds = dict(
            tx_ids=txs if (tx_ids or tx_file) else None,
            from_accounts=accounts if (from_accounts or from_file) else None,
            since=since,
            until=until,
        )
        with _progress(ws, options.level) as on_progress:
            result = api.trace(ws, **seeds, options=options, on_progress=on_progress)
        # seeds recorded for tracer verify
        result = with_seeds(result, {**seeds, "top_paths": top_paths})
        late = result.options.get("seeds_not_traced") or []
        if late:
            from tracer.errors import printable

            shown = ", ".join(printable(t, 80) for t in late[:5])
            more = f" and {len(late) - 5} more" if len(late) > 5 else ""
            click.echo(
                f"Note: {len(late)} of {len(late) + result.n_seeds} seed transfers come "
                f"after the horizon and are not traced: {shown}{more}.",
                err=True,
            )
        if output is not None:
            from tracer.report.output import result_folder

            with result_folder(output, "trace") as folder:  # replaces an earlier result whole
                write_result(result, folder, workspace=ws, argv=sys.argv)
        click.echo(to_json(result) if fmt == "json" else trace_table(result), nl=fmt != "json")
        if output is not None and fmt != "json":
            click.echo(f"Result written to {output}/")


@contextmanager
def _progress(ws, level: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr while the replay runs, when stderr is a terminal (None
    otherwise: the trace then runs without a thread or callback): the time replayed so far,
    and the transfers replayed of those up to the horizon."""
    if not sys.stderr.isatty():
        yield None
        return
    import datetime as dt

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    ts = ws.graph_at(level).ts
    start: list[int] = []
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("tracing from the first seed", total=None)

        def on_progress(done: int, end: int) -> None:
            if not start:
                start.append(done)
            what = "tracing from the first seed"
            if done >= end:
                what = "traced; building the tables"
            elif done > start[0] and done - 1 < len(ts):
                when = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
                    microseconds=int(ts[done - 1])
                )
                what = f"tracing, replayed to {when:%Y-%m-%d %H:%M}"
            bar.update(
                task, description=what, total=max(end - start[0], 0), completed=done - start[0]
            )

        yield on_progress


def _lines(path: Path) -> list[str]:
    """The ids of a seeds file: one per line, as written (surrounding blanks and empty lines
    dropped, nothing split)."""
    from tracer.errors import InputError

    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror}).") from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the list of ids as "
            "UTF-8, one per line."
        ) from exc
    return [line.strip() for line in text.splitlines() if line.strip()]
