"""`tracer simulate`: a deterministic world whose native files ingest without a reject, whose
truth agrees with what ingest makes of them, and whose cases file `tracer batch` reads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
from conftest import run  # noqa: E402

from tracer.errors import InputError
from tracer.ingest import ingest
from tracer.simulate import Behaviour, ingest_files, simulate, world_for
from tracer.simulate.params import SCALES
from tracer.workspace import Workspace

N = 6_000  # transfers in the test worlds: every mechanism shows, and it takes about a second


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("world") / "w"
    simulate(out, scale=N, seed=7)
    return out


@pytest.fixture(scope="module")
def workspace(world: Path, tmp_path_factory) -> tuple[Path, list]:
    ws = tmp_path_factory.mktemp("ws") / "ws"
    reports = ingest(
        ws, ingest_files(world), labels=[world / "labels.csv"], prices=[world / "prices.csv"]
    )
    return ws, reports


# --- sizes and options -----------------------------------------------------------------------


def test_scales():
    assert world_for("small").target == SCALES["small"] == 20_000
    assert world_for("medium").target == 1_000_000
    assert world_for("large").target == 10_000_000
    assert world_for("250k").target == 250_000
    assert world_for(50_000).cases > world_for("small").cases
    with pytest.raises(InputError, match="at least 2000"):
        world_for(100)
    with pytest.raises(InputError, match="choose small, medium, large"):
        world_for("huge")


def test_out_folder_must_be_empty(tmp_path):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "x").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        simulate(tmp_path / "w", scale=N)


def test_cli_errors_are_one_line(tmp_path):
    result = run("simulate", "-o", tmp_path / "w", "--scale", "lots")
    assert result.exit_code == 1
    assert "choose small, medium, large" in result.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    result = run("simulate", "-o", tmp_path / "full")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "not empty" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- determinism -----------------------------------------------------------------------------


def test_same_seed_same_bytes(world, tmp_path):
    simulate(tmp_path / "again", scale=N, seed=7)
    assert digests(tmp_path / "again") == digests(world)


def test_other_seed_other_world(world, tmp_path):
    simulate(tmp_path / "other", scale=N, seed=8)
    a, b = digests(world), digests(tmp_path / "other")
    assert set(a) == set(b)
    assert all(a[k] != b[k] for k in a if k != "world.json")


def test_cli_writes_the_same_world(world, tmp_path):
    result = run("simulate", "-o", tmp_path / "cli", "--scale", N, "--seed", 7)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"World written to {tmp_path / 'cli'}/ (seed 7): ")
    assert "tracer ingest" in result.stdout
    assert digests(tmp_path / "cli") == digests(world)


@pytest.mark.parametrize("formats", ["native", "canonical"])
def test_same_bytes_whatever_the_threads_and_parts(world, tmp_path, monkeypatch, formats):
    """Lines are rendered in parts on threads: one thread and tiny parts write the same."""
    import tracer.simulate.writers as writers

    simulate(tmp_path / "default", scale=N, seed=7, formats=formats)
    monkeypatch.setattr(writers, "FORMAT_THREADS", 1)
    monkeypatch.setattr(writers, "PART_BYTES", 2_000)
    simulate(tmp_path / "one", scale=N, seed=7, formats=formats)
    assert digests(tmp_path / "one") == digests(tmp_path / "default")
    if formats == "native":
        assert digests(tmp_path / "one") == digests(world)


# --- the files -------------------------------------------------------------------------------


def test_files_and_world_json(world):
    meta = json.loads((world / "world.json").read_text())
    assert meta["seed"] == 7 and meta["scale"] == N and meta["formats"] == "native"
    for rel in (
        "bank/amlworld_transfers.csv",
        "tron/usdt_trc20_transfers.csv",
        "ethereum/transactions.csv",
        "ethereum/token_transfers.csv",
        "bitcoin/inputs.csv",
        "bitcoin/outputs.csv",
        "prices.csv",
        "labels.csv",
        "cases.csv",
        "truth/cases.csv",
        "truth/transfers.csv",
        "truth/rests.csv",
        "truth/accounts.csv",
    ):
        assert (world / rel).is_file(), rel
    assert meta["camt053"] and all((world / p).is_file() for p in meta["camt053"])
    assert 0.7 * N < meta["transfers"] < 1.3 * N
    assert meta["scam_transfers"] < meta["transfers"] / 4  # background is most of the volume


def test_labels_are_services_only(world):
    labels = pl.read_csv(world / "labels.csv")
    roles = pl.read_csv(world / "truth/accounts.csv")
    joined = labels.join(roles, on="account", how="left")
    assert set(labels["label"]) == {"exchange", "otc", "mixer", "sanctioned"}
    assert joined.filter(pl.col("role").str.starts_with("mule")).height == 0
    # desks: one entity joins a desk's bank accounts and its wallets
    desks = labels.filter(pl.col("label") == "otc")
    for _, rows in desks.group_by("entity"):
        accounts = rows["account"].to_list()
        assert any(a.startswith("bank:") for a in accounts)
        assert any(a.startswith("tron:") for a in accounts)
    # the only gang wallets labelled are those under sanctions, and gang deposit addresses
    # (which the exchange knows as its own)
    gang = joined.filter(pl.col("role").str.starts_with("gang_"))
    assert set(gang["label"]) <= {"sanctioned", "exchange"}
    assert set(gang.filter(pl.col("label") == "exchange")["role"]) == {"gang_exchange_deposit"}


def test_cases_file_has_the_columns_batch_reads(world):
    cases = pl.read_csv(world / "cases.csv")
    assert cases.columns == ["case_id", "tx_id", "victim_account", "amount", "asset", "date"]
    truth = pl.read_csv(world / "truth/cases.csv")
    assert sorted(cases["case_id"].unique()) == sorted(truth["case_id"])
    assert set(cases["asset"]) <= {"THB", "CNY", "USD", "EUR"}


# --- ingest: the round trip ------------------------------------------------------------------


def test_native_files_ingest_with_no_reject(world, workspace):
    ws, reports = workspace
    assert all(r.rejected == 0 for r in reports), [(r.path, r.rejected) for r in reports]
    assert all(r.unvalued == 0 for r in reports)
    formats = {
        Path(item["path"]).name: item["format"] for item in Workspace.open(ws).manifest["inputs"]
    }
    assert formats["amlworld_transfers.csv"] == "amlworld"
    assert formats["usdt_trc20_transfers.csv"] == "tronscan-csv"
    assert formats["transactions.csv"] == "ethereum-etl-transactions"
    assert formats["token_transfers.csv"] == "ethereum-etl-token-transfers"
    assert formats["inputs.csv"] == "bitcoin-bq-inputs"
    assert formats["outputs.csv"] == "bitcoin-bq-outputs"
    assert {v for k, v in formats.items() if k.endswith(".xml")} == {"camt053"}
    meta = json.loads((world / "world.json").read_text())
    assert Workspace.open(ws).manifest["tables"]["transfers"] == meta["transfers"]


def test_truth_agrees_with_the_workspace(world, workspace):
    ws = workspace[0]
    t = pl.read_parquet(ws / "transfers.parquet", columns=["tx_id", "src", "dst", "value"])
    truth = pl.read_csv(world / "truth/transfers.csv")
    joined = truth.join(t, on="tx_id", how="left", suffix="_ws")
    assert joined.filter(pl.col("src_ws").is_null()).height == 0  # every scam transfer is there
    assert (
        joined.filter(
            (pl.col("src") != pl.col("src_ws")) | (pl.col("dst") != pl.col("dst_ws"))
        ).height
        == 0
    )
    # victims' payments: the truth's loss is what ingest values them at
    paid = (
        pl.read_csv(world / "cases.csv")
        .join(t, on="tx_id")
        .group_by("case_id")
        .agg(pl.col("value").sum())
    )
    cases = pl.read_csv(world / "truth/cases.csv").join(paid, on="case_id")
    assert cases.height == pl.read_csv(world / "truth/cases.csv").height
    assert ((cases["loss_usd"] - cases["value"]).abs() <= 1e-9 * cases["loss_usd"]).all()
    # each case's loss rests somewhere, in full
    rests = pl.read_csv(world / "truth/rests.csv")
    total = rests.group_by("case_id").agg(pl.col("value").sum()).join(cases, on="case_id")
    assert ((total["value"] - total["loss_usd"]).abs() <= 1e-9 * total["loss_usd"]).all()
    assert set(rests["kind"]) <= {
        "laundering",
        "exchange_deposit",
        "mule_cut",
        "otc_spread",
        "mixer_fee",
        "miner_fee",
        "in_transit",
    }
    accounts = set(pl.read_parquet(ws / "accounts.parquet")["account"])
    assert set(rests["account"]) <= accounts


def test_scam_shapes(world):
    truth = pl.read_csv(world / "truth/transfers.csv")
    steps = set(truth["step"])
    assert {
        "victim_payment",
        "mule_forward",
        "desk_deposit",
        "desk_payout",
        "fan_out",
        "fan_in",
        "hop",
        "peel",
        "laundering",
        "exchange_deposit",
    } <= steps
    # a case paid in several instalments, weeks apart
    cases = pl.read_csv(world / "truth/cases.csv")
    assert cases["payments"].max() >= 3
    # structuring: forwards just below the country's threshold
    fwd = truth.filter(pl.col("step") == "mule_forward")
    assert fwd.height > cases.height
    # roles of every kind
    roles = set(pl.read_csv(world / "truth/accounts.csv")["role"])
    assert {
        "person",
        "merchant",
        "employer",
        "victim",
        "mule_l1",
        "mule_l2",
        "exchange",
        "otc",
        "mixer",
        "gang_laundering",
        "gang_exchange_deposit",
    } <= roles


def test_canonical_world_is_the_same_world(world, workspace, tmp_path):
    simulate(tmp_path / "c", scale=N, seed=7, formats="canonical")
    assert (tmp_path / "c" / "transfers.csv").is_file()
    assert not (tmp_path / "c" / "bank").exists()
    for name in ("truth/transfers.csv", "truth/rests.csv", "cases.csv", "labels.csv", "prices.csv"):
        assert (tmp_path / "c" / name).read_bytes() == (world / name).read_bytes(), name
    reports = ingest(
        tmp_path / "ws",
        ingest_files(tmp_path / "c"),
        labels=[tmp_path / "c" / "labels.csv"],
        prices=[tmp_path / "c" / "prices.csv"],
    )
    assert [r.rejected for r in reports] == [0, 0, 0]
    cols = ["tx_id", "ts", "src", "dst", "asset", "amount", "value"]
    native = pl.read_parquet(workspace[0] / "transfers.parquet", columns=cols).sort("tx_id")
    canonical = pl.read_parquet(tmp_path / "ws" / "transfers.parquet", columns=cols).sort("tx_id")
    assert native.select(cols[:5]).equals(canonical.select(cols[:5]))
    for col in ("amount", "value"):  # satoshi / 1e8 and the decimal text may differ in the last bit
        a, b = native[col], canonical[col]
        assert ((a - b).abs() <= 1e-12 * a.abs()).all(), col


def test_batch_reads_the_cases_file(world, workspace, tmp_path):
    result = run(
        "batch",
        world / "cases.csv",
        "-w",
        workspace[0],
        "--level",
        "entity",
        "-o",
        tmp_path / "b",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    meta = json.loads(result.stdout)
    assert meta["counts"]["rows_rejected"] == 0
    assert meta["counts"]["cases"] == pl.read_csv(world / "truth/cases.csv").height


def test_behaviour_switches(tmp_path):
    plain = Behaviour(
        desk_customers=False, desk_restock=False, mule_own_activity=False, mixer=False
    )
    simulate(tmp_path / "p", scale=N, seed=7, behaviour=plain)
    meta = json.loads((tmp_path / "p" / "world.json").read_text())
    assert meta["behaviour"] == {
        "preset": "simple",
        "desk_customers": False,
        "desk_restock": False,
        "mule_own_activity": False,
        "mixer": False,
    }
    roles = pl.read_csv(tmp_path / "p" / "truth/accounts.csv")
    mules = roles.filter(pl.col("role").str.starts_with("mule"))
    assert mules.height and mules["gang"].null_count() == 0  # all dedicated to a gang
    assert "mixer_fee" not in set(pl.read_csv(tmp_path / "p" / "truth/rests.csv")["kind"])


# --- the sample world ------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def test_sample_data_is_what_simulate_writes(tmp_path):
    """sample_data/ is `tracer simulate --scale small --seed 0` (plus its README): when the
    simulator changes, write it again (see sample_data/README.md)."""
    simulate(tmp_path / "s", scale="small", seed=0)
    ours = digests(ROOT / "sample_data")
    assert ours.pop("README.md")
    assert digests(tmp_path / "s") == ours


def test_sample_world_has_the_demo_case_and_money_in_transit():
    cases = pl.read_csv(ROOT / "sample_data" / "cases.csv")
    demo = [
        line
        for line in (ROOT / "Makefile").read_text().splitlines()
        if line.startswith("DEMO_CASE")
    ]
    assert demo and demo[0].split()[-1] in set(cases["case_id"])
    rests = pl.read_csv(ROOT / "sample_data" / "truth" / "rests.csv")
    assert "in_transit" in set(rests["kind"])
