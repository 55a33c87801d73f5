"""``tracer report`` on a batch folder: an index page (the cases, their loss, where it rests
and the hubs they share) and one page per case, with safe and unique file names; and the
folder's tables as CSV."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tracer.errors import InputError
from tracer.report.csv import table_csv

__all__ = ["is_batch_folder", "case_file_names", "batch_table_csv", "batch_pages", "BATCH_TABLES"]

BATCH_TABLES = ("cases", "endpoints", "hubs")
MAX_CASE_PAGES = 1_000  # cases listed on the index, each with its page
CASE_ENDPOINTS = 50  # endpoints listed on a case's page
INDEX_HUBS = 50  # hubs listed on the index
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def is_batch_folder(folder: Path) -> bool:
    return (Path(folder) / "batch.json").is_file() and (Path(folder) / "cases.parquet").is_file()


def case_file_names(case_ids: list[str]) -> dict[str, str]:
    """A safe, unique file name per case: ``case-<id>.html`` when the id is made of letters,
    digits, ``_ . -`` only (and unique ignoring case), else the id's safe characters and a
    hash of the whole id."""
    import hashlib

    out, seen = {}, set()
    for cid in case_ids:
        slug = _UNSAFE.sub("_", cid)[:60].lstrip(".") or "_"
        name = f"case-{slug}.html"
        if slug != cid or name.lower() in seen:
            name = f"case-{slug}-{hashlib.sha256(cid.encode('utf-8')).hexdigest()[:10]}.html"
        seen.add(name.lower())
        out[cid] = name
    return out


def batch_table_csv(folder: Path, table: str) -> str:

    if table not in BATCH_TABLES:
        raise InputError(
            f"{folder}: a batch folder has the tables {', '.join(BATCH_TABLES)} "
            f"(--table), not {table}."
        )
    return table_csv(pq.read_table(Path(folder) / f"{table}.parquet"))


def batch_pages(folder: Path) -> dict[str, str]:
    """File name -> HTML of the report of a batch folder: ``index.html`` (the cases, their
    loss, where it rests and the hubs they share) and one page per case."""
    from tracer.report.layout import floor_value
    from tracer.report.page import CSP, CSS, money, plural
    from tracer.report.page import esc as t

    folder = Path(folder)
    meta = json.loads((folder / "batch.json").read_text(encoding="utf-8"))
    cases = pq.read_table(folder / "cases.parquet").to_pylist()
    hubs = pq.read_table(folder / "hubs.parquet").to_pylist()
    shown = cases[:MAX_CASE_PAGES]
    wanted = pa.array([c["case_id"] for c in shown], pa.string())
    ends = pq.read_table(folder / "endpoints.parquet")
    ends = ends.filter(pc.is_in(ends["case_id"], value_set=wanted)).to_pylist()
    by_case: dict[str, list[dict]] = {}
    for e in ends:
        by_case.setdefault(e["case_id"], []).append(e)
    hub_rows: dict[str, list[dict]] = {}
    if (folder / "hub_cases.parquet").is_file():
        hc = pq.read_table(folder / "hub_cases.parquet")
        for r in hc.filter(pc.is_in(hc["case_id"], value_set=wanted)).to_pylist():
            hub_rows.setdefault(r["case_id"], []).append(r)
    hub_info = {h["account"]: h for h in hubs}
    files = case_file_names([c["case_id"] for c in shown])
    unit = t(meta.get("unit") or "")
    o = meta.get("options") or {}

    def page(title: str, body: str) -> str:
        return (
            "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="referrer" content="no-referrer">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title><style>{CSS}</style></head><body><main>"
            f"{body}</main></body></html>\n"
        )

    def rests(rows: list[dict], floor: float, limit: int) -> str:
        big = [e for e in rows if e["value"] >= floor]
        text = ", ".join(
            f"<code>{t(e['account'])}</code> {money(e['value'])}"
            + (" <span class='tag stop'>stopped</span>" if e["stopped"] else "")
            for e in big[:limit]
        )
        if len(big) > limit:
            text += f" and {len(big) - limit:,} more"
        return text

    # the index
    c, tot = meta.get("counts", {}), meta.get("totals", {})
    title = f"Batch of {plural(int(c.get('cases', len(cases))), 'case')}"
    head = (
        f"<h1>{title}</h1><p class=sub>Batch folder <code>{t(folder.name)}</code> "
        f"({t(o.get('rule'))}, {t(o.get('level'))} level; cases from "
        f"<code>{t(Path(meta.get('cases_file') or '').name)}</code>); report by tracer. "
        f"Values in {unit}.</p>"
    )
    summary = (
        "<h2>Summary</h2><table class=kv>"
        f"<tr><th>Cases</th><td>{int(c.get('cases_ok', 0)):,} ok, "
        f"{int(c.get('cases_failed', 0)):,} failed"
        + (" (interrupted: the results cover the cases done)" if meta.get("interrupted") else "")
        + "</td></tr>"
        f"<tr><th>Total loss (seed value)</th><td>{money(tot.get('seed_value'))} {unit}</td></tr>"
        f"<tr><th>At endpoints</th><td>{money(tot.get('at_endpoints'))} {unit}</td></tr>"
        f"<tr><th>At stopped services</th><td>{money(tot.get('at_stops'))} {unit}</td></tr>"
        f"<tr><th>Unexplained</th><td>{money(tot.get('unexplained'))} {unit}</td></tr>"
        f"<tr><th>Hubs</th><td>{len(hubs):,} accounts reached from two cases or more</td></tr>"
        "</table>"
    )
    rows = []
    for case in shown:
        cid = case["case_id"]
        floor = floor_value(case["seed_value"])
        mine = sorted(
            (h for h in hub_rows.get(cid, []) if h["endpoint"]),
            key=lambda h: (-h["value"], h["account"]),
        )
        hub_text = ", ".join(
            f"<code>{t(h['account'])}</code> "
            f"({hub_info.get(h['account'], {}).get('cases', 0):,} cases)"
            for h in mine[:3]
        )
        if len(mine) > 3:
            hub_text += f" and {len(mine) - 3:,} more"
        status = (
            ""
            if case["status"] == "ok"
            else f" <span class=bad>{t(case['status'])}: {t(case['error'] or '', 80)}</span>"
        )
        rows.append(
            f'<tr><td class=nw><a href="{t(files[cid])}">{t(cid)}</a>{status}</td>'
            f"<td class=n>{money(case['seed_value'])}</td><td class=n>{money(case['at_stops'])}</td>"
            f"<td class=n>{money(case['unexplained'])}</td>"
            f"<td>{rests(by_case.get(cid, []), floor, 3)}</td><td>{hub_text}</td></tr>"
        )
    more = ""
    if len(cases) > len(shown):
        more = (
            f"<p class=note>… {len(cases) - len(shown):,} more cases, without a page here: "
            "all of them in cases.parquet and endpoints.parquet in the batch folder, or "
            "tracer report --format csv --table cases.</p>"
        )
    case_table = (
        f"<h2>Cases ({len(cases):,})</h2><table><tr><th>case</th><th class=n>loss</th>"
        "<th class=n>at stopped services</th><th class=n>unexplained</th>"
        "<th>where it rests (largest)</th><th>hubs it rests at</th></tr>"
        f"{''.join(rows)}</table>{more}"
    )
    hub_table = ""
    if hubs:
        body = "".join(
            f"<tr><td class=id>{t(h['account'])}</td><td>{t(h['label'] or '')}</td>"
            f"<td class=n>{h['cases']:,}</td><td class=n>{money(h['value'])}</td>"
            f"<td class=n>{h['as_endpoint']:,}</td><td class=n>{h['as_intermediary']:,}</td></tr>"
            for h in hubs[:INDEX_HUBS]
        )
        hub_more = (
            f"<p class=note>… {len(hubs) - INDEX_HUBS:,} more hubs: hubs.parquet, or "
            "tracer report --format csv --table hubs.</p>"
            if len(hubs) > INDEX_HUBS
            else ""
        )
        hub_table = (
            "<h2>Hubs: reached from two cases or more</h2><table><tr><th>account</th>"
            "<th>label</th><th class=n>cases</th><th class=n>value at endpoints</th>"
            "<th class=n>endpoint of</th><th class=n>intermediary of</th></tr>"
            f"{body}</table>{hub_more}"
        )
    pages = {"index.html": page(title, head + summary + case_table + hub_table)}

    # one page per case
    for case in shown:
        cid = case["case_id"]
        floor = floor_value(case["seed_value"])
        rows_e = by_case.get(cid, [])
        big = [e for e in rows_e if e["value"] >= floor]
        small = [e for e in rows_e if e["value"] < floor]
        kv = "".join(
            f"<tr><th>{k}</th><td>{v}</td></tr>"
            for k, v in [
                ("Status", t(case["status"]) + (f": {t(case['error'])}" if case["error"] else "")),
                ("Seeds", f"{case['seeds'] or 0:,} transfers"),
                ("Loss (seed value)", f"{money(case['seed_value'])} {unit}"),
                (
                    "At endpoints",
                    f"{money(case['at_endpoints'])} {unit} in "
                    f"{plural(int(case['endpoints'] or 0), 'account')}",
                ),
                ("At stopped services", f"{money(case['at_stops'])} {unit}"),
                ("Dust", f"{money(case['dust'])} {unit}"),
                ("Unexplained", f"{money(case['unexplained'])} {unit}"),
                (
                    "Reached",
                    f"{plural(int(case['accounts_reached'] or 0), 'account')} through "
                    f"{plural(int(case['flows'] or 0), 'tainted transfer')}",
                ),
            ]
        )
        body = "".join(
            f"<tr><td class=id>{t(e['account'])}</td><td>{t(e['label'] or '')}</td>"
            f"<td class=n>{money(e['value'])}</td><td class=n>{100 * e['share']:.2f}%</td>"
            f"<td class=n>{e['min_hops']}</td><td>"
            + ("<span class='tag stop'>stopped</span>" if e["stopped"] else "")
            + (
                f" hub of {hub_info[e['account']]['cases']:,} cases"
                if e["account"] in hub_info
                else ""
            )
            + "</td></tr>"
            for e in big[:CASE_ENDPOINTS]
        )
        notes = []
        if len(big) > CASE_ENDPOINTS:
            notes.append(f"{len(big) - CASE_ENDPOINTS:,} more endpoints not listed")
        if small:
            notes.append(
                f"{plural(len(small), 'endpoint')} holding less than {money(floor)} "
                f"{unit} each (a cent, or 0.1% of the loss) not listed"
            )
        note = (
            f"<p class=note>{'; '.join(notes)}: all of them in endpoints.parquet in the batch "
            "folder, or tracer report --format csv --table endpoints.</p>"
            if notes
            else ""
        )
        ends_html = (
            (
                "<table><tr><th>account</th><th>label</th><th class=n>value</th>"
                "<th class=n>share</th><th class=n>hops</th><th></th></tr>"
                f"{body}</table>"
            )
            if big
            else "<p>No tainted funds rest anywhere.</p>"
        )
        ctitle = f"Case {t(cid)}"
        pages[files[cid]] = page(
            ctitle,
            (
                f'<h1>{ctitle}</h1><p class=sub><a href="index.html">All cases</a> of batch '
                f"<code>{t(folder.name)}</code> ({t(o.get('rule'))}, {t(o.get('level'))} level). "
                f"For the flow picture and evidence chains, trace the case alone: tracer trace "
                f"--tx … -o DIR, then tracer report DIR.</p><h2>Summary</h2><table class=kv>{kv}"
                f"</table><h2>Where the money rests (values in {unit})</h2>{ends_html}{note}"
            ),
        )
    return pages
