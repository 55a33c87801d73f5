"""The command line: a thin shell over ``tracer.api`` and ``tracer.report``.

Each command lives in its own module and registers itself on the group."""

from tracer.cli import (  # noqa: F401  (register the commands)
    account,
    batch,
    entity,
    evaluate,
    explain,
    ingest,
    links,
    rejects,
    report,
    simulate,
    trace,
    traceback,
    verify,
)
from tracer.cli._base import cli

__all__ = ["cli", "main"]


def main() -> None:
    cli()
