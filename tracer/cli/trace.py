"""`tracer trace`."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click

from tracer.cli._base import (
    Timestamp, cli, cli_errors, split_list, trace_options, workspace_option,
)


@cli.command(epilog="Example: tracer trace -w ws --level entity --tx VICTIM-TX-1,VICTIM-TX-2 -o result")
@workspace_option
@click.option("--tx", "tx_ids", multiple=True, metavar="ID",
              help="Seed transfer id (the victim's payment); repeat or separate with commas.")
@click.option("--from", "from_accounts", multiple=True, metavar="ACCOUNT",
              help="Seed every outflow of this account; repeat or separate with commas.")
@click.option("--since", type=Timestamp(), help="With --from: outflows at or after this time.")
@click.option("--until", type=Timestamp(), help="With --from: outflows at or before this time.")
@trace_options
@click.option("--top-paths", default=3, show_default=True, type=click.IntRange(min=0),
              help="Evidence chains kept per endpoint (0: none).")
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "json"]), help="What to print.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Write the result tables (Parquet) and result.json to this folder.")
def trace(workspace: Path, tx_ids: tuple[str, ...], from_accounts: tuple[str, ...], since,
          until, options, top_paths: int, fmt: str, output: Path | None) -> None:
    """Follow a victim's money forward from seed transfers, under a tracing rule.

    The default rule, match, pairs each outflow with the inflows it forwards (close in time,
    close in value less a cut); what no pairing explains is left to --fallback."""
    from tracer import api
    from tracer.report.custody import with_seeds
    from tracer.report.files import to_json, write_result
    from tracer.report.text import trace_table
    from tracer.workspace import Workspace

    if bool(tx_ids) == bool(from_accounts):
        raise click.UsageError("give seeds with --tx ID or with --from ACCOUNT (one of them)")
    with cli_errors():
        ws = Workspace.open(workspace)
        options = replace(options, top_paths=top_paths)
        seeds = dict(
            tx_ids=split_list(tx_ids) if tx_ids else None,
            from_accounts=split_list(from_accounts) if from_accounts else None,
            since=since, until=until,
        )
        result = api.trace(ws, **seeds, options=options)
        # seeds recorded for tracer verify
        result = with_seeds(result, {**seeds, "top_paths": top_paths})
        if output is not None:
            from tracer.report.output import result_folder

            with result_folder(output, "trace") as folder:  # replaces an earlier result whole
                write_result(result, folder, workspace=ws, argv=sys.argv)
        click.echo(to_json(result) if fmt == "json" else trace_table(result), nl=fmt != "json")
        if output is not None and fmt != "json":
            click.echo(f"Result written to {output}/")
