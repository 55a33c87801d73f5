"""The match rule: the statement pairing against the reference, and worked cases."""

from __future__ import annotations

import math

import numpy as np
import oracle
from conftest import build
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import rows, transfer_lists
from test_trace_vs_oracle import compare

from tracer.kernels.pairing import pair_account


def kernel_pairing(ws, account, *, window, cut, over, width):
    """The kernel's pairing of ``account`` as {rank: (factor, group, reserve)} and groups."""
    g = ws.graph
    acc = g.accounts.to_pylist().index(account)
    f_in, in_group, in_res, f_out, out_group, g_s, g_t, g_r, g_outs = pair_account(
        g.fwd_indptr,
        g.fwd_edges,
        g.rev_indptr,
        g.rev_edges,
        g.src,
        g.dst,
        g.ts,
        g.value,
        acc,
        window,
        cut,
        over,
        width,
    )
    ins = np.asarray(g.rev_edges[g.rev_indptr[acc] : g.rev_indptr[acc + 1]])
    outs = np.asarray(g.fwd_edges[g.fwd_indptr[acc] : g.fwd_indptr[acc + 1]])
    per = {}
    for k, r in enumerate(ins):
        per[int(r)] = (f_in[k], int(in_group[k]), in_res[k])
    for k, r in enumerate(outs):
        per[int(r)] = (f_out[k], int(out_group[k]), None)
    return per, g_s, g_t, g_outs


def assert_same_pairing(ws, transfers, account, **kw):
    ordered = oracle.replay_order(transfers)
    want = oracle.pair_statement(account, ordered, **kw)
    got, g_s, g_t, g_outs = kernel_pairing(ws, account, **kw)
    groups = {}  # oracle group -> kernel group id
    for r, tr in enumerate(ordered):
        if account not in (tr.src, tr.dst):
            continue
        f, gid, reserve = got[r]
        want_f = want.factor.get(r, 1.0) if tr.value > 0 else 0.0
        assert f == want_f, (r, f, want_f)
        group = want.group_of.get(r)
        if group is None:
            assert gid == -1, (r, gid)
            continue
        assert gid >= 0, r
        assert groups.setdefault(id(group), gid) == gid, r
        assert g_s[gid] == group.S and g_t[gid] == group.T, r
        if tr.dst == account:
            assert reserve == want.reserve[r], (r, reserve, want.reserve[r])
    assert len(set(groups.values())) == len(groups) == len(g_s)
    return want


# ---------------------------------------------------------------- statements, generated

AMOUNTS = st.sampled_from([100, 98, 97.5, 50, 49, 33.3, 32.9, 20, 19.8, 10, 5, 150, 147])


def statements():
    """Transfers around one account M, with values that often pair (cuts of 0-3%)."""
    return transfer_lists(["a", "b", "c", "d"], AMOUNTS, max_size=24, last_minute=40, around="M")


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    statements(),
    st.sampled_from([5, 15, 60]),
    st.sampled_from([0.0, 0.03, 0.05]),
    st.sampled_from([0.0, 0.02]),
    st.sampled_from([1, 2, 3, 8]),
)
def test_pairing_agrees_with_reference(tmp_path_factory, transfers, window_min, cut, over, width):
    ws = build(tmp_path_factory.mktemp("p"), transfers)
    assert_same_pairing(
        ws, transfers, "M", window=window_min * 60_000_000, cut=cut, over=over, width=width
    )


# ---------------------------------------------------------------- hand-made statements

WINDOW = 3 * 24 * 60 * 60_000_000


def test_one_to_one_split_pool_and_netting(tmp_path):
    transfers = rows(
        ("v1", 0, "V", "M", 1000),
        ("f1", 120, "M", "N", 980),  # one to one, 2% cut
        ("v2", 200, "V", "M", 900),
        ("s1", 210, "M", "N", 400),  # a split in three
        ("s2", 220, "M", "N", 300),
        ("s3", 230, "M", "P", 190),
        ("p1", 300, "W", "M", 500),
        ("p2", 301, "X", "M", 600),  # two pooled into one
        ("q", 400, "M", "N", 1078),
        ("b1", 500, "M", "T", 700),
        ("b2", 500, "M", "T", 400),  # a Bitcoin-like payment
        ("ch", 500, "T", "M", 350),  # with change back
    )
    ws = build(tmp_path, transfers)
    want = assert_same_pairing(ws, transfers, "M", window=WINDOW, cut=0.05, over=0.02, width=8)
    rank = {tr.tx_id: r for r, tr in enumerate(oracle.replay_order(transfers))}
    g = want.group_of
    assert g[rank["v1"]] is g[rank["f1"]]
    assert g[rank["v2"]] is g[rank["s1"]] is g[rank["s2"]] is g[rank["s3"]]
    assert g[rank["p1"]] is g[rank["p2"]] is g[rank["q"]]
    assert want.factor[rank["ch"]] == 0.0  # the change is a return
    assert math.isclose(want.factor[rank["b1"]], 750 / 1100)
    # the net payment of 750 is what nothing before it explains (no in-payment fits)
    assert rank["b1"] not in g


