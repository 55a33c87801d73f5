"""ISO 20022 camt.053 statements (versions .02 and .08), on statements written by hand.

The two-bank case, all on 2025-03-03 (value dates), EUR:

    Bank A (camt.053.001.02, Commerzbank), the victim V's account DE89 3704 0044 0532 0130 00,
    opening balance 1000:
      1  CRDT 2000  from the employer              (salary)
      2  DBIT  100  to the landlord
      3  DBIT  300  to M, EndToEndId SCAM-1        (the victim's payment: the seed)
      4  DBIT  200  to M, EndToEndId NOTPROVIDED
      5  PDNG   50  pending: rejected
    Bank B (camt.053.001.08, Barclays), the mule M's account GB33BUKB20201555555555,
    opening balance 0:
      1  CRDT  300  from V, EndToEndId SCAM-1      (second leg of A3)
      2  DBIT  280  to an exchange account (Othr id EXCH-001 at EXCHGB2LXXX)
      3  CRDT  200  from V, no EndToEndId          (second leg of A4, matched on amount/date/accounts)

With both loaded, A3/B1 and A4/B2 are one transfer each (the DBIT legs are kept). The merged
order must keep both statements' own order: M pays the exchange (B2) after the 300 arrives (B1)
and before the 200 (B3), though A3 is A's 3rd entry and B2 is B's 2nd. Then, by hand (fifo,
seed A3): M's pool [taint 300]; B2 takes taint 280 to the exchange; A4 adds clean 200.
Endpoints: exchange 280, M 20. (With the entry numbers alone B2 would replay before the seed:
a shortfall of 280 on M, and all 300 resting at M.)
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import polars as pl
import pytest
from conftest import ok, run  # noqa: E402

from tracer import api, io
from tracer.errors import InputError
from tracer.ingest import ingest
from tracer.io import camt053
from tracer.workspace import Workspace

UTC = dt.UTC
V = "iban:DE89370400440532013000"
M = "iban:GB33BUKB20201555555555"
X = "bank:EXCHGB2LXXX:EXCH-001"
SEED = f"{V}:A-0003"

BANK_A = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
          xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <BkToCstmrStmt>
    <GrpHdr>
      <MsgId>COBA-20250304-000001</MsgId>
      <CreDtTm>2025-03-04T06:00:00</CreDtTm>
    </GrpHdr>
    <Stmt>
      <Id>STMT-20250303-0062</Id>
      <ElctrncSeqNb>62</ElctrncSeqNb>
      <CreDtTm>2025-03-04T06:00:00</CreDtTm>
      <FrToDt>
        <FrDtTm>2025-03-03T00:00:00</FrDtTm>
        <ToDtTm>2025-03-03T23:59:59</ToDtTm>
      </FrToDt>
      <Acct>
        <Id>
          <IBAN>DE89 3704 0044 0532 0130 00</IBAN>
        </Id>
        <Ccy>EUR</Ccy>
        <Ownr>
          <Nm>Vera Victim</Nm>
        </Ownr>
        <Svcr>
          <FinInstnId>
            <BIC>COBADEFFXXX</BIC>
          </FinInstnId>
        </Svcr>
      </Acct>
      <Bal>
        <Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp>
        <Amt Ccy="EUR">1000.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Dt><Dt>2025-03-03</Dt></Dt>
      </Bal>
      <Bal>
        <Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp>
        <Amt Ccy="EUR">2400.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Dt><Dt>2025-03-03</Dt></Dt>
      </Bal>
      <TxsSummry>
        <TtlNtries><NbOfNtries>4</NbOfNtries></TtlNtries>
      </TxsSummry>
      <Ntry>
        <NtryRef>1</NtryRef>
        <Amt Ccy="EUR">2000.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>2025-03-03</Dt></BookgDt>
        <ValDt><Dt>2025-03-03</Dt></ValDt>
        <AcctSvcrRef>A-0001</AcctSvcrRef>
        <BkTxCd>
          <Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn>
        </BkTxCd>
        <NtryDtls>
          <TxDtls>
            <Refs><EndToEndId>SALARY-2025-03</EndToEndId></Refs>
            <AmtDtls><TxAmt><Amt Ccy="EUR">2000.00</Amt></TxAmt></AmtDtls>
            <RltdPties>
              <Dbtr><Nm>Employer GmbH</Nm></Dbtr>
              <DbtrAcct><Id><IBAN>DE44500105175407324931</IBAN></Id></DbtrAcct>
            </RltdPties>
            <RmtInf><Ustrd>Salary March</Ustrd></RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <NtryRef>2</NtryRef>
        <Amt Ccy="EUR">100.00</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>2025-03-03</Dt></BookgDt>
        <ValDt><Dt>2025-03-03</Dt></ValDt>
        <AcctSvcrRef>A-0002</AcctSvcrRef>
        <NtryDtls>
          <TxDtls>
            <Refs><EndToEndId>RENT-03</EndToEndId></Refs>
            <RltdPties>
              <Cdtr><Nm>Landlord</Nm></Cdtr>
              <CdtrAcct><Id><IBAN>DE02120300000000202051</IBAN></Id></CdtrAcct>
            </RltdPties>
          </TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <NtryRef>3</NtryRef>
        <Amt Ccy="EUR">300.00</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>2025-03-03</Dt></BookgDt>
        <ValDt><Dt>2025-03-03</Dt></ValDt>
        <AcctSvcrRef>A-0003</AcctSvcrRef>
        <NtryDtls>
          <TxDtls>
            <Refs>
              <MsgId>PAIN-778</MsgId>
              <EndToEndId>SCAM-1</EndToEndId>
            </Refs>
            <AmtDtls><InstdAmt><Amt Ccy="EUR">300.00</Amt></InstdAmt></AmtDtls>
            <RltdPties>
              <Cdtr><Nm>Max Mule</Nm></Cdtr>
              <CdtrAcct><Id><IBAN>GB33 BUKB 2020 1555 5555 55</IBAN></Id></CdtrAcct>
            </RltdPties>
            <RltdAgts>
              <CdtrAgt><FinInstnId><BIC>BUKBGB22</BIC></FinInstnId></CdtrAgt>
            </RltdAgts>
            <RmtInf><Ustrd>Investment</Ustrd><Ustrd>plan gold</Ustrd></RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <NtryRef>4</NtryRef>
        <Amt Ccy="EUR">200.00</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>2025-03-03</Dt></BookgDt>
        <ValDt><Dt>2025-03-03</Dt></ValDt>
        <AcctSvcrRef>A-0004</AcctSvcrRef>
        <NtryDtls>
          <TxDtls>
            <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
            <RltdPties>
              <Cdtr><Nm>Max Mule</Nm></Cdtr>
              <CdtrAcct><Id><IBAN>GB33BUKB20201555555555</IBAN></Id></CdtrAcct>
            </RltdPties>
          </TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <NtryRef>5</NtryRef>
        <Amt Ccy="EUR">50.00</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts>PDNG</Sts>
        <BookgDt><Dt>2025-03-03</Dt></BookgDt>
        <ValDt><Dt>2025-03-04</Dt></ValDt>
        <AcctSvcrRef>A-0005</AcctSvcrRef>
      </Ntry>
    </Stmt>
  </BkToCstmrStmt>
</Document>
"""

