"""The population of a world: people, merchants, employers and the services (exchanges, OTC
desks, a mixer, a sanctioned exchange), each with their bank accounts and wallets.

Accounts are kept in one registry (``Registry``): canonical ids (as ``tracer ingest`` names
them: ``bank:<bank id>:<number>``, ``tron:T…``, ``eth:0x…``, ``btc:bc1q…``), a role and a
country per account. The background generator works on registry indexes; the scam side adds
its own accounts (dedicated mule accounts, the gangs' wallets) to the same registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa

from tracer.simulate import ids
from tracer.simulate.params import BANKS, COUNTRIES, World

__all__ = [
    "Registry",
    "Population",
    "Service",
    "build_population",
    "ROLES",
    "COUNTRY_CODES",
    "BANK_IDS",
    "EXCHANGES",
    "DESKS",
    "MIXER",
    "SANCTIONED",
]

COUNTRY_CODES = tuple(COUNTRIES)
BANK_IDS = tuple(b for b, _, _ in BANKS)

# roles of accounts (truth/accounts.csv); the scam network is every account a scam transfer
# touches, whatever its role
ROLES = (
    "person",
    "merchant",
    "employer",
    "victim",  # background (victims are people too)
    "exchange",
    "otc",
    "mixer",
    "sanctioned",  # services
    "mule_l1",
    "mule_l2",  # mule accounts (people's own, or dedicated)
    "gang_receiving",
    "gang_hop",
    "gang_peel",
    "gang_consolidation",
    "gang_laundering",
    "gang_mixed_out",
    "gang_exchange_deposit",  # the gangs' wallets
    "fee",  # the Bitcoin fee sink
)
ROLE = {name: i for i, name in enumerate(ROLES)}

EXCHANGES = ("Northbridge Exchange", "Coinhaven", "Tradewind Markets")
_EXCHANGE_SHARE = np.array([0.5, 0.3, 0.2])
DESKS = {
    "TH": "Siam Pacific OTC",
    "CN": "Pearl River OTC",
    "US": "Liberty Desk OTC",
    "DE": "Rheinufer OTC",
}
MIXER = "Fogbank Mixer"
SANCTIONED = "Borealis Exchange"


def _slug(name: str) -> str:
    return name.lower().replace(" ", "-")


class Registry:
    """Every account of the world: canonical id, role, country (index into COUNTRY_CODES,
    -1 for wallets), and for the scam side the gang (-1 otherwise)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._ids: list[pa.Array] = []
        self._role: list[np.ndarray] = []
        self._country: list[np.ndarray] = []
        self._gang: list[np.ndarray] = []
        self.size = 0
        self._bank_serial = 0
        self._ids_cache: pa.Array | None = None

    def _add(
        self, arr: pa.Array, role: str, country: np.ndarray | int = -1, gang: int = -1
    ) -> np.ndarray:
        n = len(arr)
        self._ids.append(arr.cast(pa.large_string()))
        self._role.append(np.full(n, ROLE[role], np.int8))
        self._country.append(np.broadcast_to(np.asarray(country, np.int8), (n,)).copy())
        self._gang.append(np.full(n, gang, np.int16))
        start = self.size
        self.size += n
        self._ids_cache = None
        return np.arange(start, start + n, dtype=np.int64)

    def bank(self, banks: np.ndarray, role: str, gang: int = -1) -> np.ndarray:
        """New bank accounts at the given banks (indexes into BANK_IDS), numbers never reused."""
        n = banks.shape[0]
        numbers = ids.account_numbers(self._bank_serial, n, key=7)
        self._bank_serial += n
        text = (
            pl.DataFrame(
                {
                    "b": pl.Series(np.array(BANK_IDS, dtype=object)[banks], dtype=pl.String),
                    "n": numbers,
                }
            )
            .select(
                pl.lit("bank:")
                + pl.col("b")
                + pl.lit(":")
                + pl.col("n").cast(pl.String).str.zfill(10)
            )
            .to_series()
        )
        country = np.array([COUNTRY_CODES.index(BANKS[b][1]) for b in range(len(BANKS))], np.int8)[
            banks
        ]
        return self._add(text.to_arrow(), role, country, gang)

    def wallets(self, chain: str, n: int, role: str, gang: int = -1) -> np.ndarray:
        make = {"tron": ids.tron_addresses, "eth": ids.eth_addresses, "btc": ids.btc_addresses}
        return self._add(make[chain](self.rng, n, prefix=f"{chain}:".encode()), role, -1, gang)

    def special(self, names: list[str], role: str) -> np.ndarray:
        return self._add(pa.array(names, pa.large_string()), role)

    @property
    def ids(self) -> pa.Array:
        if self._ids_cache is None:
            self._ids_cache = (
                pa.concat_arrays(self._ids) if self._ids else pa.array([], pa.large_string())
            )
        return self._ids_cache

    @property
    def series(self) -> pl.Series:
        """The ids as a polars Series (made once the registry is complete)."""
        if getattr(self, "_series_size", -1) != self.size:
            self._series = pl.Series("account", self.ids).cast(pl.String)
            self._series_size = self.size
        return self._series

    def take(self, index) -> pl.Series:
        """Ids of registry indexes (a polars Series, numpy array or list)."""
        return self.series.gather(index)

    @property
    def role(self) -> np.ndarray:
        return np.concatenate(self._role)

    @property
    def country(self) -> np.ndarray:
        return np.concatenate(self._country)

    @property
    def gang(self) -> np.ndarray:
        return np.concatenate(self._gang)


