"""`tracer report`."""

from __future__ import annotations

import os
from pathlib import Path

import click

from tracer.cli._base import cli, cli_errors

FORMATS = ("html", "csv", "graphml", "gexf", "ftm")
TABLES = ("endpoints", "flows", "holdings", "allocations", "paths", "requests", "cases", "hubs")
DEFAULT_NAME = {
    "html": "report.html",
    "graphml": "flows.graphml",
    "gexf": "flows.gexf",
    "ftm": "entities.ftm.json",
}


def _workspace_rows(data, workspace: Path | None):
    """(accounts, transfers) rows for the FtM export, from the workspace the result names;
    (None, None) with a note when it cannot be opened."""
    import polars as pl

    from tracer.errors import TracerError
    from tracer.report.text import safe
    from tracer.workspace import Workspace

    path = workspace or Path(((data.manifest or {}).get("workspace") or {}).get("path") or "")
    try:
        if not str(path):
            raise FileNotFoundError("no workspace recorded")
        ws = Workspace.open(path)
        tx_ids = data.flows.column("tx_id").to_pylist()
        transfers = (
            ws.scan("transfers")
            .filter(pl.col("tx_id").is_in(tx_ids))
            .select("tx_id", "src", "dst", "asset", "amount")
            .collect()
        )
        names = set(data.holdings.column("account").to_pylist())
        names.update(transfers.get_column("src").to_list(), transfers.get_column("dst").to_list())
        accounts = (
            ws.scan("accounts")
            .filter(pl.col("account").is_in(sorted(names)))
            .select("account", "label", "name", "entity")
            .collect()
        )
        members = (
            ws.scan("accounts")
            .filter(pl.col("entity").is_in(accounts.get_column("entity").unique().to_list()))
            .select("account", "label", "name", "entity")
            .collect()
        )
        return members.to_dicts(), transfers.to_dicts()
    except (TracerError, OSError) as exc:
        click.echo(
            f"Note: workspace {safe(path)} not available ({safe(exc)}): accounts carry "
            "no names or owners and payments are in the trace unit. Give -w DIR.",
            err=True,
        )
        return None, None


def _write(target: Path, body: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(body)
    os.replace(tmp, target)


def _batch_report(folder: Path, fmt: str, table: str, output: Path | None) -> None:
    """tracer report on a batch folder: its HTML pages, or one of its tables as CSV."""
    from tracer.errors import InputError
    from tracer.report.batch_folder import batch_pages, batch_table_csv
    from tracer.report.csv import ENCODING

    if fmt == "csv":
        body = batch_table_csv(folder, table).encode(ENCODING)
        if output is not None and str(output) == "-":
            click.echo(body, nl=False)
            return
        target = output or folder / f"{table}.csv"
        _write(target, body)
        click.echo(f"Report written to {target}")
        return
    if fmt != "html":
        raise InputError(
            f"{folder} is a batch folder: tracer report writes its pages (html) or "
            "its tables (csv); for --format graphml, gexf or ftm, report on one "
            "case's trace result."
        )
    if output is not None and str(output) == "-":
        raise InputError("The HTML of a batch folder is several pages: give -o DIR, not -.")
    target = output or folder / "report"
    if target.exists() and not target.is_dir():
        raise InputError(f"{target} is a file: the HTML of a batch folder needs a folder (-o DIR).")
    pages = batch_pages(folder)
    for name, text in pages.items():
        _write(target / name, text.encode("utf-8"))
    click.echo(
        f"Report written to {target / 'index.html'} ({len(pages) - 1:,} case pages beside it)"
    )


@cli.command(epilog="Example: tracer report result --format html -o report.html")
@click.argument("result", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    default="html",
    show_default=True,
    type=click.Choice(FORMATS),
    help="html: one self-contained page; csv: a table for spreadsheets; graphml, "
    "gexf: the flow graph for Gephi; ftm: FollowTheMoney entities for Aleph.",
)
@click.option(
    "--table",
    default="endpoints",
    show_default=True,
    type=click.Choice(TABLES),
    help="With --format csv: which table (of a batch folder: cases, endpoints or hubs).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(allow_dash=True, path_type=Path),
    help="File to write ('-': standard output). Default: in RESULT, report.html, "
    "<table>.csv, flows.graphml, flows.gexf or entities.ftm.json. For the HTML "
    "of a batch folder: the folder of its pages (default RESULT/report).",
)
@click.option(
    "-w",
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --format html or ftm: the workspace, for names (default: the one in "
    "RESULT/manifest.json).",
)
def report(result: Path, fmt: str, table: str, output: Path | None, workspace: Path | None) -> None:
    """Render a trace result folder (written by tracer trace -o DIR) for people and tools.

    On a batch folder (written by tracer batch -o DIR): --format html writes an index of the
    cases (report/index.html) with one page per case beside it; --format csv writes the table
    cases, endpoints or hubs.

    Text from the data is escaped in HTML and XML, and CSV cells that a spreadsheet would run
    as a formula (starting with = + - @, tab or CR) get a leading apostrophe.
    """
    from tracer.errors import InputError
    from tracer.report.csv import ENCODING, table_csv
    from tracer.report.custody import load_folder

    with cli_errors():
        from tracer.report.batch_folder import is_batch_folder

        if is_batch_folder(result):
            _batch_report(result, fmt, table, output)
            return
        data = load_folder(result)
        if fmt == "html":
            from tracer.report.html import render_html
            from tracer.report.layout import account_names
            from tracer.report.text import safe

            names, why = account_names(data, workspace)
            if why:
                click.echo(
                    f"Note: workspace not available ({safe(why)}): the report shows "
                    "account ids without names. Give -w DIR.",
                    err=True,
                )
            body = render_html(data, names=names).encode("utf-8")
        elif fmt == "csv":
            if table == "requests":
                if not (result / "requests.csv").is_file():
                    raise InputError(f"{result}: no requests.csv (written by tracer trace -o DIR).")
                body = (result / "requests.csv").read_bytes()
            else:
                chosen = getattr(data, table, None)
                if chosen is None:
                    raise InputError(f"{result}: no {table}.parquet in this result.")
                body = table_csv(chosen).encode(ENCODING)
        elif fmt in ("graphml", "gexf"):
            from tracer.report.graph import to_gexf, to_graphml

            body = (to_graphml if fmt == "graphml" else to_gexf)(data)
        else:
            from tracer.report.ftm import to_ftm

            accounts, transfers = _workspace_rows(data, workspace)
            body = to_ftm(data, accounts, transfers).encode("utf-8")
        if output is not None and str(output) == "-":
            click.echo(body, nl=False)
            return
        target = output or result / (f"{table}.csv" if fmt == "csv" else DEFAULT_NAME[fmt])
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(body)
        os.replace(tmp, target)
    click.echo(f"Report written to {target}")
