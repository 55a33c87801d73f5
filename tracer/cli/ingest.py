"""`tracer ingest`."""

from __future__ import annotations

from pathlib import Path

import click

from tracer.cli._base import cli, cli_errors, status, workspace_option


@cli.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@workspace_option
@click.option("--format", "fmt", default="canonical", show_default=True,
              type=click.Choice(["canonical"]), help="Format of the transfer files.")
@click.option("--labels", "labels", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Labels CSV (account,label[,name,entity,opening_balance]); repeatable.")
@click.option("--unit", default=None,
              help="Trace unit of the value column (default USD; without a value column the "
                   "file's single asset).")
def ingest(files: tuple[Path, ...], workspace: Path, fmt: str, labels: tuple[Path, ...],
           unit: str | None) -> None:
    """Load transfer FILES (CSV or Parquet) and labels into a workspace.

    Canonical columns: tx_id,timestamp,src,dst,amount,asset, optional value and any extra
    columns (kept). Bad rows go to rejects.parquet with the reason; each file's counts are
    printed (read = ingested + rejected). Ingesting the same file again changes nothing.
    """
    from tracer.workspace import Workspace
    from tracer.workspace import ingest as do_ingest

    if not files and not labels:
        raise click.UsageError("give at least one FILE or --labels FILE")
    with cli_errors():
        reports = do_ingest(workspace, files, labels=labels, unit=unit, fmt=fmt,
                            on_step=status)
        for r in reports:
            what = "" if r.kind == "transfers" else " (labels)"
            if r.status == "unchanged":
                click.echo(f"{r.path}{what}: unchanged (already in the workspace)")
                continue
            line = f"{r.path}{what}: read {r.read}, ingested {r.ingested}, rejected {r.rejected}"
            if r.unvalued:
                line += f", without value {r.unvalued}"
            click.echo(line)
        ws = Workspace.open(workspace)
        t = ws.manifest["tables"]
        click.echo(f"Workspace {workspace}: {t['transfers']} transfers, {t['accounts']} accounts, "
                   f"{t['rejects']} rejected rows (rejects.parquet); trace unit {ws.unit}.")
