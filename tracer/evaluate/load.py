"""Loading what ``tracer evaluate`` compares: a simulated world's truth folder (``Truth``,
``load_truth``: the cases and their losses, where the money rests, the scam network, the
victims' payments and the accounts' roles) and a trace or batch result folder (``ResultSet``,
``load_result``: its endpoints by case, its rule and options), with the checked CSV, JSON and
Parquet reads they share; the scoring itself is in ``tracer.evaluate.score``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from tracer.errors import InputError, printable

__all__ = ["Truth", "ResultSet", "load_truth", "load_result"]


@dataclass(frozen=True)
class Truth:
    folder: Path
    cases: pl.DataFrame  # case_id, loss_usd, payments, ...
    rests: pl.DataFrame  # case_id, account, kind, value
    network: frozenset[str]
    payments: pl.DataFrame  # tx_id, case_id (the victims' payments)
    roles: dict[str, str]


def _read_csv(path: Path, what: str, needed: tuple[str, ...], **kw) -> pl.DataFrame:
    if not path.is_file():
        raise InputError(
            f"{path}: no such file; --truth names the truth/ folder of a world "
            f"written by tracer simulate ({what})."
        )
    try:
        df = pl.read_csv(path, **kw)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(
            f"{path}: not a readable CSV ({printable(str(exc).splitlines()[0], 120)})."
        ) from exc
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)}; is this a truth folder "
            "written by tracer simulate?"
        )
    return df


def load_truth(folder: str | Path) -> Truth:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(
            f"--truth {folder}: no such folder. Give the truth/ folder of a world "
            "written by tracer simulate."
        )
    text = {
        "schema_overrides": {
            "case_id": pl.String,
            "account": pl.String,
            "tx_id": pl.String,
            "src": pl.String,
            "dst": pl.String,
        }
    }
    cases = _read_csv(folder / "cases.csv", "cases and losses", ("case_id", "loss_usd"), **text)
    rests = _read_csv(
        folder / "rests.csv",
        "where the money rests",
        ("case_id", "account", "kind", "value"),
        **text,
    )
    transfers = _read_csv(
        folder / "transfers.csv",
        "the scam's transfers",
        ("tx_id", "case_id", "src", "dst", "step"),
        **text,
    )
    roles: dict[str, str] = {}
    if (folder / "accounts.csv").is_file():
        acc = _read_csv(folder / "accounts.csv", "roles", ("account", "role"), **text)
        roles = dict(acc.select("account", "role").iter_rows())
    network = frozenset(
        pl.concat(
            [transfers.get_column("src"), transfers.get_column("dst"), rests.get_column("account")]
        )
        .unique()
        .to_list()
    )
    payments = transfers.filter(pl.col("step") == "victim_payment").select("tx_id", "case_id")
    return Truth(folder, cases, rests, network, payments, roles)


@dataclass(frozen=True)
class ResultSet:
    """Endpoints of one result, by case: ``endpoints`` has case_id, account, value."""

    path: Path
    kind: str  # trace | batch
    rule: str
    level: str
    options: dict
    endpoints: pl.DataFrame
    case_ids: list[str]
    notes: list[str] = field(default_factory=list)


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable JSON ({printable(exc, 120)}).") from exc


def _endpoints(path: Path, case_column: bool) -> pl.DataFrame:
    try:
        df = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({printable(exc, 120)}).") from exc
    need = ("case_id", "account", "value") if case_column else ("account", "value")
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}.")
    return df


def load_result(path: str | Path, truth: Truth, case: str | None = None) -> ResultSet:
    """A trace result folder (``tracer trace -o``: endpoints.parquet, result.json) or a batch
    result folder (``tracer batch -o``: cases.parquet, endpoints.parquet with case_id)."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(
            f"{path}: no such folder. Give a folder written by tracer trace -o or tracer batch -o."
        )
    notes: list[str] = []
    if (path / "cases.parquet").is_file():
        meta = _json(path / "batch.json") if (path / "batch.json").is_file() else {}
        opts = meta.get("options") or {}
        eps = _endpoints(path / "endpoints.parquet", True)
        cases = pl.read_parquet(path / "cases.parquet")
        if "status" in cases.columns:
            failed = cases.filter(pl.col("status") != "ok")
            if failed.height:
                notes.append(f"{failed.height} case(s) failed in the batch and score 0.")
        ids = cases.get_column("case_id").cast(pl.String).to_list()
        if case is not None:
            ids = [c for c in ids if c == case]
        return ResultSet(
            path,
            "batch",
            opts.get("rule", "?"),
            opts.get("level", "account"),
            opts,
            eps.select(pl.col("case_id").cast(pl.String), "account", "value"),
            ids,
            notes,
        )
    if not (path / "result.json").is_file():
        raise InputError(
            f"{path}: neither a trace result (result.json) nor a batch result "
            "(cases.parquet). Write one with tracer trace ... -o DIR or tracer "
            "batch ... -o DIR."
        )
    meta = _json(path / "result.json")
    opts = meta.get("options") or {}
    eps = (
        _endpoints(path / "endpoints.parquet", False)
        if (path / "endpoints.parquet").is_file()
        else pl.DataFrame(
            meta.get("endpoints") or [],
            schema_overrides={"account": pl.String, "value": pl.Float64},
        )
    )
    if case is None:
        seeds = opts.get("tx_ids") or []
        if not seeds:
            raise InputError(
                f"{path}/result.json records no seed transfers; name the case with --case ID."
            )
        found = truth.payments.filter(pl.col("tx_id").is_in(seeds))
        ids = sorted(set(found.get_column("case_id").to_list()))
        if not ids:
            raise InputError(
                f"{path}: its seeds are no victim's payment in the truth; name the "
                "case with --case ID."
            )
        if len(ids) > 1:
            notes.append(f"seeds of {len(ids)} cases: scored against their combined truth.")
        paid = truth.payments.filter(pl.col("case_id").is_in(ids)).height
        if found.height < paid:
            notes.append(
                f"the trace seeds {found.height} of the cases' {paid} payments; the "
                "truth counts them all."
            )
        if len(seeds) > found.height:
            notes.append(f"{len(seeds) - found.height} seed(s) are not victims' payments.")
        case_id = "+".join(ids)
    else:
        case_id, ids = case, case.split("+")
    eps = eps.select(pl.lit(case_id).alias("case_id"), pl.col("account").cast(pl.String), "value")
    return ResultSet(
        path,
        "trace",
        meta.get("rule", "?"),
        opts.get("level", "account"),
        opts,
        eps,
        [case_id],
        notes,
    )
