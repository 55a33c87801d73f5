"""`tracer simulate`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tracer.cli._base import cli, cli_errors
from tracer.simulate.params import BEHAVIOURS


class Scale(click.ParamType):
    """small, medium, large or a number of transfers (250000, 2m, 500k)."""

    name = "small|medium|large|N"

    def convert(self, value, param, ctx):
        from tracer.errors import InputError
        from tracer.simulate.params import world_for

        try:
            world_for(value)
        except InputError as exc:
            self.fail(str(exc).partition(": ")[2] or str(exc), param, ctx)
        return value


@cli.command(
    epilog="Example: tracer simulate -o world --scale 100000 --seed 3 --behaviour busy-desks"
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the world into (created; must be empty).",
)
@click.option(
    "--scale",
    default="small",
    show_default=True,
    type=Scale(),
    help="small (~20k transfers), medium (~1M), large (~10M) or a number of transfers.",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="The same seed writes the same bytes.",
)
@click.option(
    "--formats",
    default="native",
    show_default=True,
    type=click.Choice(["native", "canonical"]),
    help="native: the dumps as investigators get them (AMLworld, camt.053, Tronscan, "
    "ethereum-etl, BigQuery Bitcoin); canonical: one transfers.csv.",
)
@click.option(
    "--behaviour",
    "behaviour",
    default="realistic",
    show_default=True,
    type=click.Choice(list(BEHAVIOURS)),
    help="How gangs, mules and desks behave: realistic; fast (forwards within "
    "minutes, thin cuts); slow (hours to days, cuts up to 10%); structured "
    "(every large forward split, two second-layer mules, more pooling); "
    "busy-desks (8x the desks' other customers); simple (dedicated mules, desks "
    "without other customers or restocking, no mixer); long-chains (peel chains "
    "of 4-10, weekly consolidation); direct (no consolidation wallets, no peel "
    "chains).",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="Change one parameter of the behaviour (repeatable): a number "
    "(split_p=0.9), a range a:b (l1_delay_min=5:60, peel_hops=0:0) or true/false "
    "(mixer=false). The keys are listed in tracer.simulate.params.Behaviour and "
    "the README.",
)
def simulate(
    output: Path, scale: str, seed: int, formats: str, behaviour: str, settings: tuple[str, ...]
) -> None:
    """Write a simulated world of scams and ordinary life, with its ground truth.

    Victims pay mules, who forward to more mules and to OTC desks, who pay the gangs in USDT
    or bitcoin; the gangs' wallets hop, peel, mix and consolidate into laundering wallets and
    exchange deposits. Most of the volume is ordinary life. Beside the dumps: prices.csv,
    labels.csv (services only), cases.csv (victims' payments, for tracer batch) and truth/
    (for tracer evaluate). world.json records the behaviour: its name and what differs from
    the realistic world.
    """
    from tracer.simulate import ingest_files
    from tracer.simulate import simulate as run

    def progress(day: int, days: int) -> None:
        if sys.stderr.isatty():
            click.echo(f"\r… day {day}/{days}", err=True, nl=day == days)

    with cli_errors():
        r = run(
            output,
            scale=scale,
            seed=seed,
            formats=formats,
            behaviour=behaviour,
            settings=settings,
            on_progress=progress,
        )
        how = (
            ""
            if behaviour == "realistic" and not settings
            else f", behaviour {behaviour}" + "".join(f" {s}" for s in settings)
        )
        click.echo(
            f"World written to {output}/ (seed {seed}{how}): {r.transfers:,} transfers, "
            f"{r.scam_transfers:,} of them the scam's, {r.cases:,} cases, in "
            f"{r.seconds:.1f} s ({r.rate:,.0f} transfers/s)."
        )
        for name, rows in sorted(r.files.items()):
            click.echo(f"  {name}: {rows:,} rows")
        files = " ".join(str(p) for p in ingest_files(output)[:3])
        more = " ..." if len(ingest_files(output)) > 3 else ""
        click.echo(
            f"Ingest with: tracer ingest {files}{more} --labels {output}/labels.csv "
            f"--prices {output}/prices.csv -w WS"
        )
