"""`tracer entity`."""

from __future__ import annotations

from pathlib import Path

import click

from tracer.cli._base import cli, cli_errors, workspace_option


@cli.command()
@click.argument("account")
@workspace_option
def entity(account: str, workspace: Path) -> None:
    """Which accounts the entity of ACCOUNT holds, and why (the merges behind it)."""
    from tracer.api import entity_members
    from tracer.report.text import safe

    with cli_errors():
        name, members, links = entity_members(workspace, account)
    click.echo(f"{safe(account)} belongs to entity {safe(name)} ({len(members)} account"
               f"{'' if len(members) == 1 else 's'}):")
    for row in members:
        label = f"  [{safe(row['label'])}]" if row["label"] else ""
        click.echo(f"  {safe(row['account'])}{label}")
    if links:
        click.echo("Merged because:")
        for link in links:
            click.echo(f"  {safe(link['account_a'])} + {safe(link['account_b'])}: "
                       f"{link['reason']}, {safe(link['evidence'])}")