BANK_B = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
    <GrpHdr>
      <MsgId>BARC-STMT-20250304-17</MsgId>
      <CreDtTm>2025-03-04T05:30:00+00:00</CreDtTm>
    </GrpHdr>
    <Stmt>
      <Id>BARC-20250303-M</Id>
      <ElctrncSeqNb>17</ElctrncSeqNb>
      <CreDtTm>2025-03-04T05:30:00+00:00</CreDtTm>
      <Acct>
        <Id><IBAN>GB33BUKB20201555555555</IBAN></Id>
        <Ccy>EUR</Ccy>
        <Ownr><Nm>Max Mule</Nm></Ownr>
        <Svcr><FinInstnId><BICFI>BUKBGB22</BICFI></FinInstnId></Svcr>
      </Acct>
      <Bal>
        <Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp>
        <Amt Ccy="EUR">0.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Dt><Dt>2025-03-03</Dt></Dt>
      </Bal>
      <Ntry>
        <NtryRef>B1</NtryRef>
        <Amt Ccy="EUR">300.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2025-03-03</Dt></BookgDt>
        <ValDt><Dt>2025-03-03</Dt></ValDt>
        <AcctSvcrRef>B-77</AcctSvcrRef>
        <BkTxCd><Prtry><Cd>CREDIT TRANSFER</Cd></Prtry></BkTxCd>
        <NtryDtls>
          <TxDtls>
            <Refs><EndToEndId>SCAM-1</EndToEndId></Refs>
            <Amt Ccy="EUR">300.00</Amt>
            <CdtDbtInd>CRDT</CdtDbtInd>
            <RltdPties>
              <Dbtr><Pty><Nm>Vera Victim</Nm></Pty></Dbtr>
              <DbtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></DbtrAcct>
            </RltdPties>
            <RltdAgts>
              <DbtrAgt><FinInstnId><BICFI>COBADEFFXXX</BICFI></FinInstnId></DbtrAgt>
            </RltdAgts>
            <RmtInf><Ustrd>Investment plan gold</Ustrd></RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <NtryRef>B2</NtryRef>
        <Amt Ccy="EUR">280.00</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2025-03-03</Dt></BookgDt>
        <ValDt><Dt>2025-03-03</Dt></ValDt>
        <AcctSvcrRef>B-78</AcctSvcrRef>
        <NtryDtls>
          <TxDtls>
            <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
            <Amt Ccy="EUR">280.00</Amt>
            <CdtDbtInd>DBIT</CdtDbtInd>
            <RltdPties>
              <Cdtr><Pty><Nm>Exchange Ltd</Nm></Pty></Cdtr>
              <CdtrAcct><Id><Othr><Id>EXCH-001</Id></Othr></Id></CdtrAcct>
            </RltdPties>
            <RltdAgts>
              <CdtrAgt><FinInstnId><BICFI>EXCHGB2LXXX</BICFI></FinInstnId></CdtrAgt>
            </RltdAgts>
          </TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <NtryRef>B3</NtryRef>
        <Amt Ccy="EUR">200.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2025-03-03</Dt></BookgDt>
        <ValDt><Dt>2025-03-03</Dt></ValDt>
        <AcctSvcrRef>B-79</AcctSvcrRef>
        <NtryDtls>
          <TxDtls>
            <Amt Ccy="EUR">200.00</Amt>
            <CdtDbtInd>CRDT</CdtDbtInd>
            <RltdPties>
              <Dbtr><Pty><Nm>V. VICTIM</Nm></Pty></Dbtr>
              <DbtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></DbtrAcct>
            </RltdPties>
          </TxDtls>
        </NtryDtls>
      </Ntry>
    </Stmt>
  </BkToCstmrStmt>
