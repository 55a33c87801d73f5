"""The scam side's bookkeeping: rows as they are made and their truth (compositions: how
much of each case's loss a row carries), the gangs' accounts, times at each format's
resolution, and the draws that make the many small decisions."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from tracer.simulate.frames import (
    BANK,
    BTC_RES,
    ERC20,
    IN_SCHEMA,
    OUT_SCHEMA,
    START_US,
    TRON,
    resolution,
)
from tracer.simulate.params import DAYS, US_PER_DAY

__all__ = [
    "Draws",
    "Gang",
    "Book",
    "Legs",
    "scale",
    "add",
    "split_int",
    "END_US",
    "HOUR",
    "SCAM_UID_LIMIT",
    "day_of",
    "bank_time",
    "tron_time",
    "eth_time",
    "btc_time",
]

END_US = START_US + DAYS * US_PER_DAY
HOUR = 3_600_000_000
SCAM_UID_LIMIT = 1 << 39  # book rows below; scam-driven background rows up to 1 << 40


class Draws:
    """Uniform draws served one at a time from blocks made by a numpy generator: the scam's
    many small decisions cost a list lookup, not a generator call, and stay reproducible."""

    def __init__(self, rng: np.random.Generator, block: int = 1 << 16) -> None:
        self.rng, self.block = rng, block
        self.buf: list[float] = []
        self.i = 0

    def u(self, a: float = 0.0, b: float = 1.0) -> float:
        if self.i == len(self.buf):
            self.buf = self.rng.random(self.block).tolist()
            self.i = 0
        x = self.buf[self.i]
        self.i += 1
        return a + (b - a) * x

    def int(self, a: int, b: int) -> int:
        """A whole number in [a, b)."""
        return a + min(b - a - 1, int(self.u() * (b - a)))

    def pick(self, seq):
        return seq[self.int(0, len(seq))]

    def weighted(self, cumulative: tuple[float, ...]) -> int:
        x = self.u() * cumulative[-1]
        for k, c in enumerate(cumulative):
            if x < c:
                return k
        return len(cumulative) - 1

    def sample(self, seq, k: int) -> list:
        """``k`` distinct elements of ``seq`` (partial Fisher-Yates)."""
        pool = list(seq)
        for i in range(k):
            j = self.int(i, len(pool))
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:k]

    def weights(self, k: int, alpha: int = 1) -> list[float]:
        """Dirichlet(alpha, ..., alpha) for a whole alpha: sums of exponentials."""
        w = [sum(-math.log(1.0 - self.u()) for _ in range(alpha)) for _ in range(k)]
        total = sum(w)
        return [x / total for x in w]


def scale(comp: dict, f: float) -> dict:
    return {k: v * f for k, v in comp.items()}


def add(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0.0) + v
    return out


def split_int(total: int, weights: np.ndarray) -> list[int]:
    """Whole parts of ``total`` in proportion to ``weights``; they add up to ``total``."""
    w = np.asarray(weights, np.float64)
    parts = np.floor(total * w / w.sum()).astype(np.int64)
    parts[-1] = total - parts[:-1].sum()
    return [int(p) for p in parts]


@dataclass
class Gang:
    index: int
    l1: dict[int, np.ndarray] = field(default_factory=dict)
    l2: dict[int, np.ndarray] = field(default_factory=dict)
    tron_recv: np.ndarray = None
    tron_hop: np.ndarray = None
    tron_hop_list: list = None
    tron_cons: np.ndarray = None
    tron_laund: np.ndarray = None
    tron_dep: np.ndarray = None  # (exchanges, 2)
    eth_recv: np.ndarray = None
    eth_hop: np.ndarray = None
    eth_laund: np.ndarray = None
    eth_dep: np.ndarray = None
    btc_cons: np.ndarray = None
    btc_laund: np.ndarray = None
    btc_dep: np.ndarray = None


class Legs:
    """Bitcoin legs as lists (one append per leg), framed at the end."""

    def __init__(self) -> None:
        self.ins = {k: [] for k in IN_SCHEMA}
        self.outs = {k: [] for k in OUT_SCHEMA}

    def add(self, tx, ts, inputs, outputs) -> None:
        i, o = self.ins, self.outs
        for k, leg in enumerate(inputs):
            i["tx"].append(tx)
            i["ts"].append(ts)
            i["index"].append(k)
            i["addr"].append(leg[0])
            i["sat"].append(leg[1])
            i["spent_tx"].append(leg[2])
            i["spent_index"].append(leg[3])
        for k, leg in enumerate(outputs):
            o["tx"].append(tx)
            o["ts"].append(ts)
            o["index"].append(k)
            o["addr"].append(leg[0])
            o["sat"].append(leg[1])

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        return pl.DataFrame(self.ins, schema=IN_SCHEMA), pl.DataFrame(self.outs, schema=OUT_SCHEMA)


class Book:
    """Scam rows and their truth, as they are made."""

    def __init__(self) -> None:
        self.t = defaultdict(list)
        self.t_truth: list[tuple[int, dict, str]] = []
        self.btc = Legs()
        self.btc_truth: list[tuple[int, str, int, dict, str]] = []
        self.rest_rows: list[tuple[dict, int, str]] = []
        self.uid = 0
        self.bg = defaultdict(list)  # scam-driven background rows
        self.bg_btc = Legs()
        self.bg_uid = SCAM_UID_LIMIT

    def new_uid(self) -> int:
        self.uid += 1
        return self.uid

    def transfer(self, ts, chain, src, dst, minor, asset, comp, step) -> int:
        self.uid += 1
        uid = self.uid
        t = self.t
        t["uid"].append(uid)
        t["ts"].append(ts)
        t["chain"].append(chain)
        t["src"].append(src)
        t["dst"].append(dst)
        t["minor"].append(minor)
        t["asset"].append(asset)
        self.t_truth.append((uid, comp, step))
        return uid

    def background(self, ts, chain, src, dst, minor, asset) -> int:
        self.bg_uid += 1
        for k, v in zip(
            ("uid", "ts", "chain", "src", "dst", "minor", "asset"),
            (self.bg_uid, ts, chain, src, dst, minor, asset),
            strict=True,
        ):
            self.bg[k].append(v)
        return self.bg_uid

    def btc_tx(self, ts, inputs, outputs, step, *, fee_to=None, background=False) -> int:
        """inputs: [(addr, sat, spent_tx, spent_index, comp|None)]; outputs: [(addr, sat,
        comp|None)]. The fee (inputs - outputs) carries the inputs' composition left over."""
        if background:
            self.bg_uid += 1
            tx, txs = self.bg_uid, self.bg_btc
        else:
            tx, txs = self.new_uid(), self.btc
        txs.add(tx, ts, inputs, outputs)
        if not background:
            for k, i in enumerate(inputs):
                if i[4]:
                    self.btc_truth.append((tx, "in", k, i[4], step))
            for k, o in enumerate(outputs):
                if o[2]:
                    self.btc_truth.append((tx, "out", k, o[2], step))
            fee = sum(i[1] for i in inputs) - sum(o[1] for o in outputs)
            if fee_to is not None and fee_to[1] and fee > 0:
                self.btc_truth.append((tx, "fee", 0, fee_to[1], step))
        return tx

    def rest(self, comp: dict, account: int, kind: str) -> None:
        if comp and any(v > 0 for v in comp.values()):
            self.rest_rows.append((comp, int(account), kind))


def day_of(ts: int) -> int:
    return (ts - START_US) // US_PER_DAY


def _ceil(ts: float, res: int) -> int:
    rel = int(ts) - START_US
    return START_US + -(-rel // res) * res


_BANK_RES, _TRON_RES, _ETH_RES = resolution(BANK), resolution(TRON), resolution(ERC20)


def bank_time(ts: float) -> int:
    return _ceil(ts, _BANK_RES)


def tron_time(ts: float) -> int:
    return _ceil(ts, _TRON_RES)


def eth_time(ts: float) -> int:
    return _ceil(ts, _ETH_RES)


def btc_time(ts: float) -> int:
    return _ceil(ts, BTC_RES)
