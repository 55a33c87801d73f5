"""`tracer report` (html, csv, graphml, gexf, ftm) and requests.csv, on a case full of hostile
strings: account ids, names, labels and entities that try to run as a spreadsheet formula or
as HTML.

The case (USD, 2025-01-01, UTC); ``fifo``, seed v1, stops at exchange:

    v1  00:00  victim -> mule    100   seed
    v2  00:10  mule   -> EXCH     50   EXCH: exchange, name =HYPERLINK(...), entity <script>
    v3  00:20  mule   -> IMG      30   IMG = '"><img src=x onerror=alert(1)>', label <script>
    v4  00:30  mule   -> HYPER    15   HYPER = '=HYPERLINK("http://evil")' (an account id)
    v5  00:40  IMG    -> EXCH     10
    v6  00:50  mule   -> BELL      5   BELL has a control character in its id

Endpoints: EXCH 60 (stopped), IMG 20, HYPER 15, BELL 5.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import ok, run, write_csv  # noqa: E402

from tracer.report.csv import cell, neutralize, unneutralize

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
HYPER = '=HYPERLINK("http://evil")'
EXCH = "bank:EXB:000-1"
BELL = "bell\x07acc"
NAMES = {EXCH: HYPER, IMG: IMG, "mule": "@SUM(1+1)", HYPER: "-2+3"}

CASE = [
    ("v1", "2025-01-01T00:00:00Z", "victim", "mule", "100"),
    ("v2", "2025-01-01T00:10:00Z", "mule", EXCH, "50"),
    ("v3", "2025-01-01T00:20:00Z", "mule", IMG, "30"),
    ("v4", "2025-01-01T00:30:00Z", "mule", HYPER, "15"),
    ("v5", "2025-01-01T00:40:00Z", IMG, EXCH, "10"),
    ("v6", "2025-01-01T00:50:00Z", "mule", BELL, "5"),
]


def assert_one_line_error(result) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr


def build_hostile_case(folder: Path) -> tuple[Path, Path]:
    """(workspace, result folder) of the case above, traced by the command line."""
    folder.mkdir(parents=True, exist_ok=True)
    transfers = write_csv(
        folder / "transfers.csv",
        ["tx_id", "timestamp", "src", "dst", "amount", "asset"],
        [(*row, "USD") for row in CASE],
    )
    labels = write_csv(
        folder / "labels.csv",
        ["account", "label", "name", "entity"],
        [
            (EXCH, "exchange", HYPER, SCRIPT),
            (IMG, SCRIPT, IMG, ""),
            ("mule", "", "@SUM(1+1)", ""),
            (HYPER, "", "-2+3", ""),
        ],
    )
    ok("ingest", transfers, "--labels", labels, "-w", folder / "ws")
    ok("trace", "-w", folder / "ws", "--tx", "v1", "-o", folder / "result")
    return folder / "ws", folder / "result"


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> tuple[Path, Path]:
    return build_hostile_case(tmp_path_factory.mktemp("hostile"))


def read_csv_text(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


# --------------------------------------------------------------------------------------------
# CSV: formula injection
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "written"),
    [
        (HYPER, "'" + HYPER),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        (SCRIPT, SCRIPT),
        ("", ""),
        ("'=already", "'=already"),
    ],
)
def test_neutralize(text, written):
    assert neutralize(text) == written
    if text.startswith(("=", "+", "-", "@", "\t", "\r")):
        assert unneutralize(written) == text


def test_numbers_stay_numbers():
    assert cell(-5.0) == "-5.0"
    assert cell(-3) == -3
    assert cell(0.1) == "0.1"
    assert cell(True) == "true"
    assert cell(None) == ""
    assert cell("-5") == "'-5"  # text from the data, even when it looks like a number


def test_requests_csv_lists_deposits_and_totals(case):
    _ws, res = case
    raw = (res / "requests.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 byte order mark, for Excel
    rows = read_csv_text(raw.decode("utf-8-sig"))
    assert rows == [
        [
            "row",
            "service",
            "entity",
            "name",
            "deposit_account",
            "tx_id",
            "time",
            "from_account",
            "asset",
            "amount",
            "tainted_amount",
            "tainted",
            "unit",
        ],
        [
            "transfer",
            "exchange",
            SCRIPT,
            "'" + HYPER,
            EXCH,
            "v2",
            "2025-01-01T00:10:00Z",
            "mule",
            "USD",
            "50.0",
            "50.0",
            "50.0",
            "USD",
        ],
        [
            "transfer",
            "exchange",
            SCRIPT,
            "'" + HYPER,
            EXCH,
            "v5",
            "2025-01-01T00:40:00Z",
            IMG,
            "USD",
            "10.0",
            "10.0",
            "10.0",
            "USD",
        ],
        [
            "total",
            "exchange",
            SCRIPT,
            "'" + HYPER,
            "",
            "2 transfers",
            "",
            "",
            "USD",
            "60.0",
            "60.0",
            "60.0",
            "USD",
        ],
    ]


def test_report_csv_neutralises_every_data_cell(case):
    _ws, res = case
    out = ok("report", res, "--format", "csv", "--table", "flows", "-o", "-").stdout_bytes
    rows = read_csv_text(out.decode("utf-8-sig"))
    assert rows[0] == ["tx_id", "ts", "src", "dst", "value", "tainted", "hop"]
    by_tx = {r[0]: r for r in rows[1:]}
    assert by_tx["v4"] == ["v4", "2025-01-01T00:30:00Z", "mule", "'" + HYPER, "15.0", "15.0", "2"]
    assert by_tx["v3"][3] == IMG  # no formula trigger: kept as it is
    for row in rows[1:]:
        for value in row[:4]:
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row


def test_report_csv_endpoints_default_into_result_folder(case, tmp_path):
    _ws, res = case
    out = tmp_path / "e.csv"
    result = ok("report", res, "--format", "csv", "-o", out)
    assert result.stdout == f"Report written to {out}\n"
    rows = read_csv_text(out.read_text(encoding="utf-8-sig"))
    assert rows[0] == ["account", "label", "value", "share", "stopped", "min_hops", "first_ts"]
    assert [r[0] for r in rows[1:]] == [EXCH, IMG, "'" + HYPER, BELL]
    assert rows[2][1] == SCRIPT
    assert rows[1][2:5] == ["60.0", "0.6", "true"]


def test_report_csv_requests_is_the_file(case):
    _ws, res = case
    out = ok("report", res, "--format", "csv", "--table", "requests", "-o", "-").stdout_bytes
    assert out == (res / "requests.csv").read_bytes()


# --------------------------------------------------------------------------------------------
# HTML: escaping, self-contained
# --------------------------------------------------------------------------------------------

ALLOWED_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "main",
    "h1",
    "h2",
    "h3",
    "p",
    "table",
    "tr",
    "th",
    "td",
    "code",
    "span",
    "b",
    "i",
    "div",
    "ol",
    "li",
    "svg",
    "text",
    "rect",
    "path",
    "circle",
    "line",
}


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def page(case) -> str:
    _ws, res = case
    result = ok("report", res)
    assert result.stdout == f"Report written to {res / 'report.html'}\n"
    return (res / "report.html").read_text(encoding="utf-8")


def test_html_escapes_hostile_strings(page):
    assert SCRIPT not in page
    assert "<img" not in page.lower()
    assert html.escape(SCRIPT) in page  # the label, as text
    assert html.escape(IMG) in page  # the account id, as text
    assert html.escape(HYPER) in page
    assert r"bell\x07acc" in page and "\x07" not in page


def test_html_has_only_inert_elements(page):
    parser = Tags()
    parser.feed(page)
    tags = {t for t, _ in parser.tags}
    assert tags <= ALLOWED_TAGS, tags - ALLOWED_TAGS
    for tag, attrs in parser.tags:
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            assert name not in ("src", "href", "xlink:href", "action"), (tag, name)
            assert "alert" not in (value or ""), (tag, name, value)
    text = "".join(parser.text)
    assert SCRIPT in text and IMG in text and HYPER in text  # shown to the reader, as text


def test_html_is_self_contained(page):
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "<link" not in page and "@import" not in page and "url(" not in page
    urls = set(re.findall(r"https?://[^\s\"'<>&]*", page))
    assert urls == {"http://www.w3.org/2000/svg", "http://evil"}  # a namespace, and the data


def test_html_sections(page):
    for heading in (
        "Summary",
        "Flow of the funds",
        "Where the money rests",
        "Requests to stopped services",
        "Evidence chains",
        "Timeline",
        "Chain of custody",
    ):
        assert f"<h2>{heading}" in page
    assert page.count("<svg") == 2
    assert "seed value = at endpoints + dust <span class=ok>holds</span>" in page
    assert "v2" in page and "v5" in page  # the request list's tx ids
    assert "60.00" in page


def test_html_without_paths_lists_allocations(case, tmp_path):
    ws, _ = case
    out = tmp_path / "r"
    ok("trace", "-w", ws, "--tx", "v1", "--top-paths", "0", "-o", out)
    ok("report", out)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "has no evidence paths" in page
    chain = page[page.index("<h2>Evidence chains") : page.index("<h2>Timeline")]
    assert chain.index("<code>v1</code>") < chain.index("<code>v2</code>")


def test_html_report_is_deterministic(case, tmp_path):
    _ws, res = case
    a = ok("report", res, "-o", "-").stdout_bytes
    b = ok("report", res, "-o", "-").stdout_bytes
    assert a == b


def test_html_draws_only_the_largest_links(tmp_path):
    rows = [("s", "2025-01-01T00:00:00Z", "victim", "hub", "5000")]
    rows += [
        (f"o{i:02d}", f"2025-01-01T01:{i:02d}:00Z", "hub", f"acc{i:02d}", str(10 + i))
        for i in range(50)
    ]
    transfers = write_csv(
        tmp_path / "t.csv",
        ["tx_id", "timestamp", "src", "dst", "amount", "asset"],
        [(*r, "USD") for r in rows],
    )
    ok("ingest", transfers, "-w", tmp_path / "ws")
    ok("trace", "-w", tmp_path / "ws", "--tx", "s", "-o", tmp_path / "r")
    ok("report", tmp_path / "r")
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    sankey = page[page.index("<h2>Flow of the funds") : page.index("<h2>Where the money rests")]
    assert sankey.count("<path") == 40
    assert "acc49" in sankey and "acc05<" not in sankey  # the largest kept, the smallest not
    assert "the other 11 carry" in sankey


def test_html_when_seeds_only_go_between_seed_senders(tmp_path):
    transfers = write_csv(
        tmp_path / "t.csv",
        ["tx_id", "timestamp", "src", "dst", "amount", "asset"],
        [
            ("a", "2025-01-01T00:00:00Z", "A", "B", "10", "USD"),
            ("b", "2025-01-01T01:00:00Z", "B", "A", "5", "USD"),
        ],
    )
    ok("ingest", transfers, "-w", tmp_path / "ws")
    ok("trace", "-w", tmp_path / "ws", "--tx", "a,b", "-o", tmp_path / "r")
    ok("report", tmp_path / "r")
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "no flow to draw" in page and "<h2>Timeline" in page


# --------------------------------------------------------------------------------------------
# GraphML and GEXF
# --------------------------------------------------------------------------------------------

GML = "{http://graphml.graphdrawing.org/xmlns}"
GEXF = "{http://gexf.net/1.3}"


def test_graphml_parses_back(case):
    _ws, res = case
    ok("report", res, "--format", "graphml")
    root = ET.parse(res / "flows.graphml").getroot()
    keys = {k.get("id"): k.get("attr.name") for k in root.iter(f"{GML}key")}
    graph = root.find(f"{GML}graph")
    assert graph.get("edgedefault") == "directed"
    nodes = {}
    for n in graph.iter(f"{GML}node"):
        nodes[n.get("id")] = {keys[d.get("key")]: d.text for d in n.iter(f"{GML}data")}
    assert set(nodes) == {"victim", "mule", EXCH, IMG, HYPER, r"bell\x07acc"}
    assert nodes[IMG]["category"] == SCRIPT and nodes[IMG]["label"] == IMG
    assert nodes[EXCH]["stopped"] == "true" and float(nodes[EXCH]["tainted_balance"]) == 60.0
    edges = [
        {keys[d.get("key")]: d.text for d in e.iter(f"{GML}data")}
        | {"source": e.get("source"), "target": e.get("target")}
        for e in graph.iter(f"{GML}edge")
    ]
    assert [e["tx_id"] for e in edges] == ["v1", "v2", "v3", "v4", "v5", "v6"]
    assert edges[3] == {
        "tx_id": "v4",
        "ts": "2025-01-01T00:30:00Z",
        "value": "15.0",
        "tainted": "15.0",
        "hop": "2",
        "weight": "15.0",
        "source": "mule",
        "target": HYPER,
    }


def test_graphml_reads_into_networkx(case):
    nx = pytest.importorskip("networkx")
    _ws, res = case
    ok("report", res, "--format", "graphml")
    g = nx.read_graphml(res / "flows.graphml")
    assert g.number_of_nodes() == 6 and g.number_of_edges() == 6
    assert g.nodes[IMG]["category"] == SCRIPT


def test_gexf_parses_back(case):
    _ws, res = case
    ok("report", res, "--format", "gexf")
    root = ET.parse(res / "flows.gexf").getroot()
    assert root.tag == f"{GEXF}gexf" and root.get("version") == "1.3"
    graph = root.find(f"{GEXF}graph")
    nodes = {
        n.get("id"): (
            n.get("label"),
            {v.get("for"): v.get("value") for v in n.iter(f"{GEXF}attvalue")},
        )
        for n in graph.iter(f"{GEXF}node")
    }
    assert nodes[IMG] == (
        IMG,
        {
            "category": SCRIPT,
            "stopped": "false",
            "tainted_balance": "20.0",
            "tainted_in": "30.0",
            "unexplained": "0.0",
            "min_hops": "2",
            "first_ts": "2025-01-01T00:20:00Z",
        },
    )
    edges = list(graph.iter(f"{GEXF}edge"))
    assert len(edges) == 6
    assert {(e.get("source"), e.get("target"), e.get("weight")) for e in edges} >= {
        ("mule", EXCH, "50.0"),
        (IMG, EXCH, "10.0"),
    }


# --------------------------------------------------------------------------------------------
# FollowTheMoney
# --------------------------------------------------------------------------------------------


def ftm_lines(res: Path) -> list[dict]:
    ok("report", res, "--format", "ftm")
    return [json.loads(line) for line in (res / "entities.ftm.json").read_text().splitlines()]


def test_ftm_entities_validate(case):
    from followthemoney import model

    _ws, res = case
    entities = ftm_lines(res)
    by_id = {e["id"]: e for e in entities}
    assert len(by_id) == len(entities)
    for data in entities:
        schema = model.get(data["schema"])
        assert schema is not None and not schema.abstract, data["schema"]
        proxy = model.get_proxy(data, cleaned=False)
        assert model.get_proxy(data).to_dict() == proxy.to_dict()  # already clean
        assert proxy.to_dict() == data
        for name, values in data["properties"].items():
            prop = schema.get(name)
            assert prop is not None, (data["schema"], name)
            for value in values:
                assert prop.type.clean(value) is not None, (name, value)
                if prop.type.name == "entity":
                    target = model.get(by_id[value]["schema"])
                    assert target.is_a(prop.range), (name, target, prop.range)
    schemas = sorted(e["schema"] for e in entities)
    assert schemas.count("Payment") == 6
    assert schemas.count("BankAccount") == 1  # EXCH; the others are not namespaced ids


def test_ftm_content_and_deterministic_ids(case):
    from followthemoney import model

    _ws, res = case
    entities = ftm_lines(res)
    payments = {
        e["properties"]["transactionNumber"][0]: e for e in entities if e["schema"] == "Payment"
    }
    p = payments["v2"]
    assert p["id"] == model.make_entity("Payment").make_id("tracer-payment", "v2")
    assert p["properties"]["amount"] == ["50.0"]
    assert p["properties"]["currency"] == ["USD"]
    assert p["properties"]["date"] == ["2025-01-01T00:10:00"]
    account = next(e for e in entities if e["schema"] == "BankAccount")
    assert p["properties"]["beneficiaryAccount"] == [account["id"]]
    assert account["properties"]["name"] == [HYPER]
    assert account["properties"]["accountNumber"] == ["000-1"]
    owner = next(e for e in entities if e["id"] == p["properties"]["beneficiary"][0])
    assert owner["schema"] == "LegalEntity" and owner["properties"]["name"] == [SCRIPT]
    first = (res / "entities.ftm.json").read_bytes()
    assert ftm_lines(res) == entities and (res / "entities.ftm.json").read_bytes() == first


def test_ftm_crypto_wallets_and_entity_level(tmp_path):
    from followthemoney import model

    transfers = write_csv(
        tmp_path / "t.csv",
        ["tx_id", "timestamp", "src", "dst", "amount", "asset", "value"],
        [
            ("c1", "2025-01-01T00:00:00Z", "bank:KB:1", "bank:BAY:808", "1000", "THB", "30"),
            ("c2", "2025-01-01T01:00:00Z", "tron:TDesk", "tron:TMule", "30", "USDT-TRC20", "30"),
            (
                "c3",
                "2025-01-01T02:00:00Z",
                "tron:TMule",
                "tron:TExch",
                "0.00012345",
                "USDT-TRC20",
                "0.00012345",
            ),
        ],
    )
    labels = write_csv(
        tmp_path / "l.csv",
        ["account", "label", "name", "entity"],
        [
            ("bank:BAY:808", "otc", "Desk baht", "desk"),
            ("tron:TDesk", "otc", "Desk USDT", "desk"),
            ("tron:TExch", "exchange", "Big Exchange", "exco"),
        ],
    )
    ok("ingest", transfers, "--labels", labels, "-w", tmp_path / "ws")
    ok(
        "trace",
        "-w",
        tmp_path / "ws",
        "--tx",
        "c1",
        "--level",
        "entity",
        "--stop-at",
        "exchange",
        "-o",
        tmp_path / "r",
    )
    entities = ftm_lines(tmp_path / "r")
    by_id = {e["id"]: e for e in entities}
    wallets = {
        e["properties"]["publicKey"][0]: e for e in entities if e["schema"] == "CryptoWallet"
    }
    assert set(wallets) == {"TDesk", "TMule", "TExch"}
    assert wallets["TDesk"]["properties"]["blockchain"] == ["Tron"]
    assert by_id[wallets["TDesk"]["properties"]["holder"][0]]["properties"]["name"] == ["desk"]
    assert by_id[wallets["TMule"]["properties"]["holder"][0]]["properties"]["name"] == [
        "Holder of tron:TMule"
    ]
    payments = {
        e["properties"]["transactionNumber"][0]: e for e in entities if e["schema"] == "Payment"
    }
    assert payments["c3"]["properties"]["amount"] == ["0.00012345"]  # not rounded to cents
    assert payments["c3"]["properties"]["currency"] == ["USDT-TRC20"]
    for data in entities:
        for name, values in data["properties"].items():
            prop = model.get(data["schema"]).get(name)
            if prop.type.name == "entity":
                assert all(model.get(by_id[v]["schema"]).is_a(prop.range) for v in values)
    # requests at entity level name the real deposit account
    rows = read_csv_text((tmp_path / "r" / "requests.csv").read_text(encoding="utf-8-sig"))
    assert [r[:6] for r in rows[1:]] == [
        ["transfer", "exchange", "exco", "Big Exchange", "tron:TExch", "c3"],
        ["total", "exchange", "exco", "Big Exchange", "", "1 transfer"],
    ]


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def test_report_on_a_folder_that_is_not_a_result(tmp_path):
    assert_one_line_error(run("report", tmp_path))


def test_report_csv_of_a_missing_table(case, tmp_path):
    ws, _ = case
    out = tmp_path / "r"
    ok("trace", "-w", ws, "--tx", "v1", "--top-paths", "0", "-o", out)
    (out / "paths.parquet").unlink(missing_ok=True)
    assert_one_line_error(run("report", out, "--format", "csv", "--table", "paths"))


def test_report_ftm_without_workspace_notes_it(case, tmp_path):
    import shutil

    _ws, res = case
    copy = tmp_path / "copy"
    shutil.copytree(res, copy)
    result = ok("report", copy, "--format", "ftm", "-w", tmp_path / "gone")
    assert "Note: workspace" in result.stderr
    assert (copy / "entities.ftm.json").read_text().count('"Payment"') == 6
