"""A simulated world of scams and ordinary economic life, with its ground truth.

``simulate(out, scale=..., seed=...)`` writes, deterministically for a seed:

- the dumps an investigator would hold, in the formats ``tracer ingest`` reads (``native``:
  AMLworld CSV and camt.053 for the banks, Tronscan, ethereum-etl and BigQuery Bitcoin
  exports) or as one canonical ``transfers.csv``;
- ``prices.csv`` (daily USD prices), ``labels.csv`` (services only: exchanges, OTC desks with
  the ``entity`` that joins each desk's bank accounts and wallets, the mixer, sanctioned
  wallets), ``cases.csv`` (victims' reports: one row per payment, readable by
  ``tracer batch``);
- ``truth/``: the scam's transfers by case, every account's role, each case's loss and where
  that loss rests at the end (``tracer evaluate`` scores results against it);
- ``world.json``: the seed, the behaviour, sizes, counts and files.

Generation is streamed: background life is made one day at a time in bulk (numpy), merged with
the (small) scam side, and appended to the files.
"""

from __future__ import annotations

from tracer.simulate.params import BEHAVIOURS, REALISTIC, Behaviour, behaviour_for, world_for
from tracer.simulate.run import FORMATS, SimulationReport, ingest_files, simulate

__all__ = [
    "simulate",
    "SimulationReport",
    "FORMATS",
    "world_for",
    "ingest_files",
    "Behaviour",
    "REALISTIC",
    "BEHAVIOURS",
    "behaviour_for",
]
