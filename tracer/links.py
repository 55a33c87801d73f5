"""Networks of cases (``tracer links``): which cases of a batch share the same launderers.

Two cases are linked by the hubs (endpoints and intermediaries, ``hub_cases.parquet``) that
money from both reached. Not every shared hub says the same gang:

- service accounts are shared by everybody: hubs labelled with one of ``ignore_labels``
  (default ``DEFAULT_IGNORE``: exchange, otc, bridge, mixer, defi, gambling, wallet_service)
  are left out. The pseudo-label ``sanctioned-service`` leaves out a *sanctioned service*: a
  ``sanctioned`` hub that the workspace's labels group with other addresses under one entity
  (a sanctioned exchange), while a sanctioned address standing alone (a gang wallet on the
  OFAC list) is kept; ``sanctioned`` leaves out every sanctioned hub. Bitcoin's ``fee`` sink
  is never a hub.
- a hub counts for a case only when at least ``min_case_share`` of the case's traced value
  (``seed_value``) reached it (``tainted_in``), and at least ``min_value``: a trickle (a mule
  buying groceries, a desk's mismatch) says little;
- a hub reached from many cases says little about any two of them: it weighs
  ``ln(N / n)`` (N cases in the batch, n of them reach it; an IDF weight), and nothing when
  n > ``max_share`` × N.

Two cases' link weight is the sum of the weights of the hubs they share. Networks are then
grown by average linkage: starting from single cases, the two groups with the highest average
link weight over all their pairs of cases (unlinked pairs count 0) merge, while that average is
at least ``min_weight``. One case that leaks into a second gang's wallets links to that gang's
cases, but cannot pull two gangs into one network (the average over the two groups stays low).
With ``min_weight=0, max_share=1, min_case_share=0, ignore_labels=()`` every shared hub links,
and networks are the connected groups of cases (the behaviour before these options).

Deterministic: of two pairs of groups with the same average (to 9 decimals), the one whose
first case ids sort first merges first.
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Iterable
from pathlib import Path

import pyarrow.parquet as pq

from tracer.errors import InputError, printable

__all__ = [
    "links",
    "DEFAULT_IGNORE",
    "DEFAULT_MAX_SHARE",
    "DEFAULT_MIN_CASE_SHARE",
    "DEFAULT_MIN_WEIGHT",
    "SANCTIONED_SERVICE",
    "parse_labels",
]

SANCTIONED_SERVICE = "sanctioned-service"
DEFAULT_IGNORE = (
    "exchange",
    "otc",
    "bridge",
    "mixer",
    "defi",
    "gambling",
    "wallet_service",
    SANCTIONED_SERVICE,
)
DEFAULT_MAX_SHARE = 0.5
DEFAULT_MIN_CASE_SHARE = 0.02
DEFAULT_MIN_WEIGHT = 0.5
_NOT_HUBS = frozenset({"fee"})


def parse_labels(text: str) -> tuple[str, ...]:
    """``--ignore-labels`` text: labels separated by commas; empty or ``none``: no label."""
    words = [w.strip().lower() for w in text.split(",")]
    if [w for w in words if w] in ([], ["none"]):
        return ()
    if any(not w for w in words):
        raise InputError(
            f"--ignore-labels {printable(text, 80)}: an empty label between commas; "
            "give labels separated by commas, e.g. exchange,otc,mixer (or none)."
        )
    return tuple(sorted(set(words)))


def _sanctioned_services(folder: Path) -> set[str]:
    """Hub ids (accounts and entities) of sanctioned services: entities of the workspace's
    labels that group two addresses or more, and their addresses."""
    try:
        ws = json.loads((folder / "batch.json").read_text()).get("workspace")
    except (OSError, ValueError, AttributeError):
        return set()
    path = Path(ws) / "labels.parquet" if isinstance(ws, str) else None
    if path is None or not path.is_file():
        return set()
    try:
        t = pq.read_table(path, columns=["account", "entity"])
    except Exception:  # noqa: BLE001 - an unreadable workspace: no services known
        return set()
    members: dict[str, set[str]] = {}
    for acc, ent in zip(t["account"].to_pylist(), t["entity"].to_pylist(), strict=True):
        if ent:
            members.setdefault(ent, set()).add(acc)
    out: set[str] = set()
    for ent, accs in members.items():
        if len(accs) >= 2:
            out.add(ent)
            out.update(accs)
    return out


def _check(name: str, x: float, lo: float, hi: float = math.inf) -> None:
    if not (isinstance(x, (int, float)) and math.isfinite(x) and lo <= x <= hi):
        bound = f"between {lo:g} and {hi:g}" if math.isfinite(hi) else f"{lo:g} or more"
        raise InputError(f"--{name} {x}: must be a number {bound}.")


def _average_linkage(n: int, weight: dict[tuple[int, int], float], min_weight: float) -> list[int]:
    """Cluster of each of ``n`` items (the smallest item of its cluster) by average linkage
    over the sparse pair weights ``weight`` ((i, j) with i < j). Averages are compared
    rounded to 9 decimals, so that the order in which sums were added never decides a tie:
    the pair of clusters with the smallest ids does."""
    size = [1] * n
    alive = [True] * n
    version = [0] * n
    nbr: list[dict[int, float]] = [{} for _ in range(n)]
    for (i, j), w in weight.items():
        nbr[i][j] = w
        nbr[j][i] = w
    heap = [(-round(w, 9), i, j, 0, 0) for (i, j), w in weight.items()]
    heapq.heapify(heap)
    parent = list(range(n))
    while heap:
        neg, i, j, vi, vj = heapq.heappop(heap)
        if not (alive[i] and alive[j]) or version[i] != vi or version[j] != vj:
            continue
        if -neg < min_weight:
            break
        # merge j into i (i < j: the cluster keeps its smallest item)
        alive[j] = False
        parent[j] = i
        size[i] += size[j]
        version[i] += 1
        del nbr[i][j]
        for k, w in nbr[j].items():
            if k == i:
                continue
            del nbr[k][j]
            nbr[i][k] = nbr[i].get(k, 0.0) + w
            nbr[k][i] = nbr[i][k]
        nbr[j] = {}
        for k, w in nbr[i].items():
            a, b = (i, k) if i < k else (k, i)
            heapq.heappush(heap, (-round(w / (size[i] * size[k]), 9), a, b, version[a], version[b]))

    def root(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    return [root(x) for x in range(n)]


def links(
    result: str | Path,
    *,
    min_value: float = 0.0,
    min_case_share: float = DEFAULT_MIN_CASE_SHARE,
    max_share: float = DEFAULT_MAX_SHARE,
    min_weight: float = DEFAULT_MIN_WEIGHT,
    ignore_labels: Iterable[str] = DEFAULT_IGNORE,
) -> dict:
    """Networks of the cases of a batch ``result`` folder (see the module's docstring).

    Networks (two cases or more) by number of cases, then first case_id; each with its shared
    hubs (reached from two of its cases or more) by number of its cases, then value at
    endpoints, then account."""
    folder = Path(result)
    if not (folder / "hub_cases.parquet").is_file() or not (folder / "cases.parquet").is_file():
        raise InputError(
            f"{printable(folder, 200)}: not a batch result (no hub_cases.parquet). "
            "Create one with: tracer batch -w DIR CASES -o RESULT"
        )
    _check("min-value", min_value, 0.0)
    _check("min-case-share", min_case_share, 0.0, 1.0)
    _check("max-share", max_share, 0.0, 1.0)
    _check("min-weight", min_weight, 0.0)
    ignore = frozenset(ignore_labels)
    ct = pq.read_table(folder / "cases.parquet", columns=["case_id", "seed_value"])
    seed_value = {
        c: (v or 0.0)
        for c, v in zip(ct["case_id"].to_pylist(), ct["seed_value"].to_pylist(), strict=True)
    }
    n_cases = ct.num_rows
    services = _sanctioned_services(folder) if SANCTIONED_SERVICE in ignore else set()
    t = pq.read_table(
        folder / "hub_cases.parquet", columns=["case_id", "account", "label", "value", "tainted_in"]
    )
    per_hub: dict[str, list] = {}
    for cid, acc, label, value, tin in zip(
        *(t[c].to_pylist() for c in ("case_id", "account", "label", "value", "tainted_in")),
        strict=True,
    ):
        if acc in _NOT_HUBS or label in ignore or tin is None or tin < min_value:
            continue
        if label == "sanctioned" and acc in services:
            continue
        if tin < min_case_share * seed_value.get(cid, 0.0):
            continue
        h = per_hub.setdefault(acc, [label, {}])
        h[1][cid] = h[1].get(cid, 0.0) + (value or 0.0)
    ids = sorted({c for _, cases in per_hub.values() if len(cases) >= 2 for c in cases})
    index = {c: i for i, c in enumerate(ids)}
    hub_weight: dict[str, float] = {}
    pair: dict[tuple[int, int], float] = {}
    for acc in sorted(per_hub):
        cases = per_hub[acc][1]
        n = len(cases)
        if n < 2 or n > max_share * n_cases:
            continue
        w = math.log(n_cases / n)
        hub_weight[acc] = w
        members = sorted(index[c] for c in cases)
        for x, i in enumerate(members):
            for j in members[x + 1 :]:
                pair[i, j] = pair.get((i, j), 0.0) + w
    cluster = _average_linkage(len(ids), pair, min_weight)
    members_of: dict[int, list[str]] = {}
    for c, k in zip(ids, cluster, strict=True):
        members_of.setdefault(k, []).append(c)
    groups = sorted((m for m in members_of.values() if len(m) >= 2), key=lambda m: (-len(m), m[0]))
    networks = []
    for number, cases in enumerate(groups, start=1):
        inside = set(cases)
        hubs = []
        for acc, w in hub_weight.items():
            label, values = per_hub[acc]
            shared = [c for c in values if c in inside]
            if len(shared) >= 2:
                hubs.append(
                    {
                        "account": acc,
                        "label": label,
                        "cases": len(shared),
                        "weight": round(w, 6),
                        "value": math.fsum(values[c] for c in sorted(shared)),
                    }
                )
        hubs.sort(key=lambda h: (-h["cases"], -h["value"], h["account"]))
        networks.append({"network": number, "cases": cases, "hubs": hubs})
    return {
        "min_value": float(min_value),
        "min_case_share": float(min_case_share),
        "max_share": float(max_share),
        "min_weight": float(min_weight),
        "ignore_labels": sorted(ignore),
        "cases": n_cases,
        "linked_cases": sum(len(n["cases"]) for n in networks),
        "networks": networks,
    }
