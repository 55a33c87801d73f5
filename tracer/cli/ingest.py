"""`tracer ingest`."""

from __future__ import annotations

from pathlib import Path

import click

from tracer.cli._base import cli, cli_errors, split_list, steps, workspace_option
from tracer.io import FORMATS


def _mapping(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in split_list(values):
        key, sep, col = item.partition("=")
        if not sep or not key.strip() or not col.strip():
            raise click.BadParameter(
                f"{item!r}: write FIELD=COLUMN, e.g. tx_id=Ref", param_hint="--map"
            )
        out[key.strip()] = col.strip()
    return out


def _unvalued(workspace: Path, unit: str, n: int) -> str:
    """What the transfers without value are in, and which prices would value them."""
    from tracer.ingest.value import missing_prices

    parts, need = [], set()
    for asset, k, days, first, last in missing_prices(workspace)[:5]:
        span = first if first == last else f"{first} to {last}"
        parts.append(f"{k} in {asset} ({days} day(s), {span})")
        need.update(a for a in (asset, unit) if a not in ("USD",))
    prices = " and ".join(sorted(need)) or unit
    return (
        f"{n} transfers have no value: {'; '.join(parts)}. To trace them, give the USD price "
        f"per day of {prices} with --prices (date,asset,usd)"
        + (
            "."
            if unit == "USD"
            else ", or change the unit with --unit USD (the workspace is re-valued)."
        )
    )


@cli.command(
    epilog="Example: tracer ingest transfers.csv --labels labels.csv --prices prices.csv -w ws"
)
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@workspace_option
@click.option(
    "--format",
    "fmt",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", *FORMATS]),
    help="Format of the transfer files; auto sniffs each file.",
)
@click.option(
    "--labels",
    "labels",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Labels file; repeatable. Formats: labels CSV (account,label[,name,entity,"
    "opening_balance,source,confidence]), GraphSense TagPack YAML, OFAC SDN "
    "address lists (sanctioned_addresses_<ASSET>.txt or .json); recognised by "
    "their content.",
)
@click.option(
    "--prices",
    "prices",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Prices CSV (date,asset,usd) to value transfers in the trace unit; repeatable.",
)
@click.option(
    "--unit",
    default=None,
    help="Trace unit (default USD; without prices or a value column, the file's "
    "asset). On a workspace in another unit, its values are re-valued in this "
    "one with the prices (tracer ingest -w WS --unit USD --prices prices.csv).",
)
@click.option(
    "--map",
    "mapping",
    multiple=True,
    metavar="FIELD=COLUMN,...",
    help="With --format generic: which column holds tx_id, timestamp, src, dst, "
    "amount, asset (and optionally value).",
)
@click.option(
    "--date-format",
    default=None,
    metavar="FORMAT",
    help="With --format generic: strftime format of the timestamp column, e.g. '%d/%m/%Y %H:%M'.",
)
@click.option(
    "--encoding",
    default=None,
    metavar="CODEC",
    help="Encoding of the text files when not UTF-8, e.g. latin-1 or cp1252 (UTF-16 "
    "with a byte order mark is read as such). A file that is not valid UTF-8 is "
    "refused unless this is given.",
)
def ingest(
    files: tuple[Path, ...],
    workspace: Path,
    fmt: str,
    labels: tuple[Path, ...],
    prices: tuple[Path, ...],
    unit: str | None,
    mapping: tuple[str, ...],
    date_format: str | None,
    encoding: str | None,
) -> None:
    """Load transfer FILES, labels and prices into a workspace (created if missing).

    Canonical columns: tx_id,timestamp,src,dst,amount,asset, optional value and any extra
    columns (kept). Bad rows go to rejects.parquet with the reason; each file's counts are
    printed (read = ingested + rejected). Ingesting the same file again changes nothing.
    """
    from tracer.ingest import ingest as do_ingest
    from tracer.workspace import Workspace

    if not files and not labels and not prices and not unit:
        raise click.UsageError("give at least one FILE, --labels FILE, --prices FILE or --unit")
    options = {"map": _mapping(mapping), "date_format": date_format, "encoding": encoding}
    with cli_errors():
        if encoding:
            from tracer.io.common import reset_encoding, use_encoding

            reset_encoding(use_encoding(encoding))  # an unknown name fails before anything
        with steps() as on_step:
            reports = do_ingest(
                workspace,
                files,
                labels=labels,
                prices=prices,
                unit=unit,
                fmt=fmt,
                options=options,
                on_step=on_step,
            )
        for r in reports:
            what = "" if r.kind == "transfers" else f" ({r.kind})"
            if r.status == "unchanged":
                click.echo(f"{r.path}{what}: unchanged (already in the workspace)")
                continue
            line = f"{r.path}{what}: read {r.read}, ingested {r.ingested}, rejected {r.rejected}"
            if r.unvalued:
                line += f", without value {r.unvalued}"
            click.echo(line)
            for note in r.notes:
                click.echo(f"  note: {note}")
        ws = Workspace.open(workspace)
        t = ws.manifest["tables"]
        click.echo(
            f"Workspace {workspace}: {t['transfers']} transfers, {t['accounts']} accounts, "
            f"{t['rejects']} rejected rows (rejects.parquet); trace unit {ws.unit or 'not set yet'}."
        )
        if t.get("unvalued"):
            click.echo(_unvalued(workspace, ws.unit, t["unvalued"]))
