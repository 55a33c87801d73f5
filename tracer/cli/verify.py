"""`tracer verify`."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from tracer.cli._base import cli, cli_errors


@cli.command(epilog="Example: tracer verify result -w ws")
@click.argument("result", type=click.Path(file_okay=False, path_type=Path))
@click.option("-w", "--workspace", type=click.Path(file_okay=False, path_type=Path),
              help="The workspace to re-run on (default: the one in RESULT/manifest.json).")
@click.option("--inputs", "inputs_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder holding the input files (found by name), when they are no longer "
                   "where ingest read them.")
@click.pass_context
def verify(ctx: click.Context, result: Path, workspace: Path | None,
           inputs_dir: Path | None) -> None:
    """Check that RESULT (written by tracer trace -o DIR) still follows from its inputs.

    Checks every result file against the SHA-256 in RESULT/manifest.json, the workspace's
    input files against their SHA-256, and runs the trace again with the rule, options and
    seeds of the manifest's command: every result file must match the re-run byte for byte. Exit status 0
    when all match; else 1, with one line per difference.
    """
    from tracer import api
    from tracer.errors import InputError, TracerError
    from tracer.report import custody
    from tracer.report.files import write_result
    from tracer.report.text import safe
    from tracer.workspace import Workspace

    with cli_errors():
        manifest = custody.read_manifest(result)
        diffs = custody.check_files(result, manifest)
        ws = Workspace.open(workspace or Path(manifest["workspace"].get("path") or ""))
        input_diffs, n_inputs = custody.check_inputs(manifest, ws.manifest, ws.path, inputs_dir)
        diffs += input_diffs
        names = sorted(manifest["files"])
        try:
            meta = custody.read_meta(result / "result.json")
        except (OSError, ValueError):
            meta = None
            diffs.append("result.json: unreadable, so its rule and seeds cannot be run again")
        # the trace is run again as result.json records it and, where that differs, as the
        # manifest's command records it: an edited rule or seed in either shows as a difference
        command = {"rule": manifest["command"]["rule"], "options": manifest["command"]["options"]}
        recipes = [meta] if isinstance(meta, dict) else []
        if not recipes or (meta.get("rule"), meta.get("options")) != (command["rule"],
                                                                      command["options"]):
            recipes.append(command)
        for recipe in recipes:
            try:
                kwargs = custody.rerun_kwargs(recipe)
                seeds = {k: v for k, v in (recipe.get("options") or {}).items()
                         if k in ("tx_ids", "from_accounts", "since", "until", "end", "top_paths")}
                rerun = custody.with_seeds(api.trace(ws, **kwargs), seeds)
            except (TracerError, KeyError, TypeError, ValueError, AttributeError) as exc:
                if isinstance(exc, InputError) and "records no seeds" in str(exc):
                    raise
                diffs.append(f"re-run failed: {safe(exc, 300)}")
            else:
                with tempfile.TemporaryDirectory(prefix="tracer-verify-") as tmp:
                    write_result(rerun, tmp, workspace=ws)
                    diffs += [d for d in custody.compare_folders(result, Path(tmp), names)
                              if d not in diffs]
    if diffs:
        for line in diffs:
            click.echo(safe(line))
        recorded, now = manifest.get("versions") or {}, custody.versions()
        changed = [f"{k} {recorded[k]} -> {now.get(k)}" for k in sorted(recorded)
                   if recorded[k] != now.get(k)]
        if changed:
            click.echo(f"Note: versions differ from the trace's ({', '.join(changed)}); byte "
                       "differences may come from that.", err=True)
        ctx.exit(1)
    click.echo(f"OK: {len(names)} result files match a re-run of the trace byte for byte; "
               f"{n_inputs} input file{'' if n_inputs == 1 else 's'} match their SHA-256.")
