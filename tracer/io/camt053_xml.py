"""camt.053 statements parsed (lxml, streamed, no entities or network): their entries with
the parties' accounts and names, and their balances, for ``tracer.io.camt053`` to check and
turn into transfers."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from lxml import etree

from tracer.errors import InputError, printable

__all__ = ["parse_statements", "is_iban", "decimal"]

_NS_PREFIX = "urn:iso:std:iso:20022:tech:xsd:camt.053."


class _Paths:
    """``find`` paths in the document's namespace, built once per path."""

    def __init__(self, ns: str) -> None:
        self.ns = ns
        self._cache: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        p = self._cache.get(path)
        if p is None:
            p = "/".join(f"{{{self.ns}}}{step}" for step in path.split("/"))
            self._cache[path] = p
        return p


def _xml_text(el, p: _Paths, *paths: str) -> str | None:
    """The stripped text of the first of ``paths`` present under ``el``."""
    for path in paths:
        found = el.find(p(path))
        if found is not None and found.text is not None and found.text.strip():
            return found.text.strip()
    return None


def _bank_id(el, p: _Paths, agent: str) -> str | None:
    if el is None:
        return None
    return _xml_text(
        el,
        p,
        f"{agent}/FinInstnId/BICFI",
        f"{agent}/FinInstnId/BIC",
        f"{agent}/FinInstnId/Othr/Id",
        f"{agent}/FinInstnId/ClrSysMmbId/MmbId",
    )


def _account_id(acct, p: _Paths, bank: str | None) -> str | None:
    """``iban:<IBAN>`` or ``bank:<bank>:<id>`` of an account element (``Acct``, ``DbtrAcct``...)."""
    if acct is None:
        return None
    iban = _xml_text(acct, p, "Id/IBAN")
    if iban:
        return "iban:" + re.sub(r"\s+", "", iban).upper()
    other = _xml_text(acct, p, "Id/Othr/Id")
    if other:
        number = re.sub(r"\s+", "", other)
        if is_iban(number):  # a bank that writes the IBAN as a proprietary id
            return "iban:" + number.upper()
        issuer = _xml_text(acct, p, "Id/Othr/Issr")
        return f"bank:{(bank or issuer or 'unknown').upper()}:{number}"
    return None


_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")


def is_iban(text: str) -> bool:
    """``text`` (no spaces; any case) is an IBAN: country letters, check digits, 11 to 30
    letters or digits, and the ISO 13616 checksum (mod 97 of the rearranged number is 1)."""
    text = text.upper()
    if not _IBAN.fullmatch(text):
        return False
    digits = "".join(str(int(c, 36)) for c in text[4:] + text[:4])
    return int(digits) % 97 == 1


def _party_name(el, p: _Paths, party: str) -> str | None:
    return _xml_text(el, p, f"RltdPties/{party}/Nm", f"RltdPties/{party}/Pty/Nm")


def decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        d = Decimal(text)
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


# --- parsing ----------------------------------------------------------------------------------


def _tx_details(tx, p: _Paths) -> dict:
    amt = None
    for path in ("Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt"):
        found = tx.find(p(path))
        if found is not None and found.text and found.text.strip():
            amt = (found.text.strip(), found.get("Ccy"))
            break
    ustrd = [u.text.strip() for u in tx.iterfind(p("RmtInf/Ustrd")) if u.text and u.text.strip()]
    remittance = " ".join(ustrd) or _xml_text(tx, p, "RmtInf/Strd/CdtrRefInf/Ref")
    return {
        "e2e": _xml_text(tx, p, "Refs/EndToEndId"),
        "amount": amt,
        "debtor": _account_id(
            tx.find(p("RltdPties/DbtrAcct")), p, _bank_id(tx.find(p("RltdAgts")), p, "DbtrAgt")
        ),
        "creditor": _account_id(
            tx.find(p("RltdPties/CdtrAcct")), p, _bank_id(tx.find(p("RltdAgts")), p, "CdtrAgt")
        ),
        "debtor_name": _party_name(tx, p, "Dbtr"),
        "creditor_name": _party_name(tx, p, "Cdtr"),
        "remittance": remittance,
    }


