"""Freed large blocks go back to the system.

glibc's malloc serves a block above its mmap threshold with a mapping of its own, returned to
the system when freed; but each time such a block is freed, it raises the threshold to that
block's size (up to 32 MiB). After that, the arrays of a batch (a million rows: 8 MB an
array) come from the heap, where freed space is kept and fragmented: at 100M transfers that
held about 1.2 GiB of an ingest's peak (benchmarks/NOTES.md). Setting the threshold fixes it
(no more raising): blocks of 1 MiB and more stay mappings of their own.
"""

from __future__ import annotations

import ctypes

__all__ = ["return_large_blocks"]

_M_MMAP_THRESHOLD = -3  # glibc's malloc.h


def return_large_blocks(threshold: int = 1 << 20) -> bool:
    """Blocks of ``threshold`` bytes and more are mapped on their own and returned when freed,
    for the rest of the process. False where the C library has no ``mallopt`` (macOS) or
    ignores it (musl)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold))
