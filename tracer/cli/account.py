"""`tracer account`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tracer.cli._base import cli, cli_errors, workspace_option


@cli.command(
    epilog="Example: tracer account TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE -w ws --batch batch-result"
)
@click.argument("account")
@workspace_option
@click.option(
    "--batch",
    "batch",
    type=click.Path(file_okay=False, path_type=Path),
    help="A tracer batch -o folder: list its cases that pass through or rest at the account.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "html"]),
    default="table",
    show_default=True,
    help="table: for reading; json: for tools; html: a page with a balance chart (-o FILE).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (html: required; table and json: default standard output).",
)
def account(
    account: str, workspace: Path, batch: Path | None, fmt: str, output: Path | None
) -> None:
    """What is known of ACCOUNT: labels (and conflicts), entity and why, first and last seen,
    counts and sums in and out by asset, largest counterparties, balance over time, and the
    cases of a batch that touch it.

    ACCOUNT is written however: a raw address, an IBAN, a bank account number, with or without
    its namespace, or cut short."""
    from tracer.account import account_summary, summary_html, summary_text
    from tracer.errors import InputError
    from tracer.workspace import Workspace

    with cli_errors():
        if fmt == "html" and output is None:
            raise InputError("--format html: give the file to write with -o FILE.")
        s = account_summary(Workspace.open(workspace), account, batch)
        for note in s["notes"]:
            click.echo(note, err=True)
        body = (
            summary_html(s)
            if fmt == "html"
            else json.dumps(s, indent=1, sort_keys=True) + "\n"
            if fmt == "json"
            else summary_text(s) + "\n"
        )
        if output is None:
            click.echo(body, nl=False)
        else:
            tmp = output.with_name(f".{output.name}.tmp")
            tmp.write_text(body, encoding="utf-8")
            tmp.replace(output)
            click.echo(f"Written to {output}", err=True)
