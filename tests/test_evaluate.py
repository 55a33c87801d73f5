"""`tracer evaluate`: scores of trace and batch results against a world's truth.

The hand-made truth (USD):

    case A, loss 100: rests W1 60 (laundering), X1 30 (exchange deposit), M1 10 (mule cut)
    case B, loss  50: rests W1 50 (laundering)
    scam network: V1 M1 W1 X1 (case A's transfers), V2 M2 W1 (case B's)

The batch result puts A at W1 70, X1 20, P1 10 (P1 a person outside the network) and B at
W1 40, M2 10. Worked out by hand:

    A: found min(70, 60) + min(20, 30) = 80 (recall 80%), outside 10, misplaced 10 (the excess
       at W1); endpoints {W1 X1 P1} against {W1 X1 M1}: precision 2/3, recall 2/3.
    B: found 40 (80%), outside 0, misplaced 10 (at M2); endpoints {W1 M2} against {W1}:
       precision 1/2, recall 1/1.
    Totals, per account over both cases: W1 110 of 110, X1 20 of 30, M1 0 of 10: 130 of 150
    (86.7%); case by case (80 + 40) / 150 = 80%, median 80%; outside 10 / 150; misplaced
    150 - 130 - 10 = 10, at M2 (a mule); found laundering 100%, exchange deposit 66.7%, mule
    cut 0%; endpoints precision 3/5, recall 3/4.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from conftest import run  # noqa: E402

from tracer.errors import InputError
from tracer.evaluate import evaluate, score_text
from tracer.ingest import ingest
from tracer.simulate import ingest_files, simulate


@pytest.fixture
def truth(tmp_path) -> Path:
    t = tmp_path / "truth"
    t.mkdir()
    pl.DataFrame({"case_id": ["A", "B"], "loss_usd": [100.0, 50.0], "payments": [1, 1]}).write_csv(
        t / "cases.csv"
    )
    pl.DataFrame(
        {
            "case_id": ["A", "A", "A", "B"],
            "account": ["W1", "X1", "M1", "W1"],
            "kind": ["laundering", "exchange_deposit", "mule_cut", "laundering"],
            "value": [60.0, 30.0, 10.0, 50.0],
        }
    ).write_csv(t / "rests.csv")
    pl.DataFrame(
        {
            "tx_id": ["pA", "a2", "a3", "pB", "b2"],
            "case_id": ["A", "A", "A", "B", "B"],
            "value": [100.0, 60.0, 30.0, 50.0, 50.0],
            "src": ["V1", "M1", "M1", "V2", "M2"],
            "dst": ["M1", "W1", "X1", "M2", "W1"],
            "step": [
                "victim_payment",
                "mule_forward",
                "exchange_deposit",
                "victim_payment",
                "mule_forward",
            ],
        }
    ).write_csv(t / "transfers.csv")
    pl.DataFrame(
        {
            "account": ["V1", "V2", "M1", "M2", "W1", "X1", "P1"],
            "role": [
                "victim",
                "victim",
                "mule_l1",
                "mule_l1",
                "gang_laundering",
                "gang_exchange_deposit",
                "person",
            ],
        }
    ).write_csv(t / "accounts.csv")
    return t


@pytest.fixture
def batch(tmp_path) -> Path:
    b = tmp_path / "batch"
    b.mkdir()
    pl.DataFrame({"case_id": ["A", "B"], "status": ["ok", "ok"]}).write_parquet(b / "cases.parquet")
    pl.DataFrame(
        {
            "case_id": ["A", "A", "A", "B", "B"],
            "account": ["W1", "X1", "P1", "W1", "M2"],
            "value": [70.0, 20.0, 10.0, 40.0, 10.0],
            "share": [0.7, 0.2, 0.1, 0.8, 0.2],
            "stopped": [False, True, False, False, False],
            "min_hops": [2, 2, 3, 2, 1],
        }
    ).write_parquet(b / "endpoints.parquet")
    (b / "batch.json").write_text(json.dumps({"options": {"rule": "fifo", "level": "account"}}))
    return b


def trace_folder(
    path: Path,
    endpoints: dict[str, float],
    level: str = "account",
    tx_ids=("pA",),
    rule: str = "haircut",
) -> Path:
    path.mkdir()
    rows = [{"account": a, "value": v} for a, v in endpoints.items()]
    pl.DataFrame(rows).write_parquet(path / "endpoints.parquet")
    (path / "result.json").write_text(
        json.dumps({"rule": rule, "options": {"level": level, "tx_ids": list(tx_ids)}})
    )
    return path


def test_batch_scores_by_hand(truth, batch):
    [s] = evaluate([batch], truth)
    a, b = s.cases
    assert (a.case_id, a.loss, a.correct, a.outside) == ("A", 100.0, 80.0, 10.0)
    assert a.misplaced == pytest.approx(10.0)
    assert (a.endpoints, a.truth_endpoints, a.hits) == (3, 3, 2)
    assert (b.case_id, b.correct, b.outside, b.misplaced) == ("B", 40.0, 0.0, 10.0)
    assert (b.endpoints, b.truth_endpoints, b.hits) == (2, 1, 1)
    o = s.overall()
    assert o["recall"] == pytest.approx(130 / 150)
    assert o["recall_by_case"] == pytest.approx(0.8)
    assert o["recall_median"] == pytest.approx(0.8)
    assert o["false_attribution"] == pytest.approx(10 / 150)
    assert o["misplaced"] == pytest.approx(10 / 150)
    assert (o["endpoint_precision"], o["endpoint_recall"]) == (pytest.approx(0.6), 0.75)
    assert s.by_kind == {
        "exchange_deposit": pytest.approx(2 / 3),
        "laundering": 1.0,
        "mule_cut": 0.0,
    }
    assert s.outside_by_role == {"person": pytest.approx(10 / 150)}
    assert s.misplaced_by_role == {"mule_l1": pytest.approx(10 / 150)}


def test_threshold_leaves_small_endpoints_out(truth, batch):
    [s] = evaluate([batch], truth, threshold=0.15)  # 15 of A, 7.5 of B
    a, b = s.cases
    assert (a.endpoints, a.truth_endpoints, a.hits) == (2, 2, 2)  # W1 X1 both sides
    assert (b.endpoints, b.truth_endpoints, b.hits) == (2, 1, 1)


def test_trace_result_finds_its_case_by_its_seeds(truth, tmp_path):
    folder = trace_folder(tmp_path / "t", {"W1": 60.0, "X1": 30.0, "M1": 10.0})
    [s] = evaluate([folder], truth)
    assert [c.case_id for c in s.cases] == ["A"]
    assert s.overall()["recall"] == 1.0 and s.overall()["false_attribution"] == 0.0
    assert s.result.rule == "haircut" and s.result.kind == "trace"
    assert s.result.notes == []


def test_trace_of_part_of_a_case_says_so(truth, tmp_path):
    folder = trace_folder(tmp_path / "t", {"W1": 60.0}, tx_ids=("pA", "pB", "zz"))
    [s] = evaluate([folder], truth)
    assert [c.case_id for c in s.cases] == ["A+B"]
    assert s.cases[0].loss == 150.0
    assert any("seeds of 2 cases" in n for n in s.result.notes)
    assert any("not victims' payments" in n for n in s.result.notes)


def test_entity_level_maps_truth_accounts_to_entities(truth, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    pl.DataFrame(
        {
            "account": ["W1", "X1", "M1", "P1", "V1"],
            "entity": ["cluster:W1", "exchange:x", "M1", "P1", "V1"],
        }
    ).write_parquet(ws / "accounts.parquet")
    folder = trace_folder(
        tmp_path / "t", {"cluster:W1": 70.0, "exchange:x": 20.0, "P1": 10.0}, level="entity"
    )
    with pytest.raises(InputError, match="entity level"):
        evaluate([folder], truth)
    [s] = evaluate([folder], truth, workspace=ws)
    [a] = s.cases
    assert (a.correct, a.outside, a.hits) == (80.0, 10.0, 2)


def test_errors(truth, tmp_path, batch):
    with pytest.raises(InputError, match="no such folder"):
        evaluate([tmp_path / "nope"], truth)
    with pytest.raises(InputError, match="neither a trace result"):
        (tmp_path / "empty").mkdir()
        evaluate([tmp_path / "empty"], truth)
    folder = trace_folder(tmp_path / "t", {"W1": 1.0}, tx_ids=("zz",))
    with pytest.raises(InputError, match="no victim's payment"):
        evaluate([folder], truth)
    [s] = evaluate([folder], truth, case="B")
    assert s.cases[0].case_id == "B"
    with pytest.raises(InputError, match="no such case"):
        evaluate([batch], truth, case="C")
    with pytest.raises(InputError, match="truth/ folder"):
        evaluate([batch], tmp_path / "nowhere")


def test_cli_table_and_json(truth, batch, tmp_path):
    result = run("evaluate", batch, "--truth", truth)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert (
        lines[0] == f"Evaluation of {batch} (fifo, account level) against {truth}: 2 cases, "
        "loss 150.00 USD"
    )
    assert lines[2].split() == [
        "case",
        "loss",
        "where",
        "truth",
        "says",
        "recall",
        "outside",
        "network",
        "false",
        "attr.",
        "misplaced",
        "endpoints",
        "P",
        "endpoints",
        "R",
    ]
    assert lines[3].split() == [
        "A",
        "100.00",
        "80.00",
        "80.0%",
        "10.00",
        "10.0%",
        "10.00",
        "2/3",
        "2/3",
    ]
    assert (
        "Total: 86.7% of the loss where the truth says it rests (80.0% counting each case "
        "apart, median 80.0%), 6.7% outside the scam network, 6.7% elsewhere in it; "
        "endpoints precision 60.0%, recall 75.0%."
    ) in result.stdout
    result = run("evaluate", batch, "--truth", truth, "--format", "json")
    doc = json.loads(result.stdout)
    [r] = doc["results"]
    assert r["rule"] == "fifo" and r["overall"]["recall"] == pytest.approx(130 / 150)
    assert [c["case_id"] for c in r["cases"]] == ["A", "B"]
    assert r["cases"][0]["endpoint_precision"] == pytest.approx(2 / 3)


def test_cli_compares_rules(truth, batch, tmp_path):
    other = trace_folder(tmp_path / "t", {"W1": 60.0, "X1": 30.0, "M1": 10.0})
    result = run("evaluate", batch, other, "--truth", truth)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[2].split()[:4] == ["result", "rule", "level", "cases"]
    assert lines[3].split()[1:6] == ["fifo", "account", "2", "150.00", "86.7%"]
    assert lines[4].split()[1:6] == ["haircut", "account", "1", "100.00", "100.0%"]


def test_cli_errors_are_one_line(truth, tmp_path):
    folder = trace_folder(tmp_path / "t", {"W1": 1.0}, level="entity")
    result = run("evaluate", folder, "--truth", truth)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "--workspace" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_simulated_case_traced_and_scored(tmp_path):
    """End to end: a world, its workspace, one case traced at entity level, scored."""
    simulate(tmp_path / "w", scale=4_000, seed=3)
    w = tmp_path / "w"
    ingest(tmp_path / "ws", ingest_files(w), labels=[w / "labels.csv"], prices=[w / "prices.csv"])
    cases = pl.read_csv(w / "cases.csv")
    case = cases.group_by("case_id").len().sort("len", "case_id", descending=True)["case_id"][0]
    tx = ",".join(cases.filter(pl.col("case_id") == case)["tx_id"])
    result = run(
        "trace", "-w", tmp_path / "ws", "--tx", tx, "--level", "entity", "-o", tmp_path / "r"
    )
    assert result.exit_code == 0, result.output
    [s] = evaluate([tmp_path / "r"], w / "truth", workspace=tmp_path / "ws")
    [c] = s.cases
    assert c.case_id == case
    assert c.loss == pytest.approx(
        json.loads((tmp_path / "r" / "result.json").read_text())["seed_value"], rel=1e-9
    )
    assert 0 < c.correct <= c.traced <= c.loss * (1 + 1e-9)
    assert 0 <= c.outside <= c.traced
    text = score_text([s], w / "truth")
    assert f"({s.result.rule}, entity level)" in text.splitlines()[0]
