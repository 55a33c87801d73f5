"""`tracer explain`."""

from __future__ import annotations

from pathlib import Path

import click

from tracer.cli._base import cli, cli_errors


@cli.command(epilog="Example: tracer explain result-folder tron:TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE")
@click.argument("result", type=click.Path(file_okay=False, path_type=Path))
@click.argument("account")
@click.option(
    "--limit",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many chains to show.",
)
def explain(result: Path, account: str, limit: int) -> None:
    """How the taint reached ACCOUNT in a RESULT folder (tracer trace -o): the evidence
    chains, the rule's decision at each account, and the unexplained funds met on the way."""
    from tracer.report.explain import explain as render

    with cli_errors():
        click.echo(render(result, account, limit=limit))
