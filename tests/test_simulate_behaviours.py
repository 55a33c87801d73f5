"""`tracer simulate --behaviour NAME --set key=value`: worlds that differ in how gangs, mules
and desks behave, each with truth that reconciles, and each doing what its name says."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
from conftest import run  # noqa: E402

from tracer.errors import InputError
from tracer.ingest import ingest
from tracer.simulate import BEHAVIOURS, REALISTIC, Behaviour, behaviour_for, ingest_files, simulate
from tracer.simulate.params import COUNTRIES

N = 6_000
SEED = 3


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def worlds(tmp_path_factory) -> dict[str, Path]:
    """A small canonical world of each preset, same seed."""
    root = tmp_path_factory.mktemp("behaviours")
    out = {}
    for name in BEHAVIOURS:
        simulate(root / name, scale=N, seed=SEED, behaviour=name, formats="canonical")
        out[name] = root / name
    return out


def transfers(world: Path) -> pl.DataFrame:
    return pl.read_csv(world / "transfers.csv", infer_schema_length=0).select(
        "tx_id",
        "src",
        "dst",
        "asset",
        pl.col("amount").cast(pl.Float64),
        pl.col("timestamp").str.to_datetime(time_zone="UTC").alias("ts"),
    )


def truth(world: Path) -> pl.DataFrame:
    return pl.read_csv(world / "truth/transfers.csv")


def first_forward_minutes(world: Path) -> float:
    """Median minutes from a victim's payment to the first mule's first forward after it."""
    tr = (
        truth(world)
        .join(transfers(world).select("tx_id", "ts"), on="tx_id")
        .unique(["tx_id", "case_id"])
    )
    paid = tr.filter(pl.col("step") == "victim_payment").select(
        "tx_id", "case_id", pl.col("dst").alias("mule"), "ts"
    )
    fwd = tr.filter(pl.col("step") == "mule_forward").select(
        "case_id", pl.col("src").alias("mule"), pl.col("ts").alias("fwd")
    )
    first = (
        paid.join(fwd, on=["case_id", "mule"])
        .filter(pl.col("fwd") >= pl.col("ts"))
        .group_by("tx_id")
        .agg((pl.col("fwd") - pl.col("ts")).min().alias("d"))
    )
    assert first.height >= 10
    return first["d"].dt.total_seconds().median() / 60


def cut_share(world: Path) -> float:
    rests = pl.read_csv(world / "truth/rests.csv")
    loss = pl.read_csv(world / "truth/cases.csv")["loss_usd"].sum()
    return rests.filter(pl.col("kind") == "mule_cut")["value"].sum() / loss


def desk_bank_others(world: Path) -> int:
    """Transfers of the desks' bank accounts that are not the scam's."""
    labels = pl.read_csv(world / "labels.csv")
    desk = labels.filter((pl.col("label") == "otc") & pl.col("account").str.starts_with("bank:"))
    t = transfers(world)
    touching = t.filter(pl.col("src").is_in(desk["account"]) | pl.col("dst").is_in(desk["account"]))
    return touching.join(truth(world), on="tx_id", how="anti").height


def steps(world: Path) -> dict[str, int]:
    return dict(truth(world).group_by("step").len().iter_rows())


# --- the presets -----------------------------------------------------------------------------


def test_presets():
    assert BEHAVIOURS["realistic"] == REALISTIC == Behaviour()
    assert len(BEHAVIOURS) >= 6
    values = list(BEHAVIOURS.values())
    assert all(values.count(b) == 1 for b in values)  # no two alike
    assert {"fast", "slow", "structured", "busy-desks", "simple", "long-chains"} <= set(BEHAVIOURS)


@pytest.mark.parametrize("name", list(BEHAVIOURS))
def test_each_preset_reconciles(worlds, name):
    world = worlds[name]
    meta = json.loads((world / "world.json").read_text())
    if name == "realistic":
        assert meta["behaviour"] == {
            "desk_customers": True,
            "desk_restock": True,
            "mule_own_activity": True,
            "mixer": True,
        }
    else:
        assert meta["behaviour"]["preset"] == name
        assert meta["behaviour"] == {"preset": name, **BEHAVIOURS[name].record()}
    assert 0.7 * N < meta["transfers"] < 1.3 * N
    # every transfer of the truth is in the world's transfers, between the same accounts
    t, tr = transfers(world), truth(world)
    joined = tr.join(t, on="tx_id", how="left", suffix="_t")
    assert joined.filter(pl.col("src_t").is_null()).height == 0
    assert (
        joined.filter(
            (pl.col("src") != pl.col("src_t")) | (pl.col("dst") != pl.col("dst_t"))
        ).height
        == 0
    )
    # each case's loss rests somewhere, in full
    cases = pl.read_csv(world / "truth/cases.csv")
    rests = pl.read_csv(world / "truth/rests.csv")
    total = rests.group_by("case_id").agg(pl.col("value").sum()).join(cases, on="case_id")
    assert total.height == cases.height
    assert ((total["value"] - total["loss_usd"]).abs() <= 1e-9 * total["loss_usd"]).all()
    assert {"victim_payment", "mule_forward", "desk_deposit", "desk_payout"} <= set(tr["step"])


def test_fast_and_slow_forwards(worlds):
    fast = first_forward_minutes(worlds["fast"])
    realistic = first_forward_minutes(worlds["realistic"])
    slow = first_forward_minutes(worlds["slow"])
    assert fast < 20 < 60 < realistic < 6 * 60
    assert slow > 12 * 60


def test_cuts(worlds):
    fast, realistic, slow = (cut_share(worlds[n]) for n in ("fast", "realistic", "slow"))
    assert fast < 0.015 < 0.02 < realistic < 0.05 < 0.08 < slow


def test_structured_keeps_every_forward_below_the_threshold(worlds):
    threshold = {v[0]: float(v[4]) for v in COUNTRIES.values()}

    def over(world: Path) -> int:
        fwd = (
            truth(world)
            .filter(pl.col("step") == "mule_forward")
            .unique("tx_id")
            .join(transfers(world), on="tx_id")
        )
        return fwd.filter(
            pl.col("amount") > pl.col("asset").replace_strict(threshold, return_dtype=pl.Float64)
        ).height

    assert over(worlds["realistic"]) > 0
    assert over(worlds["structured"]) == 0


def test_desks_customers(worlds):
    realistic = desk_bank_others(worlds["realistic"])
    assert realistic > 0
    assert desk_bank_others(worlds["busy-desks"]) > 2 * realistic
    assert desk_bank_others(worlds["simple"]) == 0  # no customers, no restocking


def test_chains(worlds):
    realistic = steps(worlds["realistic"])
    direct = steps(worlds["direct"])
    assert {"peel", "fan_in", "consolidation"} <= set(realistic)
    assert not {"peel", "fan_in", "consolidation"} & set(direct)
    assert steps(worlds["long-chains"])["peel"] > 1.5 * realistic["peel"]
    assert not {"mixer_in", "mixer_out"} & set(steps(worlds["simple"]))
    assert "mixer_fee" not in set(pl.read_csv(worlds["simple"] / "truth/rests.csv")["kind"])


def test_a_preset_ingests_with_no_reject(tmp_path):
    simulate(tmp_path / "w", scale=N, seed=SEED, behaviour="direct")
    reports = ingest(
        tmp_path / "ws",
        ingest_files(tmp_path / "w"),
        labels=[tmp_path / "w" / "labels.csv"],
        prices=[tmp_path / "w" / "prices.csv"],
    )
    assert all(r.rejected == 0 and r.unvalued == 0 for r in reports)
    t = pl.read_parquet(tmp_path / "ws" / "transfers.parquet", columns=["tx_id", "src", "dst"])
    joined = truth(tmp_path / "w").join(t, on="tx_id", how="left", suffix="_ws")
    assert joined.filter(pl.col("src_ws").is_null()).height == 0


# --- settings --------------------------------------------------------------------------------


def test_settings_parse():
    b = behaviour_for(
        "fast",
        [
            "split_p=1",
            "peel_hops=0:0",
            "mixer=false",
            "l1_delay_min=5:60",
            "tron_cons_sweep_days=7",
        ],
    )
    assert b.split_p == 1.0 and b.peel_hops == (0, 0) and b.mixer is False
    assert b.l1_delay_min == (5.0, 60.0) and b.tron_cons_sweep_days == 7
    assert b.cut_l1 == BEHAVIOURS["fast"].cut_l1  # the rest of the preset stays
    assert b.changes()["peel_hops"] == [0, 0]
    for bad, message in [
        (["nope=1"], "no behaviour parameter 'nope'"),
        (["split_p"], "write key=value"),
        (["split_p=1.5"], "between 0 and 1"),
        (["split_p=x"], "a number"),
        (["cut_l1=0.03:0.01"], "a <= b"),
        (["peel_hops=2.5:4"], "whole numbers"),
        (["peel_hops=4"], "a range a:b"),
        (["mixer=maybe"], "true or false"),
        (["delay_scale=0"], "above 0"),
    ]:
        with pytest.raises(InputError, match=message):
            behaviour_for("realistic", bad)
    with pytest.raises(InputError, match="choose one of realistic, fast"):
        behaviour_for("chaotic")


def test_default_settings_change_nothing(tmp_path):
    simulate(tmp_path / "a", scale=N, seed=SEED)
    simulate(
        tmp_path / "b",
        scale=N,
        seed=SEED,
        behaviour="realistic",
        settings=["split_p=0.7", "peel_hops=2:6"],
    )
    assert digests(tmp_path / "a") == digests(tmp_path / "b")


def test_a_setting_changes_the_world(tmp_path):
    simulate(tmp_path / "w", scale=N, seed=SEED, settings=["peel_hops=0:0"], formats="canonical")
    assert "peel" not in steps(tmp_path / "w")
    meta = json.loads((tmp_path / "w" / "world.json").read_text())
    assert meta["behaviour"] == {
        "preset": "realistic",
        "desk_customers": True,
        "desk_restock": True,
        "mule_own_activity": True,
        "mixer": True,
        "peel_hops": [0, 0],
    }


# --- the command line ------------------------------------------------------------------------


def test_cli_behaviour_and_set(worlds, tmp_path):
    result = run(
        "simulate",
        "-o",
        tmp_path / "fast",
        "--scale",
        N,
        "--seed",
        SEED,
        "--formats",
        "canonical",
        "--behaviour",
        "fast",
    )
    assert result.exit_code == 0, result.output
    assert "behaviour fast" in result.stdout
    assert digests(tmp_path / "fast") == digests(worlds["fast"])
    result = run(
        "simulate",
        "-o",
        tmp_path / "set",
        "--scale",
        N,
        "--seed",
        SEED,
        "--behaviour",
        "slow",
        "--set",
        "mixer=off",
        "--set",
        "cut_l1=0.05:0.06",
    )
    assert result.exit_code == 0, result.output
    recorded = json.loads((tmp_path / "set" / "world.json").read_text())["behaviour"]
    assert recorded["preset"] == "slow" and recorded["mixer"] is False
    assert recorded["cut_l1"] == [0.05, 0.06] and recorded["l1_delay_min"] == [120.0, 2880.0]
    help_text = run("simulate", "--help").stdout
    assert "--behaviour" in help_text and "--set" in help_text and "long-chains" in help_text


@pytest.mark.parametrize(
    "args, message",
    [
        (["--behaviour", "chaotic"], "'chaotic' is not one of"),
        (["--set", "speed=2"], "no behaviour parameter 'speed'"),
        (["--set", "split_p=2"], "--set split_p=2: a number between 0 and 1"),
        (["--set", "mixer"], "write key=value"),
    ],
)
def test_cli_errors(tmp_path, args, message):
    result = run("simulate", "-o", tmp_path / "w", "--scale", N, *args)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "w").exists()
