"""`tracer simulate`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tracer.cli._base import cli, cli_errors


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


@cli.command()
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the world into (created; must be empty).")
@click.option("--scale", default="small", show_default=True, type=Scale(),
              help="small (~20k transfers), medium (~1M), large (~10M) or a number of transfers.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="The same seed writes the same bytes.")
@click.option("--formats", default="native", show_default=True,
              type=click.Choice(["native", "canonical"]),
              help="native: the dumps as investigators get them (AMLworld, camt.053, Tronscan, "
                   "ethereum-etl, BigQuery Bitcoin); canonical: one transfers.csv.")
def simulate(output: Path, scale: str, seed: int, formats: str) -> None:
    """Write a simulated world of scams and ordinary life, with its ground truth.

    Victims pay mules, who forward to more mules and to OTC desks, who pay the gangs in USDT
    or bitcoin; the gangs' wallets hop, peel, mix and consolidate into laundering wallets and
    exchange deposits. Most of the volume is ordinary life. Beside the dumps: prices.csv,
    labels.csv (services only), cases.csv (victims' payments, for tracer batch) and truth/
    (for tracer evaluate).
    """
    from tracer.simulate import ingest_files
    from tracer.simulate import simulate as run

    def progress(day: int, days: int) -> None:
        if sys.stderr.isatty():
            click.echo(f"\r… day {day}/{days}", err=True, nl=day == days)

    with cli_errors():
        r = run(output, scale=scale, seed=seed, formats=formats, on_progress=progress)
        click.echo(f"World written to {output}/ (seed {seed}): {r.transfers:,} transfers, "
                   f"{r.scam_transfers:,} of them the scam's, {r.cases:,} cases, in "
                   f"{r.seconds:.1f} s ({r.rate:,.0f} transfers/s).")
        for name, rows in sorted(r.files.items()):
            click.echo(f"  {name}: {rows:,} rows")
        files = " ".join(str(p) for p in ingest_files(output)[:3])
        more = " ..." if len(ingest_files(output)) > 3 else ""
        click.echo(f"Ingest with: tracer ingest {files}{more} --labels {output}/labels.csv "
                   f"--prices {output}/prices.csv -w WS")
