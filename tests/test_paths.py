"""Evidence paths: the top k chains into each endpoint, against brute force over the DAG."""

from __future__ import annotations

import math
import random
from collections import defaultdict

import pytest
from conftest import build
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import random_transfers

from tracer import api


def brute_force(res, k):
    """Every chain from a seed through the allocation DAG, by bottleneck, per endpoint."""
    flows = res.flows.to_pylist()
    by_tx = {f["tx_id"]: f for f in flows}
    links = defaultdict(float)
    for a in res.allocations.to_pylist():
        links[(a["from_tx_id"], a["tx_id"])] += a["amount"]
    into = defaultdict(list)
    for (i, o), x in links.items():
        into[o].append((i, x))
    memo = {}

    def chains(tx):  # all chains ending with flow tx: list of (value, [tx...])
        if tx not in memo:
            f = by_tx[tx]
            out = [(f["tainted"], [tx])] if f["hop"] == 1 else []
            for i, x in into[tx]:
                out += [(min(v, x), p + [tx]) for v, p in chains(i)]
            memo[tx] = out
        return memo[tx]

    best = {}
    for e in res.endpoints.to_pylist():
        every = [c for f in flows if f["dst"] == e["account"] for c in chains(f["tx_id"])]
        best[e["account"]] = sorted((v for v, _ in every), reverse=True)[:k]
    return best


def check(res, k):
    paths = res.paths.to_pylist()
    flows = {f["tx_id"]: f for f in res.flows.to_pylist()}
    got = defaultdict(list)
    for p in paths:
        got[p["account"]].append(p["value"])
        chain = [flows[t] for t in p["tx_ids"]]
        assert chain[0]["hop"] == 1  # starts at a seed
        assert chain[-1]["dst"] == p["account"]
        assert p["accounts"] == [chain[0]["src"], *(f["dst"] for f in chain)]
        for a, b in zip(chain, chain[1:], strict=False):
            assert a["dst"] == b["src"] and a["ts"] <= b["ts"]
        assert math.isclose(p["value"], min(p["amounts"]))
    for acc in got:
        ranks = [r["rank"] for r in paths if r["account"] == acc]
        assert ranks == list(range(1, len(ranks) + 1))
    want = brute_force(res, k)
    assert set(got) == {a for a, v in want.items() if v}
    for acc, values in want.items():
        assert got[acc] == pytest.approx(values, rel=1e-12), acc


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    rule=st.sampled_from(["haircut", "fifo", "lifo", "libr"]),
    k=st.sampled_from([1, 3]),
)
def test_paths_are_the_best_chains(tmp_path_factory, seed, rule, k):
    rng = random.Random(seed)
    rows = random_transfers(rng, 60, 6)
    ws = build(tmp_path_factory.mktemp("p"), rows, {"acc000": "exchange"})
    seeds = sorted({rows[rng.randrange(15)].tx_id for _ in range(2)})
    check(api.trace(ws, tx_ids=seeds, rule=rule, top_paths=k), k)


def test_no_paths_when_asked_for_none(tmp_path):
    rows = random_transfers(random.Random(1), 30, 5)
    ws = build(tmp_path, rows)
    assert api.trace(ws, tx_ids=[rows[0].tx_id], top_paths=0).paths is None
