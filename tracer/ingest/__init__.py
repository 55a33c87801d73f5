"""Ingest: files in, workspace out, in bounded memory (docs/design.md, sections 3 to 5).

The pipeline, for transfer files of any size:

1. each file is hashed (SHA-256, so a file already ingested changes nothing) and read in
   batches of ``batch_rows`` rows by its reader; each batch's transfers become a sorted part on
   disk (``tracer.ingest.parts``), its rejects another; the workspace's earlier transfers
   are staged the same way;
2. duplicates of a tx_id already staged are rejected, naming the first row;
3. steps that span files (two banks' legs of one transfer, Bitcoin fees) run over the rows
   they concern only;
4. the parts are merged in (ts, seq, tx_id) order block by block: each block is valued from
   the prices, written to ``transfers.parquet`` and reduced to the graph's arrays (times,
   values, interned account ids), so no step holds the whole table;
5. accounts, entities and graphs are built from those arrays and everything is committed as
   a new generation of the workspace, made current by one rename (``tracer.ingest.commit``).

The whole ingest holds the workspace's lock; it first removes what a killed ingest left.

Peak memory is the graph's arrays, the transfer ids, 24 bytes of sort keys per transfer and
one block, not the size of the files.

The phases are modules: ``read``, ``dedupe``, ``value``, ``merge`` (with ``parts``) and
``commit``; ``state.Run`` is what they share, ``pipeline.ingest`` runs them in order.
"""

from tracer.ingest.pipeline import ingest
from tracer.ingest.state import BATCH_ROWS, FileReport, Progress
from tracer.ingest.value import check_unit

__all__ = ["ingest", "FileReport", "BATCH_ROWS", "Progress", "check_unit"]
