"""Synthetic transfer dumps for benchmarks.

``generate`` writes a canonical transfers file (CSV or Parquet) with the columns, in order::

    tx_id,timestamp,src,dst,amount,asset

and a labels CSV beside it (``account,label``; see ``labels_path``). The output is a pure
function of ``(n_transfers, n_accounts, seed, fmt)``: same arguments, same bytes (for a given
numpy / polars / pyarrow version).

Shape of the data:

- ``tx_id``: ``t`` + the row number in 12 digits (``t000000012345``), unique.
- ``timestamp``: UTC, microseconds, ``2025-03-01T12:34:56.123456Z`` (``TIMESTAMP_FORMAT``), from
  2025-01-01 (inclusive) to 2026-01-01 (exclusive), rows sorted by time (ties possible, rare).
  In Parquet the column is ``timestamp[us, tz=UTC]``.
- ``src``, ``dst``: ordinary accounts ``a`` + digits (``a0001234``, at least 7 digits), drawn
  from a power law over a shuffled id space, so a few hubs take many transfers and most
  accounts few; plus ``N_EXCHANGES`` exchanges ``x0000000``, ``x0000001``, ... with very high
  in-degree (about 10% of all transfers go to one, about 2% come from one). No self-transfers.
- ``amount``: lognormal, rounded to cents, at least 0.01; written with exactly 2 decimals in
  CSV, float64 in Parquet.
- ``asset``: ``USD`` on every row.

Usage::

    python -m benchmarks.gen --n 10000000 --accounts 1000000 -o /tmp/t.csv
    python benchmarks/gen.py --n 1000 --format parquet -o /tmp/t.parquet
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "COLUMNS",
    "DATA_DIR",
    "N_EXCHANGES",
    "TIMESTAMP_FORMAT",
    "cached",
    "exchange_ids",
    "generate",
    "hub",
    "labels_path",
    "write_labels",
]

COLUMNS = ("tx_id", "timestamp", "src", "dst", "amount", "asset")
# chrono / polars format; `%.6f` writes the dot and six digits.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%.6fZ"
DATA_DIR = Path(__file__).resolve().parent / ".data"

N_EXCHANGES = 8
# Share of transfers into / out of exchanges, and how the exchanges split them.
P_TO_EXCHANGE = 0.10
P_FROM_EXCHANGE = 0.02
_EXCHANGE_WEIGHTS = np.array([0.30, 0.20, 0.15, 0.10, 0.10, 0.07, 0.05, 0.03])
# Power-law exponent of account activity (density ~ rank ** -ZIPF_S over the shuffled ids).
ZIPF_S = 0.8
# Lognormal amounts: median exp(4.5) ~ 90 USD.
AMOUNT_MU = 4.5
AMOUNT_SIGMA = 1.6

_START_US = 1_735_689_600_000_000  # 2025-01-01T00:00:00Z
_END_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
# Rows per chunk. Part of the definition of the output: changing it changes the bytes.
_CHUNK = 1_000_000
_ARROW_SCHEMA = pa.schema(
    [
        ("tx_id", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("src", pa.string()),
        ("dst", pa.string()),
        ("amount", pa.float64()),
        ("asset", pa.string()),
    ]
)


def _id_width(n_accounts: int) -> int:
    return max(7, len(str(max(n_accounts - 1, N_EXCHANGES - 1))))


def exchange_ids(n_accounts: int) -> list[str]:
    """The exchange account ids used in a dump with ``n_accounts`` ordinary accounts."""
    width = _id_width(n_accounts)
    return [f"x{i:0{width}d}" for i in range(N_EXCHANGES)]


def labels_path(path: Path) -> Path:
    """Where ``generate`` puts the labels CSV for the transfers file ``path``."""
    path = Path(path)
    return path.with_name(path.stem + ".labels.csv")


def write_labels(path: Path, n_accounts: int, seed: int = 0) -> Path:
    """Write ``account,label`` rows (the exchanges, labelled ``exchange``) to ``path``.

    ``seed`` is accepted for symmetry with ``generate``; the exchange ids do not depend on it.
    """
    del seed
    path = Path(path)
    lines = ["account,label"] + [f"{x},exchange" for x in exchange_ids(n_accounts)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
    return path


def _power_law_rank(rng: np.random.Generator, size: int, n: int) -> np.ndarray:
    """Ranks in [0, n) with density ~ (rank + 1) ** -ZIPF_S (inverse-transform sampling)."""
    u = rng.random(size)
    e = 1.0 - ZIPF_S
    top = (n + 1.0) ** e - 1.0
    x = (1.0 + u * top) ** (1.0 / e)
    return np.minimum(x.astype(np.int64) - 1, n - 1)


def _chunk_arrays(
    chunk: int, start: int, stop: int, n_transfers: int, perm: np.ndarray, seed: int
) -> dict[str, np.ndarray]:
    """Numeric columns of rows [start, stop): ids are >= 0 for ordinary accounts, < 0 for
    exchanges (``-1 - k`` is exchange ``k``)."""
    rng = np.random.default_rng([seed, chunk])
    size = stop - start
    n_accounts = perm.shape[0]
    span = _END_US - _START_US
    # This chunk's rows take an equal share of the year: uniform times, sorted.
    lo = _START_US + (span * start) // n_transfers
    hi = _START_US + (span * stop) // n_transfers
    ts = np.sort(rng.integers(lo, max(hi, lo + 1), size=size, dtype=np.int64))

    src = perm[_power_law_rank(rng, size, n_accounts)]
    dst = perm[_power_law_rank(rng, size, n_accounts)]
    same = src == dst
    dst[same] = (dst[same] + 1) % n_accounts

    kind = rng.random(size)
    exch = -1 - rng.choice(N_EXCHANGES, size=size, p=_EXCHANGE_WEIGHTS)
    to_x = kind < P_TO_EXCHANGE
    from_x = (kind >= P_TO_EXCHANGE) & (kind < P_TO_EXCHANGE + P_FROM_EXCHANGE)
    dst = np.where(to_x, exch, dst)
    src = np.where(from_x, exch, src)

    cents = np.rint(rng.lognormal(AMOUNT_MU, AMOUNT_SIGMA, size) * 100.0).astype(np.int64)
    cents = np.maximum(cents, 1)
    # True division (correctly rounded), so the float64 equals what a CSV reader parses back.
    amount = cents / 100.0
    row = np.arange(start, stop, dtype=np.int64)
    return {"row": row, "ts": ts, "src": src, "dst": dst, "amount": amount}


def _account_expr(col: str, width: int) -> pl.Expr:
    c = pl.col(col)
    number = pl.when(c < 0).then(-1 - c).otherwise(c).cast(pl.String).str.zfill(width)
    prefix = pl.when(c < 0).then(pl.lit("x")).otherwise(pl.lit("a"))
    return pl.concat_str([prefix, number]).alias(col)


def _chunk_frame(arrays: dict[str, np.ndarray], width: int) -> pl.DataFrame:
    df = pl.DataFrame(arrays)
    return df.select(
        pl.concat_str([pl.lit("t"), pl.col("row").cast(pl.String).str.zfill(12)]).alias("tx_id"),
        pl.col("ts").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("timestamp"),
        _account_expr("src", width),
        _account_expr("dst", width),
        pl.col("amount"),
        pl.lit("USD").alias("asset"),
    )


def generate(
    path: Path,
    n_transfers: int,
    n_accounts: int,
    *,
    seed: int = 0,
    fmt: str = "csv",
) -> Path:
    """Write a synthetic transfers file to ``path`` and its labels CSV beside it.

    Args:
        path: output file; the labels go to ``labels_path(path)``.
        n_transfers: number of rows.
        n_accounts: size of the ordinary account id space (``a…``); the number of distinct
            accounts that actually occur is somewhat lower. The ``N_EXCHANGES`` exchanges
            (``x…``) come on top.
        seed: random seed; same seed, same bytes.
        fmt: ``"csv"`` or ``"parquet"``.

    Returns:
        ``path``.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")
    if n_transfers < 1:
        raise ValueError(f"n_transfers must be >= 1, not {n_transfers}")
    if n_accounts < 2:
        raise ValueError(f"n_accounts must be >= 2, not {n_accounts}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    width = _id_width(n_accounts)
    perm = np.random.default_rng([seed, 2**32]).permutation(n_accounts)

    chunks = range(0, n_transfers, _CHUNK)
    if fmt == "csv":
        with open(path, "wb") as f:
            f.write((",".join(COLUMNS) + "\n").encode())
            for k, start in enumerate(chunks):
                stop = min(start + _CHUNK, n_transfers)
                df = _chunk_frame(_chunk_arrays(k, start, stop, n_transfers, perm, seed), width)
                df.write_csv(
                    f,
                    include_header=False,
                    datetime_format=TIMESTAMP_FORMAT,
                    float_precision=2,
                    line_terminator="\n",
                )
    else:
        with pq.ParquetWriter(path, _ARROW_SCHEMA, compression="zstd") as writer:
            for k, start in enumerate(chunks):
                stop = min(start + _CHUNK, n_transfers)
                df = _chunk_frame(_chunk_arrays(k, start, stop, n_transfers, perm, seed), width)
                writer.write_table(df.to_arrow().cast(_ARROW_SCHEMA))
    write_labels(labels_path(path), n_accounts, seed)
    return path


def cached(n_transfers: int, n_accounts: int, fmt: str = "csv", seed: int = 0) -> Path:
    """The transfers file for these arguments in ``DATA_DIR``, generated only when missing.

    Generation writes to a temporary name and renames, so an interrupted run leaves no
    half-written file behind under the final name.
    """
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    gitignore = DATA_DIR / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("*\n", encoding="utf-8")
    ext = "csv" if fmt == "csv" else "parquet"
    path = DATA_DIR / f"transfers_n{n_transfers}_a{n_accounts}_s{seed}.{ext}"
    if path.exists() and labels_path(path).exists():
        return path
    tmp = DATA_DIR / f"tmp{os.getpid()}_{path.name}"
    try:
        generate(tmp, n_transfers, n_accounts, seed=seed, fmt=fmt)
        os.replace(labels_path(tmp), labels_path(path))
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, labels_path(tmp)):
            leftover.unlink(missing_ok=True)
    return path