def test_best_ratio_wins_and_window_holds(tmp_path):
    transfers = rows(
        ("big", 0, "V", "M", 10_000),
        ("small", 10, "C", "M", 2_000),
        ("pay_small", 40, "M", "X", 1_980),
        ("pay_big", 50, "M", "Y", 9_900),
        ("late_in", 100, "V", "M", 500),
        ("late_out", 100 + 4 * 24 * 60, "M", "Z", 495),
    )
    ws = build(tmp_path, transfers)
    want = assert_same_pairing(ws, transfers, "M", window=WINDOW, cut=0.05, over=0.02, width=8)
    rank = {tr.tx_id: r for r, tr in enumerate(oracle.replay_order(transfers))}
    g = want.group_of
    assert g[rank["big"]] is g[rank["pay_big"]]
    assert g[rank["small"]] is g[rank["pay_small"]]
    assert rank["late_out"] not in g  # four days: outside the three-day window


# ---------------------------------------------------------------- traces, generated

PAIRING_AMOUNTS = st.sampled_from([100, 98, 97.5, 50, 49, 48.5, 33.3, 32.9, 20, 19.8, 150, 147])


@st.composite
def paired_traces(draw):
    """Chains of mules with cuts, splits and pools, Bitcoin-like round trips, a stop."""
    accounts = ["V", "a", "b", "c", "d", "ex"]
    out = draw(transfer_lists(accounts, PAIRING_AMOUNTS, min_size=2, max_size=30, last_minute=30))
    ids = [t.tx_id for t in out]
    kw = {
        "seeds": draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3, unique=True)),
        "rule": "match",
        "labels": {"ex": "exchange"} if draw(st.booleans()) else {},
        "opening": draw(st.dictionaries(st.sampled_from(accounts), PAIRING_AMOUNTS, max_size=2)),
        "fallback": draw(st.sampled_from(["libr", "fifo", "lifo", "haircut"])),
        "match_window_min": draw(st.sampled_from([3, 10, 60])),
        "match_cut": draw(st.sampled_from([0.0, 0.03, 0.05])),
        "match_over": draw(st.sampled_from([0.0, 0.02])),
        "match_group": draw(st.sampled_from([1, 3, 8])),
        "max_hops": draw(st.one_of(st.none(), st.integers(1, 3))),
        "horizon_min": draw(st.one_of(st.none(), st.integers(0, 20))),
        "min_amount": draw(st.sampled_from([0.0, 0.0, 5.0])),
    }
    return out, kw


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(paired_traces())
def test_match_traces_agree_with_reference(tmp_path_factory, case):
    transfers, kw = case
    ws = build(tmp_path_factory.mktemp("m"), transfers, kw["labels"], kw["opening"])
    compare(ws, transfers, **kw)


def test_paired_evidence(tmp_path):
    """A mule forwards the victim's payment less a cut, and pays rent from her salary: the
    forward carries the victim's money, paired, and the cut stays with her."""
    from tracer import api

    transfers = rows(
        ("salary", 0, "Employer", "M", 3000),
        ("victim", 600, "V", "M", 10_000),
        ("rent", 700, "M", "Landlord", 1200),
        ("forward", 748, "M", "N", 9_700),
    )
    ws = build(tmp_path, transfers)
    res = api.trace(ws, tx_ids=["victim"], rule="match")
    ends = {r["account"]: r["value"] for r in res.endpoints.to_pylist()}
    assert ends == {"N": 9_700.0, "M": 300.0}
    (row,) = res.allocations.to_pylist()
    assert row["tx_id"] == "forward" and row["from_tx_id"] == "victim"
    assert row["how"] == "paired" and math.isclose(row["ratio"], 0.97)
    assert row["delay_seconds"] == 148 * 60
    # fifo forwards what is left of the salary first and keeps 2,100 of the victim's money
    fifo = {
        r["account"]: r["value"]
        for r in api.trace(ws, tx_ids=["victim"], rule="fifo").endpoints.to_pylist()
    }
    assert fifo == {"N": 7_900.0, "M": 2_100.0}
