"""camt.053 across statements: pair the two banks' legs of one transfer (the DBIT leg kept,
the CRDT leg rejected as the second leg), then order the days holding a paired transfer
(``post``, the step after every ingest of the camt.053 reader). See ``tracer.io.camt053``."""

from __future__ import annotations

import heapq

import polars as pl

from tracer.schema import REJECTS

__all__ = ["post", "POST_ROWS", "NO_E2E"]

POST_ROWS = "camt_side"  # post() works on the rows of camt.053 statements
NO_E2E = "NOTPROVIDED"
_NO_E2E = NO_E2E


# --- post: pair the two banks' legs, then order --------------------------------------------------


def _ranked(df: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return df.sort("ts", "camt_entry", "tx_id").with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).over(keys).alias("__k")
    )


def _pairs(camt: pl.DataFrame) -> pl.DataFrame:
    """(kept DBIT tx_id, removed CRDT tx_id, ...) for every pair of legs; ``again``: a CRDT leg
    paired before, back in a new file (a statement exported twice)."""
    e2e_ok = (
        pl.col("end_to_end_id").is_not_null()
        & (pl.col("end_to_end_id").str.strip_chars() != "")
        & (pl.col("end_to_end_id").str.to_uppercase() != _NO_E2E)
    )
    is_debit = pl.col("camt_side") == "DBIT"
    debits = camt.filter(is_debit & pl.col("camt_pair_tx").is_null())
    credits = camt.filter(pl.col("camt_side") == "CRDT")
    m0 = (
        camt.filter(is_debit & pl.col("camt_pair_tx").is_not_null())
        .select("tx_id", "ts", pl.col("camt_pair_tx").alias("tx_id_c"))
        .join(
            credits.select(
                pl.col("tx_id").alias("tx_id_c"),
                pl.col("ts").alias("ts_c"),
                pl.col("camt_entry").alias("camt_entry_c"),
            ),
            on="tx_id_c",
        )
        .with_columns(pl.lit(True).alias("again"))
    )
    credits = credits.join(m0.select(pl.col("tx_id_c").alias("tx_id")), on="tx_id", how="anti")
    keep = ["tx_id", "ts", "src", "dst", "amount", "asset", "end_to_end_id", "camt_entry"]
    debits = debits.select(keep)
    found = [m0]
    k1 = ["end_to_end_id", "amount", "asset", "src", "dst"]
    m1 = _ranked(debits.filter(e2e_ok), k1).join(
        _ranked(credits.filter(e2e_ok), k1), on=[*k1, "__k"], suffix="_c"
    )
    found.append(m1)
    debits = debits.join(m1.select("tx_id"), on="tx_id", how="anti")
    credits = credits.join(m1.select(pl.col("tx_id_c").alias("tx_id")), on="tx_id", how="anti")
    k2 = ["amount", "asset", "__day", "src", "dst"]
    day = pl.col("ts").dt.date().alias("__day")
    m2 = (
        _ranked(debits.with_columns(day), k2)
        .join(_ranked(credits.with_columns(day), k2), on=[*k2, "__k"], suffix="_c")
        .filter(
            ~(
                e2e_ok
                & pl.col("end_to_end_id_c").is_not_null()
                & (pl.col("end_to_end_id_c").str.to_uppercase() != _NO_E2E)
                & (pl.col("end_to_end_id") != pl.col("end_to_end_id_c"))
            )
        )
        .drop("__day")
    )
    found.append(m2)
    cols = ["tx_id", "tx_id_c", "ts", "ts_c", "camt_entry_c", "again"]
    return pl.concat(
        [
            m.with_columns(
                pl.col("again") if "again" in m.columns else pl.lit(False).alias("again")
            ).select(cols)
            for m in found
        ],
        how="vertical_relaxed",
    )