def hub(path: Path, k: int = 20_000, fan: int = 500) -> Path:
    """A hub dump of ``2 k + 1`` transfers (CSV, as ``generate``): the seed ``s0`` (V to A,
    1,000,000), then ``k`` payments of 10 from A to H, then ``k`` of 5 from H to ``Z(i mod
    fan)``, a second apart. H receives ``k`` tainted inflows and pays ``k`` outflows: the case
    where a rule that records every lot of taint for every outflow (haircut) is quadratic."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = _START_US // 1_000_000

    def stamp(i: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + i))

    lines = [",".join(COLUMNS), f"s0,{stamp(0)},V,A,1000000.00,USD"]
    lines += [f"a{i:06d},{stamp(1 + i)},A,H,10.00,USD" for i in range(k)]
    lines += [f"h{i:06d},{stamp(1 + k + i)},H,Z{i % fan:04d},5.00,USD" for i in range(k)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gen", description="Write a synthetic transfers dump."
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="transfers (default 1000000)")
    parser.add_argument(
        "--accounts", type=int, default=None, help="ordinary accounts (default n / 10)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("-o", "--output", type=Path, required=True, help="transfers file")
    args = parser.parse_args(argv)
    n_accounts = args.accounts if args.accounts is not None else max(args.n // 10, 2)
    t0 = time.perf_counter()
    out = generate(args.output, args.n, n_accounts, seed=args.seed, fmt=args.format)
    elapsed = time.perf_counter() - t0
    print(
        f"{out}: {args.n} transfers, {out.stat().st_size / 1e6:.1f} MB in {elapsed:.1f} s; "
        f"labels in {labels_path(out)}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
