"""The simulation run: the population, the scam and the background life, merged day by day
and written as the dumps, the side files, the truth and ``world.json`` (``tracer.simulate``
describes what is written)."""

from __future__ import annotations

import gc
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from tracer import __version__
from tracer.errors import InputError
from tracer.simulate.background import Background
from tracer.simulate.frames import START_US, Chunk
from tracer.simulate.params import (
    ASSETS,
    DAYS,
    MINOR,
    REALISTIC,
    START,
    US_PER_DAY,
    Behaviour,
    World,
    behaviour_for,
    behaviour_name,
    world_for,
)
from tracer.simulate.prices import Prices
from tracer.simulate.scam import SCAM_UID_LIMIT, Scam, generate_scam
from tracer.simulate.world import COUNTRY_CODES, ROLES, Population, build_population
from tracer.simulate.writers import AMLWORLD_FILE, NATIVE_FILES, Accounts, Writer, warm_up

__all__ = ["simulate", "SimulationReport", "FORMATS", "ingest_files", "window_days"]

FORMATS = ("native", "canonical")


@dataclass(frozen=True)
class SimulationReport:
    out: Path
    world: World
    seed: int
    formats: str
    transfers: int  # canonical transfers (what ingest will hold)
    scam_transfers: int
    cases: int
    seconds: float
    files: dict[str, int]  # file -> data rows

    @property
    def rate(self) -> float:
        return self.transfers / self.seconds if self.seconds > 0 else float("inf")


def ingest_files(out: str | Path) -> list[Path]:
    """The transfer files of a world folder, in the order to ingest them."""
    out = Path(out)
    names = [out / "transfers.csv"] if (out / "transfers.csv").is_file() else []
    names += [out / rel for rel in NATIVE_FILES.values() if (out / rel).is_file()]
    names += sorted((out / "bank" / "camt053").glob("*.xml"))
    return names


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder. Choose a new folder for the world.")
    if out.exists() and any(out.iterdir()):
        raise InputError(
            f"{out}: not empty. Choose a new folder (or empty this one) for the world."
        )


def simulate(
    out: str | Path,
    *,
    scale: str | int = "small",
    seed: int = 0,
    formats: str = "native",
    behaviour: Behaviour | str = REALISTIC,
    settings: Sequence[str] = (),
    on_progress: Callable[[int, int], None] | None = None,
) -> SimulationReport:
    """Generate a world into the folder ``out`` (created; must be empty).

    ``scale``: ``small`` (~20k transfers), ``medium`` (~1M), ``large`` (~10M) or a number of
    transfers; ``formats``: ``native`` or ``canonical``. ``on_progress(day, days)`` after each
    day written. ``behaviour``: how the gangs, mules and desks behave, a ``Behaviour`` or the
    name of one of ``BEHAVIOURS`` (``realistic``, ``fast``, ``slow``, ...); ``settings``:
    ``key=value`` changes to it (``tracer.simulate.params.Behaviour``). Same arguments, same
    bytes.
    """
    if formats not in FORMATS:
        raise InputError(f"--formats {formats}: choose native or canonical.")
    if not isinstance(seed, int) or seed < 0:
        raise InputError(f"--seed {seed}: a whole number, 0 or more.")
    name = behaviour if isinstance(behaviour, str) else behaviour_name(behaviour)
    if isinstance(behaviour, str):
        behaviour = behaviour_for(behaviour)
    behaviour = behaviour.with_settings(tuple(settings))
    out = Path(out)
    _check_out(out)
    w = world_for(scale)
    with _gc_paused():
        return _simulate(out, w, seed, formats, behaviour, name, on_progress)


