"""`tracer entity`."""

from __future__ import annotations

from pathlib import Path

import click

from tracer.cli._base import cli, cli_errors, workspace_option


@cli.command(epilog="Example: tracer entity TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE -w ws")
@click.argument("account")
@workspace_option
def entity(account: str, workspace: Path) -> None:
    """Which accounts the entity of ACCOUNT holds, and why (the merges behind it).

    ACCOUNT is an account however written (a raw address, an IBAN, a bank account number, with
    or without its namespace, or cut short) or an entity's name."""
    from tracer.api import entity_members
    from tracer.report.text import safe

    with cli_errors():
        account = resolve_or_entity(workspace, account)
        name, members, links = entity_members(workspace, account)
    click.echo(
        f"{safe(account)} belongs to entity {safe(name)} ({len(members)} account"
        f"{'' if len(members) == 1 else 's'}):"
    )
    for row in members:
        label = f"  [{safe(row['label'])}]" if row["label"] else ""
        click.echo(f"  {safe(row['account'])}{label}")
    if links:
        click.echo("Merged because:")
        for link in links:
            click.echo(
                f"  {safe(link['account_a'])} + {safe(link['account_b'])}: "
                f"{link['reason']}, {safe(link['evidence'])}"
            )


def resolve_or_entity(workspace: Path, name: str) -> str:
    """The account id ``name`` stands for (a note on stderr when it was written otherwise),
    or ``name`` itself when it is an entity's name."""
    from tracer.errors import UnknownAccountError
    from tracer.lookup import resolve_names
    from tracer.workspace import Workspace

    ws = Workspace.open(workspace)
    try:
        (found,), notes = resolve_names(ws, [name])
    except UnknownAccountError:
        if not _is_entity(ws, name):
            raise
        return name
    for note in notes:
        click.echo(note, err=True)
    return found


def _is_entity(ws, name: str) -> bool:
    from tracer.lookup import _Ids

    return _Ids(ws.entity_graph.accounts).has(name)
