"""Write BENCHMARKS.md from the pytest-benchmark JSON files in ``benchmarks/results/``.

Usage::

    python -m benchmarks.report [--results benchmarks/results] [-o BENCHMARKS.md]

One section per size N (``n<N>.json``, written by ``make bench`` / ``make bench-large``), each
from one run, so every ratio compares numbers measured in the same session on the same data.
The hand-written analysis in ``benchmarks/NOTES.md`` (profiles, what is left and why) is
appended as is.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
NOTES = Path(__file__).resolve().parent / "NOTES.md"

RULES = ("fifo", "lifo", "libr", "haircut", "poison")
PEER_ORDER = ("tracer", "numba floor", "numba scan", "networkx", "raphtory", "networkit", "igraph")

# Targets (issue: "Benchmarks side by side"), ratios of medians in one run.
T_INGEST = 1.5
T_RAPHTORY = 1000.0
T_NETWORKX = 100.0
T_FLOOR = 2.0
T_FIFO = 3.0
T_BYTES = 48.0
T_PEERS_AT = 10_000_000


# ---------------------------------------------------------------- formatting


def _t(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds >= 100:
        return f"{seconds:.0f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def _range(st: dict) -> str:
    return f"{_t(st['min'])} – {_t(st['max'])}"


def _x(ratio: float | None) -> str:
    if ratio is None:
        return "–"
    if ratio >= 100:
        return f"{ratio:,.0f}x"
    if ratio >= 10:
        return f"{ratio:.1f}x"
    if ratio >= 0.1:
        return f"{ratio:.2f}x"
    return f"{ratio:.2g}x"


def _mib(n: float | None) -> str:
    return "–" if n is None else f"{n / 2**20:,.0f} MiB"


def _n(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1000 == 0:
        return f"{n // 1000}k"
    return f"{n:,}"


def _ok(met: bool | None) -> str:
    return "–" if met is None else ("met" if met else "**missed**")


# ---------------------------------------------------------------- reading


class Run:
    """One JSON file: benchmarks by name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = json.loads(path.read_text())
        self.machine = self.data.get("machine_info", {})
        self.by_name = {b["name"]: b for b in self.data["benchmarks"]}
        n = self.machine.get("bench_n")
        if n is None:
            n = next(
                (
                    b["extra_info"].get("n_transfers")
                    for b in self.data["benchmarks"]
                    if "n_transfers" in b.get("extra_info", {})
                ),
                0,
            )
        self.n = int(n)

    def get(self, name: str) -> dict | None:
        return self.by_name.get(name)

    def stats(self, name: str) -> dict | None:
        b = self.get(name)
        return None if b is None else b["stats"]

    def extra(self, name: str) -> dict:
        b = self.get(name)
        return {} if b is None else b.get("extra_info", {})

    def median(self, name: str) -> float | None:
        st = self.stats(name)
        return None if st is None else st["median"]


def _per_seed(run: Run, name: str) -> list[float]:
    return list(run.extra(name).get("per_seed_s", {}).values())


def _median_on(run: Run, name: str, keys: list[str]) -> float | None:
    per = run.extra(name).get("per_seed_s", {})
    vals = [per[k] for k in keys if k in per]
    return statistics.median(vals) if vals and len(vals) == len(keys) else None


def _reach_ratio(run: Run, peer: str) -> tuple[float | None, int]:
    """median(peer) / median(tracer), both over the peer's seeds."""
    keys = list(run.extra(peer).get("per_seed_s", {}))
    if not keys:
        return None, 0
    p = _median_on(run, peer, keys)
    t = _median_on(run, "test_reach_tracer", keys)
    return (p / t if p and t else None), len(keys)


# ---------------------------------------------------------------- sections


