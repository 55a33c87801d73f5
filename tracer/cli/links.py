"""`tracer links`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tracer.cli._base import cli, cli_errors
from tracer.links import (
    DEFAULT_IGNORE,
    DEFAULT_MAX_SHARE,
    DEFAULT_MIN_CASE_SHARE,
    DEFAULT_MIN_WEIGHT,
)


@cli.command(epilog="Example: tracer links result --max-share 0.3 --ignore-labels exchange,otc")
@click.argument("result", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--ignore-labels",
    default=",".join(DEFAULT_IGNORE),
    show_default=True,
    metavar="LABEL,...",
    help="Hubs with these labels are services, shared by everybody, and link nothing. "
    "sanctioned-service: a sanctioned address that the labels group with others "
    "under one entity (a sanctioned exchange); sanctioned: every sanctioned "
    "address. none: keep every hub.",
)
@click.option(
    "--min-case-share",
    default=DEFAULT_MIN_CASE_SHARE,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="A hub counts for a case only when at least this share of the case's traced "
    "value reached it.",
)
@click.option(
    "--max-share",
    default=DEFAULT_MAX_SHARE,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="A hub reached from more than this share of the batch's cases links nothing; "
    "below it a hub weighs ln(cases / cases reaching it).",
)
@click.option(
    "--min-weight",
    default=DEFAULT_MIN_WEIGHT,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Two groups of cases join while their average link weight (the summed "
    "weights of the hubs a pair of cases shares) is at least this. 0 with "
    "--max-share 1 --min-case-share 0 --ignore-labels none: every shared hub "
    "links.",
)
@click.option(
    "--min-value",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="A hub counts for a case only when at least this much taint from the case reached it.",
)
@click.option(
    "--format",
    "fmt",
    default="table",
    show_default=True,
    type=click.Choice(["table", "json"]),
    help="What to print.",
)
def links(
    result: Path,
    ignore_labels: str,
    min_case_share: float,
    max_share: float,
    min_weight: float,
    min_value: float,
    fmt: str,
) -> None:
    """Group the cases of a batch RESULT folder into networks that share hubs.

    A hub (an account or entity reached from several cases, as an endpoint or an intermediary)
    links cases when it is not a service and few cases reach it: it weighs ln(N/n) for n of
    the N cases. Networks grow by average linkage over the cases' summed hub weights, so a case
    that leaks into a second gang's wallets does not merge the two gangs. Score networks
    against a simulated world with: tracer evaluate --links RESULT --truth WORLD/truth
    """
    from tracer.links import links as find_links
    from tracer.links import parse_labels
    from tracer.report.batch_text import links_text

    with cli_errors():
        found = find_links(
            result,
            min_value=min_value,
            min_case_share=min_case_share,
            max_share=max_share,
            min_weight=min_weight,
            ignore_labels=parse_labels(ignore_labels),
        )
    click.echo(json.dumps(found, indent=2) if fmt == "json" else links_text(found))
