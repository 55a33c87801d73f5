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

The lines themselves are built in ``bank_lines`` (AMLworld, camt.053), ``chain_lines``
(Tron, Ethereum, Bitcoin) and ``canonical_lines``; this module opens, orders and appends.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl

from tracer.simulate.bank_lines import CAMT_TAIL, amlworld_line, camt_head, camt_lines
from tracer.simulate.canonical_lines import canonical_line
from tracer.simulate.chain_lines import bitcoin_line, erc20_line, eth_line, tron_line
from tracer.simulate.frames import BANK, ERC20, ETH, START_US, TRON, Chunk
from tracer.simulate.order import sort_rows
from tracer.simulate.params import CAMT_BANK
from tracer.simulate.text import Line, Pool
from tracer.simulate.vocab import (
    AMLWORLD_FILE,
    DATES,
    DAY0,
    Accounts,
    TxIds,
    _fixed_tables,
    warm_up,
)
from tracer.simulate.world import Registry

__all__ = ["Writer", "TxIds", "Accounts", "AMLWORLD_FILE", "NATIVE_FILES", "warm_up"]

NATIVE_FILES = {
    "amlworld": f"bank/{AMLWORLD_FILE}",
    "tron": "tron/usdt_trc20_transfers.csv",
    "eth": "ethereum/transactions.csv",
    "erc20": "ethereum/token_transfers.csv",
    "btc_in": "bitcoin/inputs.csv",
    "btc_out": "bitcoin/outputs.csv",
}
AMLWORLD_HEADER = (
    "Timestamp,From Bank,Account,To Bank,Account,Amount Received,"
    "Receiving Currency,Amount Paid,Payment Currency,Payment Format,Is Laundering"
)
_HEADERS = {
    "amlworld": AMLWORLD_HEADER,
    "tron": "transaction_id,block_ts,from_address,to_address,quant,tokenDecimal,tokenAbbr,"
    "contract_address,contractRet",
    "eth": "hash,nonce,block_number,transaction_index,from_address,to_address,value,gas,"
    "gas_price,input,block_timestamp,receipt_status",
    "erc20": "token_address,from_address,to_address,value,transaction_hash,log_index,"
    "block_number,block_timestamp",
    "btc_in": "transaction_hash,block_number,block_timestamp,index,spent_transaction_hash,"
    "spent_output_index,type,addresses,value",
    "btc_out": "transaction_hash,block_number,block_timestamp,index,type,addresses,value",
    "canonical": "tx_id,timestamp,src,dst,amount,asset",
}
FORMAT_THREADS = 2  # threads that render the lines of a chunk
PART_BYTES = 8 << 20  # about what a part of a file, rendered at once, comes to
_DAY_US = 86_400_000_000


class _Tables:
    """The strings lines are made of, in one pool: first every account's id (``Accounts``),
    then dates, times of day and names (attributes: where each table starts; day tables are
    shifted so that day 0 is the world's first). Bank accounts are also kept as numbers:
    their bank's code (a pool index) and their 10-digit account number."""

    def __init__(self, accounts: Accounts) -> None:
        self.pool = pool = Pool()
        pool.add(accounts.slots)
        start = {name: pool.add(slots) for name, slots in _fixed_tables().items()}
        for name in ("aml_day", "utc_day", "iso_day", "date", "compact_date"):
            start[name] -= DAY0
        (
            self.aml_day,
            self.aml_minute,
            self.utc_day,
            self.utc_second,
            self.iso_day,
            self.iso_second,
            self.date,
            self.compact_date,
            self.asset,
            self.aml_ccy,
            self.role,
        ) = (
            start[name]
            for name in (
                "aml_day",
                "aml_minute",
                "utc_day",
                "utc_second",
                "iso_day",
                "iso_second",
                "date",
                "compact_date",
                "asset",
                "aml_ccy",
                "role",
            )
        )
        self.month = np.array([d.year * 12 + d.month - 1 for d in DATES], np.int64)
        self.at_camt = accounts.at_camt
        self.bank_code = accounts.bank + start["bank"]
        self.number = accounts.number
        pool.data()

    def day(self, ts: np.ndarray) -> np.ndarray:
        """Days from START (1970 µs times of the world and the 400 days around it)."""
        day = (ts - START_US) // _DAY_US
        if day.size and (day.min() < DAY0 or day.max() >= DAY0 + len(DATES)):
            raise ValueError("a time more than 400 days from the world's")
        return day

    def clock(self, ts: np.ndarray, step_s: int) -> np.ndarray:
        """Time of day in steps of ``step_s`` seconds."""
        return (ts - START_US) % _DAY_US // (step_s * 1_000_000)


