"""Bitcoin transactions of the generated world, built leg by leg (``BtcTxs``) and framed as
the inputs and outputs tables (``btc_frames``)."""

from __future__ import annotations

import numpy as np
import polars as pl

from tracer.simulate.frames import IN_SCHEMA, OUT_SCHEMA

__all__ = ["BtcTxs", "btc_frames"]


class BtcTxs:
    """Bitcoin transactions under construction: lists of leg arrays, framed by ``btc_frames``."""

    def __init__(self) -> None:
        self.ins: list[dict] = []
        self.outs: list[dict] = []

    def add(self, tx, ts, in_addr, in_sat, spent_tx, spent_index, out_addr, out_sat):
        """One leg per row of each argument; ``in_*`` and ``out_*`` are (n, k) arrays with -1
        addresses for absent legs (so transactions of different shapes share a call)."""
        tx = np.asarray(tx, np.int64)
        ts = np.asarray(ts, np.int64)
        for addr, sat, kind in ((in_addr, in_sat, "in"), (out_addr, out_sat, "out")):
            addr = np.asarray(addr, np.int64)
            keep = addr >= 0
            rows, cols = np.nonzero(keep)
            leg = {
                "tx": tx[rows],
                "ts": ts[rows],
                "index": cols.astype(np.int32),
                "addr": addr[keep],
                "sat": np.asarray(sat, np.int64)[keep],
            }
            if kind == "in":
                leg["spent_tx"] = np.asarray(spent_tx, np.int64)[keep]
                leg["spent_index"] = np.asarray(spent_index, np.int32)[keep]
                self.ins.append(leg)
            else:
                self.outs.append(leg)


def btc_frames(txs: BtcTxs) -> tuple[pl.DataFrame, pl.DataFrame]:
    def frame(parts, schema):
        if not parts:
            return pl.DataFrame(schema=schema)
        cols = {k: np.concatenate([p[k] for p in parts]) for k in schema}
        return pl.DataFrame(cols, schema=schema)

    return frame(txs.ins, IN_SCHEMA), frame(txs.outs, OUT_SCHEMA)
