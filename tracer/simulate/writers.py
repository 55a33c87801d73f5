"""Files as the readers of ``tracer ingest`` expect them, written chunk by chunk.

``native``: what an investigator would be handed:

- ``bank/amlworld_transfers.csv``: every bank transfer that does not touch the camt bank, as
  IBM AMLworld transactions (``Is Laundering`` is always 0: no bank hands over such a flag);
- ``bank/camt053/<bank>_<YYYY-MM>.xml``: the camt bank's daily statements (camt.053.001.08)
  of all its accounts, a month per file. A transfer between two of its own accounts is booked
  once, on the sender's statement;
- ``tron/usdt_trc20_transfers.csv``: Tronscan TRC-20 transfers;
- ``ethereum/transactions.csv``, ``ethereum/token_transfers.csv``: ethereum-etl / BigQuery;
- ``bitcoin/inputs.csv``, ``bitcoin/outputs.csv``: BigQuery ``crypto_bitcoin`` inputs and
  outputs (the fee is what inputs leave over outputs).

``canonical``: ``transfers.csv`` (``tx_id,timestamp,src,dst,amount,asset``) with the same
transfer ids and accounts that ingest makes of the native files (Bitcoin as its legs and fees),
so a world's truth is the same in both forms.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from tracer.simulate import ids
from tracer.simulate.frames import BANK, BTC_RES, ERC20, ETH, START_US, TRON, Chunk
from tracer.simulate.params import ASSETS, CAMT_BANK, MINOR, START
from tracer.simulate.world import Registry

__all__ = ["Writer", "TxIds", "AMLWORLD_FILE", "NATIVE_FILES"]

AMLWORLD_FILE = "amlworld_transfers.csv"
NATIVE_FILES = {
    "amlworld": f"bank/{AMLWORLD_FILE}",
    "tron": "tron/usdt_trc20_transfers.csv",
    "eth": "ethereum/transactions.csv",
    "erc20": "ethereum/token_transfers.csv",
    "btc_in": "bitcoin/inputs.csv",
    "btc_out": "bitcoin/outputs.csv",
}
AMLWORLD_HEADER = ("Timestamp,From Bank,Account,To Bank,Account,Amount Received,"
                   "Receiving Currency,Amount Paid,Payment Currency,Payment Format,Is Laundering")
_AML_CCY = {"USD": "US Dollar", "EUR": "Euro", "CNY": "Yuan", "THB": "THB"}
_USDT_TRC20 = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
_USDT_ERC20 = "0xdac17f958d2ee523a2206206994597c13d831ec7"
_ETH_BLOCK0, _BTC_BLOCK0 = 21_525_000, 877_000
_CAMT_NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
_SALT = {"tron": 0x7A11, "eth": 0xE7E7, "btc": 0xB7C0}
FORMAT_THREADS = 2  # formats written at once
_ASSET_SCALE_DIGITS = {a: len(str(m)) - 1 for a, m in MINOR.items()}


def _salt(seed: int, chain: str) -> int:
    return int(ids.mix64(np.array([seed * 1_000_003 + _SALT[chain]], np.uint64))[0])


def _decimal(minor: pl.Expr, digits: int) -> pl.Expr:
    """Whole minor units as exact decimal text with ``digits`` decimals."""
    if digits == 0:
        return minor.cast(pl.String)
    scale = 10 ** digits
    return pl.concat_str([(minor // scale).cast(pl.String), pl.lit("."),
                          (minor % scale + scale).cast(pl.String).str.slice(1)])


def _cents(minor: pl.Expr) -> pl.Expr:
    """Cents as decimal text with two decimals."""
    return _decimal(minor, 2)


def _amount_text(minor: pl.Expr, asset: pl.Expr) -> pl.Expr:
    out = None
    for code, name in enumerate(ASSETS):
        text = _decimal(minor, _ASSET_SCALE_DIGITS[name])
        out = pl.when(asset == code).then(text) if out is None else out.when(asset == code).then(text)
    return out.otherwise(None)


_DAY_US = 86_400_000_000
_DATES = [START.date() + dt.timedelta(days=i) for i in range(-400, 800)]


def _lookup(texts: list[str]) -> pl.Expr:
    return pl.lit(pl.Series(texts, dtype=pl.String))


_TIME_PARTS: dict[str, tuple[pl.Expr, pl.Expr, int]] = {}


def _times(ts: pl.Expr, fmt: str) -> pl.Expr:
    """Times in µs as text: ``fmt`` is a date part, then a time of day to the minute or the
    second. Made by two lookups (the day's text, the time's text) rather than formatting
    every row."""
    date_fmt, sep, time_fmt = fmt.partition("%H")
    time_fmt = "%H" + time_fmt
    seconds = "%S" in time_fmt
    key = fmt
    if key not in _TIME_PARTS:
        days = _lookup([d.strftime(date_fmt) for d in _DATES])
        step = 1 if seconds else 60
        clock = [dt.time(s // 3600, s // 60 % 60, s % 60).strftime(time_fmt)
                 for s in range(0, 86_400, step)]
        _TIME_PARTS[key] = (days, _lookup(clock), step)
    days, clock, step = _TIME_PARTS[key]
    rel = ts - START_US
    return pl.concat_str([days.gather(rel // _DAY_US + 400),
                          clock.gather(rel % _DAY_US // (step * 1_000_000))])


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
        own = pl.when(pl.col("src_id").str.slice(5, 8) == CAMT_BANK).then(pl.col("src_id")) \
            .otherwise(pl.col("dst_id"))
        aml = (df.select("uid").join(aml_rows, on="uid", how="left", maintain_order="left")
               .get_column("row") if aml_rows is not None else pl.Series([None] * df.height,
                                                                         dtype=pl.Int64))
        camt = df.with_columns(self.scramble(df.get_column("uid"))).select(
            own + pl.lit(":") + self.ref(pl.col("__order"))).to_series()
        is_camt = df.select((pl.col("src_id").str.slice(5, 8) == CAMT_BANK)
                            | (pl.col("dst_id").str.slice(5, 8) == CAMT_BANK)).to_series()
        return (pl.DataFrame({"chain": chain, "tron": tron, "eth": eth, "aml": aml, "camt": camt,
                              "is_camt": is_camt})
                .select(pl.when(pl.col("chain") == TRON).then(pl.col("tron"))
                        .when(pl.col("chain") == ETH).then(pl.col("eth"))
                        .when(pl.col("chain") == ERC20).then(pl.col("eth") + ":0")
                        .when(pl.col("is_camt")).then(pl.col("camt"))
                        .otherwise(pl.lit(AMLWORLD_FILE + ":") + pl.col("aml").cast(pl.String)))
                .to_series().alias("tx_id"))

    def btc(self, tx: np.ndarray) -> pl.Series:
        return pl.Series(self.chain(tx, "btc"))

    def scramble(self, uid) -> pl.Series:
        """A fixed pseudo-random function of uids (numpy or polars): the order among transfers
        of the same time, and the references a bank or a chain shows, must not reveal which
        rows the scam made (they have the smaller uids)."""
        u = uid.to_numpy() if isinstance(uid, pl.Series) else np.asarray(uid)
        return pl.Series("__order", ids.mix64(u.astype(np.uint64) ^ np.uint64(self.salt["eth"]))
                         >> np.uint64(1)).cast(pl.Int64)

    @staticmethod
    def ref(order: pl.Expr) -> pl.Expr:
        """The bank's reference of a camt.053 entry (16 characters) from ``scramble``."""
        return pl.lit("E") + (order % 10**15).cast(pl.String).str.zfill(15)


