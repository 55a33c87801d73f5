"""Temporal reach: the earliest-arrival search, and the scan it finishes with when it grows
large, find exactly what a poison trace reaches, with the oracle's first transfers."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

import oracle
from conftest import build, minutes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import random_transfers
from strategies import rows as _rows

from tracer import api


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000), n_seeds=st.integers(1, 3), horizon=st.sampled_from([None, 60]))
def test_reach_equals_the_accounts_a_poison_trace_reaches(tmp_path_factory, seed, n_seeds, horizon):
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
    rows = _rows(
        ("s", 0, "V", "X", 100),
        ("z", 1, "X", "Y", 0),
        ("y", 2, "Y", "W", 5),
        ("x", 3, "X", "Z", 10),
    )
    ws = build(tmp_path, rows)
    assert ws.graph.zero_values
    got = [r["account"] for r in api.reach(ws, tx_ids=["s"]).to_pylist()]
    poison = api.trace(ws, tx_ids=["s"], rule="poison", stop_at=())
    assert sorted(got) == sorted(r["account"] for r in poison.holdings.to_pylist()) == ["X", "Z"]


# ---------------------------------------------------------------- both paths against the oracle

# The search's work before it finishes with a scan: None the default, 0 a scan from the first
# seed on, small budgets a switch part-way, 10**12 never.
BUDGETS = (None, 0, 1, 2, 5, 20, 10**12)
EPOCH_UTC = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _us(when: dt.datetime) -> int:
    return (when - EPOCH_UTC) // dt.timedelta(microseconds=1)


def _dt(us: int | None) -> dt.datetime | None:
    return None if us is None else EPOCH_UTC + dt.timedelta(microseconds=us)


def check(
    ws,
    transfers,
    *,
    tx_ids=None,
    from_accounts=None,
    since=None,
    until=None,
    horizon_min=None,
    budgets=BUDGETS,
):
    """reach() with every budget gives the oracle's accounts, first transfers and order."""
    seeds = (
        tx_ids
        if from_accounts is None
        else oracle.seeds_from_accounts(transfers, from_accounts, since, until)
    )
    horizon = None if horizon_min is None else dt.timedelta(minutes=horizon_min)
    first = oracle.reach(
        transfers, seeds, horizon=None if horizon is None else horizon_min * 60_000_000
    )
    want = [(acc, tr.tx_id, tr.ts) for acc, tr in first.items()]
    g = ws.graph
    for budget in budgets:
        got = api.reach(
            ws,
            tx_ids=tx_ids,
            from_accounts=from_accounts,
            since=_dt(since),
            until=_dt(until),
            horizon=horizon,
            _budget=budget,
        )
        rows = [(r["account"], r["first_tx_id"], _us(r["first_ts"])) for r in got.to_pylist()]
        assert rows == want, budget
        assert (ws.scratch(g) == -1).all(), budget  # the scratch is restored
    return want


def test_ties_in_time_go_by_replay_order(tmp_path):
    # A->B comes after the seed at the same minute: it carries. B->C at that minute comes
    # before A->B in replay order: it does not; B->D a minute later does.
    rows = _rows(
        ("s", 0, "V", "A", 10),
        ("bc", 0, "B", "C", 5),
        ("ab", 0, "A", "B", 5),
        ("bd", 1, "B", "D", 5),
        ("dc", 1, "D", "C", 5),
        ("cd", 2, "C", "E", 5),
    )
    ws = build(tmp_path, rows)
    assert check(ws, rows, tx_ids=["s"]) == [
        ("A", "s", minutes(0)),
        ("B", "ab", minutes(0)),
        ("D", "bd", minutes(1)),
        ("C", "dc", minutes(1)),
        ("E", "cd", minutes(2)),
    ]


def test_transfers_that_move_nothing_carry_nothing(tmp_path):
    # A zero-value seed reaches nothing; a zero-value transfer on the way does not carry, and
    # the later transfer that moves money is the account's first.
    rows = _rows(
        ("z0", 0, "U", "Q", 0),
        ("s", 1, "V", "A", 10),
        ("z1", 2, "A", "B", 0),
        ("q", 3, "Q", "R", 4),
        ("bc1", 3, "B", "C", 7),
        ("ab", 4, "A", "B", 3),
        ("bc", 5, "B", "C", 3),
    )
    ws = build(tmp_path, rows)
    assert ws.graph.zero_values
    assert check(ws, rows, tx_ids=["s"]) == [
        ("A", "s", minutes(1)),
        ("B", "ab", minutes(4)),
        ("C", "bc", minutes(5)),
    ]
    assert check(ws, rows, tx_ids=["z0"]) == []
    assert check(ws, rows, tx_ids=["z0", "s"])[0] == ("A", "s", minutes(1))