def _machine(runs: list[Run]) -> list[str]:
    m = runs[-1].machine
    v = m.get("versions", {})
    out = ["## Machine and versions", ""]
    mem = m.get("mem_total_bytes")
    out.append(
        f"- CPU: {m.get('cpu_model', m.get('processor', '?'))}, "
        f"{m.get('cpu_count', '?')} cores ({m.get('cpu_affinity', '?')} usable); "
        f"RAM {mem / 2**30:.1f} GiB; Linux {m.get('kernel', m.get('release', '?'))}"
        if mem
        else "- CPU: ?"
    )
    for r in runs:
        ls, le = r.machine.get("loadavg_start"), r.machine.get("loadavg_end")
        when = r.data.get("datetime", "?")[:19].replace("T", " ")
        if ls and le:
            out.append(
                f"- Run at {_n(r.n)} transfers: {when} UTC (pytest-benchmark's time "
                f"stamp); load average (1 min) "
                f"{ls[0]:.2f} at the start, {le[0]:.2f} at the end. The machine was "
                "shared with other work: medians, not means."
            )
    names = [
        "python",
        "tracer",
        "numpy",
        "numba",
        "polars",
        "pyarrow",
        "raphtory",
        "networkx",
        "networkit",
        "igraph",
        "pytest-benchmark",
    ]
    out.append(
        "- Versions: "
        + ", ".join(f"{k} {v.get(k) or 'not installed'}" for k in names if k in v or k == "python")
    )
    out.append("")
    return out