def _entry(el, p: _Paths) -> dict:
    amt = el.find(p("Amt"))
    status = _xml_text(el, p, "Sts/Cd", "Sts/Prtry", "Sts")
    return {
        "amount": amt.text.strip() if amt is not None and amt.text else None,
        "ccy": (amt.get("Ccy") or "").strip() or None if amt is not None else None,
        "side": _xml_text(el, p, "CdtDbtInd"),
        "reversal": (_xml_text(el, p, "RvslInd") or "").lower() in ("true", "1"),
        "status": status,
        "date": _xml_text(el, p, "BookgDt/DtTm", "ValDt/DtTm", "ValDt/Dt", "BookgDt/Dt"),
        "acct_ref": _xml_text(el, p, "AcctSvcrRef"),
        "ntry_ref": _xml_text(el, p, "NtryRef"),
        "info": _xml_text(el, p, "AddtlNtryInf"),
        "txs": [_tx_details(tx, p) for tx in el.iterfind(p("NtryDtls/TxDtls"))],
    }


def parse_statements(path: Path) -> tuple[list[dict], list[dict]]:
    """(entries with their statement's account, balances) in document order."""
    try:
        with path.open("rb") as f:
            return _walk(path, f)
    except etree.XMLSyntaxError as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else "syntax error"
        raise InputError(
            f"{path}: not well-formed XML ({printable(msg, 160)}). Check the file, "
            "or export the statement again."
        ) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({printable(exc, 160)}).") from None


def _walk(path: Path, f) -> tuple[list[dict], list[dict]]:
    """``_parse`` over an open file."""
    entries: list[dict] = []
    balances: list[dict] = []
    p: _Paths | None = None
    stmt: dict = {}
    n_stmt = 0
    ctx = etree.iterparse(
        f,
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=True,
        remove_comments=True,
        remove_pis=True,
    )
    for event, el in ctx:
        if p is None:
            ns = etree.QName(el).namespace or ""
            if not ns.startswith(_NS_PREFIX):
                raise InputError(
                    f"{path}: not a camt.053 statement (namespace {printable(ns or 'none', 80)})."
                )
            p = _Paths(ns)
            tags = {name: p(name) for name in ("Stmt", "Acct", "Id", "Bal", "Ntry")}
        tag = el.tag
        if event == "start":
            if tag == tags["Stmt"]:
                n_stmt += 1
                stmt = {"n": n_stmt, "id": None, "account": None, "name": None}
            continue
        parent = el.getparent()
        in_stmt = parent is not None and parent.tag == tags["Stmt"]
        if tag == tags["Ntry"]:
            entries.append(
                {
                    **_entry(el, p),
                    "stmt": stmt.get("n"),
                    "stmt_id": stmt.get("id"),
                    "own": stmt.get("account"),
                }
            )
            el.clear()
            while el.getprevious() is not None:
                del parent[0]
        elif in_stmt and tag == tags["Acct"]:
            bank = _bank_id(el, p, "Svcr")
            stmt["account"] = _account_id(el, p, bank)
            stmt["name"] = _xml_text(el, p, "Ownr/Nm", "Nm")
        elif in_stmt and tag == tags["Id"]:
            stmt["id"] = (el.text or "").strip() or None
        elif in_stmt and tag == tags["Bal"]:
            amt = el.find(p("Amt"))
            balances.append(
                {
                    "account": stmt.get("account"),
                    "name": stmt.get("name"),
                    "type": _xml_text(el, p, "Tp/CdOrPrtry/Cd", "Tp/CdOrPrtry/Prtry"),
                    "amount": amt.text.strip() if amt is not None and amt.text else None,
                    "ccy": amt.get("Ccy") if amt is not None else None,
                    "side": _xml_text(el, p, "CdtDbtInd"),
                    "date": _xml_text(el, p, "Dt/Dt", "Dt/DtTm"),
                }
            )
        elif tag == tags["Stmt"]:
            el.clear()
    if p is None:
        raise InputError(f"{path}: empty file, not a camt.053 statement.")
    return entries, balances


# --- read -------------------------------------------------------------------------------------