</Document>
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def banks(tmp_path) -> tuple[Path, Path]:
    return write(tmp_path / "bank_a.xml", BANK_A), write(tmp_path / "bank_b.xml", BANK_B)


def statement(
    version: str,
    iban: str,
    entries: list[dict],
    opening: tuple[str, str] | None = None,
    stmt_id: str = "S1",
) -> str:
    """A camt.053 document in the schema of ``version`` ("02" or "08"), one statement.
    entries: dict(amount, side, date, ref, e2e, cp_iban, cp_name, status, ntry_ref)."""
    v8 = version == "08"
    bic = "BICFI" if v8 else "BIC"

    def party(role: str, name: str | None) -> str:
        if name is None:
            return ""
        return (
            f"<{role}><Pty><Nm>{name}</Nm></Pty></{role}>"
            if v8
            else f"<{role}><Nm>{name}</Nm></{role}>"
        )

    parts = []
    for e in entries:
        credit = e["side"] == "CRDT"
        role = "Dbtr" if credit else "Cdtr"
        status = e.get("status", "BOOK")
        sts = f"<Sts><Cd>{status}</Cd></Sts>" if v8 else f"<Sts>{status}</Sts>"
        refs = f"<Refs><EndToEndId>{e['e2e']}</EndToEndId></Refs>" if e.get("e2e") else ""
        amt = f'<Amt Ccy="EUR">{e["amount"]}</Amt><CdtDbtInd>{e["side"]}</CdtDbtInd>' if v8 else ""
        acct = (
            f"<{role}Acct><Id><IBAN>{e['cp_iban']}</IBAN></Id></{role}Acct>"
            if e.get("cp_iban")
            else ""
        )
        details = (
            f"<NtryDtls><TxDtls>{refs}{amt}<RltdPties>{party(role, e.get('cp_name'))}"
            f"{acct}</RltdPties></TxDtls></NtryDtls>"
        )
        ntry_ref = f"<NtryRef>{e['ntry_ref']}</NtryRef>" if e.get("ntry_ref") else ""
        ref = f"<AcctSvcrRef>{e['ref']}</AcctSvcrRef>" if e.get("ref") else ""
        parts.append(
            f'<Ntry>{ntry_ref}<Amt Ccy="EUR">{e["amount"]}</Amt><CdtDbtInd>{e["side"]}</CdtDbtInd>'
            f"{sts}<BookgDt><Dt>{e['date']}</Dt></BookgDt><ValDt><Dt>{e['date']}</Dt></ValDt>"
            f"{ref}{details}</Ntry>"
        )
    bal = ""
    if opening:
        bal = (
            f'<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{opening[0]}'
            f"</Amt><CdtDbtInd>{opening[1]}</CdtDbtInd><Dt><Dt>2025-03-01</Dt></Dt></Bal>"
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:'
        f'tech:xsd:camt.053.001.{version}"><BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId>'
        f"<CreDtTm>2025-03-05T00:00:00</CreDtTm></GrpHdr><Stmt><Id>{stmt_id}</Id>"
        f"<CreDtTm>2025-03-05T00:00:00</CreDtTm><Acct><Id><IBAN>{iban}</IBAN></Id>"
        f"<Svcr><FinInstnId><{bic}>TESTDEFF</{bic}></FinInstnId></Svcr></Acct>{bal}"
        f"{''.join(parts)}</Stmt></BkToCstmrStmt></Document>\n"
    )


