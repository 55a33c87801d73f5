"""The HTML report as a browser shows it: headless Chromium takes a screenshot (it must show a
picture, not a blank page) and dumps the DOM (the SVG is there; the hostile strings are text,
never elements). Skipped only when no Chromium binary is found; CI installs it (.ci/run).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from test_report import IMG, SCRIPT, build_hostile_case, ok

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


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
        capture_output=True,
        timeout=180,
        check=False,
    )


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of pixels) of an 8-bit RGB or RGBA, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r[i : i + 3]) for r in rows for i in range(0, stride, bpp)]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("browser")
    _ws, res = build_hostile_case(folder)
    ok("report", res)
    return res / "report.html"


def test_screenshot_shows_a_picture(report, tmp_path):
    shot = tmp_path / "shot.png"
    proc = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", report.as_uri())
    assert shot.is_file(), proc.stderr.decode(errors="replace")[-2000:]
    width, height, pixels = png_pixels(shot.read_bytes())
    assert (width, height) == (1200, 1600)
    colours = set(pixels)
    white = sum(1 for p in pixels if p == b"\xff\xff\xff")
    assert len(colours) > 50, len(colours)  # text, the flow picture's colours, antialiasing
    assert white < 0.97 * len(pixels)  # far from a blank page
    # the flow picture's colours are on the page: the stopped service (red), the seed (green)
    assert any(r > 150 and g < 80 and b < 80 for r, g, b in colours)
    assert any(g > 100 and r < 80 and b < 80 for r, g, b in colours)


def test_dom_has_the_svg_and_the_hostile_strings_as_text(report, tmp_path):
    proc = chromium(tmp_path, "--dump-dom", report.as_uri())
    dom = proc.stdout.decode("utf-8")
    assert "<svg" in dom and "<path" in dom and "<rect" in dom, dom[:500]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # the label, shown as text
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom
    assert "<script" not in dom.lower() and "<img" not in dom.lower()
    assert SCRIPT not in dom and IMG not in dom
