"""TraceOptions: one typed object for a trace's options, checked once, written and read back."""

from __future__ import annotations

import datetime as dt

import pytest

from tracer.errors import InputError
from tracer.options import TraceOptions


def test_defaults_are_the_match_rule_with_fifo_fallback():
    o = TraceOptions()
    assert (o.rule, o.fallback, o.match_window, o.match_cut, o.match_over, o.match_group) == (
        "match",
        "fifo",
        dt.timedelta(days=3),
        0.05,
        0.02,
        8,
    )
    assert (o.stop_at, o.max_hops, o.horizon, o.min_amount, o.level, o.top_paths) == (
        ("exchange",),
        None,
        None,
        0.0,
        "account",
        3,
    )


@pytest.mark.parametrize(
    "options",
    [
        TraceOptions(
            rule="lifo",
            stop_at=("Exchange", " otc ", ""),
            max_hops=2,
            horizon=dt.timedelta(hours=12),
            min_amount=0.5,
            level="entity",
        ),
        TraceOptions(
            fallback="haircut",
            match_window=dt.timedelta(hours=6),
            match_cut=0.1,
            match_over=0.0,
            match_group=3,
        ),
    ],
)
def test_to_dict_and_back(options):
    opts = options.check()
    again = TraceOptions.from_dict(opts.to_dict())
    assert again.check() == opts.check()
    assert TraceOptions.from_dict(opts.to_dict(rule=False), rule=opts.rule).check() == opts


def test_only_match_records_the_match_options():
    assert "fallback" not in TraceOptions(rule="fifo").to_dict()
    assert TraceOptions().to_dict()["match_window_seconds"] == 259_200.0
    # a result written before the match rule: no match keys, the defaults
    old = {
        "stop_at": ["exchange"],
        "max_hops": None,
        "horizon_seconds": None,
        "min_amount": 0.0,
        "level": "account",
    }
    assert TraceOptions.from_dict(old, rule="fifo") == TraceOptions(rule="fifo")


def test_check_normalises_the_stops():
    assert TraceOptions(stop_at=("OTC", " exchange", "")).check().stop_at == ("exchange", "otc")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (
            {"rule": "fifth"},
            "--rule fifth: unknown rule. Choose one of poison, haircut, fifo, lifo, libr, match.",
        ),
        ({"fallback": "poison"}, "--fallback poison: choose one of fifo, lifo, haircut, libr."),
        ({"level": "bank"}, "--level bank: choose account or entity."),
        ({"max_hops": 0}, "--max-hops 0: must be 1 or more."),
        ({"min_amount": float("nan")}, "--min-amount nan: must be a number, 0 or more."),
        ({"horizon": dt.timedelta(seconds=-1)}, "--horizon: must not be negative."),
        ({"match_window": dt.timedelta(seconds=-1)}, "--match-window: must not be negative."),
        (
            {"match_cut": 1.0},
            "--match-cut 1.0: a share from 0 up to (not including) 1, e.g. 0.05 "
            "for a cut of up to 5%.",
        ),
        ({"match_over": -0.1}, "--match-over -0.1: a share, 0 or more, e.g. 0.02."),
        ({"match_group": 0}, "--match-group 0: must be 1 or more."),
    ],
)
def test_bad_options_say_which(kw, message):
    with pytest.raises(InputError) as err:
        TraceOptions(**kw).check()
    assert str(err.value) == message