def transfers(ws: Path) -> pl.DataFrame:
    return pl.read_parquet(ws / "transfers.parquet")


def assert_counts_reconcile(ws: Path) -> None:
    w = Workspace.open(ws)
    rejects = dict(w.table("rejects").group_by("source").len().iter_rows())
    rows = dict(w.table("transfers").group_by("source").len().iter_rows())
    for item in w.manifest["inputs"]:
        assert item["read"] == item["ingested"] + item["rejected"], item
        assert rejects.get(item["name"], 0) == item["rejected"], item
        assert rows.get(item["name"], 0) == item["ingested"], item


# --- reading ----------------------------------------------------------------------------------


def test_sniff(banks, tmp_path):
    a, b = banks
    assert io.detect(a) == "camt053"
    assert io.detect(b) == "camt053"
    pain = write(
        tmp_path / "pain.xml",
        '<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:'
        'iso:20022:tech:xsd:pain.001.001.03"><CstmrCdtTrfInitn/></Document>\n',
    )
    with pytest.raises(InputError, match="format not recognised"):
        io.detect(pain)
    camt052 = write(tmp_path / "c52.xml", BANK_B.replace("camt.053.001.08", "camt.052.001.08"))
    with pytest.raises(InputError):
        io.detect(camt052)
    with pytest.raises(InputError, match="not a camt.053 statement"):
        camt053.read(pain, "pain.xml", {})


def test_read_version_02(banks):
    a, _ = banks
    res = camt053.read(a, "bank_a.xml", {})
    assert res.read == 5 == res.transfers.height + res.rejects.height
    t = {r["tx_id"]: r for r in res.transfers.iter_rows(named=True)}
    assert list(t) == [f"{V}:A-0001", f"{V}:A-0002", f"{V}:A-0003", f"{V}:A-0004"]
    salary = t[f"{V}:A-0001"]
    assert (
        salary["src"],
        salary["dst"],
        salary["amount"],
        salary["amount_raw"],
        salary["asset"],
    ) == ("iban:DE44500105175407324931", V, 2000.0, "2000.00", "EUR")
    assert (
        salary["counterparty_name"],
        salary["remittance"],
        salary["end_to_end_id"],
        salary["camt_side"],
    ) == ("Employer GmbH", "Salary March", "SALARY-2025-03", "CRDT")
    assert salary["ts"] == dt.datetime(2025, 3, 3, tzinfo=UTC)
    seed = t[SEED]
    assert (seed["src"], seed["dst"], seed["amount"], seed["seq"], seed["source_row"]) == (
        V,
        M,
        300.0,
        3,
        3,
    )
    assert (seed["counterparty_name"], seed["remittance"], seed["end_to_end_id"]) == (
        "Max Mule",
        "Investment plan gold",
        "SCAM-1",
    )
    rej = res.rejects.row(0, named=True)
    assert (rej["source"], rej["source_row"], rej["reason"]) == (
        "bank_a.xml",
        5,
        "entry status PDNG (not booked)",
    )
    assert json.loads(rej["raw"])["acct_ref"] == "A-0005"
    acc = res.accounts.row(0, named=True)
    assert (acc["account"], acc["opening_balance"], acc["name"]) == (V, 1000.0, "Vera Victim")
    assert res.has_value is False


