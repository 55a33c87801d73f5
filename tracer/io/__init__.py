"""Readers: one module per source format (or a few formats in one module), each turning a file
into canonical tables. Every transfer format is a ``Reader`` record (``tracer.io.base``)
registered in ``READERS``; ``docs/readers.md`` says how to write one.

``reader(name)`` gives the record: ``sniff(path, head)``, ``read(path, source, options[,
frame=...])``, ``batched`` and ``table`` (ingest reads the file in batches with
``tracer.io.common.iter_table(path, rows, **table)``), ``post`` and ``post_rows`` (a step after
every ingest over the rows of the whole workspace where that column is set).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from tracer.errors import InputError
from tracer.io import (
    amlsim,
    amlsim_accounts,
    amlworld,
    amlworld_accounts,
    bitcoin,
    camt053,
    canonical,
    ethereum_etl,
    etherscan,
    generic,
    labels,
    ofac,
    tagpack,
    tronscan,
)
from tracer.io.base import Reader
from tracer.io.common import Head, ReadResult, head_of

__all__ = [
    "READERS",
    "FORMATS",
    "LABEL_FORMATS",
    "Reader",
    "reader",
    "detect",
    "label_reader",
    "detect_labels",
    "post_steps",
    "Head",
    "ReadResult",
]

# sniffed in this order: the most specific first, canonical and generic last
READERS: dict[str, Reader] = {
    r.name: r
    for r in (
        etherscan.txs,
        etherscan.internal,
        etherscan.tokens,
        tronscan.csv,
        tronscan.json_,
        ethereum_etl.token_transfers,
        ethereum_etl.transactions,
        amlworld.READER,
        amlworld_accounts.READER,
        amlsim.READER,
        amlsim_accounts.READER,
        bitcoin.bq_inputs,
        bitcoin.bq_outputs,
        bitcoin.blockchair_inputs,
        bitcoin.blockchair_outputs,
        camt053.READER,
        canonical.READER,
        generic.READER,
    )
}

# label files (--labels): a module with NAME, sniff(path, head) and
# read_labels(path, source) -> (labels with LABEL_COLUMNS, rejects, rows read)
_LABEL_MODULES: dict[str, ModuleType] = {"tagpack": tagpack, "ofac": ofac, "labels": labels}

FORMATS = tuple(READERS)
LABEL_FORMATS = tuple(_LABEL_MODULES)


def label_reader(name: str) -> ModuleType:
    return _LABEL_MODULES[name]


def detect_labels(path: Path) -> str:
    head = head_of(path)
    for name in _LABEL_MODULES:
        if label_reader(name).sniff(path, head):
            return name
    raise InputError(
        f"{path}: not a labels file I know (tried {', '.join(_LABEL_MODULES)}). A labels CSV "
        "needs the columns account,label."
    )


def reader(name: str) -> Reader:
    try:
        return READERS[name]
    except KeyError:
        raise InputError(
            f"--format {name}: unknown format. Known: auto, {', '.join(READERS)}."
        ) from None


def detect(path: Path) -> str:
    """The format of ``path``, sniffed from its start; raises naming the formats tried."""
    head: Head = head_of(path)
    for name, r in READERS.items():
        if name == "generic":
            continue
        if r.sniff(path, head):
            return name
    from tracer.schema import REQUIRED_TRANSFER_COLUMNS, require_columns

    if sum(c in head.columns for c in REQUIRED_TRANSFER_COLUMNS) >= 3:
        require_columns(str(path), list(head.columns), REQUIRED_TRANSFER_COLUMNS)
    raise InputError(
        f"{path}: format not recognised (tried {', '.join(n for n in READERS if n != 'generic')}). "
        "Force one with --format NAME, or map the columns with --format generic --map "
        "tx_id=...,timestamp=...,src=...,dst=...,amount=...,asset=..."
    )


def post_steps() -> list[tuple[str, object]]:
    """(column, post) of every reader with a post step: the step sees the rows where its
    column is set, of every file in the workspace, and returns them changed."""
    return [(r.post_rows, r.post) for r in READERS.values() if r.post is not None]
