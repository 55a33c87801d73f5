"""`tracer trace-back`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tracer.cli._base import Timestamp, cli, cli_errors, workspace_option


@cli.command("trace-back")
@workspace_option
@click.option("--to", "to", required=True, metavar="ACCOUNT", help="The account to explain.")
@click.option("--since", type=Timestamp(),
              help="Explain what it received from this time on (default: what it holds).")
@click.option("--until", type=Timestamp(), help="Up to this time (default: the end of the data).")
@click.option("--rule", default="fifo", show_default=True,
              type=click.Choice(["poison", "haircut", "fifo"]), help="Tracing rule.")
@click.option("--max-hops", type=click.IntRange(min=1), help="Look this many hops back at most.")
@click.option("--max-origins", default=200, show_default=True, type=click.IntRange(min=1),
              help="Measure at most this many upstream accounts (the largest senders).")
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "json"]))
def trace_back(workspace: Path, to: str, since, until, rule: str, max_hops: int | None,
               max_origins: int, fmt: str) -> None:
    """Source of funds: where the money ACCOUNT holds (or received) came from, by origin
    account and by label category, direct and indirect, with the chains behind them."""
    from tracer.backward import trace_back as run
    from tracer.report.text import safe
    from tracer.workspace import Workspace

    with cli_errors():
        res = run(Workspace.open(workspace), to=to, since=since, until=until, rule=rule,
                  max_hops=max_hops, max_origins=max_origins)
    if fmt == "json":
        click.echo(json.dumps(res.to_dict(), indent=2, allow_nan=False, default=str))
        return
    unit = safe(res.unit or "")
    what = "holds" if res.measure == "held" else "received"
    click.echo(f"{safe(res.account)} {what} {res.total:,.2f} {unit} ({res.rule}). "
               f"Upstream accounts: {res.options['upstream_accounts']}.")
    click.echo("")
    click.echo("By category (exposure; money through several categories counts in each):")
    for c in res.categories.to_pylist() or [{"label": "(no labelled source)", "value": 0.0,
                                             "share": 0.0, "direct": False}]:
        click.echo(f"  {safe(c['label']):<16} {c['value']:>16,.2f}  {100 * (c['share'] or 0):6.2f}%"
                   f"  {'direct' if c['direct'] else 'indirect'}")
    click.echo("")
    click.echo("By origin account:")
    for o in res.origins.to_pylist()[:25]:
        label = f" [{safe(o['label'])}]" if o["label"] else ""
        click.echo(f"  {safe(o['account'], 48)}{label}  {o['value']:,.2f}  "
                   f"{100 * (o['share'] or 0):.2f}%  {'direct' if o['direct'] else 'indirect'}, "
                   f"{o['hops']} hop{'s' if o['hops'] != 1 else ''}")
