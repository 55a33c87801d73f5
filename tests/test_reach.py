"""Temporal reach: the earliest-arrival search finds exactly what a poison trace reaches."""

from __future__ import annotations

import random

from conftest import build
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_properties import random_transfers

from tracer import api


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), n_seeds=st.integers(1, 3), horizon=st.sampled_from([None, 60]))
def test_reach_equals_the_accounts_a_poison_trace_reaches(tmp_path_factory, seed, n_seeds,
                                                          horizon):
    import datetime as dt

    rng = random.Random(seed)
    rows = random_transfers(rng, 120, 10)  # many equal timestamps: order ties matter
    ws = build(tmp_path_factory.mktemp("r"), rows)
    seeds = sorted({rows[rng.randrange(40)].tx_id for _ in range(n_seeds)})
    h = None if horizon is None else dt.timedelta(minutes=horizon)
    poison = api.trace(ws, tx_ids=seeds, rule="poison", stop_at=(), horizon=h)
    got = api.reach(ws, tx_ids=seeds, horizon=h)
    want = {r["account"]: r["first_ts"] for r in poison.holdings.to_pylist()}
    assert {r["account"]: r["first_ts"] for r in got.to_pylist()} == want


def test_a_transfer_that_moves_nothing_reaches_nothing(tmp_path):
    from test_trace_vs_oracle import _rows

    rows = _rows(("s", 0, "V", "X", 100), ("z", 1, "X", "Y", 0), ("y", 2, "Y", "W", 5),
                 ("x", 3, "X", "Z", 10))
    ws = build(tmp_path, rows)
    assert ws.graph.zero_values
    got = [r["account"] for r in api.reach(ws, tx_ids=["s"]).to_pylist()]
    poison = api.trace(ws, tx_ids=["s"], rule="poison", stop_at=())
    assert sorted(got) == sorted(r["account"] for r in poison.holdings.to_pylist()) == ["X", "Z"]
