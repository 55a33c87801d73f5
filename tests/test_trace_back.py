"""Source of funds: trace-back agrees with forward tracing."""

from __future__ import annotations

import math
import random

import pytest
from click.testing import CliRunner
from conftest import build
from test_properties import random_transfers
from test_trace_vs_oracle import CASES

from tracer import api
from tracer.backward import trace_back
from tracer.cli import cli


@pytest.mark.parametrize("rule", ["fifo", "haircut", "poison"])
@pytest.mark.parametrize("case", ["clean_before", "dip_refill", "shortfall", "chain"])
def test_what_forward_puts_on_w_trace_back_attributes_to_the_seed(tmp_path, rule, case):
    transfers, seeds, _ = CASES[case]
    ws = build(tmp_path, transfers)
    seed_account = next(t.src for t in transfers if t.tx_id in seeds)
    forward = api.trace(ws, from_accounts=[seed_account], rule=rule, stop_at=())
    for h in forward.holdings.to_pylist():
        back = trace_back(ws, to=h["account"], rule=rule)
        got = {o["account"]: o["value"] for o in back.origins.to_pylist()}
        want = h["tainted_in"] if rule == "poison" else h["tainted_balance"]
        if want > 0:
            assert math.isclose(got[seed_account], want, rel_tol=1e-9), (h["account"], got)
        else:
            assert got.get(seed_account, 0.0) == 0.0


@pytest.mark.parametrize("rule", ["fifo", "haircut"])
def test_agreement_on_a_random_graph(tmp_path, rule):
    rng = random.Random(5)
    rows = random_transfers(rng, 200, 12)
    ws = build(tmp_path, rows)
    target = "acc003"
    back = trace_back(ws, to=target, rule=rule)
    assert back.origins.num_rows > 0
    for o in back.origins.to_pylist()[:5]:
        fwd = api.trace(ws, from_accounts=[o["account"]], rule=rule, stop_at=())
        bal = {h["account"]: h["tainted_balance"] for h in fwd.holdings.to_pylist()}
        assert math.isclose(bal[target], o["value"], rel_tol=1e-9)
        assert 0 < o["share"] <= 1 + 1e-9


def test_categories_and_cli(tmp_path):
    transfers, seeds, _ = CASES["exchange"]
    build(tmp_path, transfers, {"V": "victim", "C": "exchange"})
    r = CliRunner().invoke(cli, ["trace-back", "-w", str(tmp_path / "ws"), "--to", "Z",
                                 "--format", "json"])
    assert r.exit_code == 0, r.output
    import json

    d = json.loads(r.stdout)
    assert d["account"] == "Z" and d["measure"] == "held"
    assert {c["label"] for c in d["categories"]} <= {"victim", "exchange"}
    r = CliRunner().invoke(cli, ["trace-back", "-w", str(tmp_path / "ws"), "--to", "nobody"])
    assert r.exit_code == 1 and r.stderr.startswith("Error: ")
    r = CliRunner().invoke(cli, ["trace-back", "-w", str(tmp_path / "ws"), "--to", "Z"])
    assert r.exit_code == 0 and "By origin account:" in r.stdout
