"""Readers: one module per source format, each turning a file into canonical tables.

A reader module has:

- ``NAME``: the format's name for ``--format``;
- ``sniff(path, head) -> bool``: whether the file is in this format (``head``: ``Head``);
- ``read(path, source, options) -> ReadResult``: the file's transfers, rejects and counts;
  ``options`` holds the ingest options (``map``, ``date_format``, ...);
- optionally ``BATCHED = True``: ``read(path, source, options, frame=...)`` converts ``frame``,
  a batch of the file's rows as ``tracer.io.common.read_table`` gives them (row numbers
  continuing across batches), so that ingest reads the file in bounded memory; the reader
  must not need rows beyond the batch (duplicates across batches are found by ingest);
  ``TABLE``, if set, holds ``read_table``'s options for the file (e.g. a TSV separator);
- optionally ``post(transfers) -> (transfers, rejects)`` with ``POST_ROWS``, a column name: a
  step after every ingest over the rows of the whole workspace where that column is set, for
  what spans files (two banks' legs of one transfer, a Bitcoin fee once inputs and outputs
  are both in). It returns those rows changed, and must be idempotent.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from tracer.errors import InputError
from tracer.io.common import Head, ReadResult, head_of

__all__ = ["FORMATS", "LABEL_FORMATS", "reader", "detect", "label_reader", "detect_labels",
           "post_steps", "Head", "ReadResult"]

# sniffed in this order: the most specific first, canonical and generic last
_MODULES = {
    "etherscan-txs": "tracer.io.etherscan.txs",
    "etherscan-internal": "tracer.io.etherscan.internal",
    "etherscan-tokens": "tracer.io.etherscan.tokens",
    "tronscan-csv": "tracer.io.tronscan.csv",
    "tronscan-json": "tracer.io.tronscan.json",
    "ethereum-etl-token-transfers": "tracer.io.ethereum_etl.token_transfers",
    "ethereum-etl-transactions": "tracer.io.ethereum_etl.transactions",
    "amlworld": "tracer.io.amlworld",
    "amlworld-accounts": "tracer.io.amlworld_accounts",
    "amlsim": "tracer.io.amlsim",
    "amlsim-accounts": "tracer.io.amlsim_accounts",
    "bitcoin-bq-inputs": "tracer.io.bitcoin.bq_inputs",
    "bitcoin-bq-outputs": "tracer.io.bitcoin.bq_outputs",
    "bitcoin-blockchair-inputs": "tracer.io.bitcoin.blockchair_inputs",
    "bitcoin-blockchair-outputs": "tracer.io.bitcoin.blockchair_outputs",
    "camt053": "tracer.io.camt053",
    "canonical": "tracer.io.canonical",
    "generic": "tracer.io.generic",
}


# label files (--labels): a module with NAME, sniff(path, head) and
# read_labels(path, source) -> (labels with LABEL_COLUMNS, rejects, rows read)
_LABEL_MODULES = {
    "tagpack": "tracer.io.tagpack",
    "ofac": "tracer.io.ofac",
    "labels": "tracer.io.labels",
}


def _available() -> dict[str, str]:
    return dict(_MODULES)


FORMATS = tuple(_available())
LABEL_FORMATS = tuple(_LABEL_MODULES)


def label_reader(name: str) -> ModuleType:
    return importlib.import_module(_LABEL_MODULES[name])


def detect_labels(path: Path) -> str:
    head = head_of(path)
    for name in _LABEL_MODULES:
        if label_reader(name).sniff(path, head):
            return name
    raise InputError(
        f"{path}: not a labels file I know (tried {', '.join(_LABEL_MODULES)}). A labels CSV "
        "needs the columns account,label.")


def reader(name: str) -> ModuleType:
    try:
        return importlib.import_module(_available()[name])
    except KeyError:
        raise InputError(f"--format {name}: unknown format. Known: auto, "
                         f"{', '.join(_available())}.") from None


def detect(path: Path) -> str:
    """The format of ``path``, sniffed from its start; raises naming the formats tried."""
    head: Head = head_of(path)
    for name in _available():
        if name == "generic":
            continue
        if reader(name).sniff(path, head):
            return name
    from tracer.schema import REQUIRED_TRANSFER_COLUMNS, require_columns

    if sum(c in head.columns for c in REQUIRED_TRANSFER_COLUMNS) >= 3:
        require_columns(str(path), list(head.columns), REQUIRED_TRANSFER_COLUMNS)
    raise InputError(
        f"{path}: format not recognised (tried {', '.join(n for n in _available() if n != 'generic')}). "
        "Force one with --format NAME, or map the columns with --format generic --map "
        "tx_id=...,timestamp=...,src=...,dst=...,amount=...,asset=...")


def post_steps() -> list[tuple[str, object]]:
    """(column, post) of every reader with a post step: the step sees the rows where its
    column is set, of every file in the workspace, and returns them changed."""
    return [(m.POST_ROWS, m.post) for m in (reader(n) for n in _available())
            if hasattr(m, "post")]