def test_read_version_08(banks):
    _, b = banks
    res = camt053.read(b, "bank_b.xml", {})
    assert res.read == 3 and res.rejects.height == 0
    rows = res.transfers.select(
        "tx_id", "src", "dst", "amount", "counterparty_name", "end_to_end_id"
    ).rows()
    assert rows == [
        (f"{M}:B-77", V, M, 300.0, "Vera Victim", "SCAM-1"),
        (f"{M}:B-78", M, X, 280.0, "Exchange Ltd", "NOTPROVIDED"),
        (f"{M}:B-79", V, M, 200.0, "V. VICTIM", None),
    ]
    assert res.accounts.select("account", "opening_balance").row(0) == (M, 0.0)


def test_prefixed_namespace_other_account_id_and_times(tmp_path):
    """A namespace prefix (``<c:Document xmlns:c=...>``), an own account without IBAN
    (``Othr/Id`` at the servicer's BIC) and a value date-time with an offset."""
    doc = BANK_B.replace(
        "<Id><IBAN>GB33BUKB20201555555555</IBAN></Id>\n        <Ccy>",
        "<Id><Othr><Id>2020 1555 5555</Id></Othr></Id>\n        <Ccy>",
    )
    doc = doc.replace(
        "<ValDt><Dt>2025-03-03</Dt></ValDt>\n        <AcctSvcrRef>B-78",
        "<ValDt><DtTm>2025-03-03T10:30:00+07:00</DtTm></ValDt>\n        <AcctSvcrRef>B-78",
    )
    doc = re.sub(r"<(/?)([A-Za-z]\w*)", r"<\1c:\2", doc).replace("xmlns=", "xmlns:c=")
    f = write(tmp_path / "prefixed.xml", doc)
    assert io.detect(f) == "camt053"
    res = camt053.read(f, "prefixed.xml", {})
    own = "bank:BUKBGB22:202015555555"
    rows = res.transfers.select("tx_id", "ts", "src", "dst").rows()
    assert rows[0] == (f"{own}:B-77", dt.datetime(2025, 3, 3, tzinfo=UTC), V, own)
    assert rows[1] == (f"{own}:B-78", dt.datetime(2025, 3, 3, 3, 30, tzinfo=UTC), own, X)


