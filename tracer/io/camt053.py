"""ISO 20022 camt.053 bank-to-customer statements (``camt.053.001.02`` and ``.08``; the other
``camt.053.001.xx`` versions share the elements read here and are read the same way).

Sniffed: an XML file whose document namespace is ``urn:iso:std:iso:20022:tech:xsd:camt.053.*``.
Parsed with lxml ``iterparse`` (one entry in memory at a time; no DTD, entities or network).
A file that is not well-formed XML raises one line naming the file.

Each ``Stmt`` is one account's statement. Its own account: ``Acct/Id/IBAN`` ->
``iban:<IBAN>`` (upper case, no spaces), or ``Acct/Id/Othr/Id`` -> ``bank:<servicer>:<id>``
with the servicer's ``Svcr/FinInstnId/BIC`` (``BICFI`` in .08) or ``Othr/Id``, else ``unknown``;
an ``Othr/Id`` that is a valid IBAN (``is_iban``: shape and mod-97 checksum) is ``iban:<IBAN>``,
so an account is one account whichever element its bank writes it in.

Each ``Ntry`` is one leg of a transfer. ``CdtDbtInd`` CRDT: money came in, src = the
counterparty, dst = the own account; DBIT: src = own, dst = counterparty. The counterparty is
``NtryDtls/TxDtls/RltdPties``: ``DbtrAcct`` for a credit, ``CdtrAcct`` for a debit (if that
is the own account, as in some reversals, the other side), its id built like the own
account's, the bank being the party's agent (``RltdAgts/DbtrAgt`` / ``CdtrAgt``). An entry
that names no counterparty account (cash, card, fees) goes to or comes from
``unknown:<tx_id>``, an account of its own, so that unrelated entries never share a pool.
Amount ``Amt`` (asset = its ``Ccy``); time: the booking date-time ``BookgDt/DtTm`` when
present (it keeps the order of a day's entries, which a value date loses), else ``ValDt/DtTm``,
``ValDt/Dt``, ``BookgDt/Dt`` (a date is midnight UTC); seq = entry number in the file.

tx_id: ``<own account>:<ref>``, ref = the entry's ``AcctSvcrRef``, else ``<Stmt/Id>:<NtryRef>``
(NtryRef is only unique within a statement), else the ``EndToEndId`` of its single
transaction, else ``<file>:<entry number>``. A batch entry (several ``TxDtls``, each with an
amount, adding up to the entry's) becomes one transfer per transaction, tx_id
``<...>:<k>``, and counts once per transaction in ``read``; any other entry counts once.

Extra columns: ``end_to_end_id``, ``counterparty_name``, ``remittance`` (``RmtInf/Ustrd``,
else the structured reference, else ``AddtlNtryInf``), ``camt_side`` (CRDT/DBIT),
``camt_reversal``, and for the ``post`` step ``camt_stmt``, ``camt_entry``,
``camt_pair_tx``, ``camt_pair_stmt``, ``camt_pair_entry``.

Rejected: entries whose status is not BOOK (``PDNG``, ``INFO``, ``FUTR``), without an amount,
currency, side or date, of a statement without an account, and a repeated reference.

Accounts: the opening balance (``Bal`` of type ``OPBD``, else ``PRCD``, the earliest per
account) becomes the account's ``opening_balance``, in the statement's currency on the
balance's date (``opening_asset``, ``opening_date``: ingest values it with the prices). A debit
(negative) opening balance is left empty, with a note.

``post``: when both banks' statements are loaded, the sender's DBIT leg and the receiver's
CRDT leg are one transfer. Legs pair on ``end_to_end_id`` (not empty, not NOTPROVIDED) with the
same amount, asset, src and dst; the others on amount, asset, day (of the time above), src
and dst; one to
one in time order. The DBIT leg is kept; the CRDT leg is removed and returned as a reject
(``second leg of transfer <kept tx_id> (both banks' statements loaded)``); so is a CRDT leg
already paired that comes back in another file (a statement exported twice). Then, on the days
that hold a paired transfer, ``seq`` is rebuilt so that every statement's own entry order is
kept (a topological order of both statements' sequences), so a receiver's onward payment never
replays before the money that funded it arrives.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl

from tracer.errors import printable
from tracer.io.base import Reader
from tracer.io.camt053_pairing import NO_E2E as _NO_E2E
from tracer.io.camt053_pairing import POST_ROWS, post
from tracer.io.camt053_xml import decimal as _decimal
from tracer.io.camt053_xml import is_iban, parse_statements
from tracer.io.common import MAX_AMOUNT, Head, ReadResult, parse_timestamps
from tracer.schema import REJECTS, TRANSFERS

__all__ = ["NAME", "READER", "sniff", "read", "post", "POST_ROWS", "is_iban"]

NAME = "camt053"

_SNIFF = re.compile(r"""xmlns(?::\w+)?\s*=\s*["']urn:iso:std:iso:20022:tech:xsd:camt\.053\.""")

