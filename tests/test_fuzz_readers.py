"""Fuzzing every reader's bytes: a small valid file per format, mutated by Hypothesis (bytes
replaced, hostile tokens put in, lines repeated or cut). For every input a reader either
raises a TracerError with a one-line message (and ingest leaves the workspace unchanged), or
accounts for every row: read = ingested + rejected, every amount and value finite and in
range, every time before year 10000. Any other exception is a bug."""

from __future__ import annotations

import gzip
import importlib.util
import json
import math
import shutil
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracer import io
from tracer.errors import TracerError
from tracer.ingest import ingest
from tracer.io.common import MAX_AMOUNT
from tracer.io.prices import read_prices

DATA = Path(__file__).parent / "data"
HOSTILE = DATA / "hostile"


def _camt() -> bytes:
    spec = importlib.util.spec_from_file_location(
        "camt_fixture", Path(__file__).parent / "io" / "test_camt053.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BANK_A.encode()


_BTC = (
    "transaction_hash,block_hash,block_number,block_timestamp,index,script_asm,script_hex,"
    "required_signatures,type,addresses,value\n"
    + "e" * 64
    + ",bh,800000,2023-08-01 00:00:00 UTC,0,,,1,pubkeyhash,1Abc,6000\n"
    + "d" * 64
    + ',bh,800001,2023-08-01 00:10:00 UTC,1,,,1,pubkeyhash,"[1Abc, 1Def]",7000\n'
)

# (format or kind, file name, seed bytes, reader options)
SEEDS = [
    (
        "canonical",
        "t.csv",
        b"tx_id,timestamp,src,dst,amount,asset,value\n"
        b"t1,2025-01-01T00:00:00Z,a,b,1.5,EUR,1.5\nt2,2025-01-02 10:00,b,c,2,EUR,2\n",
        {},
    ),
    (
        "generic",
        "g.csv",
        b'Ref,Date,From,To,Amount,Ccy\nr1,2025-01-01,a,b,"1,234.50",THB\nr2,2025-01-02,b,c,7,THB\n',
        {
            "map": {
                "tx_id": "Ref",
                "timestamp": "Date",
                "src": "From",
                "dst": "To",
                "amount": "Amount",
                "asset": "Ccy",
            }
        },
    ),
    ("etherscan-txs", "export-txs.csv", (HOSTILE / "etherscan_numbers.csv").read_bytes(), {}),
    (
        "etherscan-internal",
        "export-internal.csv",
        (HOSTILE / "etherscan_internal_trailing.csv").read_bytes(),
        {},
    ),
    ("tronscan-csv", "tron.csv", (HOSTILE / "tronscan_repeated.csv").read_bytes(), {}),
    ("tronscan-csv", "tron2.csv", (HOSTILE / "tronscan_symbol_only.csv").read_bytes(), {}),
    ("tronscan-json", "tron.json", (HOSTILE / "tronscan_repeated.json").read_bytes(), {}),
    ("amlsim", "tx.csv", (DATA / "amlsim" / "tx.csv").read_bytes(), {}),
    ("amlsim-accounts", "nodes.csv", (DATA / "amlsim" / "nodes.csv").read_bytes(), {}),
    (
        "ethereum-etl-transactions",
        "transactions.csv",
        (DATA / "ethereum_etl" / "transactions_block_17173049_head.csv").read_bytes()[:2000],
        {},
    ),
    ("bitcoin-bq-outputs", "outputs.csv", _BTC.encode(), {}),
    ("camt053", "bank.xml", _camt(), {}),
    ("prices", "prices.csv", b"date,asset,usd\n2025-01-06,ZZZ,1.6\n2025-01-07,ZZZ,2\n", {}),
    ("labels", "labels.csv", b"account,label,opening_balance\na,exchange,5\nb,victim,\n", {}),
    (
        "ofac",
        "sanctioned_addresses_ETH.json",
        json.dumps(["0x" + "ab" * 20, "0x" + "cd" * 20]).encode(),
        {},
    ),
]

TOKENS = [
    b"1e400",
    b"-1e400",
    b"inf",
    b"NaN",
    b"1e308",
    b"1e31",
    b"1,5",
    b"1.234,56",
    b"-1",
    b"0",
    b"",
    b"\xff",
    b"\xfc",
    b"\xc3",
    b"\x00",
    b'"',
    b",",
    b"\n",
    b"\r\n",
    b"\t",
    b"99999999999999999",
    b"1700000000000",
    b"253402300800",
    b"0x",
    b"[" * 50,
    b'{"a":',
    b"\xef\xbb\xbf",
    "\u00fc".encode(),
    b"T" + b"1" * 33,
    b"null",
    b"true",
]


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["token", "bytes", "delete", "repeat", "cut"]))
        at = draw(st.integers(0, len(data)))
        if op == "token":
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif op == "bytes":
            data[at : at + draw(st.integers(0, 4))] = draw(st.binary(min_size=1, max_size=6))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 20))]
        elif op == "repeat":
            lines = bytes(data).split(b"\n")
            k = draw(st.integers(0, max(0, len(lines) - 1)))
            lines.insert(k, lines[k] if lines else b"")
            data = bytearray(b"\n".join(lines))
        else:
            data = data[:at]
    return bytes(data)


