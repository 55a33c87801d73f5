"""The command line: a thin shell over ``tracer.api`` and ``tracer.report``."""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from tracer import __version__
from tracer.errors import TracerError
from tracer.rules import RULES

__all__ = ["cli", "main"]


@contextmanager
def cli_errors() -> Iterator[None]:
    """Domain errors and OS errors become one line and exit status 1; never a traceback."""
    try:
        yield
    except TracerError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        raise click.ClickException(f"{where}{exc.strerror or exc}") from exc


class TracerGroup(click.Group):
    """Every error, usage errors included, is one line on stderr and exit status 1."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            cmd = exc.ctx.command_path if exc.ctx else "tracer"
            click.echo(f"Error: {exc.format_message()} (see '{cmd} --help')", err=True)
            sys.exit(1)
        except click.ClickException as exc:
            exc.show()
            sys.exit(1)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        sys.exit(rv if isinstance(rv, int) else 0)


class Timestamp(click.ParamType):
    """ISO 8601 date or date-time; without a zone it is UTC."""

    name = "TIME"

    def convert(self, value, param, ctx):
        if isinstance(value, dt.datetime):
            return value
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time (e.g. 2025-03-01 or "
                      "2025-03-01T12:00:00Z)", param, ctx)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


class Duration(click.ParamType):
    """``30d``, ``12h``, ``1d12h``, ``90m``, ``45s``, ``2w``."""

    name = "DURATION"
    _PART = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")
    _UNIT = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}

    def convert(self, value, param, ctx):
        if isinstance(value, dt.timedelta):
            return value
        text = value.strip().lower()
        parts = self._PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            self.fail(f"{value!r} is not a duration; write e.g. 30d, 12h, 1d12h, 90m or 2w",
                      param, ctx)
        return dt.timedelta(seconds=sum(float(n) * self._UNIT[u] for n, u in parts))


def _split(values: tuple[str, ...]) -> list[str]:
    """Repeated options and comma-separated lists, in order."""
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


workspace_option = click.option(
    "-w", "--workspace", "workspace", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="Workspace folder (created by ingest).")


@click.group(cls=TracerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tracer")
def cli() -> None:
    """Trace the proceeds of scams through bank accounts and crypto wallets.

    Load dumps into a workspace with `tracer ingest`, then follow a victim's money with
    `tracer trace`.
    """


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
    from tracer.workspace import Workspace, ingest as do_ingest

    if not files and not labels:
        raise click.UsageError("give at least one FILE or --labels FILE")
    with cli_errors():
        reports = do_ingest(workspace, files, labels=labels, unit=unit, fmt=fmt,
                            on_step=_status)
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


def _status(message: str) -> None:
    if sys.stderr.isatty():
        click.echo(f"… {message}", err=True)


@cli.command()
@workspace_option
@click.option("--tx", "tx_ids", multiple=True, metavar="ID",
              help="Seed transfer id (the victim's payment); repeat or separate with commas.")
@click.option("--from", "from_accounts", multiple=True, metavar="ACCOUNT",
              help="Seed every outflow of this account; repeat or separate with commas.")
@click.option("--since", type=Timestamp(), help="With --from: outflows at or after this time.")
@click.option("--until", type=Timestamp(), help="With --from: outflows at or before this time.")
@click.option("--rule", default="fifo", show_default=True, type=click.Choice(list(RULES)),
              help="How an outflow draws on a mixed pool.")
@click.option("--stop-at", default="exchange", show_default=True, metavar="LABEL,...",
              help="Labels whose accounts keep what reaches them (empty: stop nowhere).")
@click.option("--max-hops", type=click.IntRange(min=1), help="Stop following after N hops.")
@click.option("--horizon", type=Duration(), help="Replay only this long after the earliest seed.")
@click.option("--min-amount", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="Taint below this per transfer is dropped as dust.")
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "json"]), help="What to print.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Write the result tables (Parquet) and result.json to this folder.")
def trace(workspace: Path, tx_ids: tuple[str, ...], from_accounts: tuple[str, ...], since,
          until, rule: str, stop_at: str, max_hops: int | None, horizon, min_amount: float,
          fmt: str, output: Path | None) -> None:
    """Follow a victim's money forward from seed transfers, under a tracing rule."""
    from tracer import api
    from tracer.report.files import to_json, write_result
    from tracer.report.text import trace_table
    from tracer.workspace import Workspace

    if bool(tx_ids) == bool(from_accounts):
        raise click.UsageError("give seeds with --tx ID or with --from ACCOUNT (one of them)")
    with cli_errors():
        ws = Workspace.open(workspace)
        result = api.trace(
            ws,
            tx_ids=_split(tx_ids) if tx_ids else None,
            from_accounts=_split(from_accounts) if from_accounts else None,
            since=since, until=until, rule=rule, stop_at=_split((stop_at,)),
            max_hops=max_hops, horizon=horizon, min_amount=min_amount,
        )
        if output is not None:
            write_result(result, output)
        click.echo(to_json(result) if fmt == "json" else trace_table(result), nl=fmt != "json")
        if output is not None and fmt != "json":
            click.echo(f"Result written to {output}/")


def main() -> None:
    cli()
