"""Source of funds: trace-back agrees with forward tracing."""

from __future__ import annotations

import math
import random

import pytest
from click.testing import CliRunner
from conftest import build
from strategies import random_transfers
from test_trace_vs_oracle import CASES

from tracer import api
from tracer.backward import trace_back
from tracer.cli import cli


@pytest.mark.parametrize("rule", ["fifo", "haircut", "poison", "lifo", "libr", "match"])
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


@pytest.mark.parametrize("rule", ["fifo", "haircut", "match"])
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
    r = CliRunner().invoke(
        cli, ["trace-back", "-w", str(tmp_path / "ws"), "--to", "Z", "--format", "json"]
    )
    assert r.exit_code == 0, r.output
    import json

    d = json.loads(r.stdout)
    assert d["account"] == "Z" and d["measure"] == "held"
    assert {c["label"] for c in d["categories"]} <= {"victim", "exchange"}
    r = CliRunner().invoke(cli, ["trace-back", "-w", str(tmp_path / "ws"), "--to", "nobody"])
    assert r.exit_code == 1 and r.stderr.startswith("Error: ")
    r = CliRunner().invoke(cli, ["trace-back", "-w", str(tmp_path / "ws"), "--to", "Z"])
    assert r.exit_code == 0 and "By origin account:" in r.stdout


def test_parity_with_trace_level_rules_output(tmp_path):
    """trace-back takes what trace takes: the level, every rule and its options, -o with a
    manifest, --format json; at entity level an entity's accounts are one origin."""
    import json

    transfers, _, _ = CASES["chain"]
    build(tmp_path, transfers)
    ws = tmp_path / "ws"
    out = tmp_path / "back"
    r = CliRunner().invoke(
        cli,
        [
            "trace-back",
            "-w",
            str(ws),
            "--to",
            "F",
            "--rule",
            "match",
            "--fallback",
            "fifo",
            "--match-cut",
            "0.2",
            "-o",
            str(out),
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 0, r.output
    printed = json.loads(r.stdout)
    assert printed["rule"] == "match" and printed["options"]["fallback"] == "fifo"
    assert printed["options"]["match_cut"] == 0.2
    assert sorted(p.name for p in out.iterdir()) == [
        "categories.parquet",
        "manifest.json",
        "origins.parquet",
        "paths.parquet",
        "trace_back.json",
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["what"] == "tracer trace-back result"
    assert set(manifest["files"]) == {
        "categories.parquet",
        "origins.parquet",
        "paths.parquet",
        "trace_back.json",
    }
    assert json.loads((out / "trace_back.json").read_text()) == printed
    # the same folder again is replaced whole; a trace result folder is refused
    r = CliRunner().invoke(cli, ["trace-back", "-w", str(ws), "--to", "F", "-o", str(out)])
    assert r.exit_code == 0, r.output
    trace_out = tmp_path / "t"
    r = CliRunner().invoke(cli, ["trace", "-w", str(ws), "--tx", "s", "-o", str(trace_out)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["trace-back", "-w", str(ws), "--to", "F", "-o", str(trace_out)])
    assert r.exit_code == 1 and r.stderr.startswith("Error: -o ")


def test_entity_level(tmp_path):
    """Two accounts of one owner are one origin at entity level."""
    import csv

    from conftest import minutes, write_transfers
    from oracle import Transfer

    from tracer.ingest import ingest
    from tracer.workspace import Workspace

    rows = [
        Transfer("a", minutes(0), 1, "V1", "M", 60.0),
        Transfer("b", minutes(1), 2, "V2", "M", 40.0),
        Transfer("c", minutes(2), 3, "M", "Z", 100.0),
    ]
    with (tmp_path / "owners.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["account", "label", "entity"])
        w.writerow(["V1", "", "victim-co"])
        w.writerow(["V2", "", "victim-co"])
    ingest(
        tmp_path / "ws",
        [write_transfers(tmp_path / "t.csv", rows)],
        labels=[tmp_path / "owners.csv"],
    )
    ws = Workspace.open(tmp_path / "ws")
    back = trace_back(ws, to="Z", rule="fifo", level="entity")
    got = {o["account"]: o["value"] for o in back.origins.to_pylist()}
    assert got == {"victim-co": 100.0, "M": 100.0}
    back = trace_back(ws, to="Z", rule="fifo")
    got = {o["account"]: o["value"] for o in back.origins.to_pylist()}
    assert got == {"V1": 60.0, "V2": 40.0, "M": 100.0}
