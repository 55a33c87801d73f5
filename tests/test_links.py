"""`tracer links` (tracer.links) and `tracer evaluate --links`: case networks that find gangs.

Most tests write a batch result folder by hand (hub_cases.parquet, cases.parquet): two gangs
A (cases a1-a4) and B (b1-b4), each with its own wallets, every case paying at an exchange.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ok, run

from tracer import batch
from tracer.errors import InputError
from tracer.evaluate import score_links
from tracer.links import links, parse_labels

A = ["a1", "a2", "a3", "a4"]
B = ["b1", "b2", "b3", "b4"]


def hub(case, account, tainted_in, label=None, value=0.0):
    return {
        "case_id": case,
        "account": account,
        "label": label,
        "value": value,
        "tainted_in": tainted_in,
        "endpoint": value > 0,
        "intermediary": value == 0,
    }


def gang_rows(extra=()):
    rows = []
    for c in A:
        rows += [
            hub(c, "tron:GangA-in", 90.0),
            hub(c, "tron:GangA-out", 80.0, value=80.0),
            hub(c, "exchange:big", 10.0, "exchange", 10.0),
        ]
    for c in B:
        rows += [
            hub(c, "tron:GangB-in", 90.0),
            hub(c, "btc:GangB-out", 85.0, value=85.0),
            hub(c, "exchange:big", 5.0, "exchange", 5.0),
        ]
    return rows + list(extra)


def write_result(folder: Path, rows, cases=None, workspace: Path | None = None) -> Path:
    folder.mkdir(parents=True)
    cases = cases or sorted({r["case_id"] for r in rows})
    pq.write_table(
        pa.Table.from_pylist(
            [{"case_id": c, "seed_value": 100.0} for c in cases],
            schema=pa.schema([("case_id", pa.string()), ("seed_value", pa.float64())]),
        ),
        folder / "cases.parquet",
    )
    pq.write_table(
        pa.Table.from_pylist(
            rows,
            schema=pa.schema(
                [
                    ("case_id", pa.string()),
                    ("account", pa.string()),
                    ("label", pa.string()),
                    ("value", pa.float64()),
                    ("tainted_in", pa.float64()),
                    ("endpoint", pa.bool_()),
                    ("intermediary", pa.bool_()),
                ]
            ),
        ),
        folder / "hub_cases.parquet",
    )
    (folder / "batch.json").write_text(
        json.dumps({"workspace": str(workspace) if workspace else None})
    )
    return folder


def nets(found):
    return [n["cases"] for n in found["networks"]]


def test_services_link_nothing_and_gangs_come_apart(tmp_path):
    got = links(write_result(tmp_path / "r", gang_rows()))
    assert nets(got) == [A, B]
    assert got["linked_cases"] == 8 and got["cases"] == 8
    assert [h["account"] for h in got["networks"][0]["hubs"]] == ["tron:GangA-out", "tron:GangA-in"]
    # Every shared hub linking (the behaviour before): the exchange makes one network.
    old = links(tmp_path / "r", min_weight=0, max_share=1, min_case_share=0, ignore_labels=())
    assert nets(old) == [sorted(A + B)]
    # The exchange kept but reached from every case: it weighs ln(8/8) = 0, linking nothing.
    assert nets(links(tmp_path / "r", ignore_labels=(), max_share=1)) == [A, B]


def test_a_case_leaking_into_the_other_gang_does_not_merge_the_gangs(tmp_path):
    leak = [hub("b1", "tron:GangA-in", 40.0), hub("b1", "tron:GangA-out", 40.0, value=40.0)]
    # Four more cases that reach no hub: gang A's wallets reach 5 of 12 cases.
    folder = write_result(tmp_path / "r", gang_rows(leak), cases=A + B + ["z1", "z2", "z3", "z4"])
    got = links(folder)
    assert nets(got) == [A, B] and got["linked_cases"] == 8 and got["cases"] == 12
    # Connected components (min weight 0) would have merged them through b1.
    assert nets(links(folder, min_weight=0)) == [sorted(A + B)]


def test_a_trickle_below_the_case_share_links_nothing(tmp_path):
    # a1 and b1 both paid 1 (1% of 100) at the same grocer.
    rows = gang_rows([hub("a1", "bank:X:grocer", 1.0), hub("b1", "bank:X:grocer", 1.0)])
    folder = write_result(tmp_path / "r", rows)
    assert nets(links(folder, min_weight=0)) == [A, B]
    # Counted from 0.5% of a case's value, the grocer joins the gangs (when any link will do).
    assert nets(links(folder, min_weight=0, min_case_share=0.005)) == [sorted(A + B)]
    assert nets(links(folder, min_weight=0, min_value=2, min_case_share=0)) == [A, B]


def test_max_share(tmp_path):
    folder = write_result(tmp_path / "r", gang_rows())
    # Each gang's hubs reach 4 of 8 cases: 0.5 keeps them, 0.4 drops them.
    assert nets(links(folder, max_share=0.5)) == [A, B]
    got = links(folder, max_share=0.4)
    assert got["networks"] == [] and got["linked_cases"] == 0
    assert ok("links", folder, "--max-share", "0.4").stdout.startswith("No two cases share")


def test_sanctioned_exchange_is_a_service_a_sanctioned_gang_wallet_is_not(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    pq.write_table(
        pa.table(
            {
                "account": ["tron:Boreal1", "tron:Boreal2", "tron:GangB-in"],
                "entity": ["sanctioned:borealis", "sanctioned:borealis", None],
            }
        ),
        ws / "labels.parquet",
    )
    rows = [
        r | ({"label": "sanctioned"} if r["account"] == "tron:GangB-in" else {})
        for r in gang_rows()
    ]
    rows += [hub(c, "sanctioned:borealis", 30.0, "sanctioned", 30.0) for c in ("a1", "b1")]
    folder = write_result(tmp_path / "r", rows, workspace=ws)
    assert nets(links(folder)) == [A, B]
    # Every sanctioned hub left out: gang B has only its out-wallet left, still one network.
    assert nets(links(folder, ignore_labels=("exchange", "sanctioned"))) == [A, B]
    # Keeping sanctioned services: the exchange links a1 and b1 (weight ln 4), not the gangs.
    got = links(folder, ignore_labels=("exchange",))
    assert nets(got) == [A, B] or ["a1", "b1"] in nets(got)
    assert any(
        h["account"] == "sanctioned:borealis"
        for n in links(folder, ignore_labels=("exchange",), min_weight=0)["networks"]
        for h in n["hubs"]
    )


def test_same_networks_whatever_the_row_order(tmp_path):
    rows = gang_rows([hub("b1", "tron:GangA-in", 40.0)])
    a = links(write_result(tmp_path / "a", rows))
    b = links(write_result(tmp_path / "b", list(reversed(rows))))
    assert a == b


def test_parse_labels_and_errors(tmp_path):
    assert parse_labels("Exchange, otc,exchange") == ("exchange", "otc")
    assert parse_labels("none") == () and parse_labels("") == ()
    with pytest.raises(InputError, match="empty label"):
        parse_labels("exchange,,otc")
    folder = write_result(tmp_path / "r", gang_rows())
    r = run("links", folder, "--ignore-labels", "otc,")
    assert r.exit_code == 1 and r.output.startswith("Error: --ignore-labels otc,: an empty label")
    assert len(r.output.strip().splitlines()) == 1
    r = run("links", tmp_path)
    assert r.exit_code == 1 and "not a batch result" in r.output
    with pytest.raises(InputError, match="min-weight"):
        links(folder, min_weight=float("nan"))
    assert batch.links is links


def write_truth(folder: Path, gangs: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    with (folder / "cases.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case_id", "gang", "loss_usd"])
        w.writerows([c, g, 100] for c, g in gangs.items())
    return folder


def test_evaluate_links_counts_pairs(tmp_path):
    folder = write_result(tmp_path / "r", gang_rows())
    # The truth: b4 belongs to gang A.
    truth = write_truth(
        tmp_path / "truth", {c: "A" for c in A} | {"b1": "B", "b2": "B", "b3": "B", "b4": "A"}
    )
    s = score_links(folder, truth)
    # Networks A (a1-a4) and B (b1-b4): 12 pairs in one network; same gang: 10 pairs of
    # a1-a4,b4 + 3 of b1-b3 = 13; both: 6 + 3 = 9.
    assert (s["pairs_same_network"], s["pairs_same_gang"], s["pairs_both"]) == (12, 13, 9)
    assert s["precision"] == 9 / 12 and s["recall"] == 9 / 13
    assert (s["cases"], s["networks"], s["gangs"]) == (8, 2, 2)
    out = ok("evaluate", "--links", folder, "--truth", truth).stdout
    assert "precision  75.0%  9 of 12 pairs in one network are of one gang" in out
    assert "recall     69.2%  9 of 13 pairs of one gang are in one network" in out
    # From the JSON of tracer links with other options: every hub links, one network.
    js = tmp_path / "links.json"
    js.write_text(
        ok(
            "links",
            folder,
            "--min-weight",
            "0",
            "--max-share",
            "1",
            "--ignore-labels",
            "none",
            "--format",
            "json",
        ).stdout
    )
    s = json.loads(ok("evaluate", "--links", js, "--truth", truth, "--format", "json").stdout)
    assert (s["pairs_same_network"], s["pairs_both"]) == (28, 13)
    assert s["recall"] == 1.0 and s["options"]["ignore_labels"] == []


def test_evaluate_links_errors(tmp_path):
    folder = write_result(tmp_path / "r", gang_rows())
    truth = write_truth(tmp_path / "truth", {"x1": "A", "x2": "A"})
    for args, says in [
        (("--links", folder, "--truth", truth), "none of its cases is in"),
        (("--links", tmp_path / "nope", "--truth", truth), "no such folder or file"),
        ((folder, "--links", folder, "--truth", truth), "not both"),
        (("--truth", truth), "give the RESULTS"),
    ]:
        r = run("evaluate", *args)
        assert r.exit_code != 0 and says in r.output, r.output
        assert r.output.startswith("Error:") and len(r.output.strip().splitlines()) == 1
    bad = tmp_path / "bad.json"
    bad.write_text('{"networks": 3}')
    r = run("evaluate", "--links", bad, "--truth", truth)
    assert r.exit_code == 1 and "not the JSON of tracer links" in r.output


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A small simulated world (20 cases, 2 gangs), ingested and traced by batch."""
    d = tmp_path_factory.mktemp("world")
    w = d / "world"
    ok("simulate", "-o", w, "--scale", "20000", "--seed", "5")
    files = [
        *sorted((w / "bank").glob("*.csv")),
        *sorted((w / "bank" / "camt053").glob("*.xml")),
        *sorted((w / "tron").glob("*.csv")),
        *sorted((w / "ethereum").glob("*.csv")),
        *sorted((w / "bitcoin").glob("*.csv")),
    ]
    ok("ingest", *files, "--labels", w / "labels.csv", "--prices", w / "prices.csv", "-w", d / "ws")
    ok("batch", w / "cases.csv", "-w", d / "ws", "--level", "entity", "-o", d / "b")
    return d