EXTRA: dict[str, pl.DataType] = {
    "end_to_end_id": pl.String,
    "counterparty_name": pl.String,
    "remittance": pl.String,
    "camt_side": pl.String,
    "camt_reversal": pl.Boolean,
    "camt_stmt": pl.String,
    "camt_entry": pl.Int64,
    "camt_pair_tx": pl.String,
    "camt_pair_stmt": pl.String,
    "camt_pair_entry": pl.Int64,
}
_ACCOUNT_COLUMNS = (
    "account",
    "label",
    "name",
    "entity",
    "opening_balance",
    "source",
    "confidence",
    "opening_asset",
    "opening_date",
)


def sniff(path: Path, head: Head) -> bool:
    text = head.text.lstrip()
    return text.startswith("<") and bool(_SNIFF.search(text[:8192]))


# --- XML helpers ------------------------------------------------------------------------------


def _split(entry: dict) -> list[dict] | None:
    """The transactions of a batch entry, when each has an amount in the entry's currency and
    they add up to the entry's amount; else None."""
    txs = entry["txs"]
    if len(txs) < 2 or any(t["amount"] is None for t in txs):
        return None
    total = _decimal(entry["amount"])
    amounts = [_decimal(t["amount"][0]) for t in txs]
    if total is None or any(a is None for a in amounts):
        return None
    if any((t["amount"][1] or entry["ccy"]) != entry["ccy"] for t in txs):
        return None
    return txs if sum(amounts) == total else None


def _reason(entry: dict) -> str | None:
    status = entry["status"]
    if status is None:
        return "entry without a status (Sts)"
    if status.upper() != "BOOK":
        return f"entry status {printable(status, 20)} (not booked)"
    if entry["own"] is None:
        return "statement without an account id (Stmt/Acct/Id)"
    if entry["side"] not in ("CRDT", "DBIT"):
        return "entry without CdtDbtInd CRDT or DBIT"
    if entry["amount"] is None:
        return "entry without an amount"
    amount = _decimal(entry["amount"])
    if amount is None:
        return "non-numeric amount"
    if amount < 0:
        return "negative amount"
    if entry["ccy"] is None:
        return "amount without a currency (Ccy)"
    if entry["date"] is None:
        return "entry without a value or booking date"
    return None


def _rows(entries: list[dict], source: str) -> tuple[list[dict], list[dict], int]:
    """(transfer rows, reject rows, elements read)."""
    rows: list[dict] = []
    rejects: list[dict] = []
    seen: dict[str, int] = {}
    n_read = 0
    for number, entry in enumerate(entries, start=1):
        raw = {k: v for k, v in entry.items() if k != "txs"}
        raw["transactions"] = entry["txs"]
        raw_text = json.dumps(raw, ensure_ascii=False, sort_keys=True, default=str)
        parts = _split(entry)
        n_read += len(parts) if parts else 1
        why = _reason(entry)
        if why is not None:
            for _ in parts or [None]:
                rejects.append(
                    {"source": source, "source_row": number, "reason": why, "raw": raw_text}
                )
            continue
        own = entry["own"]
        single = entry["txs"][0] if len(entry["txs"]) == 1 else None
        e2e = single["e2e"] if single else None
        if entry["acct_ref"]:
            ref = entry["acct_ref"]
        elif entry["ntry_ref"]:
            ref = (
                f"{entry['stmt_id']}:{entry['ntry_ref']}" if entry["stmt_id"] else entry["ntry_ref"]
            )
        elif e2e and e2e.upper() != _NO_E2E:
            ref = e2e
        else:
            ref = f"{source}:{number}"
        base = f"{own}:{ref}"
        if base in seen:
            for _ in parts or [None]:
                rejects.append(
                    {
                        "source": source,
                        "source_row": number,
                        "raw": raw_text,
                        "reason": f"duplicate entry reference {printable(ref, 60)} "
                        f"(first at entry {seen[base]})",
                    }
                )
            continue
        seen[base] = number
        credit = entry["side"] == "CRDT"
        pieces = (
            [(f"{base}:{k}", t, t["amount"][0]) for k, t in enumerate(parts, start=1)]
            if parts
            else [(base, single, entry["amount"])]
        )
        for tx_id, tx, amount in pieces:
            tx = tx or {}
            first, second = ("debtor", "creditor") if credit else ("creditor", "debtor")
            counterparty, side_name = tx.get(first), tx.get(f"{first}_name")
            if counterparty == own:  # e.g. a reversal naming the parties of the original
                counterparty, side_name = tx.get(second), tx.get(f"{second}_name")
            if counterparty is None or counterparty == own:
                counterparty = f"unknown:{tx_id}"
            rows.append(
                {
                    "tx_id": tx_id,
                    "date": entry["date"],
                    "seq": number,
                    "src": counterparty if credit else own,
                    "dst": own if credit else counterparty,
                    "amount_raw": amount,
                    "asset": entry["ccy"],
                    "source": source,
                    "source_row": number,
                    "end_to_end_id": tx.get("e2e"),
                    "counterparty_name": side_name,
                    "remittance": tx.get("remittance") or entry["info"],
                    "camt_side": entry["side"],
                    "camt_reversal": entry["reversal"],
                    "camt_stmt": f"{source}#{entry['stmt']}",
                    "camt_entry": number,
                }
            )
    return rows, rejects, n_read