def test_several_seeds_the_earliest_arrival_wins(tmp_path):
    # Seed t2 pays B, which seed t1's money already reached; seed t3 leaves an account that
    # money reached earlier; the horizon ends at minute 3 (inclusive).
    rows = _rows(
        ("t1", 0, "V", "A", 10),
        ("ab", 1, "A", "B", 5),
        ("t2", 2, "W", "B", 5),
        ("t3", 2, "B", "C", 5),
        ("cd", 3, "C", "D", 5),
        ("de", 4, "D", "E", 5),
        ("t4", 5, "X", "F", 5),
    )
    ws = build(tmp_path, rows)
    seeds = ["t1", "t2", "t3", "t4"]
    assert [a for a, _, _ in check(ws, rows, tx_ids=seeds)] == ["A", "B", "C", "D", "E", "F"]
    assert [a for a, _, _ in check(ws, rows, tx_ids=seeds, horizon_min=3)] == ["A", "B", "C", "D"]
    assert check(ws, rows, tx_ids=["t2", "t4"])[0] == ("B", "t2", minutes(2))
    assert [a for a, _, _ in check(ws, rows, from_accounts=["B"])] == ["C", "D", "E"]


def _transfers(rng: random.Random, n: int, n_accounts: int, zero_share: float):
    """Random transfers with many equal timestamps and some that move nothing."""
    rows = random_transfers(rng, n, n_accounts)
    return [replace(r, value=0.0) if rng.random() < zero_share else r for r in rows]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    n_seeds=st.integers(1, 3),
    horizon=st.sampled_from([None, 0, 30, 200]),
    zero_share=st.sampled_from([0.0, 0.2]),
    by_account=st.booleans(),
)
def test_reach_with_any_budget_equals_the_oracle(
    tmp_path_factory, seed, n_seeds, horizon, zero_share, by_account
):
    rng = random.Random(seed)
    rows = _transfers(rng, 100, 12, zero_share)
    ws = build(tmp_path_factory.mktemp("r"), rows)
    if by_account:
        accounts = sorted({rows[rng.randrange(60)].src for _ in range(n_seeds)})
        since = rows[rng.randrange(60)].ts if rng.random() < 0.5 else None
        if not oracle.seeds_from_accounts(rows, accounts, since, None):
            return
        want = check(ws, rows, from_accounts=accounts, since=since, horizon_min=horizon)
        seeds = oracle.seeds_from_accounts(rows, accounts, since, None)
    else:
        seeds = sorted({rows[rng.randrange(60)].tx_id for _ in range(n_seeds)})
        want = check(ws, rows, tx_ids=seeds, horizon_min=horizon)
    # The oracle's reach is what a poison trace with no stops reaches.
    poison = oracle.trace(
        rows, seeds, rule="poison", horizon=None if horizon is None else horizon * 60_000_000
    )
    assert {a: ts for a, _, ts in want} == {a: h.first_ts for a, h in poison.holdings.items()}


def test_reach_on_a_larger_graph_with_any_budget(tmp_path):
    rng = random.Random(11)
    rows = _transfers(rng, 3000, 150, 0.05)
    ws = build(tmp_path, rows)
    budgets = (None, 0, 1, 7, 50, 300, 2000, 10**12)
    sizes = []
    for i in (0, 40, 700, 1500, 2400, 2990):
        sizes.append(len(check(ws, rows, tx_ids=[rows[i].tx_id], budgets=budgets)))
        check(ws, rows, tx_ids=[rows[i].tx_id, rows[i + 5].tx_id], horizon_min=120, budgets=budgets)
    assert max(sizes) > 100  # the search was cut short with much left to reach


def test_each_account_comes_with_its_label(tmp_path):
    rows = _rows(("s", 0, "V", "A", 10), ("ab", 1, "A", "B", 5), ("bc", 2, "B", "C", 5))
    ws = build(tmp_path, rows, labels={"B": "exchange", "C": "mixer", "V": "exchange"})
    got = api.reach(ws, tx_ids=["s"]).to_pylist()
    assert [(r["account"], r["label"]) for r in got] == [
        ("A", None),
        ("B", "exchange"),
        ("C", "mixer"),
    ]
