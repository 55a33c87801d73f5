"""`tracer evaluate`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tracer.cli._base import cli, cli_errors


@cli.command(epilog="Example: tracer evaluate result --truth world/truth -w ws")
@click.argument("results", nargs=-1, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--truth",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The truth/ folder of the world (written by tracer simulate).",
)
@click.option(
    "-w",
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    help="The workspace the results were traced on (needed at entity level, to map "
    "the truth's accounts to entities).",
)
@click.option(
    "--case",
    default=None,
    metavar="ID",
    help="Score only this case (or name the case of a trace whose seeds the truth does not know).",
)
@click.option(
    "--threshold",
    default=0.005,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Endpoints holding less than this share of a case's loss are left out of "
    "the endpoint counts.",
)
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="Cases listed in the table.",
)
@click.option(
    "--links",
    "links_of",
    default=None,
    metavar="RESULT|JSON",
    type=click.Path(path_type=Path),
    help="Score case networks instead: those of a batch RESULT folder (drawn as "
    "tracer links draws them by default) or the JSON of tracer links --format "
    "json, against the truth's gangs (pairwise precision and recall).",
)
@click.option(
    "--format",
    "fmt",
    default="table",
    show_default=True,
    type=click.Choice(["table", "json"]),
    help="What to print.",
)
def evaluate(
    results: tuple[Path, ...],
    truth: Path,
    workspace: Path | None,
    case: str | None,
    threshold: float,
    limit: int,
    links_of: Path | None,
    fmt: str,
) -> None:
    """Score trace or batch RESULTS against a simulated world's truth.

    Per case and overall: the share of the victim's loss put where the truth says it rests
    (recall), the share put on accounts outside the scam network (false attribution), and
    endpoint precision and recall. Several results (one per rule, say) are compared side by
    side.

    With --links, the networks of cases (tracer links) are scored instead: of the pairs of
    cases put in one network, the share that one gang holds (precision), and of the pairs of
    cases of one gang, the share put in one network (recall).
    """
    from tracer.evaluate import evaluate as run
    from tracer.evaluate import links_score_text, score_links, score_text

    if links_of is not None:
        if results:
            raise click.UsageError("give RESULTS or --links, not both.")
        with cli_errors():
            found = score_links(links_of, truth)
        click.echo(
            json.dumps(found, indent=2, allow_nan=False)
            if fmt == "json"
            else links_score_text(found)
        )
        return
    if not results:
        raise click.UsageError("give the RESULTS to score (or --links RESULT).")
    with cli_errors():
        scores = run(list(results), truth, workspace=workspace, case=case, threshold=threshold)
        if fmt == "json":
            click.echo(
                json.dumps(
                    {
                        "truth": str(truth),
                        "threshold": threshold,
                        "results": [s.to_dict() for s in scores],
                    },
                    indent=2,
                    allow_nan=False,
                )
            )
        else:
            click.echo(score_text(scores, truth, limit=limit))
