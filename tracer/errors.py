"""One exception hierarchy. ``str(exc)`` is always safe to show a user: one line, no data dump."""

from __future__ import annotations

__all__ = [
    "printable",
    "TracerError",
    "InputError",
    "MissingColumnsError",
    "NoSeedsRecordedError",
    "UnknownAccountError",
    "UnknownTransferError",
    "WorkspaceError",
]


def printable(text: object, width: int = 80) -> str:
    """Text from a file made safe for a one-line message: control characters escaped, cut."""
    s = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in str(text))
    return s if len(s) <= width else s[: width - 1] + "…"


class TracerError(Exception):
    """Base of every error that tracer reports to a user without a traceback."""


class InputError(TracerError, ValueError):
    """A bad file, row or option."""


class MissingColumnsError(InputError):
    """A file lacks required columns."""

    def __init__(self, source: str, missing: list[str], present: list[str]) -> None:
        self.source, self.missing, self.present = source, missing, present
        super().__init__(
            f"{printable(source, 200)}: missing column(s) {', '.join(missing)}; the file has "
            f"{', '.join(printable(c, 40) for c in present[:30]) if present else 'no columns'}"
            f"{' …' if len(present) > 30 else ''}. "
            "Rename the columns or pick the right --format."
        )


def _shown(names: list[str]) -> str:
    """The first five names, and how many more."""
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


class UnknownAccountError(InputError):
    """An account named by the user is not in the workspace."""

    @classmethod
    def from_names(cls, names: list[str]) -> UnknownAccountError:
        """The error for account names that match no account exactly."""
        return cls(
            f"{_shown(names)}: no such account in the workspace. Account ids match "
            "exactly, namespace included (e.g. tron:T…)."
        )


class UnknownTransferError(InputError):
    """A transfer id named by the user is not in the workspace."""

    @classmethod
    def from_ids(cls, ids: list[str]) -> UnknownTransferError:
        """The error for transfer ids (``--tx``) that match no transfer exactly."""
        return cls(
            f"--tx {_shown(ids)}: no transfer with this id in the workspace. Ids match "
            "exactly; check the spelling or ingest the file that holds it."
        )


class NoSeedsRecordedError(InputError):
    """A result records no seeds, so its trace cannot be run again."""

    def __init__(self) -> None:
        super().__init__(
            "result.json records no seeds (options.tx_ids or options.from_accounts), "
            "so the trace cannot be run again. Write results with "
            "tracer trace ... -o DIR."
        )


class WorkspaceError(TracerError):
    """A workspace that is missing, damaged or from another version."""
