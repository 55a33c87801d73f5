"""The record every transfer reader registers in ``tracer.io.READERS``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from tracer.io.common import Head, ReadResult

__all__ = ["Reader", "Sniff", "Read", "Post"]

Sniff = Callable[[Path, Head], bool]
# read(path, source, options) -> ReadResult; a batched reader also takes frame=<a batch>
Read = Callable[..., ReadResult]
Post = Callable[[pl.DataFrame], tuple[pl.DataFrame, pl.DataFrame]]


@dataclass(frozen=True)
class Reader:
    """One source format (see ``docs/readers.md``).

    - ``name``: the format's name for ``--format``;
    - ``sniff(path, head) -> bool``: whether the file is in this format;
    - ``read(path, source, options[, frame=...]) -> ReadResult``;
    - ``batched``: ``read`` converts ``frame``, one batch of the file's rows as
      ``tracer.io.common.iter_table`` gives them (``table``: its options, e.g. a TSV
      separator), so that ingest reads the file in bounded memory;
    - ``post(transfers) -> (transfers, rejects)``: a step after every ingest over the rows of
      the whole workspace where the column ``post_rows`` is set (idempotent);
    - ``doc``: one line on the format.
    """

    name: str
    sniff: Sniff
    read: Read
    batched: bool = False
    table: Mapping[str, Any] = field(default_factory=dict, hash=False)
    post: Post | None = None
    post_rows: str | None = None
    doc: str = ""

    def __post_init__(self) -> None:
        if (self.post is None) != (self.post_rows is None):
            raise ValueError(f"reader {self.name}: post and post_rows go together")
