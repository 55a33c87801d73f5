"""The strings the writers' lines are made of: transfer ids as ``tracer ingest`` makes them
(``TxIds``), the accounts' ids as slots of a string pool (``Accounts``), and the fixed tables
of dates, times of day and names every world's lines take."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from tracer.simulate import ids
from tracer.simulate.frames import ERC20, ETH, TRON
from tracer.simulate.order import scramble
from tracer.simulate.params import ASSETS, CAMT_BANK, MINOR, START
from tracer.simulate.text import Line, Pool, slots
from tracer.simulate.world import BANK_IDS

__all__ = ["TxIds", "Accounts", "warm_up", "AMLWORLD_FILE", "DATES", "DAY0", "DIGITS", "BTC_ASSET"]

AMLWORLD_FILE = "amlworld_transfers.csv"
_AML_CCY = {"USD": "US Dollar", "EUR": "Euro", "CNY": "Yuan", "THB": "THB"}
DIGITS = np.array([len(str(MINOR[a])) - 1 for a in ASSETS], np.int64)  # decimals per asset
BTC_ASSET = ASSETS.index("BTC")
_SALT = {"tron": 0x7A11, "eth": 0xE7E7, "btc": 0xB7C0}
DAY0 = -400  # first day (from START) the date tables cover; they cover 1,200 days
DATES = [START.date() + dt.timedelta(days=i) for i in range(DAY0, DAY0 + 1200)]


def _salt(seed: int, chain: str) -> int:
    return int(ids.mix64(np.array([seed * 1_000_003 + _SALT[chain]], np.uint64))[0])


class TxIds:
    """Transfer ids as ``tracer ingest`` makes them, from the generator's uids."""

    def __init__(self, seed: int) -> None:
        self.salt = {k: _salt(seed, k) for k in _SALT}

    def chain(self, uid: np.ndarray, chain: str, prefix: bytes = b"") -> pa.Array:
        return ids.hashes(uid, self.salt[chain], prefix)

    def plain(self, df: pl.DataFrame, aml_rows: pl.DataFrame | None) -> pl.Series:
        """tx_id of plain transfers (``uid, chain, src_id, dst_id`` columns; bank rows need
        ``aml_rows``: uid -> AMLworld row)."""
        uid = df.get_column("uid").to_numpy()
        tron = pl.Series(self.chain(uid, "tron")) + ":0"
        eth = pl.Series(self.chain(uid, "eth", b"0x"))
        chain = df.get_column("chain")
        own = (
            pl.when(pl.col("src_id").str.slice(5, 8) == CAMT_BANK)
            .then(pl.col("src_id"))
            .otherwise(pl.col("dst_id"))
        )
        aml = (
            df.select("uid")
            .join(aml_rows, on="uid", how="left", maintain_order="left")
            .get_column("row")
            if aml_rows is not None
            else pl.Series([None] * df.height, dtype=pl.Int64)
        )
        camt = (
            df.with_columns(self.scramble(df.get_column("uid")))
            .select(own + pl.lit(":") + self.ref(pl.col("__order")))
            .to_series()
        )
        is_camt = df.select(
            (pl.col("src_id").str.slice(5, 8) == CAMT_BANK)
            | (pl.col("dst_id").str.slice(5, 8) == CAMT_BANK)
        ).to_series()
        return (
            pl.DataFrame(
                {
                    "chain": chain,
                    "tron": tron,
                    "eth": eth,
                    "aml": aml,
                    "camt": camt,
                    "is_camt": is_camt,
                }
            )
            .select(
                pl.when(pl.col("chain") == TRON)
                .then(pl.col("tron"))
                .when(pl.col("chain") == ETH)
                .then(pl.col("eth"))
                .when(pl.col("chain") == ERC20)
                .then(pl.col("eth") + ":0")
                .when(pl.col("is_camt"))
                .then(pl.col("camt"))
                .otherwise(pl.lit(AMLWORLD_FILE + ":") + pl.col("aml").cast(pl.String))
            )
            .to_series()
            .alias("tx_id")
        )

    def btc(self, tx: np.ndarray) -> pl.Series:
        return pl.Series(self.chain(tx, "btc"))

    def scramble(self, uid) -> pl.Series:
        """A fixed pseudo-random function of uids (numpy or polars): the order among transfers
        of the same time, and the references a bank or a chain shows, must not reveal which
        rows the scam made (they have the smaller uids)."""
        u = uid.to_numpy() if isinstance(uid, pl.Series) else np.asarray(uid)
        return pl.Series(
            "__order", ids.mix64(u.astype(np.uint64) ^ np.uint64(self.salt["eth"])) >> np.uint64(1)
        ).cast(pl.Int64)

    @staticmethod
    def ref(order: pl.Expr) -> pl.Expr:
        """The bank's reference of a camt.053 entry (16 characters) from ``scramble``."""
        return pl.lit("E") + (order % 10**15).cast(pl.String).str.zfill(15)

    def order(self, uid: np.ndarray) -> np.ndarray:
        """``scramble`` as an int64 numpy array."""
        return scramble(uid, self.salt["eth"])


