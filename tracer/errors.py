"""One exception hierarchy. ``str(exc)`` is always safe to show a user: one line, no data dump."""

from __future__ import annotations

__all__ = [
    "TracerError",
    "InputError",
    "MissingColumnsError",
    "UnknownAccountError",
    "UnknownTransferError",
    "WorkspaceError",
]


class TracerError(Exception):
    """Base of every error that tracer reports to a user without a traceback."""


class InputError(TracerError, ValueError):
    """A bad file, row or option."""


class MissingColumnsError(InputError):
    """A file lacks required columns."""

    def __init__(self, source: str, missing: list[str], present: list[str]) -> None:
        self.source, self.missing, self.present = source, missing, present
        super().__init__(
            f"{source}: missing column(s) {', '.join(missing)}; the file has "
            f"{', '.join(present) if present else 'no columns'}. "
            "Rename the columns or pick the right --format."
        )


class UnknownAccountError(InputError):
    """An account named by the user is not in the workspace."""


class UnknownTransferError(InputError):
    """A transfer id named by the user is not in the workspace."""


class WorkspaceError(TracerError):
    """A workspace that is missing, damaged or from another version."""
