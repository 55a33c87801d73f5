"""The numbers that shape a simulated world, in one place.

Every figure here is a modelling choice, stated once with its reason. A world is a pure function
of ``(scale, seed)``: change a number here and every world changes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tracer.errors import InputError

__all__ = ["SCALES", "World", "Behaviour", "REALISTIC", "world_for", "COUNTRIES", "BANKS", "CAMT_BANK", "START", "DAYS",
           "US_PER_DAY", "US_PER_MIN", "ASSETS", "MINOR"]

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
DAYS = 90  # a quarter: long enough for pig-butchering cases that run for weeks
US_PER_MIN = 60_000_000
US_PER_DAY = 86_400_000_000

# target transfers (canonical rows) per named scale
SCALES = {"small": 20_000, "medium": 1_000_000, "large": 10_000_000}

# country: currency, UTC offset (hours), share of the population, share of the victims,
# reporting threshold for a single transfer (what structuring stays just below)
COUNTRIES = {
    "TH": ("THB", 7, 0.40, 0.35, 100_000),
    "CN": ("CNY", 8, 0.25, 0.25, 50_000),
    "US": ("USD", -5, 0.20, 0.25, 10_000),
    "DE": ("EUR", 1, 0.15, 0.15, 10_000),
}

# bank id (BIC-like; the AMLworld "Bank" column and the camt.053 agent BIC), country, share
BANKS = (
    ("KASITHBK", "TH", 0.35), ("SICOTHBK", "TH", 0.12), ("BKKBTHBK", "TH", 0.30),
    ("KRTHTHBK", "TH", 0.23),
    ("ICBKCNBJ", "CN", 0.40), ("BKCHCNBJ", "CN", 0.35), ("PCBCCNBJ", "CN", 0.25),
    ("CHASUS33", "US", 0.40), ("BOFAUS3N", "US", 0.35), ("WFBIUS6S", "US", 0.25),
    ("DEUTDEFF", "DE", 0.50), ("COBADEFF", "DE", 0.50),
)
# the bank that answered with ISO 20022 camt.053 statements; the others with AMLworld CSV
CAMT_BANK = "SICOTHBK"

# asset: minor units per unit (amounts are generated as whole minor units, so every format
# writes them exactly: cents, micro-USDT, gwei, satoshi)
MINOR = {"THB": 100, "CNY": 100, "USD": 100, "EUR": 100, "USDT-TRC20": 1_000_000,
         "USDT-ERC20": 1_000_000, "ETH": 1_000_000_000, "BTC": 100_000_000}
ASSETS = tuple(MINOR)


@dataclass(frozen=True)
class Behaviour:
    """What makes tracing hard, each of which can be switched off to measure what it costs
    a tracing rule (``simulate(..., behaviour=...)``; the command line always simulates all).

    - ``desk_customers``: the OTC desks also trade with ordinary crypto users, buying and
      selling USDT, so a desk's pool mixes the scam's money with theirs;
    - ``desk_restock``: each morning a desk buys at an exchange what it paid out the day
      before (bank money to the exchange, then coins back to the desk);
    - ``mule_own_activity``: some mules are ordinary people whose salaries, rent and shopping
      run through the same accounts (the others are accounts rented or opened for the gang);
    - ``mixer``: some bitcoin goes through a custodial mixer.
    """

    desk_customers: bool = True
    desk_restock: bool = True
    mule_own_activity: bool = True
    mixer: bool = True


REALISTIC = Behaviour()


@dataclass(frozen=True)
class World:
    """Sizes of one world, derived from the target number of transfers."""

    target: int
    people: int
    merchants: int
    employers: int
    cases: int
    gangs: int


# canonical transfers per person per day, background included (measured on generated worlds;
# used only to size the population for a target)
_PER_PERSON_DAY = 0.77


def world_for(scale: str | int) -> World:
    """Sizes for a named scale or a number of transfers (at least 2,000)."""
    if isinstance(scale, str):
        text = scale.strip().lower().replace("_", "")
        if text in SCALES:
            target = SCALES[text]
        else:
            try:
                target = int(float(text.replace("k", "e3").replace("m", "e6")))
            except ValueError:
                raise InputError(f"--scale {scale}: choose small, medium, large or a number of "
                                 "transfers (e.g. 250000 or 2m).") from None
    else:
        target = int(scale)
    if target < 2_000:
        raise InputError(f"--scale {scale}: at least 2000 transfers.")
    # cases: one per 1,000 transfers in small worlds, fewer per transfer as worlds grow (the
    # background grows with the population, scams with the number of gangs)
    cases = max(12, int(round(target / 1_000 if target <= 20_000 else 20 + (target - 20_000) / 2_000)))
    scam_share = min(0.25, cases * 40 / target)  # ~40 canonical rows per case
    people = max(40, int(target * (1 - scam_share) / (_PER_PERSON_DAY * DAYS)))
    return World(target=target, people=people, merchants=max(12, people // 25),
                 employers=max(6, people // 40), cases=cases,
                 gangs=max(2, min(40, cases // 120 + 2)))
