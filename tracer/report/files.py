"""The result folder written by ``tracer trace -o DIR``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq

from tracer.api import TraceResult

__all__ = ["to_json", "write_result"]


def to_json(result: TraceResult) -> str:
    return json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n"


def write_result(result: TraceResult, folder: str | Path) -> Path:
    """flows, holdings and endpoints as Parquet, plus result.json; each file written to a
    temporary name and renamed, result.json last."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("flows", "holdings", "endpoints", "allocations", "paths"):
        table = getattr(result, name)
        if table is None:
            continue
        tmp = folder / f".{name}.parquet.tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, folder / f"{name}.parquet")
    tmp = folder / ".result.json.tmp"
    tmp.write_text(to_json(result))
    os.replace(tmp, folder / "result.json")
    return folder