def _simulate(
    out: Path,
    w: World,
    seed: int,
    formats: str,
    behaviour: Behaviour,
    name: str | None,
    on_progress: Callable[[int, int], None] | None,
) -> SimulationReport:
    began = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    warming = threading.Thread(target=warm_up, name="tracer-sim-warm", daemon=True)
    warming.start()
    prices = Prices(seed)
    pop = build_population(w, seed)
    background = Background(pop, prices, seed, behaviour)
    step = window_days(w)
    windows = [(d0, min(DAYS, d0 + step)) for d0 in range(0, DAYS, step)]
    # stages at once: background windows are made ahead on a worker (numpy releases the
    # GIL; they pile up while the scam side is made here), chunks are merged and ordered
    # here, the writer's threads render a chunk's lines, and another worker appends them to
    # the files in order. Each stage is deterministic on its own, so the bytes do not depend
    # on timing.
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracer-sim-bg") as bg_pool,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracer-sim-out") as out_pool,
    ):
        people = bg_pool.submit(Accounts.of, pop.reg.ids, formats == "canonical")
        ahead = deque(bg_pool.submit(background.window, *win) for win in windows[:AHEAD])
        scam = generate_scam(w, pop, prices, seed, behaviour)
        warming.join()
        writer = Writer(out, formats, pop.reg, seed, people.result())
        # after the background windows made ahead, on their worker
        side = bg_pool.submit(_write_side_files, out, pop, scam, prices)
        by_day = _by_day(scam.chunk)
        carry = Chunk()
        total = 0
        appended: deque = deque()
        named = None
        try:
            for i, (d0, d1) in enumerate(windows):
                made = ahead.popleft().result()
                if i + AHEAD < len(windows):
                    ahead.append(bg_pool.submit(background.window, *windows[i + AHEAD]))
                chunk = Chunk.concat(
                    [carry, made, *(by_day[d] for d in range(d0, d1) if d in by_day)]
                )
                now, carry = chunk.split(START_US + d1 * US_PER_DAY)
                total += now.rows()
                while len(appended) >= 2:  # at most two chunks staged and not yet appended
                    _appended(appended.popleft(), on_progress)
                appended.append(
                    (d1, out_pool.submit(writer.commit, writer.stage(now, SCAM_UID_LIMIT)))
                )
            # every chunk is staged: the files that name the scam's transfers (by their
            # AMLworld rows, among others) are written while the last chunks render
            named = bg_pool.submit(_write_scam_transfers, out, pop, scam, writer)
            while appended:
                _appended(appended.popleft(), on_progress)
            side.result()
            scam_rows = named.result()
        finally:
            for f in ahead:
                f.cancel()
            for _, f in appended:
                f.exception()
            for f in (side, named):
                if f is not None:
                    f.exception()
            writer.close()
    files = {**{NATIVE_FILES.get(k, k): v for k, v in writer.rows.items() if k != "camt"}}
    if "camt" in writer.rows:
        files["bank/camt053/*.xml"] = writer.rows["camt"]
    if "canonical" in writer.rows:
        files["transfers.csv"] = files.pop("canonical")
    seconds = time.perf_counter() - began
    report = SimulationReport(
        out=out,
        world=w,
        seed=seed,
        formats=formats,
        transfers=total,
        scam_transfers=scam_rows,
        cases=scam.cases.height,
        seconds=seconds,
        files=files,
    )
    _write_world(out, report, writer, behaviour, name)
    return report


CHUNK_ROWS = 1_000_000  # transfers per chunk of time, about (a whole number of days)
AHEAD = 12  # background windows made ahead of the one being merged (a million rows each)


def _appended(item: tuple[int, Future], on_progress) -> None:
    day, done = item
    done.result()
    if on_progress is not None:
        on_progress(day, DAYS)


