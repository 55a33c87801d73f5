"""Finding an account however it is written (tracer.lookup) and its use by the commands."""

from __future__ import annotations

import pytest
from conftest import ok, run

from tracer.errors import UnknownAccountError
from tracer.ingest import ingest
from tracer.lookup import resolve_accounts, resolve_names
from tracer.workspace import Workspace

TRON = "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"
TRON2 = "TXYZopPYRdj2NPLcdZ1mpv3UX3KoMEpRCf"
ETH = "0x52908400098527886e0f7030069857d2e4169ee7"
ETH_CHECKSUM = "0x52908400098527886E0F7030069857D2E4169EE7"
BTC = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
IBAN = "DE89370400440532013000"

TRANSFERS = f"""tx_id,timestamp,src,dst,amount,asset
t1,2025-03-01T00:00:00Z,tron:{TRON},tron:{TRON2},100,USD
t2,2025-03-01T01:00:00Z,tron:{TRON2},eth:{ETH},90,USD
t3,2025-03-01T02:00:00Z,eth:{ETH},btc:{BTC},80,USD
t4,2025-03-01T03:00:00Z,btc:{BTC},iban:{IBAN},70,USD
t5,2025-03-01T04:00:00Z,iban:{IBAN},bank:KBANK:1234567890,60,USD
t6,2025-03-01T05:00:00Z,bank:KBANK:1234567890,bank:SCB:1234567890,50,USD
t7,2025-03-01T06:00:00Z,bank:SCB:1234567890,bank:SCB:5550001,40,USD
"""
LABELS = f"""account,label,name,entity
tron:{TRON2},otc,OTC desk,otc-desk
eth:{ETH},otc,OTC desk,otc-desk
"""


@pytest.fixture
def ws(tmp_path):
    (tmp_path / "t.csv").write_text(TRANSFERS)
    (tmp_path / "l.csv").write_text(LABELS)
    ingest(tmp_path / "ws", [tmp_path / "t.csv"], labels=[tmp_path / "l.csv"])
    return Workspace.open(tmp_path / "ws")


@pytest.mark.parametrize(
    ("written", "want"),
    [
        (f"tron:{TRON}", f"tron:{TRON}"),
        (TRON, f"tron:{TRON}"),
        (f"TRON:{TRON}", f"tron:{TRON}"),
        (ETH, f"eth:{ETH}"),
        (ETH_CHECKSUM, f"eth:{ETH}"),
        (f"eth:{ETH_CHECKSUM}", f"eth:{ETH}"),
        (BTC.upper(), f"btc:{BTC}"),
        (BTC, f"btc:{BTC}"),
        ("DE89 3704 0044 0532 0130 00", f"iban:{IBAN}"),
        ("de89370400440532013000", f"iban:{IBAN}"),
        ("iban:de89 3704 0044 0532 0130 00", f"iban:{IBAN}"),
        ("5550001", "bank:SCB:5550001"),
        ("bank:5550001", "bank:SCB:5550001"),
        ("bank:scb:5550001", "bank:SCB:5550001"),
        (f"{TRON[:8]}…", f"tron:{TRON}"),
        (f"tron:{TRON[:8]}...{TRON[-4:]}", f"tron:{TRON}"),
    ],
)
def test_an_account_is_found_however_it_is_written(ws, written, want):
    (found,), notes = resolve_names(ws, [written])
    assert found == want
    assert notes == ([] if written == want else [f"{written}: using account {want}"])


def test_the_exact_id_needs_no_note_and_ids_are_graph_nodes(ws):
    ids, notes = resolve_accounts(ws, [f"tron:{TRON}", ETH])
    assert notes == [f"{ETH}: using account eth:{ETH}"]
    accounts = ws.graph.accounts.to_pylist()
    assert [accounts[i] for i in ids] == [f"tron:{TRON}", f"eth:{ETH}"]


def test_several_matches_are_an_error_listing_them(ws):
    with pytest.raises(UnknownAccountError) as exc:
        resolve_names(ws, ["1234567890"])
    assert str(exc.value) == (
        "1234567890: matches 2 accounts: bank:KBANK:1234567890, "
        "bank:SCB:1234567890. Give the whole id."
    )


def test_a_typo_gets_the_closest_id(ws):
    typo = TRON[:-1] + "X"
    with pytest.raises(UnknownAccountError) as exc:
        resolve_names(ws, [typo])
    assert str(exc.value) == (
        f"{typo}: no such account in the workspace. Did you mean tron:{TRON}?"
    )


def test_nothing_close_says_how_ids_are_written(ws):
    with pytest.raises(
        UnknownAccountError,
        match=r"^zzz: no such account in the workspace\. "
        r"No account id is close to it\. Ids carry a namespace",
    ):
        resolve_names(ws, ["zzz"])


def test_entity_level_maps_accounts_to_their_entity(ws):
    names, notes = resolve_names(ws, [ETH, "otc-desk", f"tron:{TRON}"], "entity")
    assert names == ["otc-desk", "otc-desk", f"tron:{TRON}"]
    assert notes == [f"{ETH}: using account eth:{ETH}"]
    ids, _ = resolve_accounts(ws, [ETH], "entity")
    assert ws.entity_graph.accounts[int(ids[0])].as_py() == "otc-desk"


def test_lookup_reads_few_ids_on_a_large_workspace(ws, monkeypatch):
    """Bisection: the number of ids read grows with log n, not n."""
    import pyarrow as pa

    from tracer import lookup

    many = pa.array(
        sorted([f"bank:B{i % 50:02d}:{i:08d}" for i in range(200_000)] + [f"tron:{TRON}"]),
        pa.large_string(),
    )
    reads = []
    real = lookup._Ids.__getitem__

    def counting(self, i):
        reads.append(i)
        return real(self, i)

    monkeypatch.setattr(lookup._Ids, "__getitem__", counting)
    ids = lookup._Ids(many)
    found, total, _ = lookup._matches(ids, TRON, None)
    assert (found, total) == ([f"tron:{TRON}"], 1)
    assert len(reads) < 200
    reads.clear()
    found, total, _ = lookup._matches(ids, "00001234", None)
    assert (found, total) == (["bank:B34:00001234"], 1)
    assert len(reads) < 50 * 60


def test_entity_command_takes_a_raw_address_and_says_which_id(ws):
    result = ok("entity", ETH_CHECKSUM, "-w", ws.path)
    assert result.stdout.splitlines()[0] == f"eth:{ETH} belongs to entity otc-desk (2 accounts):"
    assert result.stderr == f"{ETH_CHECKSUM}: using account eth:{ETH}\n"
    assert ok("entity", "otc-desk", "-w", ws.path).stdout.startswith(
        "otc-desk belongs to entity otc-desk (2 accounts):"
    )


def test_entity_command_suggests_on_a_typo(ws):
    result = run("entity", TRON[:-1] + "X", "-w", ws.path)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {TRON[:-1]}X: no such account in the workspace. Did you mean tron:{TRON}?\n"
    )
