"""``tracer report --format ftm``: FollowTheMoney entities, one JSON object a line, for Aleph.

- every account reached: ``BankAccount`` (bank and IBAN ids) or ``CryptoWallet`` (eth, tron,
  btc addresses); Bitcoin transaction nodes (``btctx:``) are not accounts and get no entity;
- every owner: ``LegalEntity`` for an account's ``entity`` when it groups several accounts or
  was given in a labels file (linked to bank accounts by ``Ownership``, to wallets as their
  ``holder``). A wallet with no known owner gets a ``LegalEntity`` "Holder of <wallet>",
  because a FollowTheMoney ``Payment`` names a wallet's side only through its owner;
- every transfer that carried taint: ``Payment`` (payer and beneficiary accounts for bank
  accounts, payer and beneficiary owners for both), with the tx id, time, amount and asset as
  transferred, and the tainted part in the description.

Ids are deterministic (``make_id`` over a kind and the account, entity or tx id), so the same
transfer or account gets the same id in every export and Aleph merges them. Without the
workspace (names, owners, assets) accounts carry their ids only and amounts are in the trace
unit.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal

from tracer.report.custody import ResultFolder

__all__ = ["ftm_entities", "to_ftm"]

_CHAINS = {"eth": "Ethereum", "tron": "Tron", "btc": "Bitcoin"}


def _model():
    from followthemoney import model

    return model


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _num(x: float) -> str:
    """A number as plain decimal text: FollowTheMoney rounds floats to cents, which would turn
    0.00012345 BTC into 0.00."""
    return format(Decimal(repr(float(x))), "f")


def _kind(account: str) -> str:
    prefix = account.split(":", 1)[0] if ":" in account else ""
    if prefix in ("bank", "iban"):
        return "bank"
    if prefix in _CHAINS:
        return "crypto"
    if prefix == "btctx":
        return "tx"
    return "unknown"


def ftm_entities(
    data: ResultFolder, accounts: list[dict] | None = None, transfers: list[dict] | None = None
) -> list:
    """FollowTheMoney entity proxies for a result, in a fixed order (owners, accounts,
    payments; each by id). ``accounts``: rows of the workspace's accounts.parquet (account,
    label, name, entity) for the accounts reached; ``transfers``: rows of transfers.parquet
    (tx_id, src, dst, asset, amount, amount_raw) for the flows."""
    model = _model()
    unit = data.unit
    info = {a["account"]: a for a in accounts or []}
    moved = {t["tx_id"]: t for t in transfers or []}
    held = {h["account"]: h for h in data.holdings.to_pylist()}
    flows = data.flows.to_pylist()
    members: dict[str, list[str]] = {}
    for a in info.values():
        if a.get("entity") is not None:
            members.setdefault(a["entity"], []).append(a["account"])

    # at entity level the flows are between entities: the accounts are those of the transfers
    names = set(held)
    for f in flows:
        t = moved.get(f["tx_id"])
        names.update((t["src"], t["dst"]) if t else (f["src"], f["dst"]))

    owners: dict[str, object] = {}
    out_accounts: dict[str, object] = {}
    links: list = []

    def owner_of(acc: str):
        a = info.get(acc, {})
        ent = a.get("entity")
        known = ent is not None and (ent != acc or len(members.get(ent, [])) > 1)
        if not known and _kind(acc) != "crypto":
            return None
        key = ent if known else acc
        if key not in owners:
            o = model.make_entity("LegalEntity")
            o.make_id("tracer-entity", key)
            if known:
                o.add("name", key)
                o.add(
                    "description",
                    "Owner of "
                    + ", ".join(sorted(members.get(key, [acc])))
                    + " (tracer entity: the labels' entity column or the multi-input heuristic)",
                )
            else:
                o.add("name", f"Holder of {acc}")
                o.add(
                    "description",
                    "Unknown holder of the wallet, named so that payments can refer to it",
                )
            owners[key] = o
        return owners[key]

    def account(acc: str):
        if acc in out_accounts:
            return out_accounts[acc]
        kind = _kind(acc)
        if kind not in ("bank", "crypto"):
            out_accounts[acc] = None
            return None
        a, h = info.get(acc, {}), held.get(acc)
        ident = acc.split(":", 1)[1]
        if kind == "bank":
            e = model.make_entity("BankAccount")
            e.make_id("tracer-account", acc)
            if acc.startswith("iban:"):
                e.add("iban", ident)
                e.add("accountNumber", ident)
            else:
                bank, _, number = ident.partition(":")
                e.add("accountNumber", number or ident)
                e.add("bankName", bank)
        else:
            e = model.make_entity("CryptoWallet")
            e.make_id("tracer-account", acc)
            e.add("publicKey", ident)
            e.add("blockchain", _CHAINS[acc.split(":", 1)[0]])
            if a.get("label") == "exchange" and a.get("name"):
                e.add("managingExchange", a["name"])
        e.add("name", a.get("name") or acc)
        if a.get("name"):
            e.add("alias", acc)
        label = a.get("label") or (h or {}).get("label")
        text = [f"tracer account {acc}"]
        if label:
            text.append(f"label {label}")
        if h is not None:
            text.append(
                f"traced funds: in {h['tainted_in']:,.2f}, out {h['tainted_out']:,.2f}, "
                f"resting {h['tainted_balance']:,.2f} {unit}"
                + (" (stopped service)" if h["stopped"] else "")
            )
        e.add("description", "; ".join(text))
        o = owner_of(acc)
        if o is not None and kind == "crypto":
            e.add("holder", o.id)
        elif o is not None:
            link = model.make_entity("Ownership")
            link.make_id("tracer-ownership", o.id, e.id)
            link.add("owner", o.id)
            link.add("asset", e.id)
            link.add("role", "account holder")
            links.append(link)
        out_accounts[acc] = e
        return e

    for acc in sorted(names):
        account(acc)

    payments = []
    for f in flows:
        t = moved.get(f["tx_id"])
        src, dst = (t["src"], t["dst"]) if t else (f["src"], f["dst"])
        p = model.make_entity("Payment")
        p.make_id("tracer-payment", f["tx_id"])
        p.add("transactionNumber", f["tx_id"])
        p.add("date", _iso(f["ts"]))
        if t is not None and t.get("amount") is not None and math.isfinite(t["amount"]):
            p.add("amount", _num(t["amount"]))
            p.add("currency", t["asset"])
        elif f["value"] is not None and math.isfinite(f["value"]):
            p.add("amount", _num(f["value"]))
            p.add("currency", unit)
        if unit == "USD" and f["value"] is not None and math.isfinite(f["value"]):
            p.add("amountUsd", _num(f["value"]))
        p.add(
            "description",
            f"{src} -> {dst}: tainted {f['tainted']:,.2f} of "
            f"{f['value']:,.2f} {unit} under {data.meta.get('rule')}, hop "
            f"{f['hop']}",
        )
        for side, acc in (("payer", src), ("beneficiary", dst)):
            e = account(acc)
            if e is not None and e.schema.name == "BankAccount":
                p.add(f"{side}Account", e.id)
            o = owner_of(acc) if _kind(acc) in ("bank", "crypto") else None
            if o is not None:
                p.add(side, o.id)
        payments.append(p)

    def ordered(items) -> list:
        return sorted((i for i in items if i is not None), key=lambda e: e.id)

    return (
        ordered(owners.values())
        + ordered(out_accounts.values())
        + ordered(links)
        + ordered(payments)
    )


def to_ftm(
    data: ResultFolder, accounts: list[dict] | None = None, transfers: list[dict] | None = None
) -> str:
    """One JSON object per line (FollowTheMoney entity dicts), keys sorted."""
    return "".join(
        json.dumps(e.to_dict(), sort_keys=True, ensure_ascii=False) + "\n"
        for e in ftm_entities(data, accounts, transfers)
    )
