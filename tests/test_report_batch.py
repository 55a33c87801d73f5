"""tracer report on a batch folder: an index page of the cases with one page per case (safe
file names, hostile ids escaped, no script), and the batch's tables as CSV."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from conftest import ok, run, write_csv

from tracer.report.batch_folder import case_file_names

EVIL = "<script>alert(1)</script>/../x"
FORMULA = '=HYPERLINK("http://evil")'


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    """Two cases sharing the hub "hub"; one with a hostile id, one with a formula as its id."""
    folder = tmp_path_factory.mktemp("batch")
    rows = [
        ("a1", "2025-01-01T00:00:00Z", "v1", "m1", "100"),
        ("a2", "2025-01-01T01:00:00Z", "m1", "hub", "90"),
        ("a3", "2025-01-01T01:30:00Z", "m1", "crumb", "0.000001"),
        ("b1", "2025-01-01T00:00:00Z", "v2", "m2", "50"),
        ("b2", "2025-01-01T02:00:00Z", "m2", "hub", "50"),
    ]
    transfers = write_csv(
        folder / "t.csv",
        ["tx_id", "timestamp", "src", "dst", "amount", "asset"],
        [(*r, "USD") for r in rows],
    )
    ok("ingest", transfers, "-w", folder / "ws")
    cases = write_csv(folder / "cases.csv", ["case_id", "tx_id"], [(EVIL, "a1"), (FORMULA, "b1")])
    ok("batch", cases, "-w", folder / "ws", "-o", folder / "b")
    return folder / "b"


def test_index_and_case_pages(batch):
    result = ok("report", batch)
    assert "2 case pages" in result.stdout
    out = batch / "report"
    names = sorted(p.name for p in out.iterdir())
    assert "index.html" in names and len(names) == 3
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+", name) and not name.startswith(".")
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "<script" not in index and html.escape("<script>") in index
    for cid in (EVIL, FORMULA):
        assert f'href="{html.escape(case_file_names([EVIL, FORMULA])[cid])}"' in index
    assert "<code>hub</code> 90.00" in index  # where the first case rests
    assert "hub</code> (2 cases)" in index  # the hub both share
    page = (out / case_file_names([EVIL, FORMULA])[EVIL]).read_text(encoding="utf-8")
    assert "<script" not in page and "Content-Security-Policy" in page
    assert "100.00 USD" in page and "hub of 2 cases" in page
    assert "crumb" not in page.split("</table>")[-2]  # below a cent: not listed
    assert "holding less than 0.10 USD each" in page
    again = ok("report", batch, "-o", batch / "again")
    assert again.exit_code == 0
    for name in names:  # same inputs, same bytes
        assert (batch / "again" / name).read_bytes() == (out / name).read_bytes()


def test_case_file_names_are_safe_and_unique():
    ids = ["TH-00018", "th-00018", "../etc/passwd", "a b", "a_b", "", ".hidden"]
    names = case_file_names(ids)
    assert names["TH-00018"] == "case-TH-00018.html"
    assert len(set(n.lower() for n in names.values())) == len(ids)
    for n in names.values():
        assert re.fullmatch(r"case-[A-Za-z0-9_.-]+\.html", n) and "/" not in n
    assert case_file_names(ids) == names


@pytest.mark.parametrize("table", ["cases", "endpoints", "hubs"])
def test_batch_tables_as_csv(batch, table):
    text = ok("report", batch, "--format", "csv", "--table", table, "-o", "-").stdout
    head = text.lstrip("\ufeff").splitlines()[0]
    assert head.startswith("case_id," if table != "hubs" else "account,")
    if table == "cases":
        assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text  # neutralised
    if table == "hubs":
        assert "\nhub," in text


def test_batch_refuses_what_it_cannot_write(batch):
    assert run("report", batch, "--format", "csv", "--table", "flows").exit_code == 1
    assert run("report", batch, "--format", "graphml").exit_code == 1
    assert run("report", batch, "-o", "-").exit_code == 1
