"""Freeze and information requests: per stopped service, the deposits that carried taint.

A trace stops at services (exchanges, OTC desks, bridges: the labels in ``stop_at``). The flows
into stopped accounts are the flows whose ``dst`` is a holding with ``stopped`` true. For each,
the workspace gives the real deposit account and sender (at entity level the flow is between
entities), the asset and the amount as transferred (``transfers.parquet``, by tx id), and the
service's label, name and entity (``accounts.parquet``). ``requests.csv`` lists them by service
in time order, each service followed by its totals per asset, ready to paste into a request.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import polars as pl
import pyarrow as pa

from tracer.errors import InputError
from tracer.report.csv import ENCODING, rows_csv, unneutralize

__all__ = ["COLUMNS", "request_rows", "requests_csv", "read_requests", "by_service"]

COLUMNS = (
    "row",
    "service",
    "entity",
    "name",
    "deposit_account",
    "tx_id",
    "time",
    "from_account",
    "asset",
    "amount",
    "tainted_amount",
    "tainted",
    "unit",
)
_NUMBERS = ("amount", "tainted_amount", "tainted")


def request_rows(flows: pa.Table, holdings: pa.Table, unit: str | None, workspace) -> list[dict]:
    """Rows of ``requests.csv``: one ``transfer`` row per flow into a stopped account, and
    after each service (entity) one ``total`` row per asset. ``workspace``: the open
    workspace the trace ran on."""
    h = pl.from_arrow(holdings)
    stops = h.filter(pl.col("stopped")).select("account", pl.col("label").alias("node_label"))
    f = pl.from_arrow(flows).join(
        stops, left_on="dst", right_on="account", how="inner", maintain_order="left"
    )
    if f.height == 0:
        return []
    tx = (
        workspace.scan("transfers")
        .filter(pl.col("tx_id").is_in(f.get_column("tx_id").to_list()))
        .select(
            "tx_id",
            pl.col("src").alias("from_account"),
            pl.col("dst").alias("deposit_account"),
            "asset",
            "amount",
        )
        .collect()
    )
    acc = workspace.scan("accounts").select("account", "label", "name", "entity").collect()
    rows = (
        f.join(tx, on="tx_id", how="left", maintain_order="left")
        .join(acc, left_on="deposit_account", right_on="account", how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("label", "node_label").alias("service"),
            pl.coalesce("entity", "dst").alias("entity"),
            pl.when(pl.col("value") > 0)
            .then(pl.col("amount") * pl.col("tainted") / pl.col("value"))
            .alias("tainted_amount"),
        )
        .with_row_index("__order")
        .sort(["entity", "__order"])
    )
    out: list[dict] = []
    for (entity,), group in rows.group_by(["entity"], maintain_order=True):
        items = group.to_dicts()
        first = items[0]
        for r in items:
            out.append(
                {
                    "row": "transfer",
                    "service": r["service"],
                    "entity": entity,
                    "name": r["name"],
                    "deposit_account": r["deposit_account"],
                    "tx_id": r["tx_id"],
                    "time": r["ts"],
                    "from_account": r["from_account"],
                    "asset": r["asset"],
                    "amount": r["amount"],
                    "tainted_amount": r["tainted_amount"],
                    "tainted": r["tainted"],
                    "unit": unit,
                }
            )
        for asset in sorted({r["asset"] for r in items if r["asset"] is not None}):
            mine = [r for r in items if r["asset"] == asset]
            amounts = [r["tainted_amount"] for r in mine]
            out.append(
                {
                    "row": "total",
                    "service": first["service"],
                    "entity": entity,
                    "name": first["name"]
                    if all(r["name"] == first["name"] for r in mine)
                    else None,
                    "deposit_account": None,
                    "tx_id": f"{len(mine)} transfer{'s' * (len(mine) != 1)}",
                    "time": None,
                    "from_account": None,
                    "asset": asset,
                    "amount": math.fsum(r["amount"] for r in mine),
                    "tainted_amount": None if None in amounts else math.fsum(amounts),
                    "tainted": math.fsum(r["tainted"] for r in mine),
                    "unit": unit,
                }
            )
    return out


def requests_csv(rows: list[dict]) -> str:
    """``requests.csv``: formula injection neutralised (``tracer.report.csv``)."""
    return rows_csv(COLUMNS, ([r[c] for c in COLUMNS] for r in rows))


def read_requests(path: str | Path) -> list[dict]:
    """``requests.csv`` read back: text as in the data, numbers as floats, empty as None."""
    path = Path(path)
    try:
        text = path.read_bytes().decode(ENCODING)  # a CR inside a cell stays a CR
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text; it is not a requests.csv that tracer "
            "wrote. Run the trace again."
        ) from exc
    out = []
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or tuple(header) != COLUMNS:
        raise InputError(
            f"{path}: not the columns of a requests.csv that tracer writes. Run the trace again."
        )
    for raw in reader:
        if len(raw) != len(COLUMNS):
            raise InputError(
                f"{path}: record {reader.line_num} has {len(raw)} cells, not "
                f"{len(COLUMNS)}. Run the trace again."
            )
        row: dict = {}
        for key, value in zip(COLUMNS, raw, strict=True):
            if value == "":
                row[key] = None
            elif key in _NUMBERS:
                try:
                    row[key] = float(value)
                except ValueError as exc:
                    raise InputError(
                        f"{path}: record {reader.line_num}, {key}: not a number. "
                        "Run the trace again."
                    ) from exc
            else:
                row[key] = unneutralize(value)
        out.append(row)
    return out


def by_service(rows: list[dict]) -> list[tuple[dict, list[dict], list[dict]]]:
    """(service totals, transfer rows, total rows per asset) per service, in file order."""
    groups: dict[str, tuple[list[dict], list[dict]]] = {}
    for r in rows:
        key = r["entity"] or ""
        transfers, totals = groups.setdefault(key, ([], []))
        (totals if r["row"] == "total" else transfers).append(r)
    out = []
    for key, (transfers, totals) in groups.items():
        head = (transfers or totals)[0]
        info = {
            "entity": key,
            "service": head["service"],
            "name": head["name"],
            "accounts": sorted({t["deposit_account"] for t in transfers if t["deposit_account"]}),
            "tainted": math.fsum(t["tainted"] or 0.0 for t in transfers),
            "unit": head["unit"],
            "transfers": len(transfers),
        }
        out.append((info, transfers, totals))
    return out