@functools.cache
def _fixed_tables() -> dict[str, np.ndarray]:
    """Slots of the strings every world's lines take besides account ids: dates, times of
    day and names (made once per process)."""
    clock = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)]
    tables = {
        "aml_day": [d.strftime("%Y/%m/%d ") for d in DATES],
        "aml_minute": [f"{m // 60:02d}:{m % 60:02d}" for m in range(1440)],
        "utc_day": [d.strftime("%Y-%m-%d ") for d in DATES],
        "utc_second": [c + " UTC" for c in clock],
        "iso_day": [d.strftime("%Y-%m-%dT") for d in DATES],
        "iso_second": [c + "Z" for c in clock],
        "date": [d.isoformat() for d in DATES],
        "compact_date": [d.strftime("%Y%m%d") for d in DATES],
        "asset": list(ASSETS),
        "aml_ccy": [_AML_CCY.get(a, a) for a in ASSETS],
        "role": ["Cdtr", "Dbtr"],
        "bank": [*BANK_IDS, ""],
    }
    return {name: slots(strings) for name, strings in tables.items()}


def warm_up() -> None:
    """Make the fixed tables and load the line kernels, so that a world's first chunk does
    not wait for them (run on a thread while the world's population is made)."""
    _fixed_tables()
    pool = Pool()
    pool.add(["x"])
    Line(pool, 1).int(np.zeros(1, np.int64)).text(np.zeros(1, np.int64)).render()


@dataclass(frozen=True)
class Accounts:
    """What lines take of the registry's first ``size`` accounts: their ids as slots (whole,
    or after the chain's prefix: the address of ``tron:T…``), whether they are at the camt
    bank, and for bank accounts the bank (index into BANK_IDS; len(BANK_IDS) for others) and
    the 10-digit number. Made while the scam side runs, then extended with its accounts."""

    whole_ids: bool
    size: int
    slots: np.ndarray
    at_camt: np.ndarray
    bank: np.ndarray
    number: np.ndarray

    @classmethod
    def of(cls, ids: pa.Array, whole_ids: bool, since: Accounts | None = None) -> Accounts:
        """Of the accounts of ``ids`` (the registry's ids; those after ``since``'s are read
        here)."""
        start = 0 if since is None else since.size
        account = pl.Series("account", ids.slice(start)).cast(pl.String)
        text = account if whole_ids else account.str.splitn(":", 2).struct.field("field_1")
        code = account.str.slice(5, 8)
        is_bank = account.str.starts_with("bank:").fill_null(False)
        bank = (
            pl.select(
                pl.when(is_bank)
                .then(code)
                .otherwise(None)
                .replace_strict(
                    list(BANK_IDS),
                    range(len(BANK_IDS)),
                    default=len(BANK_IDS),
                    return_dtype=pl.Int64,
                )
            )
            .to_series()
            .to_numpy()
        )
        number = (
            pl.select(pl.when(is_bank).then(account.str.slice(14)))
            .to_series()
            .cast(pl.Int64, strict=False)
            .fill_null(0)
            .to_numpy()
        )
        part = cls(
            whole_ids,
            len(ids),
            slots(text.to_arrow()),
            (code == CAMT_BANK).fill_null(False).to_numpy(),
            bank,
            number,
        )
        if since is None:
            return part
        if since.whole_ids != whole_ids:
            raise ValueError("Accounts.of: since was made for the other form of ids")
        return cls(
            whole_ids,
            len(ids),
            *(
                np.concatenate([getattr(since, f), getattr(part, f)])
                for f in ("slots", "at_camt", "bank", "number")
            ),
        )
