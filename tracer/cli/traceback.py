"""`tracer trace-back`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tracer.cli._base import Timestamp, cli, cli_errors, trace_options, workspace_option


@cli.command(
    "trace-back",
    epilog="Example: tracer trace-back -w ws --to tron:TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE --level entity",
)
@workspace_option
@click.option("--to", "to", required=True, metavar="ACCOUNT", help="The account to explain.")
@click.option(
    "--since",
    type=Timestamp(),
    help="Explain what it received from this time on (default: what it holds).",
)
@click.option("--until", type=Timestamp(), help="Up to this time (default: the end of the data).")
@trace_options(stop_at="")
@click.option(
    "--max-origins",
    default=200,
    show_default=True,
    type=click.IntRange(min=1),
    help="Measure at most this many upstream accounts (the largest senders).",
)
@click.option(
    "--top-paths",
    default=3,
    show_default=True,
    type=click.IntRange(min=0),
    help="Evidence chains kept per origin.",
)
@click.option(
    "--format", "fmt", default="table", show_default=True, type=click.Choice(["table", "json"])
)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write origins, categories and paths (Parquet), trace_back.json and "
    "manifest.json to this folder.",
)
def trace_back(
    workspace: Path,
    to: str,
    since,
    until,
    options,
    max_origins: int,
    top_paths: int,
    fmt: str,
    output: Path | None,
) -> None:
    """Source of funds: where the money ACCOUNT holds (or received) came from, by origin
    account and by label category, direct and indirect, with the chains behind them.

    Every origin is measured by a forward trace from it with the same options (rule, level,
    stops, hops), so what `tracer trace --from V` puts on ACCOUNT is what this attributes to V.
    """
    from dataclasses import replace

    from tracer.backward import trace_back as run
    from tracer.backward import write_trace_back
    from tracer.report.text import safe
    from tracer.workspace import Workspace

    with cli_errors():
        ws = Workspace.open(workspace)
        res = run(
            ws,
            to=to,
            since=since,
            until=until,
            options=replace(options, top_paths=top_paths),
            max_origins=max_origins,
        )
        if output is not None:
            from tracer.report.output import result_folder

            with result_folder(output, "trace-back") as folder:
                write_trace_back(res, folder, workspace=ws, argv=sys.argv)
    if fmt == "json":
        click.echo(json.dumps(res.to_dict(), indent=2, allow_nan=False, default=str))
        return
    unit = safe(res.unit or "")
    what = "holds" if res.measure == "held" else "received"
    click.echo(
        f"{safe(res.account)} {what} {res.total:,.2f} {unit} ({res.rule}). "
        f"Upstream accounts: {res.options['upstream_accounts']}."
    )
    click.echo("")
    click.echo("By category (exposure; money through several categories counts in each):")
    for c in res.categories.to_pylist() or [
        {"label": "(no labelled source)", "value": 0.0, "share": 0.0, "direct": False}
    ]:
        click.echo(
            f"  {safe(c['label']):<16} {c['value']:>16,.2f}  {100 * (c['share'] or 0):6.2f}%"
            f"  {'direct' if c['direct'] else 'indirect'}"
        )
    click.echo("")
    click.echo("By origin account:")
    for o in res.origins.to_pylist()[:25]:
        label = f" [{safe(o['label'])}]" if o["label"] else ""
        click.echo(
            f"  {safe(o['account'], 48)}{label}  {o['value']:,.2f}  "
            f"{100 * (o['share'] or 0):.2f}%  {'direct' if o['direct'] else 'indirect'}, "
            f"{o['hops']} hop{'s' if o['hops'] != 1 else ''}"
        )
