"""Tronscan TRC-20 transfers: the CSV exported from the web page, and the JSON of the
transfers API (``/api/token_trc20/transfers``, ``/api/filter/trc20/transfers``). Two formats,
each a ``Reader`` of its own (``csv`` and ``json_`` below, registered in
``tracer.io.READERS``).

``tronscan-json``: ``{"token_transfers": [...], "total": ...}`` or a bare list of transfers,
each ``{"transaction_id", "block_ts" (ms), "from_address", "to_address", "quant" (raw
integer), "tokenInfo": {"tokenId", "tokenAbbr", "tokenDecimal", ...}, "contract_address",
"contractRet", "finalResult", "revert", ...}``. ``read`` counts the list's elements; a
rejected element's raw row is its JSON.

``tronscan-csv``: a header row naming, in any order (the first name found wins; other
columns are ignored):

- tx id: ``transaction_id``, ``Transaction ID``, ``Transaction Hash``, ``Txn Hash``, ``TxID``,
  ``Hash``, ``hash``;
- time: ``block_ts`` (ms, or seconds when below 10^11), ``block_timestamp``, ``Block Time``,
  ``Block Time(UTC)``, ``Time(UTC)``, ``Time (UTC)``, ``Date(UTC)``, ``Time``, ``Date``,
  ``timestamp``: unix ms/s or text (ISO 8601, ``YYYY-MM-DD HH:MM:SS``), read as UTC;
- from, to: ``from_address``/``From``/``from``/``From Address``, ``to_address``/``To``/``to``/
  ``To Address``;
- amount: ``quant`` (raw integer, scaled by the decimals below) or a decimal amount
  ``amount``/``Amount``/``Value``/``Quantity``/``Token Amount`` (thousands separators allowed);
- decimals (with ``quant``): ``tokenDecimal``/``token_decimal``/``decimals``/``Decimals``,
  else the known contracts (``KNOWN_TRC20``);
- token: ``tokenAbbr``/``token_abbr``/``Token Symbol``/``Token``/``symbol``/``Symbol``;
  contract: ``contract_address``/``Token Address``/``Contract Address``/``Contract``/
  ``tokenId``;
- status (optional): ``contractRet``, ``finalResult``, ``Result``, ``Status`` (success when
  ``SUCCESS``, case aside, or for ``Status`` also ``Confirmed``), ``revert`` (``true`` fails).

A CSV is taken as Tronscan's only if it has the tx id, from, to and amount columns and either
a Tron-specific column (``block_ts``, ``quant``, ``tokenAbbr``, ``contractRet``,
``finalResult``, ``transaction_id``) or a Tron address (``T`` + 33 base58 characters) in its
first rows.

Both: accounts ``tron:<address as written>`` (base58 is case-sensitive: never lower-cased);
amount = quant / 10**decimals computed on the text (exact, then the nearest float64), quant
in ``amount_raw`` (the CSV decimal amount as written otherwise); asset ``<TOKENABBR>-TRC20``
(``TRC20:<contract>`` when no symbol is given, when the decimals are unknown (amount then in
raw units), or when the symbol claims a known token (``KNOWN_TRC20``: USDT) from another
contract: fake USDT of address-poisoning scams). tx_id ``<transaction_id>:<n>``, n counting
that transaction's transfers in the file from 0 (a transaction can emit several), seq = n.
Rejected with the reason: failed transfers, zero amounts (no funds moved), bad numbers,
times or addresses, self-transfers, and a repeated transfer: a row (or element) with the same
transaction id, from, to, amount (as written) and token (symbol and contract) as an earlier
one is one event listed twice, so it is rejected naming the first row (two equal transfers
in one transaction cannot be told from a repeated row; the rule never counts money twice).
A known symbol (USDT) without a contract address is taken as written, with a note saying so.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import polars as pl

from tracer.errors import InputError
from tracer.io.base import Reader
from tracer.io.common import (
    ROW,
    Head,
    ReadResult,
    finish_reasons,
    first_kept_row,
    load_json,
    number_text,
    parse_timestamps,
    read_table,
    read_text,
    text_col,
)
from tracer.io.evm import integer_text, scaled_by

__all__ = ["KNOWN_TRC20", "csv", "json_"]

# well-known TRC-20 contracts: symbol, decimals
KNOWN_TRC20: dict[str, tuple[str, int]] = {
    "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t": ("USDT", 6),
}
_KNOWN_SYMBOL = {s: a for a, (s, _) in KNOWN_TRC20.items()}

TX = ("transaction_id", "Transaction ID", "Transaction Hash", "Txn Hash", "TxID", "Hash", "hash")
TIME = (
    "block_ts",
    "block_timestamp",
    "Block Time",
    "Block Time(UTC)",
    "Time(UTC)",
    "Time (UTC)",
    "Date(UTC)",
    "Time",
    "Date",
    "timestamp",
)
FROM = ("from_address", "From", "from", "From Address")
TO = ("to_address", "To", "to", "To Address")
QUANT = ("quant",)
AMOUNT = ("amount", "Amount", "Value", "Quantity", "Token Amount")
DECIMALS = ("tokenDecimal", "token_decimal", "decimals", "Decimals")
SYMBOL = ("tokenAbbr", "token_abbr", "Token Symbol", "Token", "symbol", "Symbol")
CONTRACT = ("contract_address", "Token Address", "Contract Address", "Contract", "tokenId")
RESULT = ("contractRet", "finalResult", "Result")
TRON_COLUMNS = ("block_ts", "quant", "tokenAbbr", "contractRet", "finalResult", "transaction_id")
_TRON_ADDRESS = re.compile(r"\bT[1-9A-HJ-NP-Za-km-z]{33}\b")
_ADDRESS = r"^T[1-9A-HJ-NP-Za-km-z]{33}$"
_NUMBER = r"^(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"
_STD = (
    "__tx",
    "__time",
    "__from",
    "__to",
    "__quant",
    "__amount_text",
    "__decimals",
    "__symbol",
    "__contract",
    "__status",
    "__revert",
)


def _first(cols, names) -> str | None:
    return next((c for c in names if c in cols), None)


def _times(s: pl.Series) -> pl.Series:
    """Unix ms (or s when below 10^11) or text, to Datetime(us, UTC)."""
    text = s.cast(pl.String).str.strip_chars()
    n = pl.col("n")
    epoch = (
        text.cast(pl.Int64, strict=False)
        .to_frame("n")
        .select(
            pl.when((n >= 0) & (n < 10**11))
            .then(n * 1_000_000)
            .when((n >= 10**11) & (n < 10**14))
            .then(n * 1_000)
            .cast(pl.Datetime("us"))
            .dt.replace_time_zone("UTC")
        )
        .to_series()
    )
    number = text.cast(pl.Int64, strict=False)
    is_number = number.is_not_null()
    if is_number.all():
        return epoch
    return parse_timestamps(text.set(is_number, None)).zip_with(~is_number, epoch)


def _transfers(df: pl.DataFrame, source: str, raw: pl.Expr) -> ReadResult:
    """Validate the standard columns (``_STD``, text) of either format; ``raw`` the raw row."""
    df = df.with_columns(pl.col(c).cast(pl.String) for c in _STD)
    df = df.with_columns(text_col(c).alias(c) for c in _STD)
    df = df.with_columns(_times(df.get_column("__time")).alias("__ts"))
    known_dec = pl.col("__contract").replace_strict(
        {a: d for a, (_, d) in KNOWN_TRC20.items()}, default=None, return_dtype=pl.Int64
    )
    decimals_text = pl.col("__decimals").str.replace(r"\.0*$", "")
    decimals = pl.coalesce(
        pl.when(decimals_text.str.contains(r"^\d{1,2}$")).then(decimals_text.cast(pl.Int64)),
        known_dec,
    )
    df = df.with_columns(
        integer_text(pl.col("__quant")).alias("__digits"),
        decimals.alias("__dec"),
        number_text(pl.col("__amount_text")).alias("__amount_clean"),
        pl.col("__symbol").str.to_uppercase().alias("__sym"),
    )
    present = df.get_column("__dec").drop_nulls().unique().to_list()
    from_quant = (
        pl.when(pl.col("__dec").is_null())
        .then(pl.col("__digits").cast(pl.Float64))
        .otherwise(scaled_by(pl.col("__digits"), pl.col("__dec"), present))
    )
    from_text = pl.when(pl.col("__amount_clean").str.contains(_NUMBER)).then(
        pl.col("__amount_clean").cast(pl.Float64, strict=False)
    )
    use_quant = pl.col("__quant").is_not_null()
    # a known symbol from another contract is fake; with no contract given, the symbol is
    # taken as written (the export cannot tell, and a note says so)
    fake = (
        pl.col("__sym").is_in(list(_KNOWN_SYMBOL))
        & pl.col("__contract").is_not_null()
        & (
            pl.col("__contract")
            != pl.col("__sym").replace_strict(_KNOWN_SYMBOL, default=None, return_dtype=pl.String)
        )
    )
    raw_units = use_quant & pl.col("__dec").is_null()
    asset = (
        pl.when(pl.col("__sym").is_null() | fake.fill_null(False) | raw_units)
        .then(pl.lit("TRC20:") + pl.col("__contract"))
        .otherwise(pl.col("__sym") + pl.lit("-TRC20"))
    )
    n = pl.int_range(pl.len(), dtype=pl.Int64).over("__tx")
    df = df.with_columns(
        pl.when(use_quant).then(from_quant).otherwise(from_text).alias("__amount"),
        pl.when(use_quant)
        .then(pl.col("__quant"))
        .otherwise(pl.col("__amount_text"))
        .alias("__raw"),
        asset.alias("__asset"),
        n.alias("__n"),
        (pl.col("__tx") + pl.lit(":") + n.cast(pl.String)).alias("__tx_id"),
    )
    status = pl.col("__status")
    chain = (
        pl.when(pl.col("__tx").is_null())
        .then(pl.lit("empty transaction id"))
        .when(status.is_not_null() & ~status.str.to_uppercase().is_in(["SUCCESS", "CONFIRMED"]))
        .then(pl.lit("failed transfer (") + status + pl.lit(")"))
        .when(pl.col("__revert").str.to_lowercase().is_in(["true", "1"]).fill_null(False))
        .then(pl.lit("failed transfer (reverted)"))
        .when(pl.col("__ts").is_null())
        .then(pl.lit("bad time (expected unix ms or ISO 8601)"))
        .when(pl.col("__raw").is_null())
        .then(pl.lit("empty amount"))
        .when(use_quant & pl.col("__digits").is_null())
        .then(
            pl.lit("quant is not an exact non-negative integer (") + pl.col("__raw") + pl.lit(")")
        )
        .when(pl.col("__amount").is_null() | pl.col("__amount").is_infinite())
        .then(pl.lit("non-numeric amount (") + pl.col("__raw") + pl.lit(")"))
        .when(pl.col("__amount") == 0)
        .then(pl.lit("zero-value transfer (no funds moved)"))
        .when(pl.col("__asset").is_null())
        .then(pl.lit("no token symbol and no contract address"))
        .when(~pl.col("__from").str.contains(_ADDRESS).fill_null(False))
        .then(pl.lit("bad from address (expected a Tron base58 address, T + 33 characters)"))
        .when(~pl.col("__to").str.contains(_ADDRESS).fill_null(False))
        .then(pl.lit("bad to address (expected a Tron base58 address, T + 33 characters)"))
        .when(pl.col("__from") == pl.col("__to"))
        .then(pl.lit("self-transfer (from equals to)"))
    )
    # one event is one transfer: the same transaction, from, to, amount and token again is a
    # repeated row (or element), not more money
    first_row = first_kept_row(chain, ["__tx", "__from", "__to", "__raw", "__contract", "__sym"])
    reason = (
        chain.when(first_row != pl.col(ROW))
        .then(
            pl.lit("repeated transfer (same transaction, from, to, amount and token as row ")
            + first_row.cast(pl.String)
            + pl.lit(")")
        )
        .otherwise(pl.lit(None, pl.String))
    )
    res = finish_reasons(
        df,
        reason,
        source,
        raw,
        [
            pl.col("__tx_id").alias("tx_id"),
            pl.col("__ts").alias("ts"),
            pl.col("__n").alias("seq"),
            (pl.lit("tron:") + pl.col("__from")).alias("src"),
            (pl.lit("tron:") + pl.col("__to")).alias("dst"),
            pl.col("__amount").alias("amount"),
            pl.col("__raw").alias("amount_raw"),
            pl.col("__asset").alias("asset"),
            pl.col("__amount").alias("value"),
            pl.lit(source, dtype=pl.String).alias("source"),
            pl.col(ROW).alias("source_row"),
            pl.col("__contract").alias("token_contract"),
            pl.col("__symbol").alias("token_symbol"),
            pl.col("__dec").alias("token_decimals"),
        ],
    )
    unchecked = res.transfers.filter(
        pl.col("token_contract").is_null()
        & pl.col("token_symbol").str.to_uppercase().is_in(list(_KNOWN_SYMBOL))
    )
    notes = (
        [
            f"{unchecked.height} transfer(s) of {', '.join(sorted(_KNOWN_SYMBOL))} without a "
            "contract address: the symbol is taken as written (a fake token of the same name "
            "cannot be told apart)"
        ]
        if unchecked.height
        else []
    )
    return replace(res, notes=notes)


# --- CSV --------------------------------------------------------------------------------------


def _sniff_csv(path: Path, head: Head) -> bool:
    cols = head.columns
    if not (
        _first(cols, TX)
        and _first(cols, FROM)
        and _first(cols, TO)
        and (_first(cols, QUANT) or _first(cols, AMOUNT))
    ):
        return False
    if any(c in cols for c in TRON_COLUMNS):
        return True
    body = head.text.split("\n", 1)[1] if "\n" in head.text else ""
    return _TRON_ADDRESS.search(body) is not None


def _read_csv(path: Path, source: str, options: dict, frame=None) -> ReadResult:
    from tracer.errors import MissingColumnsError

    df = read_table(path) if frame is None else frame
    original = [c for c in df.columns if c != ROW]
    found = {
        k: _first(original, names)
        for k, names in (
            ("__tx", TX),
            ("__time", TIME),
            ("__from", FROM),
            ("__to", TO),
            ("__quant", QUANT),
            ("__amount_text", AMOUNT),
            ("__decimals", DECIMALS),
            ("__symbol", SYMBOL),
            ("__contract", CONTRACT),
        )
    }
    missing = [
        names[0] + " (or " + "/".join(names[1:3]) + ")"
        for k, names in (("__tx", TX), ("__time", TIME), ("__from", FROM), ("__to", TO))
        if found[k] is None
    ]
    if found["__quant"] is None and found["__amount_text"] is None:
        missing.append("quant (or amount/Amount)")
    if found["__symbol"] is None and found["__contract"] is None:
        missing.append("tokenAbbr (or Token Symbol/contract_address)")
    if missing:
        raise MissingColumnsError(str(path), missing, original)
    status_cols = [c for c in (*RESULT, "Status") if c in original]

    def col(k: str) -> pl.Expr:
        return pl.col(found[k]) if found[k] else pl.lit(None, pl.String)

    # the first status column saying something other than success decides
    if status_cols:
        ok = ["SUCCESS", "CONFIRMED"]
        said = [text_col(c) for c in status_cols]
        status = pl.coalesce(
            [pl.when(~s.str.to_uppercase().is_in(ok)).then(s) for s in said] + [said[0]]
        )
    else:
        status = pl.lit(None, pl.String)
    std = df.with_columns(
        *(col(k).alias(k) for k in found),
        status.alias("__status"),
        (pl.col("revert") if "revert" in original else pl.lit(None, pl.String)).alias("__revert"),
    )
    raw = pl.struct([pl.col(c).cast(pl.String) for c in original]).struct.json_encode()
    return _transfers(std, source, raw)


# --- JSON -------------------------------------------------------------------------------------


def _sniff_json(path: Path, head: Head) -> bool:
    text = head.text.lstrip()
    return (
        text[:1] in ("{", "[")
        and '"transaction_id"' in text
        and '"from_address"' in text
        and ('"quant"' in text or '"token_transfers"' in text)
    )


def _read_json(path: Path, source: str, options: dict) -> ReadResult:
    doc = load_json(path, read_text(path))
    if isinstance(doc, dict):
        items = doc.get("token_transfers")
        if not isinstance(items, list):
            raise InputError(
                f"{path}: no token_transfers list in this JSON (keys: "
                f"{', '.join(list(doc)[:10])}). Expected Tronscan's transfers API "
                "answer or a list of transfers."
            )
    elif isinstance(doc, list):
        items = doc
    else:
        raise InputError(f"{path}: expected a JSON object or list of transfers.")

    def text(v) -> str | None:
        if v is None or isinstance(v, dict | list):
            return None
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    rows = {k: [] for k in (*_STD, "__json")}
    for item in items:
        e = item if isinstance(item, dict) else {}
        info = e.get("tokenInfo") if isinstance(e.get("tokenInfo"), dict) else {}
        rows["__tx"].append(text(e.get("transaction_id")))
        rows["__time"].append(text(e.get("block_ts")))
        rows["__from"].append(text(e.get("from_address")))
        rows["__to"].append(text(e.get("to_address")))
        rows["__quant"].append(text(e.get("quant")))
        rows["__amount_text"].append(None)
        rows["__decimals"].append(text(info.get("tokenDecimal")))
        rows["__symbol"].append(text(info.get("tokenAbbr")))
        rows["__contract"].append(text(e.get("contract_address") or info.get("tokenId")))
        said = [text(e.get(k)) for k in ("contractRet", "finalResult") if e.get(k) is not None]
        bad = [s for s in said if s.upper() != "SUCCESS"]
        rows["__status"].append((bad or said or [None])[0])
        rows["__revert"].append(text(e.get("revert")))
        rows["__json"].append(json.dumps(item, ensure_ascii=False, sort_keys=True))
    df = pl.DataFrame(rows, schema={k: pl.String for k in rows})
    df = df.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    not_object = [i + 1 for i, item in enumerate(items) if not isinstance(item, dict)]
    res = _transfers(df, source, pl.col("__json"))
    if not_object:  # elements that are not transfers at all: say so, not "empty id"
        res = ReadResult(
            transfers=res.transfers,
            read=res.read,
            has_value=False,
            rejects=res.rejects.with_columns(
                pl.when(pl.col("source_row").is_in(not_object))
                .then(pl.lit("not a JSON object (a transfer is an object)"))
                .otherwise(pl.col("reason"))
                .alias("reason")
            ),
        )
    return res


csv = Reader(
    "tronscan-csv",
    _sniff_csv,
    _read_csv,
    batched=True,
    doc="Tronscan TRC-20 transfers exported as CSV from the web page.",
)
json_ = Reader(
    "tronscan-json", _sniff_json, _read_json, doc="Tronscan TRC-20 transfers API answer (JSON)."
)
