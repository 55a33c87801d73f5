"""`tracer evaluate`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tracer.cli._base import cli, cli_errors


@cli.command(epilog="Example: tracer evaluate result --truth world/truth -w ws")
@click.argument("results", nargs=-1, required=True,
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--truth", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The truth/ folder of the world (written by tracer simulate).")
@click.option("-w", "--workspace", type=click.Path(file_okay=False, path_type=Path),
              help="The workspace the results were traced on (needed at entity level, to map "
                   "the truth's accounts to entities).")
@click.option("--case", default=None, metavar="ID",
              help="Score only this case (or name the case of a trace whose seeds the truth "
                   "does not know).")
@click.option("--threshold", default=0.005, show_default=True, type=click.FloatRange(0, 1),
              help="Endpoints holding less than this share of a case's loss are left out of "
                   "the endpoint counts.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1),
              help="Cases listed in the table.")
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "json"]), help="What to print.")
def evaluate(results: tuple[Path, ...], truth: Path, workspace: Path | None, case: str | None,
             threshold: float, limit: int, fmt: str) -> None:
    """Score trace or batch RESULTS against a simulated world's truth.

    Per case and overall: the share of the victim's loss put where the truth says it rests
    (recall), the share put on accounts outside the scam network (false attribution), and
    endpoint precision and recall. Several results (one per rule, say) are compared side by
    side.
    """
    from tracer.evaluate import evaluate as run
    from tracer.evaluate import score_text

    with cli_errors():
        scores = run(list(results), truth, workspace=workspace, case=case, threshold=threshold)
        if fmt == "json":
            click.echo(json.dumps({"truth": str(truth), "threshold": threshold,
                                   "results": [s.to_dict() for s in scores]},
                                  indent=2, allow_nan=False))
        else:
            click.echo(score_text(scores, truth, limit=limit))
