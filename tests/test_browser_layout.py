"""The flow picture as Chromium lays it out: no two text boxes overlap, and no text leaves the
picture. The report itself runs no script (its CSP forbids any), so each test copies the
report's flow SVG into a page of its own whose script measures every ``<text>`` with
``getBBox()`` and writes what it found into the DOM, which ``--dump-dom`` prints.
Skipped only when no Chromium binary is found; CI installs it (.ci/run).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ok, write_csv
from test_report import build_hostile_case

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary found (CI installs it: apt-get install chromium)"
)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

MEASURE = """
<script>
const boxes = [];
for (const t of document.querySelectorAll('svg.flow text')) {
  const b = t.getBBox();
  boxes.push({text: t.textContent, x: b.x, y: b.y, w: b.width, h: b.height});
}
const svg = document.querySelector('svg.flow');
const overlaps = [];
for (let i = 0; i < boxes.length; i++) {
  for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], b = boxes[j];
    const dx = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
    const dy = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
    if (dx > 0.5 && dy > 0.5) overlaps.push([a.text, b.text]);
  }
}
const out = document.createElement('pre');
out.id = 'measured';
out.textContent = JSON.stringify({boxes: boxes, overlaps: overlaps,
  width: svg.width.baseVal.value, height: svg.height.baseVal.value});
document.body.appendChild(out);
</script>
"""


def flow_svg(page: str) -> str:
    start = page.index("<h2>Flow of the funds")
    i = page.index("<svg", start)
    return page[i : page.index("</svg>", i) + len("</svg>")]


def measure(report: Path, tmp: Path) -> dict:
    """Boxes of the flow picture's texts, and the pairs that overlap, as Chromium lays them
    out with the report's own style sheet."""
    page = report.read_text(encoding="utf-8")
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    svg = flow_svg(page).replace("<svg ", '<svg class="flow" ', 1)
    test_page = tmp / "measure.html"
    test_page.write_text(
        f"<!DOCTYPE html><html><head><meta charset=utf-8><style>{style}</style>"
        f"</head><body><main>{svg}</main>{MEASURE}</body></html>",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", "--dump-dom", test_page.as_uri()],
        capture_output=True,
        timeout=120,
        check=False,
    )
    dom = proc.stdout.decode("utf-8", "replace")
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found, (proc.returncode, proc.stderr[-2000:])
    text = found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
    return json.loads(text.replace("&amp;", "&"))


def build_wide_case(folder: Path) -> Path:
    """A chain of nine hops through accounts with long ids, each hop also paying two side
    accounts (one with a long readable name), and a Bitcoin transaction in the middle:
    columns crowded with long labels."""
    rows, prev = [], "victim:bank:DEUTDEFF:3635983409"
    rows.append(("s", "2025-01-01T00:00:00Z", "victim-account", prev, "100000"))
    value = 100000.0
    names = []
    for hop in range(1, 10):
        nxt = (
            f"btctx:{hop:02d}" + "ab" * 31
            if hop == 5
            else f"bank:LONGBANKCODE{hop}:00{hop}98765432100{hop}"
        )
        for j in range(2):
            side = f"side:acct-{hop}-{j}-with-a-rather-long-identifier-{'x' * 12}"
            rows.append(
                (
                    f"t{hop}s{j}",
                    f"2025-01-0{1 + hop // 5}T{hop:02d}:{10 + j}:00Z",
                    prev,
                    side,
                    str(value * 0.04),
                )
            )
            if j == 0:
                names.append(
                    (
                        side,
                        "exchange",
                        f"Very Long Exchange Name Number {hop} Limited",
                        f"exchange:long-{hop}",
                    )
                )
        value *= 0.9
        rows.append((f"t{hop}", f"2025-01-0{1 + hop // 5}T{hop:02d}:30:00Z", prev, nxt, str(value)))
        prev = nxt
    transfers = write_csv(
        folder / "t.csv",
        ["tx_id", "timestamp", "src", "dst", "amount", "asset"],
        [(*r, "USD") for r in rows],
    )
    labels = write_csv(folder / "labels.csv", ["account", "label", "name", "entity"], names)
    ok("ingest", transfers, "--labels", labels, "-w", folder / "ws")
    ok("trace", "-w", folder / "ws", "--tx", "s", "--stop-at", "", "-o", folder / "r")
    ok("report", folder / "r")
    return folder / "r" / "report.html"


def check(measured: dict) -> None:
    boxes = measured["boxes"]
    assert len(boxes) >= 4
    assert measured["overlaps"] == []
    for b in boxes:
        assert b["w"] > 0 and b["h"] > 0, b
        assert -0.5 <= b["x"] and b["x"] + b["w"] <= measured["width"] + 0.5, b
        assert -0.5 <= b["y"] and b["y"] + b["h"] <= measured["height"] + 0.5, b


def test_no_text_overlaps_in_a_wide_picture(tmp_path):
    report = build_wide_case(tmp_path)
    measured = measure(report, tmp_path)
    check(measured)
    texts = [b["text"] for b in measured["boxes"]]
    assert "hop 9" in texts and "seed senders" in texts  # one column per hop, no btctx column
    assert not any(t.startswith("btctx:") for t in texts)
    assert any(t.startswith("Very Long Exchan") for t in texts)  # readable names


def test_no_text_overlaps_with_hostile_names(tmp_path):
    _ws, res = build_hostile_case(tmp_path / "case")
    ok("report", res)
    measured = measure(res / "report.html", tmp_path)
    check(measured)
    assert any("<script>" in b["text"] or "HYPERLINK" in b["text"] for b in measured["boxes"])


def test_the_check_finds_an_overlap(tmp_path):
    """The measurement itself: two texts drawn on top of each other are reported."""
    page = tmp_path / "report.html"
    page.write_text(
        "<style>svg text{font-family:sans-serif}</style><h2>Flow of the funds</h2>"
        '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="100">'
        '<text x="10" y="30" font-size="12">passed on</text>'
        '<text x="40" y="32" font-size="12">passed on</text></svg>',
        encoding="utf-8",
    )
    measured = measure(page, tmp_path)
    assert measured["overlaps"] == [["passed on", "passed on"]]