@dataclass
class Service:
    """A service's accounts by kind (registry indexes)."""

    name: str
    label: str
    entity: str
    bank: dict[int, np.ndarray] = field(default_factory=dict)  # country -> accounts
    tron: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    eth: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    btc: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    deposits: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # mixer inputs

    def all(self) -> np.ndarray:
        parts = [*self.bank.values(), self.tron, self.eth, self.btc, self.deposits]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)


@dataclass
class Population:
    """People, businesses and services. Arrays of registry indexes, one row per agent."""

    reg: Registry
    person_bank: np.ndarray
    person_country: np.ndarray
    person_employer: np.ndarray  # index into employer_bank
    person_landlord: np.ndarray  # index into merchant_bank
    salary_usd: np.ndarray
    merchant_bank: np.ndarray
    merchant_country: np.ndarray
    employer_bank: np.ndarray
    employer_country: np.ndarray
    crypto: np.ndarray  # person index of each crypto user
    crypto_exchange: np.ndarray  # exchange index per crypto user
    crypto_tron: np.ndarray
    crypto_eth: np.ndarray
    crypto_btc: np.ndarray  # (n, 2): a wallet's two addresses
    dep_tron: np.ndarray  # the user's deposit address at their exchange, per chain
    dep_eth: np.ndarray
    dep_btc: np.ndarray
    exchanges: list[Service]
    desks: dict[int, Service]  # country -> desk
    mixer: Service
    sanctioned: Service
    fee: int  # the Bitcoin fee sink

    def labels(self, extra: pl.DataFrame | None = None) -> pl.DataFrame:
        """What an investigator knows: services only (never mules, never the gangs' own
        wallets except those under sanctions)."""
        parts = []
        for svc in (*self.exchanges, *self.desks.values(), self.mixer, self.sanctioned):
            accs = svc.all()
            parts.append(
                pl.DataFrame(
                    {
                        "account": self.reg.ids.take(pa.array(accs)).cast(pa.string()),
                        "label": [svc.label] * len(accs),
                        "name": [svc.name] * len(accs),
                        "entity": [svc.entity] * len(accs),
                    }
                )
            )
        if extra is not None:
            parts.append(extra)
        return pl.concat(parts).select("account", "label", "name", "entity")


def _choice(rng: np.random.Generator, n: int, weights) -> np.ndarray:
    w = np.asarray(weights, np.float64)
    return rng.choice(w.shape[0], size=n, p=w / w.sum())


def _every_country(country: np.ndarray) -> np.ndarray:
    """At least one of each country (the first rows), so no country lacks businesses."""
    k = len(COUNTRY_CODES)
    country[:k] = np.arange(k)[: country.shape[0]]
    return country


