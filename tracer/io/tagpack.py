"""GraphSense TagPacks (YAML): one label row per tag.

A TagPack has header fields (``title, creator, currency, category, abuse, label, actor,
source, confidence, lastmod, …``) that apply to every tag unless the tag gives its own, and a
``tags`` list (``address`` plus any of those fields). Each tag becomes one label row:

- ``account``: ``tracer.io.categories.account_id(currency, address)``: ``btc:<address>``,
  ``eth:<address lower-cased>`` (ETH, and USDT/USDC/… on an ``0x`` address), ``tron:<address>``
  (TRX, and USDT/… on a ``T…`` address), else ``<currency lower>:<address>``;
- ``label``: our category (``tracer.io.categories.category``) of the first of: the tag's
  ``abuse``, ``category``, ``concepts``, then the header's ``abuse``, ``category``, ``concepts``.
  Abuse comes first because it says what the address was used for (``sanction``, ``scam``,
  ``service_hack``), which is what a trace stops at or flags; the category says what kind of
  actor holds it (``user``, ``exchange``). Null when the pack says neither;
- ``name``: the ``label`` text, exactly as written; ``entity``: ``actor``;
- ``source``: ``<file name>: <tag source, else pack source>`` (just the file name without one);
- ``confidence``: GraphSense's named confidence as a level in 0..1 (``CONFIDENCE``, from their
  confidence table: level / 100); a name not in the table gives null.

Rejected, with the reason: a tag that is not a mapping, without an address, without a currency
(in the tag or the header), with a field that is not text, with an address or currency that
cannot make an account id, and an earlier tag for an account tagged again later in the file (the
later tag is kept, as in the labels CSV). Every tag counts in ``read``; ``source_row`` is the
tag's position in ``tags`` (1-based) and ``raw`` the tag as JSON, every value as the text
written. A file that is not YAML, or has no top-level ``tags`` list, raises InputError.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import yaml

from tracer.errors import InputError, printable
from tracer.io.categories import account_id, category
from tracer.io.common import Head
from tracer.io.labels import LABEL_COLUMNS
from tracer.schema import ACCOUNTS, REJECTS

__all__ = ["NAME", "CONFIDENCE", "sniff", "read_labels"]

NAME = "tagpack"

# GraphSense confidence names → 0..1 (their level / 100; graphsense-tagpack-tool confidence.csv)
CONFIDENCE: dict[str, float] = {
    "override": 1.0,  # manual cluster tag, overrides all others
    "ownership": 1.0,  # the creator controls the key
    "ledger_immanent": 1.0,  # the ledger itself says so (e.g. a token blacklist)
    "manual_transaction": 0.9,  # the creator moved funds between known services
    "service_api": 0.7,  # from a known service's API
    "forensic_investigation": 0.7,  # law enforcement / forensic case material
    "authority_data": 0.6,  # from public authorities (e.g. OFAC)
    "trusted_provider": 0.5,  # trusted third parties
    "service_data": 0.5,  # published by the service itself
    "forensic": 0.5,  # reports, academic papers
    "untrusted_transaction": 0.4,  # a third party moved funds between known services
    "web_crawl": 0.2,  # crawled from the web
    "heuristic": 0.1,  # best effort
    "unknown": 0.05,  # source and reliability unknown
}

_TOP_TAGS = re.compile(r"(?m)^tags[ \t]*:(?:[ \t]|$)")
_LOADER = getattr(yaml, "CBaseLoader", yaml.BaseLoader)  # every scalar as the text written
_MAX_NODES = 2_000_000  # YAML aliases may not expand the document beyond this many nodes


class _Reject(Exception):
    """A tag that cannot become a label row; the message is the reason."""


def sniff(path: Path, head: Head) -> bool:
    return path.suffix.lower() in (".yaml", ".yml") and bool(_TOP_TAGS.search(head.text))


def _problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        where = f" at line {exc.problem_mark.line + 1}" if exc.problem_mark else ""
        return f"{exc.problem}{where}"
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _check_aliases(data: bytes, path: Path) -> None:
    """Refuse recursive aliases and aliases that expand the document past ``_MAX_NODES``
    nodes (a "billion laughs" file), before anything is built from it."""
    sizes: dict[str, int] = {}
    stack: list[list] = []  # [anchor, nodes] for each open sequence or mapping
    expanded = 0
    try:
        for ev in yaml.parse(data, Loader=_LOADER):
            if isinstance(ev, yaml.CollectionStartEvent):
                stack.append([ev.anchor, 1])
                expanded += 1
                continue
            if isinstance(ev, yaml.CollectionEndEvent):
                anchor, n = stack.pop()
                if anchor:
                    sizes[anchor] = n
                if stack:
                    stack[-1][1] += n
                continue
            if isinstance(ev, yaml.AliasEvent):
                if any(anchor == ev.anchor for anchor, _ in stack):
                    raise InputError(
                        f"{path}: the YAML alias *{printable(ev.anchor, 40)} refers "
                        "to itself. Expand the alias, or export the TagPack again."
                    )
                n = sizes.get(ev.anchor, 1)
            elif isinstance(ev, yaml.ScalarEvent):
                n = 1
                if ev.anchor:
                    sizes[ev.anchor] = 1
            else:
                continue
            expanded += n
            if stack:
                stack[-1][1] += n
            if expanded > _MAX_NODES:
                raise InputError(
                    f"{path}: YAML aliases expand it past {_MAX_NODES:,} values. "
                    "Expand the aliases, or split the TagPack."
                )
    except yaml.YAMLError:
        return  # reported by the load, with the line


def _load(path: Path) -> tuple[dict, list]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__}).") from exc
    if b"*" in data:
        _check_aliases(data, path)
    try:
        doc = yaml.load(data, Loader=_LOADER)  # a BaseLoader builds only text, lists, dicts
    except yaml.YAMLError as exc:
        raise InputError(
            f"{path}: not readable YAML ({printable(_problem(exc), 160)}). "
            "Check the file, or export the TagPack again."
        ) from exc
    if not isinstance(doc, dict) or "tags" not in doc:
        raise InputError(f"{path}: not a GraphSense TagPack (no top-level tags: list).")
    tags = doc["tags"]
    if tags == "":  # `tags:` with nothing after it
        tags = []
    if not isinstance(tags, list):
        raise InputError(f"{path}: tags is not a list of tags. Write each tag as `- address: …`.")
    return {k: v for k, v in doc.items() if k != "tags"}, tags


def _field(level: dict, field: str, where: str) -> str | None:
    value = level.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Reject(f"{field} in the {where} is not text")
    return value.strip() or None


def _pick(tag: dict, header: dict, field: str) -> str | None:
    """The tag's own value of ``field``, else the pack header's."""
    return _field(tag, field, "tag") or _field(header, field, "pack header")


def _category(tag: dict, header: dict) -> str | None:
    for level, where in ((tag, "tag"), (header, "pack header")):
        for field in ("abuse", "category"):
            value = _field(level, field, where)
            if value:
                return category(value)
        concepts = level.get("concepts")
        if isinstance(concepts, str):
            concepts = [concepts]
        if isinstance(concepts, list):
            for value in concepts:
                if isinstance(value, str) and value.strip():
                    return category(value)
    return None


def _row(tag: object, header: dict, source: str) -> tuple:
    if not isinstance(tag, dict):
        raise _Reject("tag is not a mapping of fields (address: …, label: …)")
    address = _field(tag, "address", "tag")
    if address is None:
        raise _Reject("tag without address")
    currency = _pick(tag, header, "currency")
    if currency is None:
        raise _Reject("no currency (neither in the tag nor in the pack header)")
    try:
        account = account_id(currency, address)
    except ValueError as exc:
        raise _Reject(str(exc)) from None
    where = _pick(tag, header, "source")
    confidence = _pick(tag, header, "confidence")
    return (
        account,
        _category(tag, header),
        _pick(tag, header, "label"),
        _pick(tag, header, "actor"),
        None,
        f"{source}: {where}" if where else source,
        CONFIDENCE.get(confidence.lower()) if confidence else None,
    )


def read_labels(path: Path, source: str) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """(labels with LABEL_COLUMNS, rejects, tags read)."""
    header, tags = _load(path)
    rows: list[tuple[int, tuple, str]] = []  # (tag number, label row, raw)
    rejects: list[tuple] = []
    for i, tag in enumerate(tags, start=1):
        raw = json.dumps(tag, ensure_ascii=False)
        try:
            rows.append((i, _row(tag, header, source), raw))
        except _Reject as exc:
            rejects.append((source, i, str(exc), raw))
    last = {row[0]: i for i, row, _ in rows}
    kept = []
    for i, row, raw in rows:
        if last[row[0]] == i:
            kept.append(row)
        else:
            rejects.append(
                (
                    source,
                    i,
                    f"account tagged again at tag {last[row[0]]} (the later tag is kept)",
                    raw,
                )
            )
    labels = pl.DataFrame(kept, schema={c: ACCOUNTS[c] for c in LABEL_COLUMNS}, orient="row")
    rejected = pl.DataFrame(rejects, schema=REJECTS, orient="row").sort("source_row")
    return labels, rejected, len(tags)
