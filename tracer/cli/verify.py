"""`tracer verify`."""

from __future__ import annotations

from pathlib import Path

import click

from tracer.cli._base import cli, cli_errors


@cli.command(epilog="Example: tracer verify result -w ws")
@click.argument("result", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "-w",
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    help="The workspace to re-run on (default: the one in RESULT/manifest.json).",
)
@click.option(
    "--inputs",
    "inputs_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder holding the input files (found by name), when they are no longer "
    "where ingest read them.",
)
@click.pass_context
def verify(
    ctx: click.Context, result: Path, workspace: Path | None, inputs_dir: Path | None
) -> None:
    """Check that RESULT (written by tracer trace -o DIR) still follows from its inputs.

    Checks every result file against the SHA-256 in RESULT/manifest.json, the workspace's
    input files against their SHA-256, and runs the trace again with the rule, options and
    seeds of the manifest's command: every result file must match the re-run byte for byte. Exit status 0
    when all match; else 1, with one line per difference.
    """
    from tracer.report import custody
    from tracer.report.text import safe

    with cli_errors():
        diffs = custody.verify(result, workspace, inputs_dir)
        manifest = custody.read_manifest(result)
    if diffs:
        for line in diffs:
            click.echo(safe(line))
        recorded, now = manifest.get("versions") or {}, custody.versions()
        changed = [
            f"{k} {recorded[k]} -> {now.get(k)}"
            for k in sorted(recorded)
            if recorded[k] != now.get(k)
        ]
        if changed:
            click.echo(
                f"Note: versions differ from the trace's ({', '.join(changed)}); byte "
                "differences may come from that.",
                err=True,
            )
        ctx.exit(1)
    names = manifest["files"]
    n_inputs = len({i["name"] for i in manifest["workspace"].get("inputs", [])})
    click.echo(
        f"OK: {len(names)} result files match a re-run of the trace byte for byte; "
        f"{n_inputs} input file{'' if n_inputs == 1 else 's'} match their SHA-256."
    )
