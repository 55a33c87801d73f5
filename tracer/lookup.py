"""Finding an account however it is written.

An investigator pastes an address from a block explorer, an IBAN from a bank letter with its
spaces, an account number from a statement, or a shortened id from one of tracer's own tables
(``tron:T9kNpv…``). ``resolve_accounts`` turns each into the workspace's id:

- a raw Tron address -> ``tron:<address>``; an Ethereum address in any case (EIP-55 checksum
  case included) -> ``eth:<lower case>``; a Bitcoin address -> ``btc:<address>`` (bech32 in
  lower case); an IBAN with or without spaces, any case -> ``iban:<IBAN>``; a bank account
  number -> ``bank:<bank>:<number>`` at whichever bank holds it;
- the same with our namespace prefix, in any case of the prefix;
- an id cut short (``…`` or ``...`` at its end or in its middle, or simply its start): the one
  id it begins (and ends) with.

One match is used, and a note says which id (for stderr); several are an error listing them;
none is an error naming the closest ids. Everything is a bisection of the sorted account ids
(``Graph.accounts``) plus a bounded look at their neighbours, so it stays fast on millions of
accounts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from tracer.errors import UnknownAccountError, printable

__all__ = ["resolve_accounts", "resolve_names", "candidate_forms", "suggest"]

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_TRON = re.compile(rf"^T[{_B58}]{{33}}$")
_ETH = re.compile(r"^0[xX][0-9a-fA-F]{40}$")
_BTC_LEGACY = re.compile(rf"^[13][{_B58}]{{25,34}}$")
_BTC_BECH32 = re.compile(r"^(bc1|BC1)[a-zA-Z0-9]{8,87}$")
_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")
_NUMBER = re.compile(r"^[0-9][0-9 \-]*$")
_ELLIPSIS = re.compile(r"…|\.\.\.")
NAMESPACES = ("tron", "eth", "btc", "btctx", "iban", "bank")
MAX_LISTED = 10  # ids named in an error
NEIGHBOURS = 16  # ids either side of where a form would sit, looked at for suggestions
MIN_PREFIX = 4  # characters after the namespace before a start of an id can match


class _Ids:
    """The sorted account ids of a graph, read one at a time (never all into Python)."""

    def __init__(self, arr: pa.Array) -> None:
        self.arr = arr
        self.n = len(arr)

    def __getitem__(self, i: int) -> str:
        return self.arr[i].as_py()

    def left(self, key: str, lo: int = 0, hi: int | None = None) -> int:
        hi = self.n if hi is None else hi
        while lo < hi:
            mid = (lo + hi) // 2
            if self[mid] < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def has(self, key: str) -> bool:
        i = self.left(key)
        return i < self.n and self[i] == key

    def prefixed(self, prefix: str, limit: int) -> tuple[list[str], int]:
        """Up to ``limit`` ids that start with ``prefix``, and how many there are."""
        lo = self.left(prefix)
        hi = self.left(prefix + "\U0010ffff", lo)
        return [self[i] for i in range(lo, min(hi, lo + limit))], hi - lo


def _bank_codes(ids: _Ids) -> list[str]:
    """The banks of ``bank:<bank>:<number>`` ids: one bisection per bank."""
    codes, i = [], ids.left("bank:")
    while i < ids.n:
        name = ids[i]
        if not name.startswith("bank:"):
            break
        rest = name[5:]
        cut = rest.find(":")
        if cut < 0:
            i += 1
            continue
        code = rest[:cut]
        codes.append(code)
        i = ids.left(f"bank:{code};", i)  # ';' follows ':': the next bank
    return codes


def candidate_forms(name: str) -> tuple[list[str], str | None]:
    """(ids ``name`` may stand for, in order; a bank account number to look for at every
    bank, or None)."""
    s = name.strip()
    forms: list[str] = []
    number = None
    ns, sep, body = s.partition(":")
    if sep and ns.lower() in NAMESPACES:
        ns, body = ns.lower(), body.strip()
        if ns == "eth" or ns == "btctx":
            forms.append(f"{ns}:{body.lower()}")
        elif ns == "iban":
            forms.append("iban:" + re.sub(r"\s+", "", body).upper())
        elif ns == "btc":
            forms.append(f"btc:{body}")
            if body.lower().startswith("bc1"):
                forms.append(f"btc:{body.lower()}")
        elif ns == "bank":
            bank, sep2, acct = body.partition(":")
            if sep2:
                forms += [f"bank:{bank}:{acct.strip()}", f"bank:{bank.upper()}:{acct.strip()}"]
            else:
                number = body
        else:
            forms.append(f"{ns}:{body}")
    else:
        compact = re.sub(r"\s+", "", s)
        if _ETH.match(compact):
            forms.append("eth:" + compact.lower())
        elif _TRON.match(compact):
            forms.append("tron:" + compact)
        elif _BTC_BECH32.match(compact):
            forms.append("btc:" + compact.lower())
        elif _BTC_LEGACY.match(compact):
            forms.append("btc:" + compact)
        elif _IBAN.match(compact.upper()):
            forms.append("iban:" + compact.upper())
        if _NUMBER.match(s):
            number = s
    forms.append(s)
    return list(dict.fromkeys(forms)), number


def _short(name: str) -> tuple[str, str] | None:
    """(start, end) of an id written cut short (``tron:T9kN…``, ``T9kN...x7Q``), or None."""
    parts = _ELLIPSIS.split(name.strip())
    if len(parts) != 2:
        return None
    return parts[0], parts[1]


def _matches(ids: _Ids, name: str, banks: list[str] | None) -> tuple[list[str], int, list[str]]:
    """(ids found, how many in all, the forms tried)."""
    forms, number = candidate_forms(name)
    found = [f for f in forms if ids.has(f)]
    if number is not None:
        digits = re.sub(r"[\s\-]", "", number)
        for code in banks if banks is not None else _bank_codes(ids):
            for form in dict.fromkeys((f"bank:{code}:{number}", f"bank:{code}:{digits}")):
                if ids.has(form):
                    found.append(form)
    found = list(dict.fromkeys(found))
    if found:
        return found, len(found), forms
    short = _short(name)
    start, end = short if short is not None else (name.strip(), "")
    hits: list[str] = []
    total = 0
    for form in _start_forms(start):
        body = form.partition(":")[2] if ":" in form else form
        if len(body) < MIN_PREFIX and short is None:
            continue
        got, n = ids.prefixed(form, 10_000)
        if end:
            got = [g for g in got if g.endswith(end)]
            n = len(got)
        hits += got
        total = max(total, n)
    hits = list(dict.fromkeys(hits))
    return hits, max(total, len(hits)), forms


def _start_forms(start: str) -> list[str]:
    """The starts of ids that ``start`` (the start of an id) may stand for."""
    s = start.strip()
    ns, sep, _body = s.partition(":")
    if sep and ns.lower() in NAMESPACES:
        return candidate_forms(s)[0]
    compact = re.sub(r"\s+", "", s)
    if not compact:
        return []
    forms = [
        f"tron:{compact}",
        f"eth:{compact.lower()}",
        f"btc:{compact}",
        f"btc:{compact.lower()}",
        f"btctx:{compact.lower()}",
        f"iban:{compact.upper()}",
        s,
    ]
    return list(dict.fromkeys(forms))


def _distance(a: str, b: str, cap: int) -> int:
    """Levenshtein distance, or ``cap + 1`` once it must exceed ``cap``."""
    if abs(len(a) - len(b)) > cap:
        return cap + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        if min(cur) > cap:
            return cap + 1
        prev = cur
    return prev[-1]


def suggest(ids: _Ids | pa.Array, name: str, k: int = 3) -> list[str]:
    """The ids closest to ``name``: the neighbours of each of its forms in sorted order, ranked
    by edit distance (then longest shared start); a bounded look, never a scan."""
    ids = ids if isinstance(ids, _Ids) else _Ids(ids)
    forms = list(dict.fromkeys([*candidate_forms(name)[0], *_start_forms(name)]))
    pool: dict[str, None] = {}
    for form in forms:
        i = ids.left(form)
        for j in range(max(0, i - NEIGHBOURS), min(ids.n, i + NEIGHBOURS)):
            pool[ids[j]] = None
    ranked = []
    for cand in pool:
        best = None
        for form in forms:
            cap = max(2, len(form) // 3)
            d = _distance(form, cand, cap)
            if d <= cap:
                shared = len(_common(form, cand))
                key = (d, -shared)
                best = key if best is None or key < best else best
        if best is not None:
            ranked.append((best, cand))
    ranked.sort()
    return [c for _, c in ranked[:k]]


def _common(a: str, b: str) -> str:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


def _listing(names: Sequence[str], total: int) -> str:
    shown = ", ".join(printable(n, 80) for n in names[:MAX_LISTED])
    return shown + (f" and {total - MAX_LISTED} more" if total > MAX_LISTED else "")


def _resolve_one(ids: _Ids, name: str, banks: list[str] | None) -> tuple[str, str | None]:
    found, total, _forms = _matches(ids, name, banks)
    shown = printable(name, 80)
    if total == 1:
        note = None if found[0] == name else f"{shown}: using account {printable(found[0], 120)}"
        return found[0], note
    if total > 1:
        raise UnknownAccountError(
            f"{shown}: matches {total} accounts: {_listing(found, total)}. Give the whole id."
        )
    close = suggest(ids, name)
    hint = (
        f" Did you mean {', '.join(close[:-1])} or {close[-1]}?"
        if len(close) > 1
        else f" Did you mean {close[0]}?"
        if close
        else " No account id is close to it. Ids carry a namespace: tron:T…, eth:0x…, btc:…, "
        "iban:…, bank:<bank>:<number>."
    )
    raise UnknownAccountError(f"{shown}: no such account in the workspace.{hint}")


def resolve_names(ws, names: Sequence[str], level: str = "account") -> tuple[list[str], list[str]]:
    """(the workspace id of each name, notes saying which id a name stood for). At
    ``level="entity"`` the ids are entities: an entity's name stands for itself, an account
    for its entity. Raises ``UnknownAccountError`` (one line: ambiguous, or not found with the
    closest ids) for the first name that does not resolve to exactly one account."""
    if level not in ("account", "entity"):
        from tracer.errors import InputError

        raise InputError(f"--level {level}: choose account or entity.")
    ids = _Ids(ws.graph.accounts)
    banks: list[str] | None = None
    out: list[str] = []
    notes: list[str] = []
    entity_ids = _Ids(ws.entity_graph.accounts) if level == "entity" else None
    for name in names:
        if entity_ids is not None and entity_ids.has(name) and not ids.has(name):
            out.append(name)
            continue
        if banks is None and candidate_forms(name)[1] is not None:
            banks = _bank_codes(ids)
        found, note = _resolve_one(ids, name, banks)
        out.append(found)
        if note:
            notes.append(note)
    if entity_ids is not None:
        import polars as pl

        wanted = [n for n in out if not entity_ids.has(n) or ids.has(n)]
        owner = (
            dict(
                ws.scan("accounts")
                .filter(pl.col("account").is_in(wanted))
                .select("account", "entity")
                .collect()
                .iter_rows()
            )
            if wanted
            else {}
        )
        out = [owner.get(n, n) for n in out]
    return out, notes


def resolve_accounts(
    ws, names: Sequence[str], level: str = "account"
) -> tuple[np.ndarray, list[str]]:
    """(ids: node numbers in ``ws.graph_at(level)`` of each name, in order; notes for stderr
    saying which id a name stood for). The drop-in for ``tracer.api.find_accounts`` where
    names come from a user: see ``resolve_names``."""
    found, notes = resolve_names(ws, names, level)
    g = ws.graph_at(level)
    ids = _Ids(g.accounts)
    out = []
    for name in found:
        i = ids.left(name)
        if i >= ids.n or ids[i] != name:  # an account the entity graph has no node for
            raise UnknownAccountError(f"{printable(name, 120)}: not in the {level} graph.")
        out.append(i)
    return np.array(out, dtype=np.int64), notes
