"""The stamps tracer writes into manifests: files' SHA-256 and times in ISO 8601 UTC."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

__all__ = ["sha256", "iso", "now"]


def sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, as hex."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def iso(value: dt.datetime) -> str:
    """A time in ISO 8601 UTC with ``Z`` (a time without zone is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def now() -> str:
    """The time now, to the second, in ISO 8601 UTC."""
    return iso(dt.datetime.now(dt.UTC).replace(microsecond=0))
