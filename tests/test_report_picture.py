"""The HTML report's flow picture and lists: Bitcoin transactions drawn as links, nothing tiny
drawn or listed as a rest, names from the workspace, amounts in their asset's precision,
labels laid out from their width (tests/test_browser_layout.py checks the layout in Chromium).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from conftest import ok, write_csv

from tracer.report.layout import asset_amount, contract_btctx, fit_text, floor_value, text_width

HASH = "ab" * 32


def link(value: float, tx: str, via: tuple = ()) -> dict:
    return {"value": value, "txs": {tx}, "via": set(via), "paired": False}


def test_contract_btctx_joins_senders_to_receivers_pro_rata():
    links = {
        ("a", f"btctx:{HASH}"): link(30.0, "i0"),
        ("b", f"btctx:{HASH}"): link(10.0, "i1"),
        (f"btctx:{HASH}", "x"): link(20.0, "o0"),
        (f"btctx:{HASH}", "y"): link(18.0, "o1"),
        (f"btctx:{HASH}", "a"): link(2.0, "o2"),
        ("x", "z"): link(5.0, "t"),
    }
    out, looped = contract_btctx(links)
    assert set(out) == {("a", "x"), ("a", "y"), ("b", "x"), ("b", "y"), ("b", "a"), ("x", "z")}
    assert out[("a", "x")]["value"] == pytest.approx(15.0)  # 20 * 30/40
    assert out[("b", "y")]["value"] == pytest.approx(4.5)  # 18 * 10/40
    assert out[("b", "a")]["value"] == pytest.approx(0.5)
    assert looped == pytest.approx(1.5)  # a's share of its own change
    assert out[("a", "x")]["via"] == {HASH} and out[("a", "x")]["txs"] == {"i0", "o0"}
    assert out[("x", "z")]["via"] == set()
    total = sum(v["value"] for k, v in out.items() if k != ("x", "z")) + looped
    assert total == pytest.approx(40.0)  # every output accounted for


def test_contract_btctx_chained_and_without_outputs():
    t1, t2 = "btctx:" + "1" * 64, "btctx:" + "2" * 64
    out, _ = contract_btctx(
        {
            ("a", t1): link(10.0, "i"),
            (t1, t2): link(10.0, "m"),
            (t2, "b"): link(10.0, "o"),
            ("c", "btctx:" + "3" * 64): link(1.0, "d"),
        }
    )
    assert out[("a", "b")]["value"] == pytest.approx(10.0)
    assert out[("a", "b")]["via"] == {"1" * 64, "2" * 64}
    assert ("c", "btctx:" + "3" * 64) in out  # no output: the transaction stays a node


def test_fit_text_and_width():
    long = "btc:bc1q5f4z5tnd4p4azqzwlfsp5249ttn54vawy6kw8z"
    assert fit_text("short", 200, 11.5) == "short"
    cut = fit_text(long, 120, 11.5)
    assert cut.endswith("…") and long.startswith(cut[:-1]) and text_width(cut, 11.5) <= 120
    mid = fit_text(long, 120, 11.5, middle=True)
    head, tail = mid.split("…")
    assert long.startswith(head) and long.endswith(tail) and len(tail) >= 3
    assert text_width(mid, 11.5) <= 120
    assert text_width("MMMM", 12) > text_width("iiii", 12)


def test_asset_amount_and_floor():
    assert asset_amount(0.012568012494637558, "BTC") == "0.01256801"
    assert asset_amount(1500, "EUR") == "1,500.00"
    assert asset_amount(12.3456789, "USDT") == "12.345679"
    assert asset_amount(0.123, "XYZ") == "0.123"
    assert floor_value(40350.35) == pytest.approx(40.35035)
    assert floor_value(3.0) == 0.01


@pytest.fixture(scope="module")
def btc_case(tmp_path_factory) -> tuple[Path, Path, str]:
    """victim -> mule -> a Bitcoin transaction (inputs mule and other, outputs exch, change back
    to mule, a fee) -> exch; 5 to small; a trickle of 1e-9 to crumb; names from labels.csv."""
    folder = tmp_path_factory.mktemp("btc")
    tx = f"btctx:{HASH}"
    rows = [
        ("s", "2025-01-01T00:00:00Z", "victim", "mule", "1000"),
        ("m", "2025-01-01T01:00:00Z", "mule", "crumb", "0.000000001"),
        ("m2", "2025-01-01T01:30:00Z", "mule", "small", "5"),
        ("i0", "2025-01-01T02:00:00Z", "mule", tx, "900"),
        ("i1", "2025-01-01T02:00:00Z", "other", tx, "100"),
        ("o0", "2025-01-01T02:00:00Z", tx, "exch", "700"),
        ("o1", "2025-01-01T02:00:00Z", tx, "mule", "290"),
        ("o2", "2025-01-01T02:00:00Z", tx, "fee", "10"),
    ]
    transfers = write_csv(
        folder / "t.csv",
        ["tx_id", "timestamp", "src", "dst", "amount", "asset"],
        [(*r, "USD") for r in rows],
    )
    labels = write_csv(
        folder / "labels.csv",
        ["account", "label", "name", "entity"],
        [("exch", "exchange", "<b>Big</b> Exchange", "exchange:big")],
    )
    ok("ingest", transfers, "--labels", labels, "-w", folder / "ws")
    ok("trace", "-w", folder / "ws", "--tx", "s", "--rule", "fifo", "-o", folder / "r")
    result = ok("report", folder / "r")
    assert "Note: workspace" not in result.stderr
    page = (folder / "r" / "report.html").read_text(encoding="utf-8")
    return folder / "ws", folder / "r", page


def sankey(page: str) -> str:
    return page[page.index("<h2>Flow of the funds") : page.index("<h2>Where the money rests")]


def test_btctx_is_a_link_not_a_column(btc_case):
    _ws, _res, page = btc_case
    pic = sankey(page)
    texts = re.findall(r"<text[^>]*>([^<]*)", pic)
    assert not any(t.startswith("btctx:") for t in texts)
    assert "hop 2" in texts and "hop 3" not in texts  # victim, mule, exch: two hops
    titles = re.findall(r"<path [^>]*><title>([^<]*)</title>", pic)
    into_exch = [t for t in titles if t.startswith("mule → &lt;b&gt;Big")]
    assert len(into_exch) == 1 and HASH in into_exch[0]
    assert "700.00 USD" in into_exch[0]  # "other" sent no taint: all of it from mule


def test_names_shown_escaped(btc_case):
    _ws, _res, page = btc_case
    pic = sankey(page)
    assert html.escape("<b>Big</b> Exchange") in pic and "<b>Big</b>" not in pic
    rests = page[page.index("<h2>Where the money rests") : page.index("<h2>Requests")]
    assert html.escape("<b>Big</b> Exchange") in rests


def test_tiny_rests_neither_drawn_nor_listed(btc_case):
    _ws, _res, page = btc_case
    assert "crumb" not in sankey(page)
    rests = page[page.index("<h2>Where the money rests") : page.index("<h2>Requests")]
    assert "crumb" not in rests.split("</table>")[0]
    assert "holding less than 1.00 USD each" in rests  # 0.1% of the seed value
    assert not re.search(r"\de-\d", page.replace("e-1", ""))  # no 1e-09 anywhere


def test_tiny_endpoints_chains_folded(btc_case):
    _ws, _res, page = btc_case
    chains = page[page.index("<h2>Evidence chains") : page.index("<h2>Timeline")]
    # small holds 5 of 1000 (0.5%): its chains folded; exch's shown
    assert "<details><summary><code>small</code>" in chains
    assert "<h3><code>exch</code>" in chains


def test_without_workspace_ids_only(btc_case, tmp_path):
    ws, res, page = btc_case
    moved = tmp_path / "ws-moved"
    ws.rename(moved)
    try:
        result = ok("report", res, "-o", tmp_path / "a.html")
        assert "Note: workspace not available" in result.stderr
        bare = (tmp_path / "a.html").read_text(encoding="utf-8")
        assert "Big" not in sankey(bare) and ">exch<" in sankey(bare).replace("</text", "<")
        ok("report", res, "-w", moved, "-o", tmp_path / "b.html")
        assert (tmp_path / "b.html").read_text(encoding="utf-8") == page  # same inputs, same bytes
    finally:
        moved.rename(ws)


def test_paired_hops_drawn_dashed(tmp_path):
    """Under match the picture marks the hops that forward what they were paired with, and only
    those."""
    rows = [
        ("salary", "2025-01-01T00:00:00Z", "E", "M", "3000"),
        ("s", "2025-01-01T10:00:00Z", "V", "M", "10000"),
        ("rent", "2025-01-01T11:40:00Z", "M", "L", "1200"),
        ("f", "2025-01-01T12:28:00Z", "M", "N", "9700"),
        ("n", "2025-01-01T13:20:00Z", "N", "P", "4000"),
    ]
    transfers = write_csv(
        tmp_path / "t.csv",
        ["tx_id", "timestamp", "src", "dst", "amount", "asset"],
        [(*r, "USD") for r in rows],
    )
    ok("ingest", transfers, "-w", tmp_path / "ws")
    ok("trace", "-w", tmp_path / "ws", "--tx", "s", "-o", tmp_path / "r")
    ok("report", tmp_path / "r")
    pic = sankey((tmp_path / "r" / "report.html").read_text(encoding="utf-8"))
    titles = re.findall(r"<path [^>]*><title>([^<]*)</title>", pic)
    into_n = [t for t in titles if t.startswith("M → N")]
    into_p = [t for t in titles if t.startswith("N → P")]
    assert len(into_n) == 1 and "paired" in into_n[0]
    assert len(into_p) == 1 and "paired" not in into_p[0]
