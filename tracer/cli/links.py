"""`tracer links`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tracer.cli._base import cli, cli_errors


@cli.command(epilog="Example: tracer links result --min-value 100")
@click.argument("result", type=click.Path(file_okay=False, path_type=Path))
@click.option("--min-value", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="A hub links two cases only when at least this much taint from each of "
                   "them reached it.")
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "json"]), help="What to print.")
def links(result: Path, min_value: float, fmt: str) -> None:
    """Group the cases of a batch RESULT folder into networks that share hubs.

    Two cases are linked when an account (or entity) was reached from both, as an endpoint or
    an intermediary; networks are the connected groups of linked cases, with their shared hubs.
    """
    from tracer.batch import links as find_links
    from tracer.report.batch import links_text

    with cli_errors():
        found = find_links(result, min_value=min_value)
    click.echo(json.dumps(found, indent=2) if fmt == "json" else links_text(found))