@contextmanager
def _gc_paused():
    """No cyclic garbage collection while a world is made: the scam side makes millions of
    small objects, few of them in cycles, and collections would scan them again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def window_days(w: World) -> int:
    """Days per chunk: a function of the world's size only, so the bytes written do not
    depend on anything else."""
    return int(max(1, min(DAYS, CHUNK_ROWS * DAYS // w.target)))


def _by_day(chunk: Chunk) -> dict[int, Chunk]:
    day = ((pl.col("ts") - START_US) // US_PER_DAY).alias("__day")
    parts: dict[int, dict[str, pl.DataFrame]] = {}
    for name in ("transfers", "btc_in", "btc_out"):
        df = getattr(chunk, name).with_columns(day)
        for (d,), sub in df.partition_by("__day", as_dict=True, maintain_order=True).items():
            parts.setdefault(int(d), {})[name] = sub.drop("__day")
    return {
        d: Chunk(p.get("transfers"), p.get("btc_in"), p.get("btc_out")) for d, p in parts.items()
    }


def _names(pop: Population, index: pl.Series) -> pl.Series:
    return pop.reg.take(index)


def _write_side_files(out: Path, pop: Population, scam: Scam, prices: Prices) -> None:
    """prices, labels and truth/ but for its transfers (nothing here needs the dumps)."""
    prices.table().with_columns(pl.col("date").cast(pl.String)).write_csv(out / "prices.csv")
    extra = [
        pl.DataFrame(
            {
                "account": _names(pop, pl.Series(scam.sanctioned)),
                "label": "sanctioned",
                "name": "OFAC SDN list (scam proceeds)",
                "entity": None,
            },
            schema_overrides={"entity": pl.String},
        )
    ]
    for k, deposits in scam.gang_deposits.items():
        svc = pop.exchanges[k]
        extra.append(
            pl.DataFrame(
                {
                    "account": _names(pop, pl.Series(deposits)),
                    "label": svc.label,
                    "name": svc.name,
                    "entity": svc.entity,
                }
            )
        )
    labels = pop.labels(pl.concat(extra)).unique("account", keep="first", maintain_order=True)
    labels.sort("label", "entity", "account", nulls_last=True).write_csv(out / "labels.csv")

    truth = out / "truth"
    truth.mkdir(exist_ok=True)
    cases = scam.cases.with_columns(
        _names(pop, scam.cases.get_column("victim")).alias("victim_account")
    )
    cases.select(
        "case_id",
        "gang",
        "country",
        "victim_account",
        "payments",
        pl.col("loss").alias("loss_usd"),
        *(
            pl.from_epoch(c, time_unit="us").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias(f"{c}_payment")
            for c in ("first", "last")
        ),
    ).write_csv(truth / "cases.csv")

    rests = scam.rests.with_columns(_names(pop, scam.rests.get_column("account")).alias("account"))
    rests.select("case_id", "account", "kind", "value").write_csv(truth / "rests.csv")

    reg = pop.reg
    role, gang = reg.role, reg.gang
    for index, r in scam.roles.items():
        role[index] = r
    for index, g in scam.gang_of.items():
        gang[index] = g
    country = reg.country
    pl.DataFrame(
        {
            "account": pl.Series(reg.ids).cast(pl.String),
            "role": np.array(ROLES, dtype=object)[role],
            "gang": pl.Series(gang).cast(pl.Int64),
            "country": np.array([*COUNTRY_CODES, ""], dtype=object)[country],
        }
    ).with_columns(
        pl.when(pl.col("gang") >= 0).then(pl.col("gang")).alias("gang"),
        pl.when(pl.col("country") != "").then(pl.col("country")).alias("country"),
    ).write_csv(truth / "accounts.csv")


def _write_scam_transfers(out: Path, pop: Population, scam: Scam, writer: Writer) -> int:
    """cases.csv and truth/transfers.csv, which name transfers by their ids in the dumps (an
    AMLworld transfer by its row); returns the number of scam transfers (truth rows by
    transfer)."""
    reg = pop.reg
    aml = writer.aml_rows()
    t = scam.chunk.transfers.filter(pl.col("uid") < SCAM_UID_LIMIT)
    t = t.with_columns(
        _names(pop, t.get_column("src")).alias("src_id"),
        _names(pop, t.get_column("dst")).alias("dst_id"),
    )
    t = t.with_columns(writer.ids.plain(t, aml))
    asset = pl.col("asset").replace_strict(dict(enumerate(ASSETS)), return_dtype=pl.String)
    minor_scale = pl.col("asset").replace_strict(
        {i: float(MINOR[a]) for i, a in enumerate(ASSETS)}, return_dtype=pl.Float64
    )

    seeds = scam.seeds.join(t.select("uid", "tx_id"), on="uid", maintain_order="left").with_columns(
        _names(pop, scam.seeds.get_column("victim")).alias("victim_account")
    )
    seeds.select(
        "case_id",
        "tx_id",
        "victim_account",
        (pl.col("minor") / minor_scale).alias("amount"),
        asset.alias("asset"),
        pl.from_epoch("ts", time_unit="us").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("date"),
    ).write_csv(out / "cases.csv")

    truth = out / "truth"
    truth.mkdir(exist_ok=True)
    plain = scam.book_transfers.join(
        t.select("uid", "tx_id", "src_id", "dst_id"), on="uid", maintain_order="left"
    ).select(
        "tx_id",
        "case_id",
        "value",
        pl.col("src_id").alias("src"),
        pl.col("dst_id").alias("dst"),
        "step",
    )
    b = scam.book_btc
    hashes = writer.ids.btc(b.get_column("tx").to_numpy())
    legs = scam.chunk.btc_in.select(
        "tx", pl.lit("in").alias("leg"), pl.col("index").cast(pl.Int64), "addr"
    )
    legs = pl.concat(
        [
            legs,
            scam.chunk.btc_out.select(
                "tx", pl.lit("out").alias("leg"), pl.col("index").cast(pl.Int64), "addr"
            ),
        ]
    )
    b = b.with_columns(hashes.alias("hash")).join(
        legs, on=["tx", "leg", "index"], how="left", maintain_order="left"
    )
    addr = reg.take(b.get_column("addr").fill_null(pop.fee))
    node = pl.lit("btctx:") + pl.col("hash")
    b = b.with_columns(addr.cast(pl.String).alias("a")).select(
        pl.when(pl.col("leg") == "fee")
        .then(pl.col("hash") + ":fee")
        .otherwise(pl.col("hash") + ":" + pl.col("leg") + ":" + pl.col("index").cast(pl.String))
        .alias("tx_id"),
        "case_id",
        "value",
        pl.when(pl.col("leg") == "in").then(pl.col("a")).otherwise(node).alias("src"),
        pl.when(pl.col("leg") == "in")
        .then(node)
        .when(pl.col("leg") == "fee")
        .then(pl.lit("fee"))
        .otherwise(pl.col("a"))
        .alias("dst"),
        "step",
    )
    transfers = pl.concat([plain, b])
    transfers.write_csv(truth / "transfers.csv")

    return transfers.get_column("tx_id").n_unique()


def _write_world(
    out: Path, report: SimulationReport, writer: Writer, behaviour: Behaviour, name: str | None
) -> None:
    """world.json. Its ``behaviour``: the four switches of the first simulator, then every
    parameter that differs from the realistic defaults, and (first) ``preset``, the name the
    behaviour was chosen by, unless it is the realistic world."""
    w = report.world
    recorded = behaviour.record()
    if behaviour != REALISTIC and name:
        recorded = {"preset": name, **recorded}
    meta = {
        "tool": f"tracer {__version__} simulate",
        "seed": report.seed,
        "scale": w.target,
        "formats": report.formats,
        "behaviour": recorded,
        "start": START.isoformat().replace("+00:00", "Z"),
        "days": DAYS,
        "people": w.people,
        "merchants": w.merchants,
        "employers": w.employers,
        "gangs": w.gangs,
        "cases": report.cases,
        "transfers": report.transfers,
        "scam_transfers": report.scam_transfers,
        "files": dict(sorted(report.files.items())),
        "camt053": writer.camt_written,
        "amlworld_tx_ids": f"{AMLWORLD_FILE}:<row>",
    }
    (out / "world.json").write_text(json.dumps(meta, indent=1) + "\n")
