"""The result folder written by ``tracer trace -o DIR``."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq

from tracer.api import TraceResult

__all__ = ["to_json", "write_result"]


def to_json(result: TraceResult) -> str:
    return json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n"


def write_result(
    result: TraceResult, folder: str | Path, *, workspace=None, argv: Sequence[str] | None = None
) -> Path:
    """flows, holdings and endpoints as Parquet, plus result.json; each file written to a
    temporary name and renamed, result.json last.

    With ``workspace`` (the open workspace the trace ran on) also ``requests.csv`` (the
    deposits at stopped services, ``tracer.report.requests``) and, after everything else,
    ``manifest.json`` (chain of custody, ``tracer.report.custody``; ``argv``: the command
    line that ran the trace)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ("flows", "holdings", "endpoints", "allocations", "paths"):
        table = getattr(result, name)
        if table is None:
            continue
        tmp = folder / f".{name}.parquet.tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, folder / f"{name}.parquet")
        written.append(f"{name}.parquet")
    if workspace is not None:
        from tracer.report.csv import ENCODING
        from tracer.report.requests import request_rows, requests_csv

        rows = request_rows(result.flows, result.holdings, result.unit, workspace)
        tmp = folder / ".requests.csv.tmp"
        tmp.write_text(requests_csv(rows), encoding=ENCODING)
        os.replace(tmp, folder / "requests.csv")
        written.append("requests.csv")
    tmp = folder / ".result.json.tmp"
    tmp.write_text(to_json(result))
    os.replace(tmp, folder / "result.json")
    written.append("result.json")
    if workspace is not None:
        from tracer.report.custody import write_custody

        write_custody(result, folder, workspace, argv, files=written)
    return folder
