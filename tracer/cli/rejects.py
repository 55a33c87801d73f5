"""`tracer rejects`."""

from __future__ import annotations

from pathlib import Path

import click

from tracer.cli._base import cli, cli_errors, workspace_option

EXAMPLES = 3  # rows shown for each file and reason


@cli.command(epilog="Example: tracer rejects -w ws --format csv -o rejects.csv")
@workspace_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv"]),
    default="table",
    show_default=True,
    help="table: counts by file and reason, with a few rows each; csv: every rejected "
    "row (source, source_row, reason, raw), for a spreadsheet.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --format csv: the file to write (default: standard output).",
)
def rejects(workspace: Path, fmt: str, output: Path | None) -> None:
    """The rows ingest rejected, and why: by file and reason.

    Every rejected row is kept in the workspace (rejects.parquet) with its reason and the raw
    row. In CSV, cells a spreadsheet would run as a formula get a leading apostrophe."""
    import polars as pl

    from tracer.errors import InputError
    from tracer.report.csv import ENCODING, rows_csv
    from tracer.report.text import safe
    from tracer.workspace import Workspace

    with cli_errors():
        if output is not None and fmt != "csv":
            raise InputError("-o: only with --format csv (the table is printed).")
        ws = Workspace.open(workspace)
        df = ws.table("rejects").sort("source", "source_row", "reason", nulls_last=True)
        if fmt == "csv":
            body = rows_csv(
                ("source", "source_row", "reason", "raw"),
                df.select("source", "source_row", "reason", "raw").iter_rows(),
            )
            if output is None:
                click.echo(body, nl=False)
            else:
                tmp = output.with_name(f".{output.name}.tmp")
                tmp.write_bytes(body.encode(ENCODING))
                tmp.replace(output)
                click.echo(
                    f"{df.height} rejected row{'' if df.height == 1 else 's'} written to {output}",
                    err=True,
                )
            return
    if df.height == 0:
        click.echo("No rejected rows: every row read was ingested.")
        return
    files = df.get_column("source").n_unique()
    click.echo(
        f"{df.height} rejected row{'' if df.height == 1 else 's'} in {files} "
        f"file{'' if files == 1 else 's'}:"
    )
    for (source,), part in df.group_by("source", maintain_order=True):
        click.echo("")
        click.echo(f"{safe(source, 120)}: {part.height} row{'' if part.height == 1 else 's'}")
        reasons = (
            part.group_by("reason")
            .agg(pl.len().alias("n"), pl.col("source_row").min().alias("first"))
            .sort(["n", "first"], descending=[True, False])
        )
        for reason, n, _first in reasons.iter_rows():
            click.echo(f"  {n:>8,}  {safe(reason, 160)}")
            rows = part.filter(pl.col("reason") == reason).head(EXAMPLES)
            for row, raw in rows.select("source_row", "raw").iter_rows():
                click.echo(f"            row {row}: {safe(raw, 100)}")
    click.echo("")
    click.echo(
        "All rows: tracer rejects --format csv -o FILE (or rejects.parquet in the workspace)."
    )