def _order(camt: pl.DataFrame) -> pl.DataFrame:
    """``seq`` of camt rows: the entry number, except on days holding a paired transfer, where
    both statements' entry orders are merged (topological order, ties by entry number)."""
    camt = camt.with_columns(pl.col("camt_entry").alias("seq"))
    days = camt.filter(pl.col("camt_pair_stmt").is_not_null()).select("ts").unique()
    if days.height == 0:
        return camt
    camt = camt.with_row_index("__n")
    sub = camt.join(days, on="ts", how="semi")
    members = pl.concat(
        [
            sub.select(
                "__n", "ts", pl.col("camt_stmt").alias("stmt"), pl.col("camt_entry").alias("e")
            ),
            sub.filter(pl.col("camt_pair_stmt").is_not_null()).select(
                "__n",
                "ts",
                pl.col("camt_pair_stmt").alias("stmt"),
                pl.col("camt_pair_entry").alias("e"),
            ),
        ]
    ).sort("ts", "stmt", "e", "__n")
    edges = (
        members.with_columns(pl.col("__n").shift(1).over("ts", "stmt").alias("prev"))
        .filter(pl.col("prev").is_not_null() & (pl.col("prev") != pl.col("__n")))
        .select("prev", "__n")
        .unique()
    )
    nodes = sub.select("__n", pl.col("ts").dt.epoch("us").alias("t"), "camt_entry", "tx_id")
    key = {n: (t, e, tx) for n, t, e, tx in nodes.iter_rows()}
    succ: dict[int, list[int]] = {n: [] for n in key}
    indeg = dict.fromkeys(key, 0)
    for a, b in edges.iter_rows():
        succ[a].append(b)
        indeg[b] += 1
    heap = [(key[n], n) for n in key if indeg[n] == 0]
    heapq.heapify(heap)
    order: list[int] = []
    done: set[int] = set()
    while len(order) < len(key):
        if not heap:  # statements that contradict each other: take the earliest left
            n = min((n for n in key if n not in done), key=lambda n: key[n])
            indeg[n] = 0
            heap.append((key[n], n))
        _, n = heapq.heappop(heap)
        if n in done:
            continue
        done.add(n)
        order.append(n)
        for m in succ[n]:
            indeg[m] -= 1
            if indeg[m] == 0 and m not in done:
                heapq.heappush(heap, (key[m], m))
    ranks = (
        pl.DataFrame({"__n": pl.Series(order, dtype=camt.schema["__n"])})
        .join(sub.select("__n", "ts"), on="__n", maintain_order="left")
        .select("__n", (pl.int_range(pl.len(), dtype=pl.Int64).over("ts") + 1).alias("__r"))
    )
    return (
        camt.join(ranks, on="__n", how="left", maintain_order="left")
        .with_columns(pl.coalesce("__r", "seq").alias("seq"))
        .drop("__n", "__r")
    )


def post(transfers: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pair the DBIT and CRDT legs of one transfer when both banks' statements are loaded; keep
    the DBIT leg, return the CRDT leg as a reject; then order the paired days. Idempotent."""
    if "camt_side" not in transfers.columns:
        return transfers, pl.DataFrame(schema=REJECTS)
    is_camt = pl.col("camt_side").is_not_null()
    camt = transfers.filter(is_camt)
    rest = transfers.filter(~is_camt)
    pairs = _pairs(camt) if camt.height else pl.DataFrame()
    rejects = pl.DataFrame(schema=REJECTS)
    if pairs.height:
        removed = camt.join(
            pairs.select(pl.col("tx_id_c").alias("tx_id"), pl.col("tx_id").alias("__kept")),
            on="tx_id",
        )
        raw_cols = [
            "tx_id",
            "ts",
            "src",
            "dst",
            "amount_raw",
            "asset",
            "end_to_end_id",
            "counterparty_name",
            "remittance",
            "camt_side",
        ]
        rejects = removed.select(
            "source",
            "source_row",
            (
                pl.lit("second leg of transfer ")
                + pl.col("__kept")
                + pl.lit(" (both banks' statements loaded)")
            ).alias("reason"),
            pl.struct([pl.col(c).cast(pl.String) for c in raw_cols])
            .struct.json_encode()
            .alias("raw"),
        ).cast(REJECTS)
        credit_stmt = camt.select(
            pl.col("tx_id").alias("tx_id_c"), pl.col("camt_stmt").alias("__stmt_c")
        )
        link = pairs.filter(~pl.col("again")).join(credit_stmt, on="tx_id_c")
        link = link.select(
            "tx_id",
            pl.col("tx_id_c").alias("__pair"),
            pl.when(pl.col("ts") == pl.col("ts_c")).then(pl.col("__stmt_c")).alias("__pstmt"),
            pl.when(pl.col("ts") == pl.col("ts_c")).then(pl.col("camt_entry_c")).alias("__pentry"),
        )
        camt = (
            camt.join(removed.select("tx_id"), on="tx_id", how="anti")
            .join(link, on="tx_id", how="left", maintain_order="left")
            .with_columns(
                pl.coalesce("__pair", "camt_pair_tx").alias("camt_pair_tx"),
                pl.when(pl.col("__pair").is_not_null())
                .then(pl.col("__pstmt"))
                .otherwise(pl.col("camt_pair_stmt"))
                .alias("camt_pair_stmt"),
                pl.when(pl.col("__pair").is_not_null())
                .then(pl.col("__pentry"))
                .otherwise(pl.col("camt_pair_entry"))
                .alias("camt_pair_entry"),
            )
            .drop("__pair", "__pstmt", "__pentry")
        )
    camt = _order(camt) if camt.height else camt
    out = pl.concat([rest, camt.select(transfers.columns)], how="vertical_relaxed")
    return out.cast(dict(transfers.schema)), rejects
