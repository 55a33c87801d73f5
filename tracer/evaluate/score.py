"""Score trace and batch results against a simulated world's truth (``tracer simulate``).

For each case, the truth says how much of the victim's loss rests where at the end
(``truth/rests.csv``: laundering wallets, exchange deposits, mules' cuts, desks' spreads,
fees, money still in transit) and which accounts the scam's money passed through (the scam
network: every account a scam transfer touched, ``truth/transfers.csv``). A result says how
much rests where by its rule (``endpoints``). Per case:

- ``recall``: the share of the loss the result puts where the truth says it rests: the sum
  over accounts of min(result's value, truth's value), over the loss;
- ``false_attribution``: the share of the loss the result puts on accounts outside the scam
  network (people, merchants, other customers of a service);
- ``misplaced``: the rest of what the result places: inside the network but not where the
  truth says (or more than the truth says);
- endpoint ``precision`` and ``recall``: counted over material endpoints, those holding at
  least ``threshold`` of the loss (default 0.5%) in the result or in the truth.

Overall figures are totals over cases, and the total recall compares per account what all
cases put there with what the truth says all cases left there: money is fungible, and which
victim's dollar sits in a wallet that pooled several cases is a convention (the truth splits a
pool pro rata), while how much of the scam's money sits there is not. The per-case figures
(and their medians) keep each case apart.

At entity level a result's endpoints are entities; truth accounts are mapped to their entity
through the workspace's ``accounts.parquet``, so both sides compare.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from tracer.errors import InputError
from tracer.evaluate.load import ResultSet, Truth, load_result, load_truth

__all__ = ["CaseScore", "Score", "evaluate", "DEFAULT_THRESHOLD"]

DEFAULT_THRESHOLD = 0.005


@dataclass(frozen=True)
class CaseScore:
    case_id: str
    loss: float
    traced: float
    correct: float
    outside: float
    endpoints: int  # material endpoints in the result
    truth_endpoints: int  # material endpoints in the truth
    hits: int  # material endpoints in both

    @property
    def recall(self) -> float:
        return self.correct / self.loss if self.loss > 0 else 0.0

    @property
    def false_attribution(self) -> float:
        return self.outside / self.loss if self.loss > 0 else 0.0

    @property
    def misplaced(self) -> float:
        return max(0.0, self.traced - self.correct - self.outside)

    def to_dict(self) -> dict:
        return {
            "case_id": self.case_id,
            "loss": self.loss,
            "traced": self.traced,
            "correct": self.correct,
            "outside_network": self.outside,
            "misplaced": self.misplaced,
            "recall": self.recall,
            "false_attribution": self.false_attribution,
            "endpoint_precision": self.hits / self.endpoints if self.endpoints else None,
            "endpoint_recall": self.hits / self.truth_endpoints if self.truth_endpoints else None,
            "endpoints": self.endpoints,
            "truth_endpoints": self.truth_endpoints,
            "endpoint_hits": self.hits,
        }


@dataclass(frozen=True)
class Score:
    result: ResultSet
    cases: list[CaseScore]
    by_kind: dict[str, float]  # truth kind -> share of it recovered (totals)
    outside_by_role: dict[str, float]  # role -> value put there, share of the total loss
    misplaced_by_role: dict[str, float]  # role -> value misplaced there, share of the loss
    total_correct: float  # per account, all cases together
    threshold: float

    def overall(self) -> dict:
        loss = math.fsum(c.loss for c in self.cases)
        recalls = [c.recall for c in self.cases]
        eps = sum(c.endpoints for c in self.cases)
        teps = sum(c.truth_endpoints for c in self.cases)
        hits = sum(c.hits for c in self.cases)

        def share(x: float) -> float:
            return x / loss if loss > 0 else 0.0

        return {
            "cases": len(self.cases),
            "loss": loss,
            "traced": math.fsum(c.traced for c in self.cases),
            "recall": share(self.total_correct),
            "recall_by_case": share(math.fsum(c.correct for c in self.cases)),
            "recall_median": statistics.median(recalls) if recalls else 0.0,
            "false_attribution": share(math.fsum(c.outside for c in self.cases)),
            "false_attribution_median": statistics.median([c.false_attribution for c in self.cases])
            if self.cases
            else 0.0,
            "misplaced": share(
                max(
                    0.0,
                    math.fsum(c.traced for c in self.cases)
                    - self.total_correct
                    - math.fsum(c.outside for c in self.cases),
                )
            ),
            "endpoint_precision": hits / eps if eps else None,
            "endpoint_recall": hits / teps if teps else None,
        }

    def to_dict(self) -> dict:
        r = self.result
        return {
            "path": str(r.path),
            "kind": r.kind,
            "rule": r.rule,
            "level": r.level,
            "stop_at": r.options.get("stop_at"),
            "notes": r.notes,
            "overall": self.overall(),
            "recall_by_kind": self.by_kind,
            "outside_by_role": self.outside_by_role,
            "misplaced_by_role": self.misplaced_by_role,
            "cases": [c.to_dict() for c in self.cases],
        }


def _entities(workspace: str | Path | None, level: str, result: ResultSet) -> dict[str, str] | None:
    if level != "entity":
        return None
    if workspace is None:
        raise InputError(
            f"{result.path} was traced at entity level: its endpoints are entities. "
            "Give --workspace WS (the workspace it was traced on) to map the truth's "
            "accounts to them."
        )
    path = Path(workspace) / "accounts.parquet"
    if not path.is_file():
        raise InputError(f"--workspace {workspace}: no accounts.parquet; is it a tracer workspace?")
    df = pl.read_parquet(path, columns=["account", "entity"])
    return dict(df.iter_rows())


def evaluate(
    results: list[str | Path],
    truth: str | Path,
    *,
    workspace: str | Path | None = None,
    case: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[Score]:
    """Score each result folder against the truth folder of a simulated world."""
    if not results:
        raise InputError("give at least one result folder.")
    if not (0 <= threshold < 1):
        raise InputError(f"--threshold {threshold}: a share between 0 and 1.")
    t = load_truth(truth)
    loss = dict(t.cases.select("case_id", "loss_usd").iter_rows())
    if case is not None and case not in loss:
        raise InputError(f"--case {case}: no such case in {t.folder}/cases.csv.")
    cache: dict[str, dict[str, str] | None] = {}
    scores = []
    for path in results:
        res = load_result(path, t, case)
        unknown = [c for cid in res.case_ids for c in cid.split("+") if c not in loss]
        if unknown:
            raise InputError(
                f"{res.path}: case(s) {', '.join(unknown[:5])} are not in "
                f"{t.folder}/cases.csv: is this the world it was traced on?"
            )
        if res.level not in cache:
            cache[res.level] = _entities(workspace, res.level, res)
        scores.append(_score(res, t, loss, cache[res.level], threshold))
    return scores


def _score(
    res: ResultSet,
    t: Truth,
    loss: dict[str, float],
    entity: dict[str, str] | None,
    threshold: float,
) -> Score:
    def key(account: str) -> str:
        return entity.get(account, account) if entity is not None else account

    network = {key(a) for a in t.network}
    rests = (
        t.rests.with_columns(
            pl.col("account").map_elements(key, return_dtype=pl.String).alias("key")
        )
        if entity is not None
        else t.rests.with_columns(pl.col("account").alias("key"))
    )
    traced_all = res.endpoints.group_by("case_id", "account").agg(pl.col("value").sum())
    by_case_traced = traced_all.partition_by("case_id", as_dict=True)
    role_out: dict[str, float] = {}
    roles_of_key: dict[str, str] = {}
    for account, role in t.roles.items():
        k = key(account)
        old = roles_of_key.get(k)
        if old is None or _ROLE_RANK.get(role, 99) < _ROLE_RANK.get(old, 99):
            roles_of_key[k] = role
    all_traced: dict[str, float] = {}
    all_truth: dict[str, float] = {}
    all_kinds: dict[str, dict[str, float]] = {}
    out = []
    for cid in res.case_ids:
        members = cid.split("+")
        case_loss = math.fsum(loss[m] for m in members)
        truth_rows = rests.filter(pl.col("case_id").is_in(members))
        truth_by_key = dict(truth_rows.group_by("key").agg(pl.col("value").sum()).iter_rows())
        for k, kind, v in truth_rows.select("key", "kind", "value").iter_rows():
            all_kinds.setdefault(k, {})
            all_kinds[k][kind] = all_kinds[k].get(kind, 0.0) + v
        for k, v in truth_by_key.items():
            all_truth[k] = all_truth.get(k, 0.0) + v
        sub = by_case_traced.get((cid,))
        traced: dict[str, float] = {}
        if sub is not None:
            for account, value in sub.select("account", "value").iter_rows():
                traced[account] = traced.get(account, 0.0) + value
        correct_parts, outside_parts = [], []
        for k, v in traced.items():
            all_traced[k] = all_traced.get(k, 0.0) + v
            got = min(v, truth_by_key.get(k, 0.0))
            if got > 0:
                correct_parts.append(got)
            if k not in network:
                outside_parts.append(v)
                role = roles_of_key.get(k, "unknown")
                role_out[role] = role_out.get(role, 0.0) + v
        floor = threshold * case_loss
        mine = {k for k, v in traced.items() if v >= floor and v > 0}
        theirs = {k for k, v in truth_by_key.items() if v >= floor and v > 0}
        out.append(
            CaseScore(
                cid,
                case_loss,
                math.fsum(traced.values()),
                math.fsum(correct_parts),
                math.fsum(outside_parts),
                len(mine),
                len(theirs),
                len(mine & theirs),
            )
        )
    # totals per account over all cases; recovered value shared among the truth's kinds there
    kind_total: dict[str, float] = {}
    kind_found: dict[str, float] = {}
    misplaced: dict[str, float] = {}
    correct_parts = []
    for kinds in all_kinds.values():
        for kind, v in kinds.items():
            kind_total[kind] = kind_total.get(kind, 0.0) + v
    for k, v in all_traced.items():
        want = all_truth.get(k, 0.0)
        got = min(v, want)
        if got > 0:
            correct_parts.append(got)
            kinds = all_kinds[k]
            total = math.fsum(kinds.values())
            for kind, kv in kinds.items():
                kind_found[kind] = kind_found.get(kind, 0.0) + got * kv / total
        if k in network and v > got:
            role = roles_of_key.get(k, "btc transaction" if k.startswith("btctx:") else "unknown")
            misplaced[role] = misplaced.get(role, 0.0) + v - got
    total_loss = math.fsum(c.loss for c in out)

    def shares(d: dict[str, float]) -> dict[str, float]:
        return (
            {k: v / total_loss for k, v in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))}
            if total_loss > 0
            else {}
        )

    by_kind = {k: kind_found.get(k, 0.0) / v for k, v in sorted(kind_total.items()) if v > 0}
    return Score(
        res, out, by_kind, shares(role_out), shares(misplaced), math.fsum(correct_parts), threshold
    )


# when an entity holds accounts of several roles, it is named by the first of these
_ROLE_RANK = {
    r: i
    for i, r in enumerate(
        (
            "exchange",
            "otc",
            "mixer",
            "sanctioned",
            "fee",
            "gang_exchange_deposit",
            "gang_laundering",
            "gang_consolidation",
            "gang_receiving",
            "gang_hop",
            "gang_peel",
            "gang_mixed_out",
            "mule_l2",
            "mule_l1",
            "victim",
            "merchant",
            "employer",
            "person",
        )
    )
}