def test_broken_xml_one_line(tmp_path, banks):
    broken = write(tmp_path / "broken.xml", BANK_B[: len(BANK_B) // 2])
    assert io.detect(broken) == "camt053"
    with pytest.raises(InputError) as exc:
        camt053.read(broken, "broken.xml", {})
    msg = str(exc.value)
    assert str(broken) in msg and "not well-formed XML" in msg and "\n" not in msg
    result = run("ingest", broken, "-w", tmp_path / "ws")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "broken.xml" in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "ws" / "manifest.json").exists()


def test_rejects_references_and_balances(tmp_path):
    entries = [
        dict(
            amount="10.00",
            side="CRDT",
            date="2025-03-02",
            ref="R1",
            cp_iban="DE02120300000000202051",
        ),
        dict(
            amount="11.00",
            side="CRDT",
            date="2025-03-02",
            ref="R1",
            cp_iban="DE02120300000000202051",
        ),
        dict(amount="12.00", side="DBIT", date="2025-03-02", ntry_ref="7"),  # no counterparty
        dict(amount="13.00", side="DBIT", date="2025-03-02", status="INFO", ref="R3"),
        dict(amount="abc", side="DBIT", date="2025-03-02", ref="R4"),
        dict(
            amount="14.00",
            side="DBIT",
            date="2025-03-02",
            e2e="E-14",
            cp_iban="FR1420041010050500013M02606",
        ),
        dict(amount="15.00", side="DBIT", date="2025-03-02"),
    ]
    f = write(
        tmp_path / "s.xml",
        statement(
            "08", "DE75512108001245126199", entries, opening=("500.00", "DBIT"), stmt_id="ST-9"
        ),
    )
    res = camt053.read(f, "s.xml", {})
    own = "iban:DE75512108001245126199"
    assert res.read == 7 == res.transfers.height + res.rejects.height
    assert dict(res.rejects.select("source_row", "reason").iter_rows()) == {
        2: "duplicate entry reference R1 (first at entry 1)",
        4: "entry status INFO (not booked)",
        5: "non-numeric amount",
    }
    ids = dict(res.transfers.select("source_row", "tx_id").iter_rows())
    assert ids == {1: f"{own}:R1", 3: f"{own}:ST-9:7", 6: f"{own}:E-14", 7: f"{own}:s.xml:7"}
    # no counterparty account: an account of its own, never shared
    dst = dict(res.transfers.select("source_row", "dst").iter_rows())
    assert dst[3] == f"unknown:{own}:ST-9:7" and dst[7] == f"unknown:{own}:s.xml:7"
    # a debit opening balance is negative: left empty, with a note
    assert res.accounts is None
    assert len(res.notes) == 1 and "negative" in res.notes[0] and own in res.notes[0]


def test_batch_entry_split(tmp_path):
    doc = statement(
        "02",
        "DE75512108001245126199",
        [dict(amount="30.00", side="DBIT", date="2025-03-02", ref="BATCH")],
    )
    batch = (
        "<NtryDtls><Btch><NbOfTxs>2</NbOfTxs></Btch>"
        + "".join(
            f"<TxDtls><Refs><EndToEndId>P{k}</EndToEndId></Refs><AmtDtls><TxAmt>"
            f'<Amt Ccy="EUR">{a}</Amt></TxAmt></AmtDtls><RltdPties><Cdtr><Nm>C{k}</Nm>'
            f"</Cdtr><CdtrAcct><Id><IBAN>{iban}</IBAN></Id></CdtrAcct></RltdPties>"
            f"</TxDtls>"
            for k, a, iban in (
                (1, "10.00", "DE02120300000000202051"),
                (2, "20.00", "FR1420041010050500013M02606"),
            )
        )
        + "</NtryDtls>"
    )
    start = doc.index("<NtryDtls>")
    doc = doc[:start] + batch + doc[doc.index("</NtryDtls>") + len("</NtryDtls>") :]
    res = camt053.read(write(tmp_path / "b.xml", doc), "b.xml", {})
    own = "iban:DE75512108001245126199"
    assert res.read == 2 and res.rejects.height == 0
    assert res.transfers.select("tx_id", "dst", "amount", "end_to_end_id").rows() == [
        (f"{own}:BATCH:1", "iban:DE02120300000000202051", 10.0, "P1"),
        (f"{own}:BATCH:2", "iban:FR1420041010050500013M02606", 20.0, "P2"),
    ]


# --- two banks: one transfer per pair ---------------------------------------------------------


def check_two_banks(ws: Path) -> None:
    t = transfers(ws)
    ids = set(t.get_column("tx_id").to_list())
    # the DBIT legs are kept, the CRDT legs at bank B are gone
    assert {SEED, f"{V}:A-0004", f"{M}:B-78"} <= ids
    assert not ids & {f"{M}:B-77", f"{M}:B-79"}
    assert t.height == 4 + 3 - 2
    between = t.filter((pl.col("src") == V) & (pl.col("dst") == M))
    assert sorted(between.get_column("amount").to_list()) == [200.0, 300.0]  # never twice
    rej = pl.read_parquet(ws / "rejects.parquet")
    second = dict(
        rej.filter(pl.col("source") == "bank_b.xml").select("source_row", "reason").iter_rows()
    )
    assert second == {
        1: f"second leg of transfer {SEED} (both banks' statements loaded)",
        3: f"second leg of transfer {V}:A-0004 (both banks' statements loaded)",
    }
    kept = t.filter(pl.col("tx_id") == SEED).row(0, named=True)
    assert kept["camt_pair_tx"] == f"{M}:B-77"
    # replay order on 2025-03-03 keeps both statements' order
    order = t.sort("ts", "seq", "tx_id").get_column("tx_id").to_list()
    assert order == [f"{V}:A-0001", f"{V}:A-0002", SEED, f"{M}:B-78", f"{V}:A-0004"]
    assert_counts_reconcile(ws)
    man = json.loads((ws / "manifest.json").read_text())
    counts = {i["name"]: (i["read"], i["ingested"], i["rejected"]) for i in man["inputs"]}
    assert counts == {"bank_a.xml": (5, 4, 1), "bank_b.xml": (3, 1, 2)}
    # opening balances from both statements
    acc = dict(
        pl.read_parquet(ws / "accounts.parquet").select("account", "opening_balance").iter_rows()
    )
    assert acc[V] == 1000.0 and acc[M] == 0.0


def test_two_banks_one_call(tmp_path, banks):
    a, b = banks
    out = ok("ingest", a, b, "-w", tmp_path / "ws").output
    assert f"{a}: read 5, ingested 4, rejected 1" in out
    assert f"{b}: read 3, ingested 1, rejected 2" in out
    check_two_banks(tmp_path / "ws")


@pytest.mark.parametrize("first", ["a", "b"])
def test_two_banks_two_calls(tmp_path, banks, first):
    a, b = banks
    one, two = (a, b) if first == "a" else (b, a)
    ok("ingest", one, "-w", tmp_path / "ws")
    out = ok("ingest", two, "-w", tmp_path / "ws").output
    if first == "a":
        assert f"{b}: read 3, ingested 1, rejected 2" in out
    check_two_banks(tmp_path / "ws")
    # ingesting again changes nothing; the post step is idempotent
    before = transfers(tmp_path / "ws")
    ok("ingest", a, b, "-w", tmp_path / "ws")
    assert transfers(tmp_path / "ws").equals(before)
    again, rej = camt053.post(before)
    assert rej.height == 0 and again.sort("tx_id").equals(before.sort("tx_id"))


def test_statement_exported_again(tmp_path, banks):
    """A second export of bank B's statement (other bytes, same entries) after both banks are
    in: its debit is a duplicate, its credits are second legs again; nothing is counted twice."""
    a, b = banks
    ok("ingest", a, b, "-w", tmp_path / "ws")
    before = transfers(tmp_path / "ws")
    again = write(
        tmp_path / "bank_b_again.xml",
        BANK_B.replace("BARC-STMT-20250304-17", "BARC-STMT-20250305-01"),
    )
    out = ok("ingest", again, "-w", tmp_path / "ws").output
    assert f"{again}: read 3, ingested 0, rejected 3" in out
    assert transfers(tmp_path / "ws").sort("tx_id").equals(before.sort("tx_id"))
    rej = pl.read_parquet(tmp_path / "ws" / "rejects.parquet").filter(
        pl.col("source") == "bank_b_again.xml"
    )
    assert dict(rej.select("source_row", "reason").iter_rows()) == {
        1: f"second leg of transfer {SEED} (both banks' statements loaded)",
        2: "duplicate tx_id (already in bank_b.xml row 2)",
        3: f"second leg of transfer {V}:A-0004 (both banks' statements loaded)",
    }
    assert_counts_reconcile(tmp_path / "ws")


def test_trace_across_the_banks(tmp_path, banks):
    a, b = banks
    ok("ingest", a, b, "-w", tmp_path / "ws")
    res = json.loads(
        ok(
            "trace", "-w", tmp_path / "ws", "--tx", SEED, "--rule", "fifo", "--format", "json"
        ).output
    )
    ends = {e["account"]: e["value"] for e in res["endpoints"]}
    assert ends == pytest.approx({X: 280.0, M: 20.0})
    assert res["summary"]["unexplained"] == 0.0
    ws = Workspace.open(tmp_path / "ws")
    haircut = api.trace(ws, tx_ids=[SEED], rule="haircut")
    assert dict(
        zip(
            haircut.endpoints.column("account").to_pylist(),
            haircut.endpoints.column("value").to_pylist(),
            strict=True,
        )
    ) == pytest.approx({X: 280.0, M: 20.0})
    assert haircut.conserved


def test_pairing_rules(tmp_path):
    """EndToEndId pairs legs with different value dates; without it, amount + date + accounts
    pair one to one in time order; different EndToEndIds never pair; legs at a counterparty
    named differently never pair."""
    s, r = "DE75512108001245126199", "FR1420041010050500013M02606"
    sender = statement(
        "02",
        s,
        [
            dict(amount="50.00", side="DBIT", date="2025-03-03", ref="S1", e2e="E-1", cp_iban=r),
            dict(amount="70.00", side="DBIT", date="2025-03-03", ref="S2", cp_iban=r),
            dict(amount="70.00", side="DBIT", date="2025-03-03", ref="S3", cp_iban=r),
            dict(amount="70.00", side="DBIT", date="2025-03-03", ref="S4", cp_iban=r),
            dict(amount="90.00", side="DBIT", date="2025-03-03", ref="S5", e2e="E-5", cp_iban=r),
        ],
    )
    receiver = statement(
        "08",
        r,
        [
            dict(amount="50.00", side="CRDT", date="2025-03-04", ref="R1", e2e="E-1", cp_iban=s),
            dict(amount="70.00", side="CRDT", date="2025-03-03", ref="R2", cp_iban=s),
            dict(
                amount="70.00",
                side="CRDT",
                date="2025-03-03",
                ref="R3",
                e2e="NOTPROVIDED",
                cp_iban=s,
            ),
            dict(
                amount="90.00", side="CRDT", date="2025-03-03", ref="R5", e2e="E-OTHER", cp_iban=s
            ),
            dict(amount="70.00", side="CRDT", date="2025-03-05", ref="R6", cp_iban=s),
        ],
    )
    fs, fr = write(tmp_path / "s.xml", sender), write(tmp_path / "r.xml", receiver)
    ingest(tmp_path / "ws", [fs, fr])
    rej = pl.read_parquet(tmp_path / "ws" / "rejects.parquet")
    paired = {
        row: reason.split()[4] for row, reason in rej.select("source_row", "reason").iter_rows()
    }
    assert paired == {1: f"iban:{s}:S1", 2: f"iban:{s}:S2", 3: f"iban:{s}:S3"}
    ids = set(transfers(tmp_path / "ws").get_column("tx_id").to_list())
    assert ids == {f"iban:{s}:S{k}" for k in (1, 2, 3, 4, 5)} | {f"iban:{r}:R5", f"iban:{r}:R6"}
    assert_counts_reconcile(tmp_path / "ws")
    # the sender's leg keeps its value date
    t = transfers(tmp_path / "ws").filter(pl.col("tx_id") == f"iban:{s}:S1")
    assert t.item(0, "ts") == dt.datetime(2025, 3, 3, tzinfo=UTC)


# --- one account whichever element holds its IBAN; booking date-times -----------------------


def test_an_iban_written_as_a_proprietary_id_is_the_same_account(tmp_path, banks):
    """Bank B writes M's own account as ``Othr/Id`` (with spaces, lower case) and V's as
    ``Othr/Id`` too: both are valid IBANs, so they are the accounts bank A calls ``iban:``."""
    doc = BANK_B.replace(
        "<Id><IBAN>GB33BUKB20201555555555</IBAN></Id>\n        <Ccy>",
        "<Id><Othr><Id>gb33 bukb 2020 1555 5555 55</Id></Othr></Id>\n        <Ccy>",
    )
    assert doc != BANK_B and "<IBAN>DE89370400440532013000</IBAN>" in doc
    doc = doc.replace(
        "<IBAN>DE89370400440532013000</IBAN>", "<Othr><Id>DE89370400440532013000</Id></Othr>"
    )
    f = write(tmp_path / "bank_b.xml", doc)
    res = camt053.read(f, "bank_b.xml", {})
    assert res.transfers.select("src", "dst").rows() == [(V, M), (M, X), (V, M)]
    # The two banks' legs pair into one transfer as they do when both write <IBAN>.
    ok("ingest", banks[0], f, "-w", tmp_path / "ws")
    assert transfers(tmp_path / "ws").filter(pl.col("src") == V, pl.col("dst") == M).height == 2
    # A proprietary id that fails the checksum (last digit changed) stays a bank account.
    bad = doc.replace("gb33 bukb 2020 1555 5555 55", "GB33BUKB20201555555556")
    res = camt053.read(write(tmp_path / "bad.xml", bad), "bad.xml", {})
    assert res.transfers["dst"][0] == "bank:BUKBGB22:GB33BUKB20201555555556"


def test_is_iban():
    assert camt053.is_iban("DE89370400440532013000")
    assert camt053.is_iban("gb33bukb20201555555555")
    assert not camt053.is_iban("DE89370400440532013001")  # checksum
    assert not camt053.is_iban("EXCH-001") and not camt053.is_iban("0259711741")
    assert not camt053.is_iban("DE8937040044")  # too short


def test_booking_date_time_orders_a_day(tmp_path):
    """Two entries on one value date: the booking date-times give their times (and order),
    ahead of the value date; without them, the value date."""
    doc = BANK_B.replace(
        "<BookgDt><Dt>2025-03-03</Dt></BookgDt>\n        <ValDt><Dt>2025-03-03</Dt></ValDt>\n"
        "        <AcctSvcrRef>B-78",
        "<BookgDt><DtTm>2025-03-03T14:05:00Z</DtTm></BookgDt>\n        "
        "<ValDt><Dt>2025-03-03</Dt></ValDt>\n        <AcctSvcrRef>B-78",
    )
    assert doc != BANK_B
    res = camt053.read(write(tmp_path / "b.xml", doc), "b.xml", {})
    ts = dict(res.transfers.select("tx_id", "ts").rows())
    assert ts[f"{M}:B-78"] == dt.datetime(2025, 3, 3, 14, 5, tzinfo=UTC)
    assert ts[f"{M}:B-77"] == dt.datetime(2025, 3, 3, tzinfo=UTC)