def _accounts(
    balances: list[dict], source: str, path: Path
) -> tuple[pl.DataFrame | None, list[str]]:
    notes: list[str] = []
    chosen: dict[str, dict] = {}
    for kind in ("OPBD", "PRCD"):
        for b in balances:
            if b["type"] != kind or b["account"] is None or b["account"] in chosen:
                continue
            same = [x for x in balances if x["type"] == kind and x["account"] == b["account"]]
            chosen[b["account"]] = min(same, key=lambda x: x["date"] or "")
    rows = []
    for account, b in chosen.items():
        amount = _decimal(b["amount"])
        if amount is None or abs(amount) > MAX_AMOUNT:
            notes.append(
                f"{path.name}: opening balance of {account} is not a number up to "
                f"{MAX_AMOUNT:.0e} ({printable(b['amount'], 30)}); left empty."
            )
            continue
        if b["side"] == "DBIT" and amount != 0:
            notes.append(
                f"{path.name}: opening balance of {account} is negative (DBIT "
                f"{b['amount']} {b['ccy'] or ''}); left empty."
            )
            continue
        rows.append(
            {
                "account": account,
                "label": None,
                "name": b["name"],
                "entity": None,
                "opening_balance": float(amount),
                "source": source,
                "confidence": None,
                "opening_asset": b["ccy"],
                "opening_date": (b["date"] or "")[:10] or None,
            }
        )
    if not rows:
        return None, notes
    schema = {
        "account": pl.String,
        "label": pl.String,
        "name": pl.String,
        "entity": pl.String,
        "opening_balance": pl.Float64,
        "source": pl.String,
        "confidence": pl.Float64,
        "opening_asset": pl.String,
        "opening_date": pl.String,
    }
    table = pl.DataFrame(rows, schema=schema).with_columns(
        pl.col("opening_date").str.to_date("%Y-%m-%d", strict=False)
    )
    return table.select(_ACCOUNT_COLUMNS), notes


def read(path: Path, source: str, options: dict) -> ReadResult:
    entries, balances = parse_statements(path)
    rows, reject_rows, n_read = _rows(entries, source)
    schema = {
        "tx_id": pl.String,
        "date": pl.String,
        "seq": pl.Int64,
        "src": pl.String,
        "dst": pl.String,
        "amount_raw": pl.String,
        "asset": pl.String,
        "source": pl.String,
        "source_row": pl.Int64,
        "end_to_end_id": pl.String,
        "counterparty_name": pl.String,
        "remittance": pl.String,
        "camt_side": pl.String,
        "camt_reversal": pl.Boolean,
        "camt_stmt": pl.String,
        "camt_entry": pl.Int64,
    }
    df = pl.DataFrame(rows, schema=schema)
    ts = parse_timestamps(df.get_column("date"))
    df = df.with_columns(
        ts.alias("ts"), pl.col("amount_raw").cast(pl.Float64, strict=False).alias("amount")
    )
    bad_date = df.filter(pl.col("ts").is_null())
    if bad_date.height:  # a date lxml read but no ISO form fits
        reject_rows.extend(
            {
                "source": source,
                "source_row": r["source_row"],
                "reason": "unparseable date (expected ISO 8601, e.g. 2025-03-01)",
                "raw": json.dumps({k: str(v) for k, v in r.items()}),
            }
            for r in bad_date.iter_rows(named=True)
        )
        df = df.filter(pl.col("ts").is_not_null())
    out = df.select(
        "tx_id",
        "ts",
        "seq",
        "src",
        "dst",
        "amount",
        "amount_raw",
        "asset",
        pl.col("amount").alias("value"),
        "source",
        "source_row",
        "end_to_end_id",
        "counterparty_name",
        "remittance",
        "camt_side",
        "camt_reversal",
        "camt_stmt",
        "camt_entry",
        pl.lit(None, pl.String).alias("camt_pair_tx"),
        pl.lit(None, pl.String).alias("camt_pair_stmt"),
        pl.lit(None, pl.Int64).alias("camt_pair_entry"),
    ).cast({**TRANSFERS, **EXTRA})
    rejects = pl.DataFrame(reject_rows, schema=REJECTS)
    accounts, notes = _accounts(balances, source, path)
    return ReadResult(
        transfers=out, rejects=rejects, read=n_read, has_value=False, accounts=accounts, notes=notes
    )


READER = Reader(
    NAME,
    sniff,
    read,
    post=post,
    post_rows=POST_ROWS,
    doc="ISO 20022 camt.053 bank statements (XML).",
)