def _banks_for(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    out = np.empty(country.shape[0], np.int64)
    for c, code in enumerate(COUNTRY_CODES):
        sel = np.flatnonzero(country == c)
        banks = [i for i, (_, cc, _) in enumerate(BANKS) if cc == code]
        weights = [BANKS[i][2] for i in banks]
        out[sel] = np.array(banks)[_choice(rng, sel.shape[0], weights)]
    return out


# monthly salary in USD by country (median), lognormal spread
_SALARY = {"TH": 650.0, "CN": 1_100.0, "US": 4_200.0, "DE": 3_600.0}
CRYPTO_SHARE = 0.12  # people who hold exchange accounts and wallets


def build_population(w: World, seed: int) -> Population:
    rng = np.random.default_rng([seed, 1])
    reg = Registry(rng)
    pop_share = [COUNTRIES[c][2] for c in COUNTRY_CODES]

    person_country = _choice(rng, w.people, pop_share)
    person_bank = reg.bank(_banks_for(rng, person_country), "person")
    merchant_country = _every_country(_choice(rng, w.merchants, pop_share))
    merchant_bank = reg.bank(_banks_for(rng, merchant_country), "merchant")
    employer_country = _every_country(_choice(rng, w.employers, pop_share))
    employer_bank = reg.bank(_banks_for(rng, employer_country), "employer")

    def same_country(pool_country: np.ndarray, want: np.ndarray) -> np.ndarray:
        out = np.empty(want.shape[0], np.int64)
        for c in range(len(COUNTRY_CODES)):
            sel = np.flatnonzero(want == c)
            pool = np.flatnonzero(pool_country == c)
            if pool.shape[0] == 0:
                pool = np.arange(pool_country.shape[0])
            out[sel] = pool[rng.integers(0, pool.shape[0], sel.shape[0])]
        return out

    person_employer = same_country(employer_country, person_country)
    landlords = np.flatnonzero(rng.random(w.merchants) < 0.25)
    if landlords.shape[0] == 0:
        landlords = np.arange(min(2, w.merchants))
    person_landlord = landlords[same_country(merchant_country[landlords], person_country)]
    median = np.array([_SALARY[c] for c in COUNTRY_CODES])[person_country]
    salary_usd = median * np.exp(rng.normal(0.0, 0.35, w.people))

    # services
    exchanges = []
    for name in EXCHANGES:
        svc = Service(name, "exchange", f"exchange:{_slug(name)}")
        for c, code in enumerate(COUNTRY_CODES):
            banks = np.array([i for i, (_, cc, _) in enumerate(BANKS) if cc == code])
            svc.bank[c] = reg.bank(banks[rng.integers(0, banks.shape[0], 1)], "exchange")
        svc.tron = reg.wallets("tron", 2, "exchange")
        svc.eth = reg.wallets("eth", 2, "exchange")
        svc.btc = reg.wallets("btc", 3, "exchange")
        exchanges.append(svc)
    desks = {}
    for c, code in enumerate(COUNTRY_CODES):
        svc = Service(DESKS[code], "otc", f"otc:{_slug(DESKS[code])}")
        banks = [i for i, (_, cc, _) in enumerate(BANKS) if cc == code]
        svc.bank[c] = reg.bank(np.array(banks[:2]), "otc")  # TH: one at the camt bank
        svc.tron = reg.wallets("tron", 2, "otc")
        svc.eth = reg.wallets("eth", 1, "otc")
        svc.btc = reg.wallets("btc", 2, "otc")
        desks[c] = svc
    mixer = Service(MIXER, "mixer", f"mixer:{_slug(MIXER)}")
    mixer.btc = reg.wallets("btc", 4, "mixer")  # the payout pool
    mixer.deposits = reg.wallets("btc", max(40, w.people // 150), "mixer")
    sanctioned = Service(SANCTIONED, "sanctioned", f"sanctioned:{_slug(SANCTIONED)}")
    sanctioned.tron = reg.wallets("tron", 2, "sanctioned")

    # crypto users: exchange accounts, their own wallets and deposit addresses
    crypto = np.sort(rng.choice(w.people, size=max(8, int(w.people * CRYPTO_SHARE)), replace=False))
    n = crypto.shape[0]
    crypto_exchange = _choice(rng, n, _EXCHANGE_SHARE)
    crypto_tron = reg.wallets("tron", n, "person")
    crypto_eth = reg.wallets("eth", n, "person")
    crypto_btc = reg.wallets("btc", 2 * n, "person").reshape(n, 2)
    dep_tron = reg.wallets("tron", n, "exchange")
    dep_eth = reg.wallets("eth", n, "exchange")
    dep_btc = reg.wallets("btc", n, "exchange")
    for k, svc in enumerate(exchanges):
        mine = crypto_exchange == k
        svc.deposits = np.concatenate([dep_tron[mine], dep_eth[mine], dep_btc[mine]])
    fee = int(reg.special(["fee"], "fee")[0])
    return Population(
        reg=reg,
        person_bank=person_bank,
        person_country=person_country,
        person_employer=person_employer,
        person_landlord=person_landlord,
        salary_usd=salary_usd,
        merchant_bank=merchant_bank,
        merchant_country=merchant_country,
        employer_bank=employer_bank,
        employer_country=employer_country,
        crypto=crypto,
        crypto_exchange=crypto_exchange,
        crypto_tron=crypto_tron,
        crypto_eth=crypto_eth,
        crypto_btc=crypto_btc,
        dep_tron=dep_tron,
        dep_eth=dep_eth,
        dep_btc=dep_btc,
        exchanges=exchanges,
        desks=desks,
        mixer=mixer,
        sanctioned=sanctioned,
        fee=fee,
    )
