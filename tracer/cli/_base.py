"""Shared pieces of the command line: the group, error handling, option types."""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from tracer import __version__
from tracer.errors import TracerError

__all__ = [
    "cli",
    "cli_errors",
    "Timestamp",
    "Duration",
    "split_list",
    "workspace_option",
    "steps",
    "trace_options",
]


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
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            sys.exit(0)
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
            self.fail(
                f"{value!r} is not an ISO 8601 time (e.g. 2025-03-01 or 2025-03-01T12:00:00Z)",
                param,
                ctx,
            )
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


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
            self.fail(
                f"{value!r} is not a duration; write e.g. 30d, 12h, 1d12h, 90m or 2w", param, ctx
            )
        return dt.timedelta(seconds=sum(float(n) * self._UNIT[u] for n, u in parts))


def split_list(values: tuple[str, ...]) -> list[str]:
    """Repeated options and comma-separated lists, in order."""
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


workspace_option = click.option(
    "-w",
    "--workspace",
    "workspace",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Workspace folder (created by ingest).",
)


_OPTION_NAMES = (
    "rule",
    "fallback",
    "match_window",
    "match_cut",
    "match_over",
    "match_group",
    "stop_at",
    "max_hops",
    "horizon",
    "min_amount",
    "level",
)


def trace_options(func: Callable | None = None, *, stop_at: str = "exchange") -> Callable:
    """The options every tracing command takes (``trace``, ``batch``, ``trace-back``), given to
    the command as one ``options`` argument, a ``tracer.options.TraceOptions`` (not checked
    yet: the library checks it). ``@trace_options`` or ``@trace_options(stop_at="")`` (the
    default of ``--stop-at``)."""
    if func is None:
        return lambda f: trace_options(f, stop_at=stop_at)
    import functools

    from tracer.options import DEFAULT_RULE, TraceOptions
    from tracer.rules import FALLBACKS, RULES

    defaults = TraceOptions()
    stack = [
        click.option(
            "--rule",
            default=DEFAULT_RULE,
            show_default=True,
            type=click.Choice(list(RULES)),
            help="How an outflow draws on a mixed pool: match pairs it with the inflows "
            "it forwards, the others are the classic rules (docs/semantics.md).",
        ),
        click.option(
            "--fallback",
            default=defaults.fallback,
            show_default=True,
            type=click.Choice(list(FALLBACKS)),
            help="match: the rule for what no pairing explains.",
        ),
        click.option(
            "--match-window",
            default="3d",
            show_default=True,
            type=Duration(),
            help="match: an outflow pairs with inflows at most this long before it.",
        ),
        click.option(
            "--match-cut",
            default=defaults.match_cut,
            show_default=True,
            type=click.FloatRange(min=0, max=1, max_open=True),
            help="match: an outflow may forward as little as 1 - CUT of what it pairs "
            "with (a cut, a spread, fees).",
        ),
        click.option(
            "--match-over",
            default=defaults.match_over,
            show_default=True,
            type=click.FloatRange(min=0),
            help="match: ... or as much as 1 + OVER of it (prices moving).",
        ),
        click.option(
            "--match-group",
            default=defaults.match_group,
            show_default=True,
            type=click.IntRange(min=1),
            help="match: at most this many inflows and outflows in one group.",
        ),
        click.option(
            "--stop-at",
            default=stop_at,
            show_default=True,
            metavar="LABEL,...",
            help="Labels whose accounts keep what reaches them (empty: stop nowhere).",
        ),
        click.option("--max-hops", type=click.IntRange(min=1), help="Stop following after N hops."),
        click.option(
            "--horizon",
            type=Duration(),
            help="Replay only this long after the earliest seed (of each case, in a batch).",
        ),
        click.option(
            "--min-amount",
            default=0.0,
            show_default=True,
            type=click.FloatRange(min=0),
            help="Taint below this per transfer is dropped as dust.",
        ),
        click.option(
            "--level",
            default="account",
            show_default=True,
            type=click.Choice(["account", "entity"]),
            help="Trace between accounts, or between entities (an owner's accounts are "
            "one pool, across assets).",
        ),
    ]

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        given = {name: kwargs.pop(name) for name in _OPTION_NAMES}
        given["stop_at"] = tuple(split_list((given["stop_at"],)))
        kwargs["options"] = TraceOptions(**given)
        return func(*args, **kwargs)

    for option in reversed(stack):
        wrapper = option(wrapper)
    return wrapper


@click.group(cls=TracerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tracer")
def cli() -> None:
    """Trace the proceeds of scams through bank accounts and crypto wallets.

    Load dumps into a workspace with `tracer ingest`, then follow a victim's money with
    `tracer trace`.
    """


@contextmanager
def steps() -> Iterator[Callable[..., None]]:
    """Progress on stderr, when it is a terminal (silent for pipes, logs and tests): the
    current step of long work, and, when the step says how far it is (``done`` of
    ``total``), a bar with the time left. Yields ``on_step(message, done=None, total=None)``."""
    if not sys.stderr.isatty():
        yield lambda *_args, **_kwargs: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=None)
        current = [""]

        def on_step(message: str, done: int | None = None, total: int | None = None) -> None:
            if message != current[0]:
                current[0] = message
                bar.reset(task, description=message, total=total, completed=done or 0)
            else:
                bar.update(task, total=total, completed=done or 0)

        yield on_step
