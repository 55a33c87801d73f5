"""Vocabularies of outside label sources mapped to ours, shared by the label readers.

``CATEGORIES``: external category names (GraphSense TagPack ``category``/``abuse``/``concepts``,
and the words other sources use) → our account labels (docs/design.md section 3: exchange, otc,
bridge, mixer, sanctioned, gambling, merchant, victim, mule, suspect, …). ``category(name)``
looks a name up, case- and spacing-insensitively; a name not in the table is kept as it is,
lower-cased, with runs of white space turned into ``_``.

``account_id(currency, address)``: the namespaced account id (docs/design.md section 3) of an address
given with a currency or asset code:

| currency                                   | account                                  |
|--------------------------------------------|------------------------------------------|
| BTC, XBT, OMNI (Omni tokens live on Bitcoin addresses) | ``btc:<address>`` as written |
| ETH, ERC20, ``*-ERC20``                    | ``eth:<address lower-cased>``            |
| TRX, TRC20, ``*-TRC20``                    | ``tron:<address>`` as written            |
| USDT, USDC and other multi-chain tokens (``TOKENS``) | by the address's shape: ``0x`` + 40 hex → ``eth:`` (lower case), ``T`` + 33 base58 → ``tron:``, for USDT a Bitcoin address → ``btc:`` (Omni); otherwise ``<token lower>:<address>`` |
| anything else                              | ``<currency lower>:<address>``; a ``0x`` + 40 hex address (an EVM chain: BSC, Polygon, ETC, …) lower-cased |
"""

from __future__ import annotations

import re

__all__ = ["CATEGORIES", "TOKENS", "category", "account_id"]

CATEGORIES: dict[str, str] = {
    # exchanges and brokers
    "exchange": "exchange",
    "cex": "exchange",
    "centralized_exchange": "exchange",
    "exchange_wallet": "exchange",
    "otc": "otc",
    "otc_broker": "otc",
    "otc_desk": "otc",
    "broker": "otc",
    # mixing
    "mixer": "mixer",
    "mixing": "mixer",
    "mixing_service": "mixer",
    "coinjoin": "mixer",
    "tumbler": "mixer",
    "privacy_protocol": "mixer",
    # sanctions
    "sanction": "sanctioned",
    "sanctions": "sanctioned",
    "sanctioned": "sanctioned",
    "sanction_list": "sanctioned",
    "ofac": "sanctioned",
    "ofac_sanctions_lists": "sanctioned",
    # frauds (GraphSense abuse taxonomy: scam and its kin)
    "scam": "scam",
    "fraud": "scam",
    "phishing": "scam",
    "phish": "scam",
    "ponzi_scheme": "scam",
    "pyramid_scheme": "scam",
    "investment_fraud": "scam",
    "extortion": "scam",
    "sextortion": "scam",
    "fake_ico": "scam",
    "ransomware": "ransomware",
    # thefts
    "hack": "hack",
    "hacker": "hack",
    "service_hack": "hack",
    "heist": "hack",
    "exploit": "hack",
    "exploiter": "hack",
    "phish_hack": "hack",
    # services
    "gambling": "gambling",
    "casino": "gambling",
    "defi": "defi",
    "defi_dex": "defi",
    "dex": "defi",
    "defi_lending": "defi",
    "defi_derivative": "defi",
    "defi_derivatives": "defi",
    "lending": "defi",
    "bridge": "bridge",
    "defi_bridge": "bridge",
    "cross_chain_bridge": "bridge",
    "wallet_service": "wallet_service",
    "escrow_wallet": "wallet_service",
    "hosted_wallet": "wallet_service",
    "custodian": "wallet_service",
    "miner": "miner",
    "mining_service": "miner",
    "mining_pool": "miner",
    "mining": "miner",
    "merchant": "merchant",
    "shop": "merchant",
    "payment_processor": "merchant",
    "market": "market",
    "darknet_market": "market",
    # stablecoin issuers' freeze lists (e.g. Tether's USDT blacklist)
    "black_list": "blacklisted",
    "blacklist": "blacklisted",
    "blacklisted": "blacklisted",
    # people
    "perpetrator": "suspect",
    "suspect": "suspect",
    "victim": "victim",
    "mule": "mule",
    "money_mule": "mule",
}

# tokens issued on several chains: the chain follows from the address's shape
TOKENS = frozenset({"USDT", "USDC", "DAI", "BUSD", "TUSD", "USDP", "PAX", "USDD", "WBTC", "WETH"})

_SPACE = re.compile(r"\s+")
_KEY = re.compile(r"[\s_/\-]+")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
_EVM = re.compile(r"0x[0-9a-fA-F]{40}")
_TRON = re.compile(r"T[1-9A-HJ-NP-Za-km-z]{33}")
_BITCOIN = re.compile(r"[13][1-9A-HJ-NP-Za-km-z]{25,34}|(?i:bc1[02-9ac-hj-np-z]{6,87})")
_FIXED = {
    "BTC": "btc",
    "XBT": "btc",
    "OMNI": "btc",
    "ETH": "eth",
    "ERC20": "eth",
    "TRX": "tron",
    "TRC20": "tron",
}


def category(name: str) -> str:
    """Our label for an outside category name (non-empty text): ``CATEGORIES`` looked up
    ignoring case, spaces, ``-``, ``_`` and ``/`` runs; else the name lower-cased with white
    space turned into ``_``."""
    text = name.strip().lower()
    return CATEGORIES.get(_KEY.sub("_", text).strip("_"), _SPACE.sub("_", text))


def account_id(currency: str, address: str) -> str:
    """The namespaced account id of ``address`` (see the module's table). Raises ValueError
    with a reason a person understands when the currency or the address cannot be one."""
    code = currency.strip()
    addr = address.strip()
    if not _CODE.fullmatch(code):
        raise ValueError("currency is not a currency code (letters, digits, . _ -)")
    if not addr:
        raise ValueError("empty address")
    if any(c.isspace() or not c.isprintable() for c in addr):
        raise ValueError("address has spaces or control characters inside")
    upper = code.upper()
    base, _, chain = upper.rpartition("-")
    if base and chain in ("ERC20", "TRC20", "OMNI"):
        upper = chain
    fixed = _FIXED.get(upper)
    if fixed is None and upper in TOKENS:
        if _EVM.fullmatch(addr):
            fixed = "eth"
        elif _TRON.fullmatch(addr):
            fixed = "tron"
        elif upper == "USDT" and _BITCOIN.fullmatch(addr):
            fixed = "btc"
    if fixed == "eth" or (fixed is None and _EVM.fullmatch(addr)):
        addr = addr.lower()
    return f"{fixed or code.lower()}:{addr}"
