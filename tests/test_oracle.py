"""Tests of the reference tracer (tests/oracle.py) alone, on small hand-made graphs.

Every expected number is worked out by hand in the comments.  Notation: a pool is
written oldest first, e.g. [C30, T100] = 30 clean (older) then 100 tainted (newer).
Account names: V = victim / seed sender, C = clean depositor, E = exchange (stopped),
X, Y, Z, W = mules.
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from oracle import Transfer, seeds_from_accounts, trace  # noqa: E402

ALL_RULES = ("poison", "haircut", "fifo", "lifo", "libr")
CONSERVING_RULES = ("haircut", "fifo", "lifo", "libr")


def T(tx_id, ts, src, dst, value, seq=0):
    return Transfer(tx_id=tx_id, ts=ts, seq=seq, src=src, dst=dst, value=float(value))


def approx(x):
    return pytest.approx(x, rel=1e-12, abs=1e-12)


def flow_taint(result, tx_id):
    """tainted amount of a transfer (0 if it is not a flow)."""
    return sum(f.tainted for f in result.flows if f.tx_id == tx_id)


def balances(result):
    return {acct: h.tainted_balance for acct, h in result.holdings.items()}


# ---------------------------------------------------------------------------
# (a) clean deposit BEFORE the taint, then a partial outflow
# ---------------------------------------------------------------------------

DEPOSIT_BEFORE = [
    T("c1", 1, "C", "X", 30),  # X: [C30]
    T("s1", 2, "V", "X", 100),  # seed; X: [C30, T100]
    T("x1", 3, "X", "Y", 50),  # X sends half its balance
]


@pytest.mark.parametrize(
    "rule, tau_x1, x_left",
    [
        # fifo: oldest first -> C30 then 20 of T100: tau 20; X keeps T80
        ("fifo", 20.0, 80.0),
        # lifo: newest first -> 50 of T100: tau 50; X keeps [C30, T50]
        ("lifo", 50.0, 50.0),
        # haircut: bal 130, tau = (100 * 50) / 130 = 5000/130 = 38.4615...;
        # t = 100 - 38.46 = 61.538...
        ("haircut", 5000.0 / 130.0, 100.0 - 5000.0 / 130.0),
        # libr: a=50 > c=30 and <= 130: tau = 50 - 30 = 20, t = 80, c = 0
        ("libr", 20.0, 80.0),
        # poison: X is poisoned -> the whole 50 is tainted; b = 130 - 50 = 80 and X
        # is poisoned, so X's tainted_balance is 80
        ("poison", 50.0, 80.0),
    ],
)
def test_clean_deposit_before_taint(rule, tau_x1, x_left):
    r = trace(DEPOSIT_BEFORE, ["s1"], rule=rule)
    assert r.seed_value == 100.0
    assert flow_taint(r, "x1") == approx(tau_x1)
    assert r.holdings["X"].tainted_balance == approx(x_left)
    assert r.holdings["X"].tainted_in == 100.0
    assert r.holdings["X"].tainted_out == approx(tau_x1)
    assert r.holdings["Y"].tainted_balance == approx(tau_x1)
    assert r.holdings["Y"].min_hops == 2
    assert r.holdings["X"].min_hops == 1
    # C had a shortfall of 30 (it sent money it was never seen receiving) but never
    # received taint; V is a seed sender that never received taint: neither is listed.
    assert set(r.holdings) == {"X", "Y"}
    assert r.unexplained == 0.0
    assert [f.tx_id for f in r.flows] == ["s1", "x1"]
    assert [f.hop for f in r.flows] == [1, 2]
    if rule != "poison":
        assert r.at_endpoints == approx(100.0)
    else:
        assert r.at_endpoints == approx(130.0)  # exposure, not conserved


def test_opening_balance_is_the_oldest_clean_segment():
    # Same as (a) without c1 but with opening[X] = 30: X starts as [C30].
    transfers = [t for t in DEPOSIT_BEFORE if t.tx_id != "c1"]
    for rule in ALL_RULES:
        with_deposit = trace(DEPOSIT_BEFORE, ["s1"], rule=rule)
        with_opening = trace(transfers, ["s1"], rule=rule, opening={"X": 30.0})
        assert balances(with_opening) == balances(with_deposit), rule
        assert flow_taint(with_opening, "x1") == flow_taint(with_deposit, "x1"), rule


# ---------------------------------------------------------------------------
# (b) clean deposit AFTER the taint
# ---------------------------------------------------------------------------

DEPOSIT_AFTER = [
    T("s1", 1, "V", "X", 100),  # seed; X: [T100]
    T("c1", 2, "C", "X", 30),  # X: [T100, C30]
    T("x1", 3, "X", "Y", 50),
]


@pytest.mark.parametrize(
    "rule, tau_x1, x_left",
    [
        # fifo: oldest first -> 50 of T100: tau 50; X keeps [T50, C30]
        ("fifo", 50.0, 50.0),
        # lifo: newest first -> C30 then 20 of T100: tau 20; X keeps T80
        ("lifo", 20.0, 80.0),
        # haircut: order does not matter, same as (a): 5000/130
        ("haircut", 5000.0 / 130.0, 100.0 - 5000.0 / 130.0),
        # libr: clean first, order does not matter: tau 20
        ("libr", 20.0, 80.0),
        # poison: 50 tainted, b = 80
        ("poison", 50.0, 80.0),
    ],
)
def test_clean_deposit_after_taint(rule, tau_x1, x_left):
    r = trace(DEPOSIT_AFTER, ["s1"], rule=rule)
    assert flow_taint(r, "x1") == approx(tau_x1)
    assert r.holdings["X"].tainted_balance == approx(x_left)
    assert r.holdings["Y"].tainted_balance == approx(tau_x1)


# ---------------------------------------------------------------------------
# (c) the balance dips below the taint, then is refilled with clean money
# ---------------------------------------------------------------------------

DIP_REFILL = [
    T("s1", 1, "V", "X", 100),  # seed; X: [T100]
    T("x1", 2, "X", "Y", 70),  # every rule: tau 70 (X holds only taint); X: [T30]
    T("c1", 3, "C", "X", 50),  # X: [T30, C50]; lowest balance since the taint came: 30
    T("x2", 4, "X", "Z", 60),
]


@pytest.mark.parametrize(
    "rule, tau_x2, x_left",
    [
        # libr: c=50 < 60 <= 80: tau = 60 - 50 = 10, t = 20.  The refill did NOT
        # restore the taint: after x2 it is 20 <= lowest intermediate balance (20).
        ("libr", 10.0, 20.0),
        # fifo: [T30, C50] take 60 from the front: T30 + C30: tau 30; X: [C20]
        ("fifo", 30.0, 0.0),
        # lifo: take 60 from the back: C50 + 10 of T30: tau 10; X: [T20]
        ("lifo", 10.0, 20.0),
        # haircut: after x1: tau = (100*70)/100 = 70, t = 30, c = 0 - (70-70) = 0.
        # after c1: c = 50. x2: bal 80, tau = (30*60)/80 = 22.5, t = 7.5,
        # c = 50 - 37.5 = 12.5
        ("haircut", 22.5, 7.5),
        # poison: tau = 60; b = 80 - 60 = 20 (poisoned)
        ("poison", 60.0, 20.0),
    ],
)
def test_dip_then_clean_refill(rule, tau_x2, x_left):
    r = trace(DIP_REFILL, ["s1"], rule=rule)
    assert flow_taint(r, "x1") == approx(70.0)
    assert flow_taint(r, "x2") == approx(tau_x2)
    assert r.holdings["X"].tainted_balance == approx(x_left)


def test_libr_taint_never_exceeds_lowest_intermediate_balance():
    transfers = [
        T("s1", 1, "V", "X", 100),  # X: c 0, t 100
        T("x1", 2, "X", "Y", 90),  # X: c 0, t 10  (balance 10: the lowest)
        T("c1", 3, "C", "X", 200),  # X: c 200, t 10 (not refilled)
        T("x2", 4, "X", "Z", 150),  # a <= c: tau 0; X: c 50, t 10
        T("x3", 5, "X", "W", 55),  # c 50 < 55 <= 60: tau 5; X: c 0, t 5
    ]
    r = trace(transfers, ["s1"], rule="libr")
    assert flow_taint(r, "x1") == 90.0
    assert flow_taint(r, "x2") == 0.0
    assert "Z" not in r.holdings
    assert flow_taint(r, "x3") == 5.0
    assert balances(r) == {"X": 5.0, "Y": 90.0, "W": 5.0}


# ---------------------------------------------------------------------------
# (d) a stopped exchange receives taint and then pays out (clean only)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("rule", ALL_RULES)
def test_stopped_exchange_keeps_taint_and_pays_clean(rule):
    transfers = [
        T("s1", 1, "V", "X", 100),  # seed; X: [T100]
        T("x1", 2, "X", "E", 60),  # every rule (X holds only taint): tau 60, hop 2
        T("e1", 3, "E", "Y", 500),  # E pays out more than it ever got: clean only,
        #                             no shortfall booked (stopped pools are not replayed)
        T("y1", 4, "Y", "Z", 500),  # Y holds only clean money -> nothing tainted
    ]
    r = trace(transfers, ["s1"], rule=rule, stopped={"E"})
    e = r.holdings["E"]
    assert e.stopped
    assert e.tainted_in == 60.0
    assert e.tainted_balance == 60.0  # = tainted_in
    assert e.tainted_out == 0.0
    assert e.unexplained == 0.0
    assert e.min_hops == 2
    assert e.first_ts == 2
    assert flow_taint(r, "e1") == 0.0
    assert "Y" not in r.holdings and "Z" not in r.holdings
    assert [f.tx_id for f in r.flows] == ["s1", "x1"]
    # X keeps 40 (under poison too: b = 100 - 60 = 40, poisoned)
    assert r.holdings["X"].tainted_balance == 40.0
    assert r.at_stops == 60.0
    assert r.at_endpoints == 100.0
    assert r.endpoints == {"X": 40.0, "E": 60.0}


def test_stopped_seed_destination():
    # A seed straight into the exchange; the exchange's later outflows are clean.
    transfers = [T("s1", 1, "V", "E", 100), T("e1", 2, "E", "Y", 100)]
    r = trace(transfers, ["s1"], rule="fifo", stopped={"E"})
    assert balances(r) == {"E": 100.0}
    assert r.at_stops == 100.0


# ---------------------------------------------------------------------------
# (e) a shortfall: outflow larger than the pool
# ---------------------------------------------------------------------------

SHORTFALL = [
    T("x0", 0, "X", "Q", 10),  # X sends 10 before any taint: shortfall 10, NOT booked
    T("s1", 1, "V", "X", 100),  # seed; X: [T100]
    T("c1", 2, "C", "X", 20),  # X: [T100, C20]
    T("x1", 3, "X", "Y", 150),  # X holds 120 < 150: shortfall 30 (booked)
    T("y1", 4, "Y", "Z", 50),
]


def test_shortfall_fifo_puts_clean_segment_at_front():
    # x1: fifo puts C30 at the FRONT: [C30, T100, C20], takes everything: tau 100.
    # Y appends in that order: Y = [C30, T100, C20].
    # y1 (fifo): takes C30, then 20 of T100: tau 20; Y keeps [T80, C20].
    # (Shortfall at the back would give tau 50; reversed order too.)
    r = trace(SHORTFALL, ["s1"], rule="fifo")
    x = r.holdings["X"]
    assert x.unexplained == 30.0  # the pre-taint shortfall of 10 is not counted
    assert x.tainted_balance == 0.0
    assert flow_taint(r, "x1") == 100.0
    assert flow_taint(r, "y1") == 20.0
    assert balances(r) == {"X": 0.0, "Y": 80.0, "Z": 20.0}
    assert r.unexplained == 30.0
    assert r.endpoints == {"Y": 80.0, "Z": 20.0}


def test_shortfall_lifo_carries_segments_in_pool_order():
    # x1: same as fifo (takes everything): carries [C30, T100, C20] in POOL order.
    # y1 (lifo): from the back: C20, then 30 of T100: tau 30; Y keeps [C30, T70].
    # (Had x1 carried them in taking order [C20, T100, C30], y1 would give tau 20.)
    r = trace(SHORTFALL, ["s1"], rule="lifo")
    assert r.holdings["X"].unexplained == 30.0
    assert flow_taint(r, "x1") == 100.0
    assert flow_taint(r, "y1") == 30.0
    assert balances(r) == {"X": 0.0, "Y": 70.0, "Z": 30.0}


def test_lifo_partial_take_keeps_pool_order():
    # X: [T10, C10, T10, C10]; x1 takes 25 from the back: C10, T10, then 5 of C10,
    # carried in pool order [C5, T10, C10]; X keeps [T10, C5].
    # Y: [C5, T10, C10]; y1 (lifo) takes 12: C10, then 2 of T10: tau 2.
    transfers = [
        T("s1", 1, "V", "X", 10),
        T("c1", 2, "C", "X", 10),
        T("s2", 3, "V", "X", 10),
        T("c2", 4, "C", "X", 10),
        T("x1", 5, "X", "Y", 25),
        T("y1", 6, "Y", "Z", 12),
    ]
    r = trace(transfers, ["s1", "s2"], rule="lifo")
    assert flow_taint(r, "x1") == 10.0
    assert flow_taint(r, "y1") == 2.0
    assert balances(r) == {"X": 10.0, "Y": 8.0, "Z": 2.0}


@pytest.mark.parametrize(
    "rule, tau_x1, x_unexplained",
    [
        # haircut: bal 120 <= 150: shortfall 30, tau = t = 100, c = t = 0
        ("haircut", 100.0, 30.0),
        # libr: 150 > c + t = 120: shortfall 30, tau = 100
        ("libr", 100.0, 30.0),
        # poison: shortfall max(0, 150 - 120) = 30, b = 0; tau = 150 (poisoned)
        ("poison", 150.0, 30.0),
    ],
)
def test_shortfall_other_rules(rule, tau_x1, x_unexplained):
    r = trace(SHORTFALL, ["s1"], rule=rule)
    assert flow_taint(r, "x1") == tau_x1
    assert r.holdings["X"].unexplained == x_unexplained
    assert r.holdings["X"].tainted_balance == 0.0


# ---------------------------------------------------------------------------
# (f) dust
# ---------------------------------------------------------------------------


def test_dust_haircut():
    transfers = [
        T("s1", 1, "V", "X", 100),  # X: c 0, t 100
        T("c1", 2, "C", "X", 900),  # X: c 900, t 100
        # bal 1000, tau = (100 * 5) / 1000 = 0.5 < min_amount 1 -> dust 0.5;
        # X: t = 99.5, c = 900 - 4.5 = 895.5; Y gets 5 clean
        T("x1", 3, "X", "Y", 5),
        # bal 995, tau = (99.5 * 100) / 995 = 10 -> carried, hop 2; X: t = 89.5
        T("x2", 4, "X", "Z", 100),
    ]
    r = trace(transfers, ["s1"], rule="haircut", min_amount=1.0)
    assert r.dust == approx(0.5)
    assert "Y" not in r.holdings
    assert flow_taint(r, "x1") == 0.0
    assert flow_taint(r, "x2") == approx(10.0)
    assert r.holdings["X"].tainted_out == approx(10.0)  # dust excluded
    assert balances(r) == {"X": approx(89.5), "Z": approx(10.0)}
    assert r.at_endpoints + r.dust == approx(r.seed_value)
    # without a threshold the 0.5 is carried
    r0 = trace(transfers, ["s1"], rule="haircut")
    assert r0.dust == 0.0
    assert r0.holdings["Y"].tainted_balance == approx(0.5)


def test_dust_fifo_seed_exempt_and_segments_arrive_clean():
    transfers = [
        T("s1", 1, "V", "X", 0.5),  # seed below min_amount: still carried (no dust on seeds)
        T("x1", 2, "X", "Y", 0.5),  # fifo: T0.5 taken, tau 0.5 < 1 -> dust; Y gets [C0.5]
        T("y1", 3, "Y", "Z", 0.5),  # Y holds only clean -> tau 0
    ]
    r = trace(transfers, ["s1"], rule="fifo", min_amount=1.0)
    assert r.seed_value == 0.5
    assert r.dust == 0.5
    assert [f.tx_id for f in r.flows] == ["s1"]
    assert balances(r) == {"X": 0.0}
    assert r.holdings["X"].tainted_out == 0.0
    assert r.at_endpoints + r.dust == r.seed_value


def test_dust_poison():
    # poison: X poisoned; x1 tau = 0.4 < 1 -> dust 0.4, Y stays clean; b = 99.6
    transfers = [T("s1", 1, "V", "X", 100), T("x1", 2, "X", "Y", 0.4)]
    r = trace(transfers, ["s1"], rule="poison", min_amount=1.0)
    assert r.dust == approx(0.4)
    assert balances(r) == {"X": approx(99.6)}


# ---------------------------------------------------------------------------
# (g) max_hops
# ---------------------------------------------------------------------------

HOPS = [
    T("s1", 1, "V", "A", 100),  # seed, hop 1: A min_hops 1
    T("a1", 2, "A", "B", 100),  # hop 2: B min_hops 2
    T("b1", 3, "B", "C", 100),  # B at 2 >= max_hops 2: hop-limited, clean only
    T("s2", 4, "V", "B", 10),  # seed straight to B: B min_hops 1, no longer limited
    T("b2", 5, "B", "C", 50),  # normal again: hop 2
]


@pytest.mark.parametrize("rule", ("fifo", "lifo", "haircut", "libr"))
def test_max_hops(rule):
    # b1: B holds only T100, no clean: shortfall 100 (booked: B already tainted),
    #     tau 0; B keeps T100 (fifo/lifo: no segment is added for the shortfall).
    # s2: B holds T110.  b2: any rule takes 50 of taint: tau 50 at hop 1 + 1 = 2.
    #     (haircut: (110 * 50) / 110 = 50; libr: c = 0 -> tau 50)
    r = trace(HOPS, ["s1", "s2"], rule=rule, max_hops=2)
    assert flow_taint(r, "b1") == 0.0
    assert flow_taint(r, "b2") == approx(50.0)
    assert r.holdings["B"].unexplained == 100.0
    assert r.holdings["B"].min_hops == 1
    assert r.holdings["C"].min_hops == 2
    assert {f.tx_id: f.hop for f in r.flows} == {"s1": 1, "a1": 2, "s2": 1, "b2": 2}
    assert balances(r) == {"A": 0.0, "B": approx(60.0), "C": approx(50.0)}
    assert r.at_endpoints + r.dust == approx(r.seed_value)


def test_max_hops_poison():
    # b1 hop-limited: shortfall max(0, 100 - 100) = 0, b = 0, tau 0.
    # s2: b = 10.  b2 normal: shortfall 40 (booked), b = 0, tau = 50 (poisoned), hop 2.
    r = trace(HOPS, ["s1", "s2"], rule="poison", max_hops=2)
    assert flow_taint(r, "b1") == 0.0
    assert flow_taint(r, "b2") == 50.0
    assert r.holdings["B"].unexplained == 40.0
    assert r.holdings["B"].tainted_balance == 0.0


def test_max_hops_fifo_takes_clean_around_taint():
    # max_hops 1: X (hop 1) is hop-limited from the start.
    # X: [C10, T100, C20]; fifo: x1 = 25 takes clean only from the front, skipping
    # taint: C10 + 15 of C20 -> tau 0; X keeps [T100, C5].  x2 = 10: C5, shortfall 5.
    # lifo: x1 takes C20 + 5 of C10 from the back; X keeps [C5, T100]; x2 the same.
    transfers = [
        T("c1", 1, "C", "X", 10),
        T("s1", 2, "V", "X", 100),
        T("c2", 3, "C", "X", 20),
        T("x1", 4, "X", "Y", 25),
        T("x2", 5, "X", "Y", 10),
    ]
    for rule in ("fifo", "lifo"):
        r = trace(transfers, ["s1"], rule=rule, max_hops=1)
        assert [f.tx_id for f in r.flows] == ["s1"], rule
        assert balances(r) == {"X": 100.0}, rule
        assert r.holdings["X"].unexplained == 5.0, rule


def test_no_max_hops_chain():
    r = trace(HOPS, ["s1", "s2"], rule="fifo")
    # b1 normal: tau 100 hop 3.  B: [T10] after s2; b2: 10 of taint + shortfall 40.
    assert flow_taint(r, "b1") == 100.0
    assert flow_taint(r, "b2") == 10.0
    assert {f.tx_id: f.hop for f in r.flows} == {"s1": 1, "a1": 2, "b1": 3, "s2": 1, "b2": 2}
    assert r.holdings["C"].min_hops == 2  # min(3, 2)


# ---------------------------------------------------------------------------
# (h) horizon
# ---------------------------------------------------------------------------

HORIZON = [
    T("s1", 10, "V", "X", 100),  # seed (the earliest: ts 10)
    T("x1", 20, "X", "Y", 60),
    T("s2", 25, "V", "W", 5),  # a later seed
    T("x2", 30, "X", "Z", 40),
]


def test_horizon():
    # horizon 10: end = 10 + 10 = 20 inclusive -> x1 replayed; s2 (ts 25) is after the
    # end and does not count in the seed value; x2 not replayed: X keeps 40.
    r = trace(HORIZON, ["s1", "s2"], rule="fifo", horizon=10)
    assert r.seed_value == 100.0
    assert balances(r) == {"X": 40.0, "Y": 60.0}
    # horizon 15: end 25 -> s2 counts
    r = trace(HORIZON, ["s1", "s2"], rule="fifo", horizon=15)
    assert r.seed_value == 105.0
    assert balances(r) == {"X": 40.0, "Y": 60.0, "W": 5.0}
    # no horizon: x2 moves X's 40 to Z
    r = trace(HORIZON, ["s1", "s2"], rule="fifo")
    assert balances(r) == {"X": 0.0, "Y": 60.0, "W": 5.0, "Z": 40.0}
    # horizon 0: only ts 10
    r = trace(HORIZON, ["s1", "s2"], rule="fifo", horizon=0)
    assert balances(r) == {"X": 100.0}


# ---------------------------------------------------------------------------
# (i) taint coming back to a seed account rests there
# ---------------------------------------------------------------------------

ROUND_TRIP = [
    T("a1", 1, "A", "X", 100),
    T("x1", 2, "X", "A", 60),  # taint back to the seed account, hop 2
    T("a2", 3, "A", "Y", 50),
]


@pytest.mark.parametrize("rule", CONSERVING_RULES)
def test_taint_back_to_seed_account_rests(rule):
    seeds = seeds_from_accounts(ROUND_TRIP, ["A"])
    assert seeds == ["a1", "a2"]
    # a1, a2 are seeds: they draw nothing from A's pool, so the 60 that came back
    # stays at A.  seed_value 150 = A 60 + X 40 + Y 50.
    r = trace(ROUND_TRIP, seeds, rule=rule)
    assert r.seed_value == 150.0
    assert balances(r) == {"A": 60.0, "X": 40.0, "Y": 50.0}
    a = r.holdings["A"]
    assert (a.tainted_in, a.tainted_out, a.min_hops, a.first_ts) == (60.0, 0.0, 2, 2)
    assert r.unexplained == 0.0
    assert {f.tx_id: f.hop for f in r.flows} == {"a1": 1, "x1": 2, "a2": 1}


def test_seed_account_outflow_outside_window_draws_from_pool():
    # Only a1 is a seed (until = 1): a2 is an ordinary outflow of A, which holds [T60]
    # (a1 drew nothing): fifo takes 50 of taint, hop 2 + 1 = 3.
    seeds = seeds_from_accounts(ROUND_TRIP, ["A"], until=1)
    assert seeds == ["a1"]
    r = trace(ROUND_TRIP, seeds, rule="fifo")
    assert r.seed_value == 100.0
    assert balances(r) == {"A": 10.0, "X": 40.0, "Y": 50.0}
    assert {f.tx_id: f.hop for f in r.flows} == {"a1": 1, "x1": 2, "a2": 3}
    assert r.holdings["A"].tainted_out == 50.0


def test_seed_sender_not_listed_and_pool_untouched():
    # The seed does not reduce V's pool: V's opening 10 is still there to pay v1
    # (no shortfall); V never receives taint and is not listed.
    transfers = [T("s1", 1, "V", "X", 100), T("v1", 2, "V", "Y", 10)]
    r = trace(transfers, ["s1"], rule="fifo", opening={"V": 10.0})
    assert set(r.holdings) == {"X"}
    assert flow_taint(r, "v1") == 0.0


# ---------------------------------------------------------------------------
# (j) seeds_from_accounts
# ---------------------------------------------------------------------------


def test_seeds_from_accounts():
    transfers = [
        T("t5", 50, "A", "X", 1),  # after the window
        T("t1", 10, "A", "B", 1),  # between seed accounts: excluded
        T("t2", 10, "A", "X", 1, seq=1),
        T("t3", 20, "B", "Y", 1),
        T("t4", 20, "C", "X", 1),  # not from a seed account
        T("t0", 5, "A", "X", 1),  # before the window
        T("t6", 30, "B", "A", 1),  # between seed accounts: excluded
        T("t7", 40, "A", "Z", 1),  # on the upper bound: inclusive
    ]
    assert seeds_from_accounts(transfers, ["A", "B"], since=10, until=40) == ["t2", "t3", "t7"]
    assert seeds_from_accounts(transfers, ["A", "B"]) == ["t0", "t2", "t3", "t7", "t5"]
    assert seeds_from_accounts(transfers, ["A"]) == ["t0", "t1", "t2", "t7", "t5"]
    assert seeds_from_accounts(transfers, {"A", "B"}, since=21) == ["t7", "t5"]
    assert seeds_from_accounts(transfers, ["A", "B"], until=9) == ["t0"]


# ---------------------------------------------------------------------------
# order, errors
# ---------------------------------------------------------------------------


def test_replay_order_is_ts_seq_txid():
    # Same ts: seq decides, then tx_id.  x1 (seq 0) runs before the seed (seq 1) and
    # so carries nothing; x2 (same ts and seq as the seed, tx_id "x2" > "s1") after it.
    transfers = [
        T("x2", 5, "X", "Z", 30, seq=1),
        T("s1", 5, "V", "X", 100, seq=1),
        T("x1", 5, "X", "Y", 20, seq=0),
    ]
    r = trace(transfers, ["s1"], rule="fifo")
    assert [f.tx_id for f in r.flows] == ["s1", "x2"]
    assert balances(r) == {"X": 70.0, "Z": 30.0}
    # input order does not matter
    for perm in ([0, 1, 2], [2, 1, 0], [1, 0, 2]):
        r2 = trace([transfers[i] for i in perm], ["s1"], rule="fifo")
        assert r2 == r
    # x1 came before X's first taint: its shortfall of 20 is not unexplained
    assert r.holdings["X"].unexplained == 0.0


def test_errors():
    with pytest.raises(ValueError):
        trace(DEPOSIT_BEFORE, ["s1"], rule="median")
    with pytest.raises(ValueError):
        trace(DEPOSIT_BEFORE, ["nope"], rule="fifo")


# ---------------------------------------------------------------------------
# (k) conservation on random graphs
# ---------------------------------------------------------------------------


def random_case(seed):
    rng = random.Random(seed)
    accounts = [f"acct{i}" for i in range(8)]
    transfers = []
    for i in range(60):
        src, dst = rng.sample(accounts, 2)
        value = round(rng.uniform(0.01, 200.0), 2) if rng.random() < 0.9 else rng.uniform(0, 1e-3)
        transfers.append(
            Transfer(
                tx_id=f"tx{i:03d}",
                ts=rng.randrange(0, 40) * 1_000_000,  # many ties in ts
                seq=rng.randrange(0, 3),
                src=src,
                dst=dst,
                value=value,
            )
        )
    seeds = rng.sample([t.tx_id for t in transfers], rng.randint(1, 4))
    stopped = frozenset(rng.sample(accounts, rng.randint(0, 2)))
    opening = {a: rng.uniform(0, 100) for a in accounts if rng.random() < 0.4}
    max_hops = rng.choice([None, None, 1, 2, 3])
    horizon = rng.choice([None, None, 20_000_000])
    min_amount = rng.choice([0.0, 0.0, 0.5, 5.0])
    return (
        transfers,
        seeds,
        dict(
            stopped=stopped,
            opening=opening,
            max_hops=max_hops,
            horizon=horizon,
            min_amount=min_amount,
        ),
    )


@pytest.mark.parametrize("seed", range(40))
def test_conservation_random(seed):
    transfers, seeds, opts = random_case(seed)
    for rule in CONSERVING_RULES:
        r = trace(transfers, seeds, rule=rule, **opts)
        assert math.isclose(r.seed_value, r.at_endpoints + r.dust, rel_tol=1e-9, abs_tol=1e-9), rule
        for h in r.holdings.values():
            assert h.tainted_balance >= -1e-9, (rule, h)
            assert h.unexplained >= 0.0
            assert h.min_hops >= 1
            if h.stopped:
                assert h.tainted_balance == h.tainted_in and h.unexplained == 0.0
                assert h.tainted_out == 0.0
        for f in r.flows:
            assert 0 < f.tainted <= f.value * (1 + 1e-12), (rule, f)
            if opts["min_amount"] and f.hop > 1:
                assert f.tainted >= opts["min_amount"]
            if opts["max_hops"] is not None:
                assert f.hop <= opts["max_hops"] or f.hop == 1
        # flows are in replay order
        keys = [(f.ts, f.tx_id) for f in r.flows]
        assert [k[0] for k in keys] == sorted(k[0] for k in keys)
    # poison: exposure is at least the conserved amount, and any rule's tainted
    # accounts are poisoned ones
    rp = trace(transfers, seeds, rule="poison", **opts)
    for rule in CONSERVING_RULES:
        r = trace(transfers, seeds, rule=rule, **opts)
        if opts["min_amount"] == 0.0:
            assert set(r.holdings) <= set(rp.holdings), rule
