"""The bank files of a generated world, as lines: the AMLworld transactions of every bank
transfer that does not touch the camt bank (``amlworld_line``), and the camt bank's daily
statements in camt.053.001.08, an entry per line, a file per month (``camt_lines``, with the
document's opening and closing bytes, ``camt_head`` and ``CAMT_TAIL``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tracer.simulate.params import CAMT_BANK
from tracer.simulate.text import Line
from tracer.simulate.vocab import DAY0

if TYPE_CHECKING:
    from tracer.simulate.writers import _Tables

__all__ = ["amlworld_line", "camt_lines", "camt_head", "CAMT_TAIL"]

_CAMT_NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
CAMT_TAIL = b"</BkToCstmrStmt></Document>\n"


def amlworld_line(tb: _Tables, t: dict, rows: np.ndarray) -> Line:
    """AMLworld lines of ``rows`` (most of a chunk: the columns are the chunk's)."""
    src, dst, minor = t["src"], t["dst"], t["minor"]
    wire = minor >= 1_000_000
    return (
        Line(tb.pool, rows, guess=96)
        .text(tb.day(t["ts"]), base=tb.aml_day)
        .text(tb.clock(t["ts"], 60), base=tb.aml_minute)
        .lit(",")
        .text(tb.bank_code[src])
        .lit(",")
        .pad(tb.number[src], 10)
        .lit(",")
        .text(tb.bank_code[dst])
        .lit(",")
        .pad(tb.number[dst], 10)
        .lit(",")
        .dec(minor, 2)
        .lit(",")
        .text(t["asset"], base=tb.aml_ccy)
        .lit(",")
        .dec(minor, 2)
        .lit(",")
        .text(t["asset"], base=tb.aml_ccy)
        .lit(",Wire", when=wire)
        .lit(",ACH", when=~wire)
        .lit(",0")
    )


def camt_lines(tb: _Tables, t: dict) -> list[tuple[str, int, Line, int, int]]:
    """One statement per account per day, a file per month: (month, rows, line, lo, hi)
    for each month's rows. An entry's line opens the statement on the first entry of an
    (account, day) and closes it on the last."""
    if t["uid"].shape[0] == 0:
        return []
    debit = tb.at_camt[t["src"]]
    own = np.where(debit, t["src"], t["dst"])
    o = np.lexsort((tb.number[own], t["day"]))  # stable: (day, account, then file order)
    t = {k: v[o] for k, v in t.items()}
    debit, own, day = debit[o], own[o], t["day"]
    change = (day[1:] != day[:-1]) | (own[1:] != own[:-1])
    first, last = np.r_[True, change], np.r_[change, True]
    owner = tb.number[own]
    other = np.where(debit, t["dst"], t["src"])
    party, party_bank = tb.number[other], tb.bank_code[other]
    role = (~debit).astype(np.int64)
    when = (day, t["second"])
    line = (
        Line(tb.pool, day.shape[0], guess=800)
        .lit("<Stmt><Id>", when=first)
        .text(day, base=tb.compact_date, when=first)
        .lit("-", when=first)
        .pad(owner, 10, when=first)
        .lit("</Id><CreDtTm>", when=first)
        .text(day, base=tb.date + 1, when=first)
        .lit("T02:00:00Z</CreDtTm><FrToDt><FrDtTm>", when=first)
        .text(day, base=tb.date, when=first)
        .lit("T00:00:00Z</FrDtTm><ToDtTm>", when=first)
        .text(day, base=tb.date, when=first)
        .lit("T23:59:59Z</ToDtTm></FrToDt><Acct><Id><Othr><Id>", when=first)
        .pad(owner, 10, when=first)
        .lit(
            f"</Id></Othr></Id><Svcr><FinInstnId><BICFI>{CAMT_BANK}</BICFI>"
            "</FinInstnId></Svcr></Acct>",
            when=first,
        )
        .lit('<Ntry><Amt Ccy="')
        .text(t["asset"], base=tb.asset)
        .lit('">')
        .dec(t["minor"], 2)
        .lit("</Amt><CdtDbtInd>")
        .lit("DBIT", when=debit)
        .lit("CRDT", when=~debit)
        .lit("</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><DtTm>")
        .text(when[0], base=tb.iso_day)
        .text(when[1], base=tb.iso_second)
        .lit("</DtTm></BookgDt><ValDt><DtTm>")
        .text(when[0], base=tb.iso_day)
        .text(when[1], base=tb.iso_second)
        .lit("</DtTm></ValDt><AcctSvcrRef>E")
        .pad(t["order"] % 10**15, 15)
        .lit(
            "</AcctSvcrRef><BkTxCd><Prtry><Cd>TRF</Cd></Prtry></BkTxCd><NtryDtls>"
            "<TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs><RltdPties><"
        )
        .text(role, base=tb.role)
        .lit("Acct><Id><Othr><Id>")
        .pad(party, 10)
        .lit("</Id></Othr></Id></")
        .text(role, base=tb.role)
        .lit("Acct></RltdPties><RltdAgts><")
        .text(role, base=tb.role)
        .lit("Agt><FinInstnId><BICFI>")
        .text(party_bank)
        .lit("</BICFI></FinInstnId></")
        .text(role, base=tb.role)
        .lit("Agt></RltdAgts></TxDtls></NtryDtls></Ntry>")
        .lit("</Stmt>", when=last)
    )
    month = tb.month[day - DAY0]
    bounds = np.r_[0, np.flatnonzero(month[1:] != month[:-1]) + 1, month.shape[0]]
    return [
        (
            f"{month[lo] // 12:04d}-{month[lo] % 12 + 1:02d}",
            int(hi - lo),
            line,
            int(lo),
            int(hi),
        )
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
    ]


def camt_head(month: str) -> bytes:
    """The opening of a month's camt.053 file, up to its first statement."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{_CAMT_NS}">'
        f"<BkToCstmrStmt><GrpHdr><MsgId>{CAMT_BANK}-{month}</MsgId>"
        f"<CreDtTm>{month}-01T00:00:00Z</CreDtTm></GrpHdr>\n"
    ).encode()
