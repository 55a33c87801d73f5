"""Chain of custody of a result folder: ``manifest.json``, and what ``tracer verify`` checks.

``manifest.json`` records what a result was computed from and how: the workspace (its path and
its input files with SHA-256, copied from the workspace manifest), the command (``sys.argv``
when run from the command line, the rule, the options and the seeds as in ``result.json``),
the versions of tracer and of the libraries that compute and write it, the SHA-256 of every
result file, and the time. The time is kept here only: the other files of a result folder are
byte-identical for the same inputs and options, which is what ``tracer verify`` checks by
running the trace again.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tracer import __version__
from tracer.errors import InputError, NoSeedsRecordedError, TracerError, printable
from tracer.report.requests import read_requests
from tracer.stamps import iso, now, sha256

__all__ = [
    "MANIFEST",
    "ResultFolder",
    "load_folder",
    "read_meta",
    "versions",
    "with_seeds",
    "write_custody",
    "read_manifest",
    "rerun_kwargs",
    "check_files",
    "check_inputs",
    "compare_folders",
    "verify",
    "sha256",
]

MANIFEST = "manifest.json"
FORMAT = 1
_SEED_KEYS = ("tx_ids", "from_accounts", "since", "until", "end", "top_paths")


def versions() -> dict[str, str]:
    """Versions of tracer and of what computes and writes a result."""
    out = {"tracer": __version__, "python": platform.python_version()}
    for name in ("polars", "pyarrow", "numba", "numpy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover - all are dependencies
            out[name] = "not installed"
    return out


def with_seeds(result, call: dict):
    """``result`` with the seeds and the options that the trace's own ``options`` lack
    (``tx_ids`` or ``from_accounts``/``since``/``until``, ``top_paths``) added to
    ``options``, so that ``result.json`` holds all it takes to run the trace again.
    ``call``: the keyword arguments given to ``tracer.api.trace``."""
    extra = {}
    for key in _SEED_KEYS:
        if key in call and key not in result.options:
            value = call[key]
            extra[key] = (
                list(value)
                if isinstance(value, list | tuple)
                else iso(value)
                if isinstance(value, dt.datetime)
                else value
            )
    return replace(result, options={**result.options, **extra}) if extra else result


def rerun_kwargs(meta: dict) -> dict:
    """Keyword arguments for ``tracer.api.trace`` from a ``result.json`` object."""
    opts = meta.get("options") or {}
    if not opts.get("tx_ids") and not opts.get("from_accounts"):
        raise NoSeedsRecordedError
    from tracer.options import TraceOptions

    kw: dict = {"options": TraceOptions.from_dict(opts, rule=meta["rule"])}
    if opts.get("tx_ids"):
        kw["tx_ids"] = list(opts["tx_ids"])
    else:
        kw["from_accounts"] = list(opts["from_accounts"])
    for key in ("since", "until", "end"):
        if opts.get(key):
            kw[key] = dt.datetime.fromisoformat(opts[key].replace("Z", "+00:00"))
    return kw


def write_custody(
    result,
    folder: str | Path,
    workspace,
    argv: Sequence[str] | None = None,
    *,
    files: Sequence[str] | None = None,
    what: str = "tracer trace result",
) -> Path:
    """Write ``manifest.json`` into ``folder`` (atomically), after the result files.

    ``workspace``: the open workspace the trace ran on; ``argv``: the command line, when run
    from it; ``files``: the result files to record (default: those of a result folder that
    exist)."""
    folder = Path(folder)
    if files is None:
        files = sorted(
            p.name
            for p in folder.iterdir()
            if p.is_file()
            and not p.name.startswith(".")
            and (p.suffix == ".parquet" or p.name in ("result.json", "requests.csv"))
        )
    ws_manifest = workspace.manifest
    manifest = {
        "format": FORMAT,
        "what": what,
        "created": now(),
        "command": {
            "argv": list(argv) if argv is not None else None,
            "rule": result.rule,
            "options": result.options,
        },
        "workspace": {
            "path": str(Path(workspace.path).resolve()),
            "unit": ws_manifest.get("unit"),
            "tool": ws_manifest.get("tool"),
            "inputs": ws_manifest.get("inputs", []),
        },
        "versions": versions(),
        "files": {
            name: {"sha256": sha256(folder / name), "size": (folder / name).stat().st_size}
            for name in sorted(files)
        },
    }
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True, allow_nan=False) + "\n")
    os.replace(tmp, folder / MANIFEST)
    return folder / MANIFEST


def read_manifest(folder: str | Path) -> dict:
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise InputError(
            f"{folder}: no {MANIFEST}, so there is nothing to verify against. "
            "Results written by tracer trace -o DIR carry one."
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable ({type(exc).__name__}).") from exc
    if not isinstance(manifest, dict) or "files" not in manifest or "workspace" not in manifest:
        raise InputError(f"{path}: not a tracer result manifest.")
    problem = _manifest_problem(manifest)
    if problem:
        raise InputError(
            f"{path}: damaged manifest ({problem}). Write the result again with "
            "tracer trace ... -o DIR."
        )
    return manifest


def _manifest_problem(manifest: dict) -> str | None:
    """What makes a result manifest unusable, or None."""
    ws, files, command = manifest.get("workspace"), manifest.get("files"), manifest.get("command")
    if not isinstance(ws, dict):
        return "workspace is not an object"
    if not isinstance(ws.get("path"), str | None):
        return "workspace.path is not text"
    inputs = ws.get("inputs", [])
    if not isinstance(inputs, list) or not all(
        isinstance(i, dict) and isinstance(i.get("name"), str) for i in inputs
    ):
        return "workspace.inputs is not a list of named inputs"
    if not isinstance(files, dict) or not all(
        isinstance(rec, dict) and isinstance(rec.get("sha256"), str) for rec in files.values()
    ):
        return "files is not a map of file names to SHA-256"
    bad = [n for n in files if not n or n != Path(n).name or n in (".", "..") or n == MANIFEST]
    if bad:
        return f"files names {printable(bad[0], 60)!r}, which is not a file of the folder"
    if (
        not isinstance(command, dict)
        or not isinstance(command.get("rule"), str)
        or not isinstance(command.get("options"), dict)
    ):
        return "command lacks its rule and options"
    return None


def check_files(folder: Path, manifest: dict) -> list[str]:
    """Result files missing or changed since the trace wrote them (one line each)."""
    out = []
    for name, rec in sorted(manifest["files"].items()):
        path = folder / name
        if not path.is_file():
            out.append(f"{name}: missing (listed in {MANIFEST})")
        elif sha256(path) != rec.get("sha256"):
            out.append(
                f"{name}: changed since the trace wrote it (SHA-256 differs from {MANIFEST})"
            )
    return out


def _find_input(item: dict, workspace_path: Path, inputs_dir: Path | None) -> Path | None:
    recorded = Path(item.get("path") or item.get("name", ""))
    candidates = []
    if inputs_dir is not None:
        candidates.append(inputs_dir / recorded.name)
    candidates += [recorded, workspace_path.parent / recorded]
    return next((c for c in candidates if c.is_file()), None)


def check_inputs(
    manifest: dict, ws_manifest: dict, workspace_path: Path, inputs_dir: Path | None = None
) -> tuple[list[str], int]:
    """Inputs as recorded in the result manifest, against the workspace's manifest now and
    against the input files on disk: (differences, number of input files checked)."""
    out = []
    recorded = {i["name"]: i for i in manifest["workspace"].get("inputs", [])}
    current = {i["name"]: i for i in ws_manifest.get("inputs", [])}
    for name in sorted(recorded.keys() - current.keys()):
        out.append(f"input {name}: in the result's manifest but no longer in the workspace")
    for name in sorted(current.keys() - recorded.keys()):
        out.append(f"input {name}: ingested into the workspace after the trace")
    checked = 0
    for name in sorted(recorded.keys() & current.keys()):
        rec, cur = recorded[name], current[name]
        if rec.get("sha256") != cur.get("sha256"):
            out.append(
                f"input {name}: SHA-256 in the workspace manifest differs from the one "
                "recorded with the result"
            )
            continue
        path = _find_input(cur, workspace_path, inputs_dir)
        if path is None:
            out.append(
                f"input {name}: file not found at {cur.get('path')}, so its SHA-256 "
                "cannot be checked (run verify where ingest ran, or give --inputs DIR)"
            )
            continue
        checked += 1
        if sha256(path) != rec.get("sha256"):
            out.append(
                f"input {name}: {path} has changed since it was ingested (SHA-256 "
                "differs from the workspace manifest)"
            )
    return out, checked


def compare_folders(folder: Path, rerun: Path, names: Sequence[str]) -> list[str]:
    """Result files that differ, byte for byte, from the re-run's (one line each)."""
    out = []
    produced = {p.name for p in rerun.iterdir() if p.is_file() and p.name != MANIFEST}
    for name in sorted(names):
        mine, theirs = folder / name, rerun / name
        if not mine.is_file():
            continue  # reported by check_files
        if not theirs.is_file():
            out.append(f"{name}: the re-run does not produce this file")
            continue
        a, b = mine.read_bytes(), theirs.read_bytes()
        if a != b:
            at = next(
                (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                min(len(a), len(b)),
            )
            out.append(
                f"{name}: differs from the re-run (first at byte {at}; {len(a)} bytes, "
                f"re-run {len(b)})"
            )
    for name in sorted(produced - set(names)):
        out.append(f"{name}: produced by the re-run but not part of the result")
    return out


def verify(
    folder: str | Path, workspace: str | Path | None = None, inputs: str | Path | None = None
) -> list[str]:
    """What ``tracer verify`` finds: the differences (one line each; none when the result still
    follows from its inputs). Checks the result files against their SHA-256 in the manifest,
    the workspace's input files against theirs (found where ingest read them, or by name in
    ``inputs``), and runs the trace again with the rule, options and seeds of the manifest's
    command: every result file must match the re-run byte for byte. ``workspace``: default, the
    one the manifest names. Raises ``NoSeedsRecordedError`` when the result cannot be re-run."""
    from tracer import api
    from tracer.report.files import write_result
    from tracer.report.text import safe
    from tracer.workspace import Workspace

    folder = Path(folder)
    manifest = read_manifest(folder)
    diffs = check_files(folder, manifest)
    ws = Workspace.open(workspace or Path(manifest["workspace"].get("path") or ""))
    input_diffs, _ = check_inputs(
        manifest, ws.manifest, ws.path, None if inputs is None else Path(inputs)
    )
    diffs += input_diffs
    names = sorted(manifest["files"])
    try:
        meta = read_meta(folder / "result.json")
    except (OSError, ValueError):
        meta = None
        diffs.append("result.json: unreadable, so its rule and seeds cannot be run again")
    # the trace is run again as result.json records it and, where that differs, as the
    # manifest's command records it: an edited rule or seed in either shows as a difference
    command = {"rule": manifest["command"]["rule"], "options": manifest["command"]["options"]}
    recipes = [meta] if isinstance(meta, dict) else []
    if not recipes or (meta.get("rule"), meta.get("options")) != (
        command["rule"],
        command["options"],
    ):
        recipes.append(command)
    for recipe in recipes:
        try:
            kwargs = rerun_kwargs(recipe)
            seeds = {k: v for k, v in (recipe.get("options") or {}).items() if k in _SEED_KEYS}
            rerun = with_seeds(api.trace(ws, **kwargs), seeds)
        except NoSeedsRecordedError:
            raise
        except (TracerError, KeyError, TypeError, ValueError, AttributeError) as exc:
            diffs.append(f"re-run failed: {safe(exc, 300)}")
        else:
            with tempfile.TemporaryDirectory(prefix="tracer-verify-") as tmp:
                write_result(rerun, tmp, workspace=ws)
                diffs += [d for d in compare_folders(folder, Path(tmp), names) if d not in diffs]
    return diffs


# --------------------------------------------------------------------------------------------
# Reading a result folder
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultFolder:
    """A result folder as read back: ``meta`` is ``result.json`` (tables as Arrow)."""

    path: Path
    meta: dict
    flows: pa.Table
    holdings: pa.Table
    endpoints: pa.Table
    allocations: pa.Table | None
    paths: pa.Table | None
    requests: list[dict] | None
    manifest: dict | None

    @property
    def unit(self) -> str:
        return self.meta.get("unit") or ""


_META = ("rule", "unit", "seed_value", "seeds", "options", "summary")
_SPACE = re.compile(r"\s*")


def _leading_keys(text: str) -> dict | None:
    """The keys of ``_META`` from the start of a JSON object, parsed one value at a time and
    no further than needed (result.json holds every flow and allocation after them); None
    when ``text`` ends first; ValueError when it is not JSON."""
    dec = json.JSONDecoder()
    out: dict = {}
    try:
        i = _SPACE.match(text, 0).end()
        if text[i] != "{":
            raise ValueError("result.json is not a JSON object")
        i += 1
        while True:
            i = _SPACE.match(text, i).end()
            if text[i] == "}":
                return out
            key, i = dec.raw_decode(text, i)
            i = _SPACE.match(text, i).end()
            if text[i] != ":":
                raise ValueError(f"expected ':' at character {i}")
            value, i = dec.raw_decode(text, _SPACE.match(text, i + 1).end())
            out[key] = value
            if all(k in out for k in _META):
                return out
            i = _SPACE.match(text, i).end()
            if text[i] == ",":
                i += 1
    except IndexError:
        return None


def read_meta(path: Path) -> dict:
    """The summary keys of result.json, without parsing its (possibly huge) tables."""
    with path.open(encoding="utf-8") as f:
        head = f.read(1 << 20)
    try:
        meta = _leading_keys(head)
    except ValueError:  # the first MiB may end inside a value: read it all
        meta = None
    if meta is None:
        meta = _leading_keys(path.read_text(encoding="utf-8"))
    if meta is None:
        raise ValueError("the file ends before the object does")
    return meta


def load_folder(folder: str | Path) -> ResultFolder:
    """Read a folder written by ``tracer trace -o DIR``; InputError if it is not one."""
    folder = Path(folder)
    if not (folder / "result.json").is_file():
        raise InputError(
            f"{folder}: not a trace result (no result.json). Write one with "
            "tracer trace ... -o DIR."
        )
    try:
        meta = read_meta(folder / "result.json")
    except ValueError as exc:
        raise InputError(f"{folder / 'result.json'}: not valid JSON ({exc}).") from exc

    def table(name: str, required: bool = True) -> pa.Table | None:
        path = folder / f"{name}.parquet"
        if not path.is_file():
            if required:
                raise InputError(
                    f"{folder}: no {name}.parquet; is it a folder written by tracer trace -o DIR?"
                )
            return None
        try:
            return pq.read_table(path)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(
                f"{path}: unreadable Parquet ({type(exc).__name__}). Check it with tracer verify."
            ) from exc

    manifest = None
    if (folder / MANIFEST).is_file():
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except ValueError:
            manifest = None
    requests = (
        read_requests(folder / "requests.csv") if (folder / "requests.csv").is_file() else None
    )
    return ResultFolder(
        path=folder,
        meta=meta,
        flows=table("flows"),
        holdings=table("holdings"),
        endpoints=table("endpoints"),
        allocations=table("allocations", False),
        paths=table("paths", False),
        requests=requests,
        manifest=manifest,
    )
