"""Result folders (``tracer trace -o``, ``tracer batch -o``) written whole or not at all.

The result is written to a temporary folder beside the target and swapped in when complete,
so an earlier result of the same kind is replaced whole (no stale ``flows.parquet`` beside a
new ``batch.json``, no old ``report.html`` beside a new trace) and a failed run leaves the
earlier result as it was. A folder that is not empty and is not an earlier result of the same
kind is refused, since replacing it would delete someone's files.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tracer.errors import InputError, WorkspaceError

__all__ = ["KINDS", "result_folder"]

# what marks a finished result of each kind, and the command that writes it
KINDS = {
    "trace": ("result.json", "tracer trace -o"),
    "batch": ("batch.json", "tracer batch -o"),
    "trace-back": ("trace_back.json", "tracer trace-back -o"),
}


def _check(target: Path, kind: str) -> bool:
    """Whether ``target`` holds something to replace; refuses what is not ours to replace."""
    if not target.exists() and not target.is_symlink():
        return False
    if not target.is_dir():
        raise InputError(f"-o {target}: exists and is not a folder. Choose a new folder.")
    entries = list(target.iterdir())
    if not entries:
        return True
    marker, command = KINDS[kind]
    if not (target / marker).is_file():
        other = [k for k, (m, _) in KINDS.items() if k != kind and (target / m).is_file()]
        what = (
            f"holds a {other[0]} result ({KINDS[other[0]][1]})"
            if other
            else "is not empty and holds no earlier result of " + command
        )
        raise InputError(
            f"-o {target}: {what}. Choose a new or empty folder (an earlier "
            f"result of {command} is replaced whole)."
        )
    return True


@contextmanager
def result_folder(target: str | Path, kind: str) -> Iterator[Path]:
    """Yields an empty temporary folder beside ``target`` to write the result into; when the
    block ends without an error, that folder becomes ``target`` (an earlier result there is
    removed). On an error the temporary folder is removed and ``target`` is left as it was."""
    target = Path(target)
    replace = _check(target, kind)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = parent / f".{target.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
    except OSError as exc:
        raise _failed(exc, target) from exc
    try:
        try:
            yield tmp
        except Exception as exc:
            from tracer.workspace import disk_full

            full = disk_full(exc, getattr(exc, "filename", None) or target)
            if full is not exc:
                raise full from exc
            raise
        old = parent / f".{target.name}.old-{os.getpid()}"
        try:
            if replace:
                shutil.rmtree(old, ignore_errors=True)
                os.replace(target, old)
            os.replace(tmp, target)
        except OSError as exc:
            raise _failed(exc, target) from exc
        if replace:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _failed(exc: OSError, target: Path) -> Exception:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return WorkspaceError(
            f"{exc.filename or target}: the disk is full (writing the result "
            "failed). Free space on that disk, or write to another disk, and "
            "run the command again."
        )
    where = exc.filename or target
    return InputError(f"-o {target}: cannot write the result ({where}: {exc.strerror or exc}).")
