"""What tracer's HTML pages share (the trace report and the batch report): the style sheet,
the Content Security Policy that forbids any script or fetch, the colours of the picture, and
the text helpers. Every string from the data goes through ``esc`` (control characters shown as
``\\xNN``, then ``html.escape``), in text and in attributes alike."""

from __future__ import annotations

import datetime as dt
import html
import math

from tracer.report.text import safe

__all__ = ["CSS", "CSP", "SOURCE", "STOPPED", "RESTS", "PASSES", "esc", "money", "when", "plural"]

SOURCE, STOPPED, RESTS, PASSES = "#2e7d32", "#c62828", "#1565c0", "#8d8d8d"

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans Thai",sans-serif;
 color:#1d1d1f;margin:0;background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:24px 28px 60px;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:2px solid #e3e3e3;
 padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.sub{color:#555;margin:0 0 16px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{padding:3px 10px 3px 0;text-align:left;vertical-align:top;border-bottom:1px solid #eee}
th{font-weight:600;color:#444;border-bottom:1px solid #ccc}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code,.id{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12px;
 word-break:break-all}
.nw{white-space:nowrap}
.kv th{width:210px;font-weight:500;color:#555}
.ok{color:#2e7d32;font-weight:600}.bad{color:#c62828;font-weight:600}
.note{color:#666;font-size:12.5px}
.tag{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px;background:#eee}
.tag.stop{background:#fde3e3;color:#8e1a1a}
.svc{border:1px solid #e3e3e3;border-left:4px solid #c62828;padding:6px 12px;margin:10px 0}
details{margin:6px 0}summary{cursor:pointer}
.chain{margin:4px 0 12px 0;padding-left:22px}.chain li{margin:1px 0}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
.legend span{display:inline-block;margin-right:16px;font-size:12.5px}
.pic{overflow-x:auto}
.legend i{display:inline-block;width:11px;height:11px;margin-right:5px;vertical-align:-1px}
@media print{body{background:#fff}main{padding:0}}
"""

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "script-src 'none'; connect-src 'none'; form-action 'none'; base-uri 'none'"
)


def esc(value: object, width: int | None = None) -> str:
    """Text from the data, safe inside HTML text and inside quoted attributes (SVG too)."""
    return html.escape(safe(value, width), quote=True)


def money(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return ""
    return f"{x:,.2f}"


def when(value: dt.datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"