def _ingest(run: Run) -> list[str]:
    out = [
        "### Ingest",
        "",
        "| format | `tracer` ingest median | min – max | floor (polars read + intern) median "
        "| min – max | ratio | target ≤ 1.5x | peak RSS of ingest |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for fmt in ("csv", "parquet"):
        ing, flo = run.stats(f"test_ingest[{fmt}]"), run.stats(f"test_ingest_floor[{fmt}]")
        if ing is None or flo is None:
            continue
        ratio = ing["median"] / flo["median"]
        peak = run.extra(f"test_ingest_peak_memory[{fmt}]").get("peak_rss_bytes")
        out.append(
            f"| {fmt} | {_t(ing['median'])} | {_range(ing)} | {_t(flo['median'])} | "
            f"{_range(flo)} | {_x(ratio)} | {_ok(ratio <= T_INGEST)} | {_mib(peak)} |"
        )
    out.append("")
    return out


_REACH_NAMES = {
    "tracer": "test_reach_tracer",
    "numba floor": "test_reach_floor",
    "numba scan": "test_reach_scan",
    "networkx": "test_reach_networkx",
    "raphtory": "test_reach_raphtory",
    "networkit": "test_static_reach[networkit]",
    "igraph": "test_static_reach[igraph]",
}


def _reach(run: Run) -> list[str]:
    out = [
        "### Temporal reach (one seed transfer)",
        "",
        "Ratio: this implementation's median ÷ tracer's median on the same seeds (above 1: "
        "tracer is faster).",
        "",
        "| implementation | kind | seeds | median | min – max | median accounts reached "
        "| ratio | target | |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    judged = run.n >= T_PEERS_AT
    for peer in PEER_ORDER:
        name = _REACH_NAMES[peer]
        st = run.stats(name)
        ex = run.extra(name)
        if st is None:
            out.append(
                f"| {peer} | | | not run (skipped or not installed: see the "
                "analysis below) | | | | | |"
            )
            continue
        kind = "static BFS (no time)" if ex.get("static") else "temporal"
        bad = ex.get("mismatches") or []
        if bad:
            kind += (
                f"; **disagrees with tracer on {len(bad)} of {ex.get('n_seeds')} seeds** "
                f"({sum(m['n_missing'] for m in bad)} accounts missing, "
                f"{sum(m['n_extra'] for m in bad)} extra): benchmark failed"
            )
        reached = ex.get("reached") or []
        med_reach = f"{statistics.median(reached):,.0f}" if reached else "–"
        ratio, _ = (None, 0) if peer == "tracer" else _reach_ratio(run, name)
        target, met = "", None
        if peer == "raphtory":
            target = f"≥ {T_RAPHTORY:,.0f}x"
            met = ratio >= T_RAPHTORY if (ratio and judged) else None
        elif peer == "networkx":
            target = f"≥ {T_NETWORKX:,.0f}x"
            met = ratio >= T_NETWORKX if (ratio and judged) else None
        elif peer == "numba floor":
            target = f"≥ {1 / T_FLOOR:.1f}x (tracer within {T_FLOOR:.0f}x)"
            met = (1 / ratio) <= T_FLOOR if ratio else None
        note = "" if met is not None or not target else f"(judged at {_n(T_PEERS_AT)})"
        out.append(
            f"| {peer} | {kind} | {ex.get('n_seeds', st['rounds'])} | {_t(st['median'])} | "
            f"{_range(st)} | {med_reach} | {_x(ratio)} | {target} | {_ok(met)} {note} |"
        )
    out.append("")
    tr = run.extra("test_reach_tracer")
    if tr.get("via"):
        out.append(f"tracer's reach is `{tr['via']}` (full API call: kernel plus result tables).")
    builds = [
        f"{p} {_t(run.extra(_REACH_NAMES[p]).get('build_s'))}"
        for p in PEER_ORDER[1:]
        if run.get(_REACH_NAMES[p]) is not None
    ]
    if builds:
        out.append("Graph build time, not timed above: " + ", ".join(builds) + ".")
    out.append("")
    return out


def _traces(run: Run) -> list[str]:
    out = [
        "### Full traces (one seed transfer, stop at exchanges, no dust threshold)",
        "",
        "| rule | seeds | median | p95 | min – max | median accounts reached | median flows |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [(r, f"test_trace[{r}]") for r in RULES] + [
        ("haircut, dust 0.01", "test_trace_haircut_dust")
    ]
    for label, name in rows:
        st, ex = run.stats(name), run.extra(name)
        if st is None:
            out.append(
                f"| {label} | not run (too slow at this size: see the analysis below) | | | | | |"
            )
            continue
        seeds = f"{ex.get('n_seeds', st['rounds'])}"
        if ex.get("n_seeds_available") and ex.get("n_seeds") != ex.get("n_seeds_available"):
            seeds += f" of {ex['n_seeds_available']}"
        out.append(
            f"| {label} | {seeds} | {_t(st['median'])} | {_t(ex.get('p95_s'))} | "
            f"{_range(st)} | {ex.get('accounts_reached_median', 0):,.0f} | "
            f"{ex.get('flows_median', 0):,.0f} |"
        )
    out.append("")
    ratio = _fifo_ratio(run)
    if ratio is not None:
        out.append(
            f"fifo trace ÷ tracer's reach, medians on the reach seeds: {_x(ratio)} "
            f"(target ≤ {T_FIFO:.0f}x: {_ok(ratio <= T_FIFO)})."
        )
        out.append("")
    return out


def _fifo_ratio(run: Run) -> float | None:
    """median(fifo trace) / median(tracer's reach), both on the reach seeds."""
    ex = run.extra("test_reach_tracer")
    reach = list(ex.get("per_seed_s", {}).values())
    txs = ex.get("seed_tx") or []
    fifo = run.extra("test_trace[fifo]").get("per_seed_s", {})
    if not reach or not txs or any(tx not in fifo for tx in txs):
        return None
    return statistics.median([fifo[tx] for tx in txs]) / statistics.median(reach)


def _batch(run: Run) -> list[str]:
    rows = [b for b in run.data["benchmarks"] if "batch" in b["name"]]
    out = ["### Batch", ""]
    if not rows:
        out += ["Pending: no batch benchmark in this run.", ""]
        return out
    out += [
        "| benchmark | workers | cases | cases per second | wall | peak RSS |",
        "|---|---|---|---|---|---|",
    ]
    for b in rows:
        ex = b.get("extra_info", {})
        cps = ex.get("cases_per_second")
        peak = ex.get("peak_rss_mib")
        out.append(
            f"| `{b['name']}` ({ex.get('rule', '')}) | {ex.get('workers', '')} | "
            f"{ex.get('cases', '')} | {cps:,.0f} | {_t(b['stats']['median'])} | "
            f"{'–' if peak is None else f'{peak:,.0f} MiB'} |"
            if cps is not None
            else f"| `{b['name']}` | | | | {_t(b['stats']['median'])} | |"
        )
    out.append("")
    return out


def _memory(run: Run) -> list[str]:
    bw = run.extra("test_memory_bandwidth")
    out = ["### Memory and the physical limit", ""]
    if not bw:
        return out + ["Not measured in this run.", ""]
    bpt = bw["graph_bytes_per_transfer"]
    out.append(
        f"- Graph arrays: {_mib(bw['graph_nbytes'])} for {bw['graph_n_edges']:,} "
        f"transfers and {bw['graph_n_accounts']:,} accounts: **{bpt:.1f} bytes per "
        f"transfer** (target ≤ {T_BYTES:.0f}: {_ok(bpt <= T_BYTES)}). Per array: "
        + ", ".join(
            f"{k} {v['dtype']} {v['nbytes'] / bw['graph_n_edges']:.2f}"
            for k, v in bw.get("graph_arrays", {}).items()
        )
        + " bytes per transfer."
    )
    for label, name in (
        ("ingest (CSV)", "test_ingest_peak_memory[csv]"),
        ("ingest (Parquet)", "test_ingest_peak_memory[parquet]"),
        ("fifo trace", "test_trace_peak_memory[fifo]"),
        ("a poison trace with no stops", "test_trace_peak_memory[poison]"),
    ):
        ex = run.extra(name)
        if ex.get("peak_rss_bytes"):
            extra = ""
            if ex.get("peak_rss_after_open_bytes"):
                extra = f" (after opening the workspace: {_mib(ex['peak_rss_after_open_bytes'])})"
            out.append(
                f"- Peak RSS (VmHWM of a fresh process) of {label}: "
                f"{_mib(ex['peak_rss_bytes'])}{extra}."
            )
    for b in run.data["benchmarks"]:
        if "batch" in b["name"] and b.get("extra_info", {}).get("peak_rss_mib") is not None:
            out.append(
                f"- Peak RSS of batch `{b['name']}`: {b['extra_info']['peak_rss_mib']:,.0f} MiB."
            )
    read = bw["read_bytes_per_s"]
    scan = bw["scan_s"]
    out.append(
        f"- Memory bandwidth, one thread: read (sum of 1 GiB float64) "
        f"{read / 1e9:.1f} GB/s, copy {bw['copy_bytes_per_s'] / 1e9:.1f} GB/s (read + "
        f"write). One scan of all graph arrays at that read speed: **{_t(scan)}**."
    )
    mults = []
    for label, name in (
        ("reach", "test_reach_tracer"),
        ("numba floor", "test_reach_floor"),
        ("numba scan", "test_reach_scan"),
        ("fifo trace", "test_trace[fifo]"),
        ("poison trace", "test_trace[poison]"),
    ):
        med = run.median(name)
        if med is not None:
            mults.append(f"{label} {_x(med / scan)}")
    if mults:
        out.append("- Median time as a multiple of one scan: " + ", ".join(mults) + ".")
    out.append("")
    return out


def _targets(runs: list[Run]) -> list[str]:
    out = [
        "## Targets",
        "",
        "| target | " + " | ".join(_n(r.n) for r in runs) + " |",
        "|---|" + "---|" * len(runs),
    ]

    def cell(run: Run, value: float | None, ok: bool | None) -> str:
        return "–" if value is None else f"{_x(value)} {_ok(ok)}"

    rows = []
    for fmt in ("csv", "parquet"):
        cells = []
        for r in runs:
            a, b = r.median(f"test_ingest[{fmt}]"), r.median(f"test_ingest_floor[{fmt}]")
            v = a / b if a and b else None
            cells.append(cell(r, v, None if v is None else v <= T_INGEST))
        rows.append((f"ingest {fmt} ≤ {T_INGEST}x the polars floor", cells))
    for peer, name, tgt in (
        ("raphtory", "test_reach_raphtory", T_RAPHTORY),
        ("networkx", "test_reach_networkx", T_NETWORKX),
    ):
        cells = []
        for r in runs:
            v, _ = _reach_ratio(r, name)
            judged = r.n >= T_PEERS_AT
            if r.get(name) is None:
                cells.append("not run")
                continue
            cells.append(
                cell(r, v, (v >= tgt) if (v is not None and judged) else None)
                + ("" if judged or v is None else " (not judged)")
                + (" (peer disagrees)" if r.extra(name).get("mismatches") else "")
            )
        rows.append((f"reach ≥ {tgt:,.0f}x faster than {peer} (judged at {_n(T_PEERS_AT)})", cells))
    cells = []
    for r in runs:
        v, _ = _reach_ratio(r, "test_reach_floor")
        v = 1 / v if v else None
        cells.append(cell(r, v, None if v is None else v <= T_FLOOR))
    rows.append((f"reach within {T_FLOOR:.0f}x of the numba floor (tracer ÷ floor)", cells))
    cells = []
    for r in runs:
        v = _fifo_ratio(r)
        cells.append(cell(r, v, None if v is None else v <= T_FIFO))
    rows.append((f"fifo trace ≤ {T_FIFO:.0f}x tracer's reach", cells))
    cells = []
    for r in runs:
        bw = r.extra("test_memory_bandwidth")
        v = bw.get("graph_bytes_per_transfer")
        cells.append("–" if v is None else f"{v:.1f} B {_ok(v <= T_BYTES)}")
    rows.append((f"graph arrays ≤ {T_BYTES:.0f} bytes per transfer", cells))
    for label, cells in rows:
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out.append("")
    return out


HEADER = """# Benchmarks

tracer side by side with the tools an investigator would otherwise use, on the same generated
data and the same seed transfers, in one run per size. Generated by `python -m benchmarks.report`
from `benchmarks/results/n<N>.json`; the analysis at the end is `benchmarks/NOTES.md`.

## How to rerun

```sh
make bench                      # 1M transfers (~5 min here): installs tracer[bench], runs,
                                #   writes benchmarks/results/n1000000.json, rewrites this file
make bench BENCH_N=10000000     # 10M transfers (~15 min here, plus ~3 min to generate and
                                #   ingest the dump the first time)
make bench-large                # 100M transfers (--large, ~55 min here once the dump and
                                #   its workspace exist; skips what cannot fit in memory)
python -m benchmarks.report     # rewrite this file from benchmarks/results/*.json
```

The peers are benchmark-only extras (`pip install tracer[bench]`: raphtory, networkx,
networkit, igraph, scipy, py-spy, line_profiler), never runtime dependencies. Generated data
and workspaces are cached in `benchmarks/.data/` (git-ignored). Knobs (environment):
`TRACER_BENCH_N`, `TRACER_BENCH_SEEDS` (trace seeds, default 100), `TRACER_BENCH_REACH_SEEDS`
(default 20), `TRACER_BENCH_NX_SEEDS` (networkx, default 20 up to 1M, else 5),
`TRACER_BENCH_SLOW_SEEDS` (raphtory, default 3), `TRACER_BENCH_TRACE_SEEDS_<RULE>`,
`TRACER_BENCH_CASES` (batch, default 1000).

## What is measured

- **Data**: `benchmarks/gen.py`, deterministic: N transfers over one year among N/10 ordinary
  accounts (power-law activity) and 8 exchanges (10% of transfers go to one, 2% come from
  one), lognormal amounts, labels marking the exchanges. Canonical CSV and the same rows as
  Parquet. Seeds: 100 transfers between two ordinary accounts from the first 75% of the rows,
  drawn with a fixed random seed. Where fewer seeds are used they are spread evenly in time
  over that list: reach uses 20 (10 above 1M), the slow peers 3 (raphtory) or 5 (networkx
  above 1M) of those, slow rules fewer (the tables say how many). Every ratio between two
  implementations is taken on the seeds both ran.
- **Ingest**: `tracer.ingest.ingest` (what `tracer ingest` runs) of the CSV and the
  Parquet file with the labels, into an empty workspace, against the floor of
  `polars.read_csv` (explicit schema and timestamp format) / `polars.read_parquet` plus
  interning src and dst together with `pyarrow.compute.dictionary_encode`.
- **Temporal reach**: the accounts the money of one seed transfer can reach by time-respecting
  paths. tracer: `tracer.api.reach` (on a tracer without it, the benchmark falls back to the
  poison rule with no stops, whose holdings are exactly the reachable accounts: under poison
  an account that has received taint taints all its later outflows). Peers: a minimal numba
  label-setting earliest-arrival kernel over a CSR by (src, rank) written in
  `benchmarks/peers.py` (the floor for this work in this language); a one-pass numba scan of
  the edges in replay order (`numba scan`, the physical floor when the reach is a large part
  of the graph); a networkx DiGraph (per account pair, the sorted ranks of its transfers)
  searched with heapq + bisect; raphtory's `temporally_reachable_nodes`. Static reach (BFS, time
  ignored) in networkit and igraph, over the distinct (src, dst) pairs, is the floor of what a
  graph library does without time: its sets are larger, so it is checked against scipy's BFS
  and to contain tracer's.
- **Ties in time**: every peer gets the transfer's *rank* in tracer's replay order (ts, seq,
  tx_id) as its time, and reach starts from the seed's receiver at the seed's rank with
  strictly later edges. Ranks are distinct, so strict and non-strict time agree and a
  transfer at the same timestamp as an arrival carries taint exactly when tracer replays it
  after the arrival. (On raw timestamps raphtory's strict `t_i < t_i+1` would drop a
  same-timestamp transfer replayed later, and a non-strict search would take one replayed
  earlier.)
- **Correctness first**: every peer's reached sets must equal tracer's on its seeds, or the
  benchmark fails: checked before timing for the numba floor and the static peers, and on the
  results of the timed runs themselves for the slow peers (networkx, raphtory). Each full
  trace is checked for its seed value and, except poison, conservation.
- **Timing**: warm (numba kernels loaded from the on-disk cache before timing), one seed per
  round, graph build not timed. For raphtory only the algorithm call is timed (converting its
  result to Python takes longer than the algorithm; the benchmark reads it through Parquet).
- **Memory**: graph arrays in bytes per transfer; peak RSS as VmHWM read from
  `/proc/self/status` by a fresh child process (`getrusage(RUSAGE_CHILDREN)` would report the
  parent's size, which Linux carries over across fork and exec).
- **Physical limit**: one-thread read bandwidth (sum of 1 GiB of float64) and what one scan of
  all graph arrays costs at that speed.
"""


def render(runs: list[Run], notes: str | None) -> str:
    parts = [HEADER]
    if runs:
        parts.append("\n".join(_machine(runs)))
        parts.append("\n".join(_targets(runs)))
        for run in runs:
            sec = [f"## {_n(run.n)} transfers", ""]
            sec += _ingest(run) + _reach(run) + _traces(run) + _batch(run) + _memory(run)
            parts.append("\n".join(sec))
    if not any(r.n >= 100_000_000 for r in runs):
        parts.append(
            "## 100M transfers\n\nNot run: `make bench-large` exists "
            "(TRACER_BENCH_N=100000000, `--large`) but has not been run on this "
            "machine.\n"
        )
    if notes:
        parts.append(notes.strip() + "\n")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    runs = sorted((Run(p) for p in args.results.glob("n*.json")), key=lambda r: r.n)
    notes = NOTES.read_text(encoding="utf-8") if NOTES.exists() else None
    args.output.write_text(render(runs, notes), encoding="utf-8")
    print(
        f"wrote {args.output} ({len(runs)} run(s): {', '.join(_n(r.n) for r in runs) or 'none'})",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