class Writer:
    """Appends chunks (in time order) to the files of one world. Lines are made by
    ``tracer.simulate.text`` from the chunk's columns: ``stage`` orders a chunk
    (``tracer.simulate.order``) and has each file's lines rendered in parts on
    ``FORMAT_THREADS`` threads; ``commit`` appends the parts in order (on any one thread at a
    time), so the bytes do not depend on the threads or the parts."""

    def __init__(
        self, out: Path, formats: str, reg: Registry, seed: int, accounts: Accounts | None = None
    ) -> None:
        """``accounts``: those of the registry's first accounts, made ahead."""
        self.out, self.formats, self.reg = out, formats, reg
        self.ids = TxIds(seed)
        self.tables = _Tables(Accounts.of(reg.ids, formats == "canonical", accounts))
        self.files: dict[str, object] = {}
        self.rows: dict[str, int] = {}
        self.aml_row = 0
        self.aml_scam: list[pl.DataFrame] = []  # uid -> AMLworld row, for the scam's rows
        self.camt_file = None
        self.camt_month: str | None = None
        self.camt_written: list[str] = []
        self.canonical_rows = 0
        self._threads = ThreadPoolExecutor(
            max_workers=FORMAT_THREADS, thread_name_prefix="tracer-sim-fmt"
        )
        self._buffers: list[np.ndarray] = []  # written out, to render into again

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

    def close(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)
        for f in self.files.values():
            f.close()
        self._close_camt()
        self._buffers.clear()

    def _part(self, line: Line, lo: int, hi: int) -> tuple[np.ndarray, int]:
        try:
            buf = self._buffers.pop()
        except IndexError:
            buf = np.empty(PART_BYTES + PART_BYTES // 2, np.uint8)
        return line.render(lo, hi, buf)

    def _render(self, line: Line, lo: int = 0, hi: int | None = None) -> list[Future]:
        """Rows lo..hi of a line, in parts of about PART_BYTES, rendered on the threads."""
        hi = line.n if hi is None else hi
        if hi == lo:
            return []
        k = -(-(hi - lo) * line.guess // PART_BYTES)
        bounds = np.linspace(lo, hi, k + 1).astype(np.int64)
        return [
            self._threads.submit(self._part, line, int(a), int(b))
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]

    def _put(self, f, futures: list[Future]) -> None:
        for part in futures:
            buf, size = part.result()
            f.write(buf[:size])
            self._buffers.append(buf)

    def _append(self, key: str, n: int, futures: list[Future]) -> None:
        if n == 0 and key in self.files:
            return
        rel = "transfers.csv" if key == "canonical" else NATIVE_FILES[key]
        self._put(self._file(key, rel, _HEADERS[key]), futures)
        self.rows[key] += n

    # --- chunks -------------------------------------------------------------------------------

    def write(self, chunk: Chunk, scam_limit: int) -> None:
        """Append a chunk (the next in time) to the files."""
        self.commit(self.stage(chunk, scam_limit))

    def stage(self, chunk: Chunk, scam_limit: int) -> list[tuple[str, int, list[Future]]]:
        """Order a chunk, number its AMLworld rows, and start rendering its lines on the
        threads: what ``commit`` appends to the files. Chunks are staged in time order, and
        committed in the same order, a chunk possibly staged while the one before renders."""
        tf = chunk.transfers
        t = {
            c: tf.get_column(c).to_numpy().astype(np.int64, copy=False)
            for c in ("uid", "ts", "chain", "src", "dst", "minor", "asset")
        }
        t["order"] = self.ids.order(t["uid"])
        if self.formats == "canonical":
            line = self._canonical(t, chunk.btc_in, chunk.btc_out, scam_limit)
            return [("canonical", line.n, self._render(line))]
        perm = sort_rows(t["ts"], t["order"], t["uid"])
        t = {k: v[perm] for k, v in t.items()}  # in file order from here on
        chain, src, dst = t["chain"], t["src"], t["dst"]
        bank = chain == BANK
        at_camt = self.tables.at_camt
        is_camt = bank & (at_camt[src] | at_camt[dst])
        aml = np.flatnonzero(bank & ~is_camt)  # AMLworld rows
        self.number_aml(t["uid"], aml, scam_limit)
        ins, outs = (self._legs(legs) for legs in (chunk.btc_in, chunk.btc_out))

        def rows(mask):  # the columns of some rows, with their day and second
            at = np.flatnonzero(mask)
            sub = {k: t[k][at] for k in ("uid", "ts", "src", "dst", "minor", "asset", "order")}
            sub["day"], sub["second"] = self.tables.day(sub["ts"]), self.tables.clock(sub["ts"], 1)
            return sub

        tb, salt = self.tables, self.ids.salt
        plan = [
            ("amlworld", amlworld_line(tb, t, aml)),
            ("tron", tron_line(tb, salt["tron"], rows(chain == TRON))),
            ("eth", eth_line(tb, salt["eth"], rows(chain == ETH))),
            ("erc20", erc20_line(tb, salt["eth"], rows(chain == ERC20))),
            ("btc_in", bitcoin_line(tb, salt["btc"], ins, True)),
            ("btc_out", bitcoin_line(tb, salt["btc"], outs, False)),
        ]
        camt = camt_lines(tb, rows(is_camt))
        return [(key, line.n, self._render(line)) for key, line in plan] + [
            (f"camt:{month}", n, self._render(line, lo, hi)) for month, n, line, lo, hi in camt
        ]

    def commit(self, staged: list[tuple[str, int, list[Future]]]) -> None:
        """Append a staged chunk's lines, file by file, as their parts are rendered."""
        for key, n, futures in staged:
            if not key.startswith("camt:"):
                self._append(key, n, futures)
                continue
            month = key.partition(":")[2]
            if month != self.camt_month:
                self._close_camt()
                self._open_camt(month)
            self._put(self.camt_file, futures)
            self.rows["camt"] = self.rows.get("camt", 0) + n

    def number_aml(self, uid: np.ndarray, aml: np.ndarray, scam_limit: int) -> np.ndarray:
        """Rows ``aml`` (in file order) of the AMLworld file: their numbers there, the scam's
        kept for the truth."""
        number = np.arange(self.aml_row + 1, self.aml_row + 1 + aml.shape[0])
        self.aml_row += aml.shape[0]
        scam = uid[aml] < scam_limit
        self.aml_scam.append(
            pl.DataFrame(
                {"uid": uid[aml][scam], "row": number[scam]},
                schema={"uid": pl.Int64, "row": pl.Int64},
            )
        )
        return number

    def _legs(self, legs: pl.DataFrame) -> dict[str, np.ndarray]:
        """Bitcoin legs as columns, in file order: (ts, order of the transaction, tx, index)."""
        b = {c: legs.get_column(c).to_numpy().astype(np.int64, copy=False) for c in legs.columns}
        b["order"] = self.ids.order(b["tx"])
        perm = sort_rows(b["ts"], b["order"], b["tx"], b["index"])
        return {k: v[perm] for k, v in b.items()}

    def aml_rows(self) -> pl.DataFrame:
        return (
            pl.concat(self.aml_scam)
            if self.aml_scam
            else pl.DataFrame(schema={"uid": pl.Int64, "row": pl.Int64})
        )

    # --- camt.053 -----------------------------------------------------------------------------

    def _open_camt(self, month: str) -> None:
        rel = f"bank/camt053/{CAMT_BANK}_{month}.xml"
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        self.camt_file = path.open("wb")
        self.camt_month = month
        self.camt_written.append(rel)
        self.camt_file.write(camt_head(month))

    def _close_camt(self) -> None:
        if self.camt_file is not None:
            self.camt_file.write(CAMT_TAIL)
            self.camt_file.close()
            self.camt_file = None

    # --- canonical ----------------------------------------------------------------------------

    def _canonical(
        self, t: dict, btc_in: pl.DataFrame, btc_out: pl.DataFrame, scam_limit: int
    ) -> Line:
        line = canonical_line(self, t, btc_in, btc_out, scam_limit)
        self.canonical_rows += line.n
        return line