class Writer:
    """Appends chunks (in time order) to the files of one world."""

    def __init__(self, out: Path, formats: str, reg: Registry, seed: int) -> None:
        self.out, self.formats, self.reg = out, formats, reg
        self.ids = TxIds(seed)
        self.files: dict[str, object] = {}
        self.rows: dict[str, int] = {}
        self.aml_row = 0
        self.aml_scam: list[pl.DataFrame] = []  # uid -> AMLworld row, for the scam's rows
        self.camt_file = None
        self.camt_month: str | None = None
        self.camt_written: list[str] = []
        self.canonical_rows = 0

    # --- files --------------------------------------------------------------------------------

    def _file(self, key: str, rel: str, header: str):
        f = self.files.get(key)
        if f is None:
            path = self.out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            f = self.files[key] = path.open("wb")
            f.write((header + "\n").encode())
            self.rows[key] = 0
        return f

    def _append(self, key: str, rel: str, df: pl.DataFrame, header: str | None = None) -> None:
        if df.height == 0 and key in self.files:
            return
        f = self._file(key, rel, header or ",".join(df.columns))
        if df.height:
            df.write_csv(f, include_header=False, line_terminator="\n")
        self.rows[key] += df.height

    def close(self) -> None:
        for f in self.files.values():
            f.close()
        self._close_camt()

    # --- chunks -------------------------------------------------------------------------------

    def write(self, chunk: Chunk, scam_limit: int) -> None:
        t = chunk.transfers
        t = t.with_columns(self.ids.scramble(t.get_column("uid"))).sort("ts", "__order", "uid")
        t = t.with_columns(self.reg.take(t.get_column("src")).alias("src_id"),
                           self.reg.take(t.get_column("dst")).alias("dst_id"))
        bank = t.filter(pl.col("chain") == BANK)
        is_camt = ((pl.col("src_id").str.slice(5, 8) == CAMT_BANK)
                   | (pl.col("dst_id").str.slice(5, 8) == CAMT_BANK))
        aml = bank.filter(~is_camt).with_row_index("row", offset=self.aml_row + 1) \
            .with_columns(pl.col("row").cast(pl.Int64))
        self.aml_row += aml.height
        self.aml_scam.append(aml.filter(pl.col("uid") < scam_limit).select("uid", "row"))
        ins, outs = (legs.with_columns(self.ids.scramble(legs.get_column("tx")))
                     .sort("ts", "__order", "tx", "index").drop("__order")
                     for legs in (chunk.btc_in, chunk.btc_out))
        if self.formats == "canonical":
            self._canonical(t, aml.select("uid", "row"), ins, outs)
            return
        # each format to its own files: two at a time (polars works without the GIL)
        jobs = [(self._amlworld, aml), (self._camt, bank.filter(is_camt)),
                (self._chains, t.filter(pl.col("chain") != BANK), ins, outs)]
        with ThreadPoolExecutor(max_workers=FORMAT_THREADS, thread_name_prefix="tracer-sim-fmt") as pool:
            for f in [pool.submit(job, *args) for job, *args in jobs]:
                f.result()

    def _chains(self, t: pl.DataFrame, ins: pl.DataFrame, outs: pl.DataFrame) -> None:
        self._tron(t.filter(pl.col("chain") == TRON))
        self._eth(t.filter(pl.col("chain") == ETH))
        self._erc20(t.filter(pl.col("chain") == ERC20))
        self._bitcoin(ins, outs)

    def aml_rows(self) -> pl.DataFrame:
        return pl.concat(self.aml_scam) if self.aml_scam else pl.DataFrame(
            schema={"uid": pl.Int64, "row": pl.Int64})

    # --- canonical ----------------------------------------------------------------------------

    def _canonical(self, t: pl.DataFrame, aml: pl.DataFrame, ins: pl.DataFrame,
                   outs: pl.DataFrame) -> None:
        plain = t.with_columns(self.ids.plain(t, aml)).select(
            "ts", pl.col("__order").alias("key"), pl.lit(0, pl.Int64).alias("sub"), "tx_id",
            pl.col("src_id").alias("src"), pl.col("dst_id").alias("dst"),
            _amount_text(pl.col("minor"), pl.col("asset")).alias("amount"),
            pl.col("asset").replace_strict(dict(enumerate(ASSETS)), return_dtype=pl.String))
        legs = self._btc_legs(ins, outs)
        rows = pl.concat([plain, legs]).sort("ts", "key", "sub")
        out = rows.select("tx_id", _times(pl.col("ts"), "%Y-%m-%dT%H:%M:%SZ").alias("timestamp"),
                          "src", "dst", "amount", "asset")
        self._append("canonical", "transfers.csv", out)
        self.canonical_rows += out.height

    def _btc_legs(self, ins: pl.DataFrame, outs: pl.DataFrame) -> pl.DataFrame:
        """Bitcoin as canonical legs: inputs into ``btctx:<hash>``, outputs out of it, and the
        fee to ``fee`` (what the inputs leave over the outputs, when positive)."""
        txs = pl.concat([ins.select("tx", "ts"), outs.select("tx", "ts")]).unique("tx") \
            .sort("tx")
        hashes = txs.with_columns(self.ids.btc(txs.get_column("tx").to_numpy()).alias("hash"))
        fee = (ins.group_by("tx").agg(pl.col("sat").sum().alias("i"))
               .join(outs.group_by("tx").agg(pl.col("sat").sum().alias("o")), on="tx")
               .select("tx", (pl.col("i") - pl.col("o")).alias("sat"))
               .filter(pl.col("sat") > 0))

        def addr(df):
            return self.reg.take(df.get_column("addr"))

        hashes = hashes.with_columns(self.ids.scramble(hashes.get_column("tx")))
        i = ins.join(hashes.select("tx", "hash", "__order"), on="tx", maintain_order="left")
        o = outs.join(hashes.select("tx", "hash", "__order"), on="tx", maintain_order="left")
        f = fee.join(hashes, on="tx", maintain_order="left")
        btc = ASSETS.index("BTC")
        amount = _decimal(pl.col("sat"), 8)
        return pl.concat([
            i.with_columns(addr(i).alias("a")).select(
                "ts", pl.col("__order").alias("key"), pl.col("index").cast(pl.Int64).alias("sub"),
                (pl.col("hash") + ":in:" + pl.col("index").cast(pl.String)).alias("tx_id"),
                pl.col("a").alias("src"), (pl.lit("btctx:") + pl.col("hash")).alias("dst"),
                amount.alias("amount"), pl.lit(ASSETS[btc]).alias("asset")),
            o.with_columns(addr(o).alias("a")).select(
                "ts", pl.col("__order").alias("key"),
                (pl.col("index").cast(pl.Int64) + (1 << 20)).alias("sub"),
                (pl.col("hash") + ":out:" + pl.col("index").cast(pl.String)).alias("tx_id"),
                (pl.lit("btctx:") + pl.col("hash")).alias("src"), pl.col("a").alias("dst"),
                amount.alias("amount"), pl.lit(ASSETS[btc]).alias("asset")),
            f.select(
                "ts", pl.col("__order").alias("key"), pl.lit(1 << 21, pl.Int64).alias("sub"),
                (pl.col("hash") + ":fee").alias("tx_id"),
                (pl.lit("btctx:") + pl.col("hash")).alias("src"), pl.lit("fee").alias("dst"),
                amount.alias("amount"), pl.lit(ASSETS[btc]).alias("asset")),
        ])

    # --- native -------------------------------------------------------------------------------

    def _amlworld(self, aml: pl.DataFrame) -> None:
        names = pl.Series([_AML_CCY.get(a, a) for a in ASSETS])
        out = aml.with_columns(
            _cents(pl.col("minor")).alias("__amount"),
            pl.col("asset").cast(pl.UInt32).alias("__a"),
        ).select(
            _times(pl.col("ts"), "%Y/%m/%d %H:%M").alias("Timestamp"),
            pl.col("src_id").str.slice(5, 8).alias("From Bank"),
            pl.col("src_id").str.slice(14).alias("Account"),
            pl.col("dst_id").str.slice(5, 8).alias("To Bank"),
            pl.col("dst_id").str.slice(14).alias("Account (to)"),
            pl.col("__amount").alias("Amount Received"),
            pl.lit(names).gather(pl.col("__a")).alias("Receiving Currency"),
            pl.col("__amount").alias("Amount Paid"),
            pl.lit(names).gather(pl.col("__a")).alias("Payment Currency"),
            pl.when(pl.col("minor") >= 1_000_000).then(pl.lit("Wire")).otherwise(pl.lit("ACH"))
            .alias("Payment Format"),
            pl.lit("0").alias("Is Laundering"))
        self._append("amlworld", NATIVE_FILES["amlworld"], out, AMLWORLD_HEADER)

    def _tron(self, t: pl.DataFrame) -> None:
        uid = t.get_column("uid").to_numpy()
        out = t.select(
            pl.Series("transaction_id", self.ids.chain(uid, "tron")).cast(pl.String),
            (pl.col("ts") // 1000).alias("block_ts"),
            pl.col("src_id").str.slice(5).alias("from_address"),
            pl.col("dst_id").str.slice(5).alias("to_address"),
            pl.col("minor").alias("quant"), pl.lit(6).alias("tokenDecimal"),
            pl.lit("USDT").alias("tokenAbbr"), pl.lit(_USDT_TRC20).alias("contract_address"),
            pl.lit("SUCCESS").alias("contractRet"))
        self._append("tron", NATIVE_FILES["tron"], out)

    def _eth_block(self, ts: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
        number = pl.lit(_ETH_BLOCK0) + (ts - START_US) // 12_000_000
        return number, _times(ts, "%Y-%m-%d %H:%M:%S UTC")

    def _eth(self, t: pl.DataFrame) -> None:
        uid = t.get_column("uid").to_numpy()
        number, when = self._eth_block(pl.col("ts"))
        out = t.select(
            pl.Series("hash", self.ids.chain(uid, "eth", b"0x")).cast(pl.String),
            (pl.col("__order") % 5000).alias("nonce"),
            number.alias("block_number"),
            pl.int_range(pl.len()).over("ts").alias("transaction_index"),
            pl.col("src_id").str.slice(4).alias("from_address"),
            pl.col("dst_id").str.slice(4).alias("to_address"),
            (pl.col("minor").cast(pl.String) + pl.lit("000000000")).alias("value"),
            pl.lit(21000).alias("gas"), pl.lit(12_000_000_000).alias("gas_price"),
            pl.lit("0x").alias("input"), when.alias("block_timestamp"),
            pl.lit(1).alias("receipt_status"))
        self._append("eth", NATIVE_FILES["eth"], out)

    def _erc20(self, t: pl.DataFrame) -> None:
        uid = t.get_column("uid").to_numpy()
        number, when = self._eth_block(pl.col("ts"))
        out = t.select(
            pl.lit(_USDT_ERC20).alias("token_address"),
            pl.col("src_id").str.slice(4).alias("from_address"),
            pl.col("dst_id").str.slice(4).alias("to_address"),
            pl.col("minor").cast(pl.String).alias("value"),
            pl.Series("transaction_hash", self.ids.chain(uid, "eth", b"0x")).cast(pl.String),
            pl.lit(0).alias("log_index"), number.alias("block_number"),
            when.alias("block_timestamp"))
        self._append("erc20", NATIVE_FILES["erc20"], out)

    def _bitcoin(self, ins: pl.DataFrame, outs: pl.DataFrame) -> None:
        def common(df):
            addr = self.reg.take(df.get_column("addr"))
            return [
                pl.Series("transaction_hash", self.ids.chain(df.get_column("tx").to_numpy(), "btc"))
                .cast(pl.String),
                (pl.lit(_BTC_BLOCK0) + (pl.col("ts") - START_US) // BTC_RES).alias("block_number"),
                _times(pl.col("ts"), "%Y-%m-%d %H:%M:%S UTC").alias("block_timestamp"),
                pl.col("index"),
            ], addr.str.slice(4)

        cols, addr = common(ins)
        spent = self.ids.chain(ins.get_column("spent_tx").to_numpy(), "btc")
        i = ins.select(*cols, pl.Series("spent_transaction_hash", spent).cast(pl.String),
                       pl.col("spent_index").alias("spent_output_index"),
                       pl.lit("witness_v0_keyhash").alias("type"), addr.alias("addresses"),
                       pl.col("sat").alias("value"))
        self._append("btc_in", NATIVE_FILES["btc_in"], i)
        cols, addr = common(outs)
        o = outs.select(*cols, pl.lit("witness_v0_keyhash").alias("type"),
                        addr.alias("addresses"), pl.col("sat").alias("value"))
        self._append("btc_out", NATIVE_FILES["btc_out"], o)

    # --- camt.053 -----------------------------------------------------------------------------

    def _camt(self, rows: pl.DataFrame) -> None:
        """One statement per account per day; a file per month. Entries are made as one text
        per row, the statement's opening on the first entry of an (account, day) and its
        closing on the last, and written as lines."""
        if rows.height == 0:
            return
        debit = pl.col("src_id").str.slice(5, 8) == CAMT_BANK
        party = pl.when(debit).then(pl.col("dst_id")).otherwise(pl.col("src_id"))
        role = pl.when(debit).then(pl.lit("Cdtr")).otherwise(pl.lit("Dbtr"))
        day = (pl.col("ts") - START_US) // 86_400_000_000
        rows = rows.select(
            pl.when(debit).then(pl.col("src_id")).otherwise(pl.col("dst_id")).alias("own"),
            "ts", "uid", "minor", "asset", debit.alias("debit"), party.alias("party"),
            role.alias("role"), day.alias("day"), "__order",
        ).sort("day", "own", "ts", "__order", "uid")
        dates = [START.date() + dt.timedelta(days=i) for i in range(-1, 400)]
        months = np.array([d.strftime("%Y-%m") for d in dates])
        ccy = pl.Series([a for a in ASSETS])
        when = _times(pl.col("ts"), "%Y-%m-%dT%H:%M:%SZ")
        first = ((pl.col("day") != pl.col("day").shift(1)) | (pl.col("own") != pl.col("own").shift(1))
                 ).fill_null(True)
        last = ((pl.col("day") != pl.col("day").shift(-1))
                | (pl.col("own") != pl.col("own").shift(-1))).fill_null(True)
        number = pl.col("own").str.slice(14)
        date_text = pl.lit(pl.Series([d.isoformat() for d in dates])).gather(pl.col("day") + 1)
        next_text = pl.lit(pl.Series([d.isoformat() for d in dates])).gather(pl.col("day") + 2)
        opening = pl.concat_str([
            pl.lit("<Stmt><Id>"), date_text.str.replace_all("-", ""), pl.lit("-"), number,
            pl.lit("</Id><CreDtTm>"), next_text, pl.lit("T02:00:00Z</CreDtTm><FrToDt><FrDtTm>"),
            date_text, pl.lit("T00:00:00Z</FrDtTm><ToDtTm>"), date_text,
            pl.lit("T23:59:59Z</ToDtTm></FrToDt><Acct><Id><Othr><Id>"), number,
            pl.lit(f"</Id></Othr></Id><Svcr><FinInstnId><BICFI>{CAMT_BANK}</BICFI>"
                   "</FinInstnId></Svcr></Acct>")])
        xml = pl.concat_str([
            pl.when(first).then(opening).otherwise(pl.lit("")),
            pl.lit("<Ntry><Amt Ccy=\""), pl.lit(ccy).gather(pl.col("asset").cast(pl.UInt32)),
            pl.lit("\">"), _cents(pl.col("minor")), pl.lit("</Amt><CdtDbtInd>"),
            pl.when(pl.col("debit")).then(pl.lit("DBIT")).otherwise(pl.lit("CRDT")),
            pl.lit("</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><DtTm>"), when,
            pl.lit("</DtTm></BookgDt><ValDt><DtTm>"), when,
            pl.lit("</DtTm></ValDt><AcctSvcrRef>"), self.ids.ref(pl.col("__order")),
            pl.lit("</AcctSvcrRef><BkTxCd><Prtry><Cd>TRF</Cd></Prtry></BkTxCd><NtryDtls>"
                   "<TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs><RltdPties><"),
            pl.col("role"), pl.lit("Acct><Id><Othr><Id>"), pl.col("party").str.slice(14),
            pl.lit("</Id></Othr></Id></"), pl.col("role"), pl.lit("Acct></RltdPties><RltdAgts><"),
            pl.col("role"), pl.lit("Agt><FinInstnId><BICFI>"), pl.col("party").str.slice(5, 8),
            pl.lit("</BICFI></FinInstnId></"), pl.col("role"),
            pl.lit("Agt></RltdAgts></TxDtls></NtryDtls></Ntry>"),
            pl.when(last).then(pl.lit("</Stmt>")).otherwise(pl.lit("")),
        ])
        text = rows.select(xml.alias("xml"), pl.col("day"))
        month = months[text.get_column("day").to_numpy() + 1]
        bounds = np.flatnonzero(month[1:] != month[:-1]) + 1
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, month.shape[0]], strict=True):
            if month[lo] != self.camt_month:
                self._close_camt()
                self._open_camt(str(month[lo]))
            text.slice(int(lo), int(hi - lo)).select("xml").write_csv(
                self.camt_file, include_header=False, quote_style="never", line_terminator="\n")
        self.rows["camt"] = self.rows.get("camt", 0) + rows.height

    def _open_camt(self, month: str) -> None:
        rel = f"bank/camt053/{CAMT_BANK}_{month}.xml"
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        self.camt_file = path.open("wb")
        self.camt_month = month
        self.camt_written.append(rel)
        self.camt_file.write((
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{_CAMT_NS}">'
            f"<BkToCstmrStmt><GrpHdr><MsgId>{CAMT_BANK}-{month}</MsgId>"
            f"<CreDtTm>{month}-01T00:00:00Z</CreDtTm></GrpHdr>\n").encode())

    def _close_camt(self) -> None:
        if self.camt_file is not None:
            self.camt_file.write(b"</BkToCstmrStmt></Document>\n")
            self.camt_file.close()
            self.camt_file = None
