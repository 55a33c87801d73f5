"""haircut at a hub: an account with many lots of taint stays linear (lots merged past
``MAX_LOTS``), its allocations still explain every outflow exactly, and nothing else changes."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict

import pytest
from conftest import build
from strategies import rows as _rows
from test_allocations import check_dag
from test_trace_vs_oracle import compare

from tracer import api
from tracer.kernels.pools.haircut import MAX_LOTS
from tracer.kernels.trace import HEAP_ONLY, SCAN_ONLY, SWITCH_OFTEN


def hub_rows(k: int, fan: int = 7, interleave: bool = False):
    """The seed V->A 1,000,000; A pays H 10 k times; H pays Z(i mod fan) 5 k times (after all
    the inflows, or each right after an inflow with ``interleave``)."""
    ins = [(f"a{i:04d}", "A", "H", 10.0) for i in range(k)]
    outs = [(f"h{i:04d}", "H", f"Z{i % fan}", 5.0) for i in range(k)]
    order = [x for pair in zip(ins, outs, strict=True) for x in pair] if interleave else ins + outs
    return _rows(
        ("s0", 0, "V", "A", 1_000_000.0),
        *[(tx, 1 + i, s, d, v) for i, (tx, s, d, v) in enumerate(order)],
    )


@pytest.fixture(scope="module")
def hub_ws(tmp_path_factory):
    return build(tmp_path_factory.mktemp("hub"), hub_rows(200))


def test_hub_allocations_are_capped_and_exact(hub_ws):
    res = api.trace(hub_ws, tx_ids=["s0"], rule="haircut")
    check_dag(res)
    rows = res.allocations.to_pylist()
    per_out = Counter(a["tx_id"] for a in rows if a["account"] == "H")
    assert len(per_out) == 200
    assert max(per_out.values()) <= MAX_LOTS
    assert len(rows) <= 200 * MAX_LOTS + 200  # H's outflows, and A's from the seed
    # H is left holding 100,000 of taint: every outflow took 5 of it, all tainted
    assert all(math.isclose(f["tainted"], 5.0) for f in res.flows.to_pylist() if f["src"] == "H")
    assert res.conserved


def test_first_outflows_are_exact_before_any_merge(tmp_path):
    # H holds MAX_LOTS lots of different sizes: no merge yet, each lot gives its pro rata share
    rows = [("s0", 0, "V", "A", 1000.0)]
    rows += [(f"a{i}", 1 + i, "A", "H", float(i + 1)) for i in range(MAX_LOTS)]
    rows += [("o", 100, "H", "Y", 10.0)]
    ws = build(tmp_path, _rows(*rows))
    res = api.trace(ws, tx_ids=["s0"], rule="haircut")
    held = sum(range(1, MAX_LOTS + 1))
    got = {a["from_tx_id"]: a["amount"] for a in res.allocations.to_pylist() if a["tx_id"] == "o"}
    assert got.keys() == {f"a{i}" for i in range(MAX_LOTS)}
    for i in range(MAX_LOTS):
        assert math.isclose(got[f"a{i}"], 10.0 * (i + 1) / held)


def test_merged_lots_are_credited_to_the_largest(tmp_path):
    # MAX_LOTS lots, the third the largest; one more inflow merges them, credited to it
    sizes = [1.0, 2.0, 50.0] + [3.0] * (MAX_LOTS - 3)
    rows = [("s0", 0, "V", "A", 1000.0)]
    rows += [(f"a{i}", 1 + i, "A", "H", v) for i, v in enumerate(sizes)]
    rows += [("late", 50, "A", "H", 4.0), ("o", 100, "H", "Y", 10.0)]
    ws = build(tmp_path, _rows(*rows))
    res = api.trace(ws, tx_ids=["s0"], rule="haircut")
    check_dag(res)
    got = {a["from_tx_id"]: a["amount"] for a in res.allocations.to_pylist() if a["tx_id"] == "o"}
    held = sum(sizes) + 4.0
    assert got.keys() == {"a2", "late"}
    assert math.isclose(got["a2"], 10.0 * sum(sizes) / held)
    assert math.isclose(got["late"], 10.0 * 4.0 / held)


@pytest.mark.parametrize("interleave", [False, True])
def test_hub_agrees_with_the_oracle(tmp_path, interleave):
    rows = hub_rows(60, interleave=interleave)
    ws = build(tmp_path, rows)
    compare(ws, rows, seeds=["s0"], rule="haircut")
    check_dag(api.trace(ws, tx_ids=["s0"], rule="haircut"))


def test_heap_and_scan_give_the_same_allocations(hub_ws):
    base = api.trace(hub_ws, tx_ids=["s0"], rule="haircut", _scan_mode=HEAP_ONLY)
    for mode in (SCAN_ONLY, SWITCH_OFTEN):
        other = api.trace(hub_ws, tx_ids=["s0"], rule="haircut", _scan_mode=mode)
        assert other.allocations.equals(base.allocations)
        assert other.flows.equals(base.flows)


def test_many_lots_on_random_hubs(tmp_path):
    """Few accounts, many transfers: pools hold far more than MAX_LOTS lots; every flow is
    still explained, and under match with haircut as its fallback too."""
    rng = random.Random(3)
    rows = []
    for i in range(600):
        src, dst = rng.sample(["h0", "h1", "h2", "x", "y"], 2)
        rows.append((f"t{i:04d}", i, src, dst, round(rng.lognormvariate(3, 1), 2)))
    ws = build(tmp_path, _rows(*rows))
    seeds = [r[0] for r in rows[:5]]
    res = api.trace(ws, tx_ids=seeds, rule="haircut")
    check_dag(res)
    per_out = defaultdict(int)
    for a in res.allocations.to_pylist():
        per_out[a["tx_id"]] += 1
    assert max(per_out.values()) <= MAX_LOTS
    check_dag(api.trace(ws, tx_ids=seeds, rule="match", fallback="haircut"))
