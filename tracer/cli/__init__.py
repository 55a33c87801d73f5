"""The command line: a thin shell over ``tracer.api`` and ``tracer.report``.

Each command lives in its own module and registers itself on the group."""

from tracer.cli import batch, entity, explain, ingest, links, trace, traceback  # noqa: F401  (register the commands)
from tracer.cli._base import cli

__all__ = ["cli", "main"]


def main() -> None:
    cli()
