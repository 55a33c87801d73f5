"""Allocations: which inflows funded each tainted outflow (the evidence DAG)."""

from __future__ import annotations

import math
import random
from collections import defaultdict

import pytest
from conftest import build
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import random_transfers, rows
from test_trace_vs_oracle import CASES

from tracer import api

CONSERVED = ("haircut", "fifo", "lifo", "libr")


def check_dag(res):
    """Every non-seed flow is fully explained by allocations from earlier flows into its
    sender, and every allocation points at such a flow."""
    flows = res.flows.to_pylist()
    order = {f["tx_id"]: i for i, f in enumerate(flows)}
    by_tx = {f["tx_id"]: f for f in flows}
    funded = defaultdict(float)
    for a in res.allocations.to_pylist():
        assert a["tx_id"] in by_tx, a
        src = by_tx[a["from_tx_id"]]
        out = by_tx[a["tx_id"]]
        assert src["dst"] == out["src"] == a["account"]
        assert order[a["from_tx_id"]] < order[a["tx_id"]]
        assert a["amount"] > 0
        funded[a["tx_id"]] += a["amount"]
    for f in flows:
        if f["hop"] > 1:
            assert math.isclose(funded[f["tx_id"]], f["tainted"], rel_tol=1e-9, abs_tol=1e-9), f


def test_fifo_allocation_by_hand(tmp_path):
    transfers, seeds, labels = CASES["clean_before"]
    ws = build(tmp_path, transfers, labels)
    # X holds [C30, T100 from s]: o1 (50) takes 30 clean then 20 of s; o2 (60) takes 60 of s.
    res = api.trace(ws, tx_ids=seeds, rule="fifo")
    assert res.allocations.to_pylist() == [
        {"tx_id": "o1", "from_tx_id": "s", "account": "X", "amount": 20.0},
        {"tx_id": "o2", "from_tx_id": "s", "account": "X", "amount": 60.0},
    ]
    res = api.trace(ws, tx_ids=seeds, rule="haircut")
    got = {(a["tx_id"], a["from_tx_id"]): a["amount"] for a in res.allocations.to_pylist()}
    assert got.keys() == {("o1", "s"), ("o2", "s")}
    assert math.isclose(got[("o1", "s")], 50 * 100 / 130)


def test_two_lots_pro_rata_and_oldest_first(tmp_path):
    transfers = rows(
        ("s1", 0, "V", "X", 60),
        ("s2", 1, "W", "X", 40),
        ("c", 2, "C", "X", 100),
        ("o", 3, "X", "Y", 150),
    )
    ws = build(tmp_path, transfers)
    seeds = ["s1", "s2"]

    def alloc(rule):
        table = api.trace(ws, tx_ids=seeds, rule=rule).allocations
        return {a["from_tx_id"]: a["amount"] for a in table.to_pylist()}

    assert alloc("fifo") == {"s1": 60.0, "s2": 40.0}
    assert alloc("lifo") == {"s2": 40.0, "s1": 10.0}  # [c 100, s2 40] first, then 10 of s1
    assert alloc("libr") == {"s1": 50.0}  # clean 100 first, then the oldest lot
    h = alloc("haircut")  # 150/200 of each lot
    assert math.isclose(h["s1"], 45.0) and math.isclose(h["s2"], 30.0)


@pytest.mark.parametrize("rule", CONSERVED)
def test_allocations_explain_every_flow_on_hand_made_cases(tmp_path, rule):
    for name, (transfers, seeds, labels) in sorted(CASES.items()):
        ws = build(tmp_path / name, transfers, labels)
        check_dag(api.trace(ws, tx_ids=seeds, rule=rule))


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    rule=st.sampled_from(CONSERVED),
    min_amount=st.sampled_from([0.0, 20.0]),
    max_hops=st.sampled_from([None, 2]),
)
def test_allocations_explain_every_flow_on_random_graphs(
    tmp_path_factory, seed, rule, min_amount, max_hops
):
    rng = random.Random(seed)
    transfers = random_transfers(rng, 150, 10)
    ws = build(tmp_path_factory.mktemp("a"), transfers, {"acc000": "exchange"})
    res = api.trace(
        ws,
        tx_ids=[transfers[rng.randrange(30)].tx_id],
        rule=rule,
        min_amount=min_amount,
        max_hops=max_hops,
    )
    check_dag(res)


def test_poison_has_no_allocations(tmp_path):
    transfers, seeds, labels = CASES["clean_before"]
    ws = build(tmp_path, transfers, labels)
    assert api.trace(ws, tx_ids=seeds, rule="poison").allocations.num_rows == 0
