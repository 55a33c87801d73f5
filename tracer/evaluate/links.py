"""Case networks (``tracer links``) scored against the truth's gangs: which cases a result
joins, and whether the truth puts them in one gang."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tracer.errors import InputError, printable
from tracer.evaluate.load import _json, _read_csv
from tracer.evaluate.text import _grid, _pct

__all__ = ["score_links", "links_score_text"]


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def score_links(result: str | Path, truth: str | Path) -> dict:
    """Pairwise scores of case networks against the gangs of ``truth/cases.csv``.

    ``result``: a batch result folder (networks drawn by ``tracer.links.links`` with its
    defaults) or a JSON file written by ``tracer links --format json`` (any options). Over the
    cases both know (a case in no network is a network of its own; for a JSON file, whose
    unlinked cases are not listed, every case of the truth): ``precision`` = pairs of cases in
    one network that one gang holds / pairs in one network; ``recall`` = the same / pairs of
    cases of one gang. None when there is no pair to count."""
    from tracer.links import links as find_links

    path = Path(result)
    folder = Path(truth)
    gangs_df = _read_csv(
        folder / "cases.csv",
        "cases and their gangs",
        ("case_id", "gang"),
        schema_overrides={"case_id": pl.String, "gang": pl.String},
    )
    gang = {c: g for c, g in gangs_df.select("case_id", "gang").iter_rows() if g is not None}
    if path.is_dir():
        found = find_links(path)
        ids = _case_ids(path)
    elif path.is_file():
        found = _json(path)
        if not (
            isinstance(found, dict)
            and isinstance(found.get("networks"), list)
            and all(
                isinstance(n, dict) and isinstance(n.get("cases"), list) for n in found["networks"]
            )
        ):
            raise InputError(
                f"{printable(path, 200)}: not the JSON of tracer links --format json "
                "(no networks with cases)."
            )
        ids = sorted(gang)
    else:
        raise InputError(
            f"--links {printable(path, 200)}: no such folder or file. Give a batch "
            "result folder or the JSON of tracer links --format json."
        )
    known = [c for c in ids if c in gang]
    if not known:
        raise InputError(
            f"--links {printable(path, 200)}: none of its cases is in "
            f"{printable(folder / 'cases.csv', 200)}; is it a batch of this world?"
        )
    network = {c: f"case:{c}" for c in known}
    for net in found["networks"]:
        for c in net["cases"]:
            if c in network:
                network[c] = f"network:{net.get('network')}"
    together: dict[tuple[str, str], int] = {}
    by_net: dict[str, int] = {}
    by_gang: dict[str, int] = {}
    for c in known:
        key = (network[c], gang[c])
        together[key] = together.get(key, 0) + 1
        by_net[network[c]] = by_net.get(network[c], 0) + 1
        by_gang[gang[c]] = by_gang.get(gang[c], 0) + 1
    both = sum(_pairs(n) for n in together.values())
    same_net = sum(_pairs(n) for n in by_net.values())
    same_gang = sum(_pairs(n) for n in by_gang.values())
    options = {
        k: found[k]
        for k in ("min_value", "min_case_share", "max_share", "min_weight", "ignore_labels")
        if k in found
    }
    return {
        "links": str(path),
        "truth": str(folder),
        "options": options,
        "cases": len(known),
        "networks": sum(1 for n in by_net.values() if n >= 2),
        "gangs": len(by_gang),
        "pairs_same_network": same_net,
        "pairs_same_gang": same_gang,
        "pairs_both": both,
        "precision": both / same_net if same_net else None,
        "recall": both / same_gang if same_gang else None,
    }


def _case_ids(folder: Path) -> list[str]:
    import pyarrow.parquet as pq

    return pq.read_table(folder / "cases.parquet", columns=["case_id"])["case_id"].to_pylist()


def links_score_text(score: dict) -> str:
    """``tracer evaluate --links`` as a table."""
    from tracer.report.text import safe

    body = [
        (
            "precision",
            _pct(score["precision"]),
            f"{score['pairs_both']:,} of {score['pairs_same_network']:,} pairs in one network "
            "are of one gang",
        ),
        (
            "recall",
            _pct(score["recall"]),
            f"{score['pairs_both']:,} of {score['pairs_same_gang']:,} pairs of one gang are in "
            "one network",
        ),
    ]
    return "\n".join(
        [
            f"Networks of {safe(score['links'])} against the gangs of {safe(score['truth'])}: "
            f"{score['cases']:,} cases, {score['networks']:,} networks, {score['gangs']:,} gangs",
            "",
            *_grid(("pairwise", "score", "pairs of cases"), body, {1}),
        ]
    )