def test_networks_find_the_gangs_of_a_simulated_world(world):
    s = score_links(world / "b", world / "world" / "truth")
    assert s["gangs"] == 2 and s["cases"] == 20
    assert s["precision"] >= 0.9 and s["recall"] >= 0.9
    # Every shared hub linking puts all cases in one network.
    found = links(world / "b", min_weight=0, max_share=1, min_case_share=0, ignore_labels=())
    assert len(found["networks"]) == 1 and found["linked_cases"] == 20


def naive_networks(rows, n_cases, min_case_share, max_share, min_weight, ignore):
    """Brute force: pair weights from scratch, then average linkage by full rescans."""
    import math

    reached: dict[str, set[str]] = {}
    for r in rows:
        if r["label"] in ignore or r["tainted_in"] < min_case_share * 100.0:
            continue
        reached.setdefault(r["account"], set()).add(r["case_id"])
    weight: dict[frozenset, float] = {}
    for cs in reached.values():
        if 2 <= len(cs) <= max_share * n_cases:
            for x in cs:
                for y in cs:
                    if x < y:
                        key = frozenset((x, y))
                        weight[key] = weight.get(key, 0.0) + math.log(n_cases / len(cs))
    groups = [{c} for c in sorted({c for k in weight for c in k})]
    while True:
        best = None
        for i, g in enumerate(groups):
            for h in groups[i + 1 :]:
                pairs = [weight.get(frozenset((x, y))) for x in g for y in h]
                if all(p is None for p in pairs):
                    continue
                avg = round(sum(p or 0.0 for p in pairs) / (len(g) * len(h)), 9)
                key = (-avg, *sorted((min(g), min(h))))
                if avg >= min_weight and (best is None or key < best[0]):
                    best = (key, g, h)
        if best is None:
            break
        groups = [g for g in groups if g is not best[1] and g is not best[2]] + [best[1] | best[2]]
    return sorted((sorted(g) for g in groups if len(g) >= 2), key=lambda m: (-len(m), m[0]))


@pytest.mark.parametrize("seed", range(4))
def test_networks_match_a_brute_force(tmp_path, seed):
    import random

    rng = random.Random(seed)
    cases = [f"k{i:02d}" for i in range(30)]
    rows = []
    for h in range(40):
        label = rng.choice([None, None, None, "exchange"])
        for c in rng.sample(cases, rng.randint(1, 8)):
            rows.append(hub(c, f"h{h:02d}", float(rng.choice([0.5, 3.0, 20.0, 60.0])), label))
    folder = write_result(tmp_path / "r", rows, cases=cases)
    for opts in [
        dict(min_case_share=0.02, max_share=0.5, min_weight=0.5),
        dict(min_case_share=0.0, max_share=1.0, min_weight=0.0),
        dict(min_case_share=0.1, max_share=0.2, min_weight=1.5),
    ]:
        got = links(folder, ignore_labels=("exchange",), **opts)
        assert nets(got) == naive_networks(rows, 30, ignore={"exchange"}, **opts), opts