def read_any(kind: str, path: Path, options: dict):
    """(rows read, rows kept, rejects, transfers or None) by the reader of ``kind``."""
    if kind == "prices":
        good, rejects, n = read_prices(path, path.name)
        assert all(math.isfinite(u) and 0 < u <= 1e18 for u in good["usd"])
        return n, good.height, rejects, None
    if kind in io.LABEL_FORMATS:
        good, rejects, n = io.label_reader(kind).read_labels(path, path.name)
        return n, good.height, rejects, None
    res = io.reader(kind).read(path, path.name, options)
    kept = res.transfers.height or (res.accounts.height if res.accounts is not None else 0)
    return res.read, kept, res.rejects, res.transfers


def check(kind: str, name: str, data: bytes, options: dict) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        path = folder / name
        path.write_bytes(data)
        try:
            read, kept, rejects, transfers = read_any(kind, path, options)
        except TracerError as exc:
            message = str(exc)
            assert message and "\n" not in message and "Traceback" not in message
            return
        assert read == kept + rejects.height
        assert rejects["reason"].null_count() == 0
        if transfers is not None and transfers.height:
            assert all(math.isfinite(a) and 0 <= a <= MAX_AMOUNT for a in transfers["amount"])
            assert all(
                v is None or (math.isfinite(v) and v <= MAX_AMOUNT) for v in transfers["value"]
            )
            assert transfers["ts"].null_count() == 0
            assert all(t.year <= 9999 for t in transfers["ts"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize(
    ("kind", "name", "seed", "options"), SEEDS, ids=[f"{k}-{n}" for k, n, _, _ in SEEDS]
)
def test_seed_reads_cleanly(kind, name, seed, options):
    check(kind, name, seed, options)


@pytest.mark.parametrize(
    ("kind", "name", "seed", "options"), SEEDS, ids=[f"{k}-{n}" for k, n, _, _ in SEEDS]
)
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_mutated_bytes(kind, name, seed, options, data):
    check(kind, name, data.draw(mutated(seed)), options)


@pytest.mark.parametrize("wrap", ["utf16", "gzip"])
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_mutated_canonical_in_utf16_or_gzip(wrap, data):
    kind, name, seed, options = SEEDS[0]
    text = data.draw(mutated(seed)).decode("utf-8", errors="replace")
    raw = text.encode("utf-16") if wrap == "utf16" else gzip.compress(text.encode())
    check(kind, name + (".gz" if wrap == "gzip" else ""), raw, options)


def _ingest_check(kind: str, name: str, data: bytes, options: dict, base: Path) -> None:
    """Ingest into a copy of ``base`` (a workspace): on an error, nothing changed."""
    folder = Path(tempfile.mkdtemp())
    try:
        ws = folder / "ws"
        shutil.copytree(base, ws, symlinks=True)
        before = sorted(
            (p.relative_to(ws), p.read_bytes() if p.is_file() else None) for p in ws.rglob("*")
        )
        path = folder / name
        path.write_bytes(data)
        fmt = "auto" if kind in ("prices", *io.LABEL_FORMATS) else kind
        args = (
            {"prices": [path]}
            if kind == "prices"
            else {"labels": [path]}
            if kind in io.LABEL_FORMATS
            else {"files": [path]}
        )
        try:
            (report,) = ingest(ws, fmt=fmt, options=options, **args)
        except TracerError as exc:
            assert "\n" not in str(exc)
            after = sorted(
                (p.relative_to(ws), p.read_bytes() if p.is_file() else None) for p in ws.rglob("*")
            )
            assert after == before
            return
        assert report.read == report.ingested + report.rejected
        t = pl.read_parquet(next(ws.glob("**/transfers.parquet")))
        assert all(math.isfinite(a) for a in t["amount"])
        assert all(v is None or math.isfinite(v) for v in t["value"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def base_ws(tmp_path_factory):
    folder = tmp_path_factory.mktemp("base")
    path = folder / "seed.csv"
    path.write_bytes(SEEDS[0][2])
    ingest(folder / "ws", [path])
    return folder / "ws"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "name", "seed", "options"), SEEDS, ids=[f"{k}-{n}" for k, n, _, _ in SEEDS]
)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_mutated_bytes_through_ingest(kind, name, seed, options, data, base_ws):
    if kind == "camt053":
        return  # a statement is one document: read directly above
    _ingest_check(kind, name, data.draw(mutated(seed)), options, base_ws)
