"""How well each rule puts a victim's loss where it really rests, on simulated worlds that differ.

    python -m benchmarks.accuracy [--scale 100000] [--out benchmarks/results/accuracy.json]
                                  [--worlds NAME,...] [--rules RULE,...] [--folder DIR]

Each world is ``tracer simulate --behaviour PRESET --seed S``; it is ingested, every case is
traced by ``tracer batch --level entity`` under each rule, and ``tracer evaluate`` scores the
result against the world's truth. The worlds are in two sets: the match rule's defaults were
chosen on the *tuning* worlds and are judged on the *judged* ones (other presets, other seeds),
so that a default tuned to one world shows. Worlds are kept in ``--folder`` (default
``.accuracy-worlds/``) and made again only when missing.

Prints a table (recall: total and median over cases; false attribution) and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

WORLDS = {  # name: (preset, seed, set)
    "realistic-1": ("realistic", 1, "tuning"),
    "realistic-2": ("realistic", 2, "tuning"),
    "fast-15": ("fast", 15, "tuning"),
    "structured-16": ("structured", 16, "tuning"),
    "realistic-3": ("realistic", 3, "judged"),
    "slow-11": ("slow", 11, "judged"),
    "busy-desks-12": ("busy-desks", 12, "judged"),
    "long-chains-13": ("long-chains", 13, "judged"),
    "direct-14": ("direct", 14, "judged"),
    "simple-17": ("simple", 17, "judged"),
}
RULES = ("match", "fifo", "lifo", "haircut", "libr")


def world(folder: Path, name: str, scale: int) -> tuple[Path, Path]:
    """The world's folder and its workspace, made if missing."""
    from tracer.ingest import ingest
    from tracer.simulate import ingest_files, simulate

    preset, seed, _ = WORLDS[name]
    out = folder / f"{name}-{scale}"
    ws = folder / f"{name}-{scale}.ws"
    if not (out / "world.json").is_file():
        simulate(out, scale=scale, seed=seed, behaviour=preset)
    if not (ws / "manifest.json").exists():
        ingest(ws, ingest_files(out), labels=[out / "labels.csv"], prices=[out / "prices.csv"])
    return out, ws


def score(out: Path, ws: Path, rule: str, result: Path) -> dict:
    from tracer.batch import run_batch
    from tracer.evaluate import evaluate
    from tracer.options import TraceOptions

    t0 = time.perf_counter()
    run_batch(ws, out / "cases.csv", result, options=TraceOptions(rule=rule, level="entity"))
    seconds = time.perf_counter() - t0
    o = evaluate([result], out / "truth", workspace=ws)[0].overall()
    return {
        "recall": o["recall"],
        "recall_median": o["recall_median"],
        "recall_by_case": o["recall_by_case"],
        "false_attribution": o["false_attribution"],
        "cases": o["cases"],
        "loss": o["loss"],
        "batch_seconds": seconds,
    }


def markdown(rows: list[dict]) -> str:
    """The README's table: per world, each rule's recall / median / false attribution."""
    rules = list(dict.fromkeys(r["rule"] for r in rows))
    worlds = list(dict.fromkeys(r["world"] for r in rows))
    cell = {(r["world"], r["rule"]): r for r in rows}
    out = [
        "| world (preset, seed) | set | " + " | ".join(rules) + " |",
        "|---|---|" + "---:|" * len(rules),
    ]
    for w in worlds:
        first = cell[(w, rules[0])]
        parts = []
        for rule in rules:
            r = cell.get((w, rule))
            parts.append(
                ""
                if r is None
                else f"{r['recall']:.1%} / {r['recall_median']:.1%} / {r['false_attribution']:.1%}"
            )
        out.append(
            f"| {first['preset']}, {first['seed']} | {first['set']} | " + " | ".join(parts) + " |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=int, default=100_000)
    ap.add_argument("--worlds", default=",".join(WORLDS))
    ap.add_argument("--rules", default=",".join(RULES))
    ap.add_argument("--folder", type=Path, default=Path(".accuracy-worlds"))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/accuracy.json"))
    ap.add_argument(
        "--markdown",
        action="store_true",
        help="print the table of an earlier run (--out) as markdown and stop",
    )
    args = ap.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(args.out.read_text())["rows"]))
        return 0
    args.folder.mkdir(parents=True, exist_ok=True)
    rows = []
    print(f"{'world':16s} {'set':7s} {'rule':8s} {'recall':>7s} {'median':>7s} {'false':>6s}")
    for name in args.worlds.split(","):
        out, ws = world(args.folder, name, args.scale)
        for rule in args.rules.split(","):
            s = score(out, ws, rule, args.folder / f"{name}-{args.scale}.{rule}")
            row = {
                "world": name,
                "preset": WORLDS[name][0],
                "seed": WORLDS[name][1],
                "set": WORLDS[name][2],
                "scale": args.scale,
                "rule": rule,
                **s,
            }
            rows.append(row)
            print(
                f"{name:16s} {row['set']:7s} {rule:8s} {s['recall']:7.1%} "
                f"{s['recall_median']:7.1%} {s['false_attribution']:6.1%}",
                flush=True,
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"scale": args.scale, "rows": rows}, indent=1) + "\n")
    print()
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
