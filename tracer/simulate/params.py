"""The numbers that shape a simulated world, in one place.

Every figure here is a modelling choice, stated once with its reason. A world is a pure function
of ``(scale, seed, behaviour)``: change a number here and every world changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass

from tracer.errors import InputError

__all__ = [
    "SCALES",
    "World",
    "Behaviour",
    "REALISTIC",
    "BEHAVIOURS",
    "behaviour_for",
    "behaviour_name",
    "world_for",
    "COUNTRIES",
    "BANKS",
    "CAMT_BANK",
    "START",
    "DAYS",
    "US_PER_DAY",
    "US_PER_MIN",
    "ASSETS",
    "MINOR",
]

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
    ("KASITHBK", "TH", 0.35),
    ("SICOTHBK", "TH", 0.12),
    ("BKKBTHBK", "TH", 0.30),
    ("KRTHTHBK", "TH", 0.23),
    ("ICBKCNBJ", "CN", 0.40),
    ("BKCHCNBJ", "CN", 0.35),
    ("PCBCCNBJ", "CN", 0.25),
    ("CHASUS33", "US", 0.40),
    ("BOFAUS3N", "US", 0.35),
    ("WFBIUS6S", "US", 0.25),
    ("DEUTDEFF", "DE", 0.50),
    ("COBADEFF", "DE", 0.50),
)
# the bank that answered with ISO 20022 camt.053 statements; the others with AMLworld CSV
CAMT_BANK = "SICOTHBK"

# asset: minor units per unit (amounts are generated as whole minor units, so every format
# writes them exactly: cents, micro-USDT, gwei, satoshi)
MINOR = {
    "THB": 100,
    "CNY": 100,
    "USD": 100,
    "EUR": 100,
    "USDT-TRC20": 1_000_000,
    "USDT-ERC20": 1_000_000,
    "ETH": 1_000_000_000,
    "BTC": 100_000_000,
}
ASSETS = tuple(MINOR)


@dataclass(frozen=True)
class Behaviour:
    """How the gangs, their mules and the desks behave: what makes tracing hard, each part of
    which can be changed to see what it costs a tracing rule (``simulate(...,
    behaviour=...)``, ``tracer simulate --behaviour NAME --set key=value``). The defaults are
    the ``realistic`` world. Ranges ``(a, b)`` are drawn uniformly; durations are in minutes
    (bank side) or hours (on chain).

    Timing of forwards:

    - ``delay_scale``: multiplies every forward delay below, bank and chain (0.1: ten times
      faster);
    - ``l1_delay_min``: a first-layer mule forwards this long after the victim's payment;
    - ``l2_delay_min``: a second-layer mule pays the desk this long after its last piece came;
    - ``split_gap_min``: between the pieces of a split forward;
    - ``desk_lag_min``: a desk pays out this long after the bank money came in;
    - ``hop_delay_scale``: multiplies the gangs' on-chain hop delays (Tron hops and fan-in,
      0.5-18 h; Ethereum hops, 1-12 h; peels, 1-10 h; the mixer, 6-48 h and 2-24 h);
    - ``instalment_gap_days``: between a victim's payments.

    Cuts (shares of what passes):

    - ``cut_l1``, ``cut_l2``: the mules' commissions; ``desk_spread``: the desk's.

    Splitting and pooling:

    - ``split_p``: share of forwards above the country's reporting threshold that are
      structured into pieces just below it (``split_piece``: a piece's share of the threshold);
    - ``two_l2_p``: a split forward goes to two second-layer mules rather than one;
    - ``tron_recv_sweep_days``, ``tron_cons_sweep_days``, ``btc_cons_sweep_days``: how often
      Tron receiving wallets, Tron consolidation wallets and the bitcoin consolidation address
      pay on what they pooled (1, 3 and 7 days);
    - ``consolidation``: bundles meet in consolidation wallets before laundering and exchange
      deposits; off, each bundle goes there straight from its last hop.

    Mules:

    - ``mule_own_activity``: some mules are ordinary people whose salaries, rent and shopping
      run through the same accounts (the others are accounts rented or opened for the gang);
    - ``own_l1``, ``own_l2``: the share of such mules in the first and second layer.

    Desks, peel chains, mixer:

    - ``desk_customers``: the OTC desks also trade with ordinary crypto users, buying and
      selling USDT, so a desk's pool mixes the scam's money with theirs;
      ``desk_customer_rate`` multiplies how often those users trade with a desk;
    - ``desk_restock``: each morning a desk buys at an exchange what it paid out the day
      before (bank money to the exchange, then coins back to the desk);
    - ``peel_hops``: the number of peels of a bitcoin payout, drawn in ``[a, b)`` (``0:0``:
      no peel chain); ``peel_share``: the share each peel takes;
    - ``mixer``: some bitcoin goes through a custodial mixer (``mixer_p``: the share of
      bitcoin bundles that do; off, background users do not use it either).
    """

    # timing
    delay_scale: float = 1.0
    l1_delay_min: tuple[float, float] = (20.0, 360.0)
    l2_delay_min: tuple[float, float] = (30.0, 480.0)
    split_gap_min: tuple[float, float] = (2.0, 25.0)
    desk_lag_min: tuple[float, float] = (5.0, 90.0)
    hop_delay_scale: float = 1.0
    instalment_gap_days: tuple[float, float] = (1.0, 14.0)
    # cuts
    cut_l1: tuple[float, float] = (0.01, 0.03)
    cut_l2: tuple[float, float] = (0.005, 0.02)
    desk_spread: tuple[float, float] = (0.005, 0.015)
    # splitting and pooling
    split_p: float = 0.7
    split_piece: tuple[float, float] = (0.9, 0.995)
    two_l2_p: float = 0.4
    tron_recv_sweep_days: int = 1
    tron_cons_sweep_days: int = 3
    btc_cons_sweep_days: int = 7
    consolidation: bool = True
    # mules
    mule_own_activity: bool = True
    own_l1: float = 0.6
    own_l2: float = 0.3
    # desks, peel chains, mixer
    desk_customers: bool = True
    desk_customer_rate: float = 1.0
    desk_restock: bool = True
    peel_hops: tuple[int, int] = (2, 6)
    peel_share: tuple[float, float] = (0.08, 0.3)
    mixer: bool = True
    mixer_p: float = 0.25

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value, default = getattr(self, f.name), f.default
            if isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, tuple):
                kind = int if isinstance(default[0], int) else (int, float)
                ok = (
                    isinstance(value, tuple)
                    and len(value) == 2
                    and all(
                        isinstance(x, kind) and not isinstance(x, bool) and x >= 0 for x in value
                    )
                    and value[0] <= value[1]
                )
            else:
                kind = int if isinstance(default, int) else (int, float)
                ok = isinstance(value, kind) and not isinstance(value, bool) and value >= 0
            if ok and f.name in _SHARES:
                ok = all(0 <= x <= 1 for x in (value if isinstance(value, tuple) else (value,)))
            if ok and f.name in _POSITIVE:
                ok = value > 0
            if ok and f.name == "split_piece":  # pieces of at least a tenth of the threshold
                ok = value[0] >= 0.1
            if not ok:
                try:
                    shown = _text(value)
                except (TypeError, ValueError):
                    shown = repr(value)
                raise InputError(f"behaviour {f.name}={shown}: {_expects(f.name, default)}.")

    def changes(self) -> dict:
        """The parameters that differ from the realistic defaults, as JSON values."""
        return {
            f.name: _json(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != f.default
        }

    def record(self) -> dict:
        """What world.json holds: the four switches of the first simulator (always), then
        every parameter that differs from the realistic defaults."""
        switches = ("desk_customers", "desk_restock", "mule_own_activity", "mixer")
        return {
            **{k: getattr(self, k) for k in switches},
            **{k: v for k, v in self.changes().items() if k not in switches},
        }

    def with_settings(self, settings: list[str] | tuple[str, ...]) -> Behaviour:
        """This behaviour with ``key=value`` settings applied (numbers, ranges ``a:b``,
        booleans ``true``/``false``)."""
        changes = {}
        for item in settings:
            key, eq, text = item.partition("=")
            key = key.strip().replace("-", "_")
            if not eq:
                raise InputError(f"--set {item}: write key=value (e.g. --set split_p=0.9).")
            if key not in _DEFAULTS:
                raise InputError(
                    f"--set {item}: no behaviour parameter {key!r}; choose one of "
                    f"{', '.join(_DEFAULTS)}."
                )
            changes[key] = _parse(key, text.strip())
        try:
            return dataclasses.replace(self, **changes)
        except InputError as exc:
            raise InputError("--set " + str(exc).removeprefix("behaviour ")) from None


_SHARES = {
    "cut_l1",
    "cut_l2",
    "desk_spread",
    "split_p",
    "split_piece",
    "two_l2_p",
    "own_l1",
    "own_l2",
    "peel_share",
    "mixer_p",
}
_POSITIVE = {
    "delay_scale",
    "hop_delay_scale",
    "tron_recv_sweep_days",
    "tron_cons_sweep_days",
    "btc_cons_sweep_days",
}
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Behaviour)}


def _expects(key: str, default) -> str:
    if isinstance(default, bool):
        return "true or false (realistic: " + _text(default) + ")"
    if isinstance(default, tuple):
        kind = "whole numbers" if isinstance(default[0], int) else "numbers"
        what = f"a range a:b of {kind}, a <= b,"
    else:
        what = "a whole number" if isinstance(default, int) else "a number"
    if key == "split_piece":
        what += " between 0.1 and 1"
    elif key in _SHARES:
        what += " between 0 and 1"
    elif key in _POSITIVE:
        what += " above 0"
    else:
        what += " 0 or more" if isinstance(default, tuple) else ", 0 or more"
    return f"{what} (realistic: {_text(default)})"


def _text(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ":".join(f"{x:g}" for x in value)
    return f"{value:g}"


def _json(value):
    return list(value) if isinstance(value, tuple) else value


def _parse(key: str, text: str):
    default = _DEFAULTS[key]

    def number(s: str, whole: bool):
        try:
            x = float(s)
        except ValueError:
            x = math.nan
        if math.isnan(x) or math.isinf(x) or (whole and x != int(x)):
            raise InputError(f"--set {key}={text}: {_expects(key, default)}.")
        return int(x) if whole else x

    if isinstance(default, bool):
        low = text.lower()
        if low in ("true", "yes", "on", "1"):
            return True
        if low in ("false", "no", "off", "0"):
            return False
        raise InputError(f"--set {key}={text}: {_expects(key, default)}.")
    if isinstance(default, tuple):
        whole = isinstance(default[0], int)
        parts = text.split(":")
        if len(parts) != 2:
            raise InputError(f"--set {key}={text}: {_expects(key, default)}.")
        return tuple(number(p.strip(), whole) for p in parts)
    return number(text, isinstance(default, int))


REALISTIC = Behaviour()

# Named behaviours, to choose a rule's defaults on some worlds and judge it on others. Each is
# the realistic world with a few parameters changed, all within what investigators report.
BEHAVIOURS: dict[str, Behaviour] = {
    "realistic": REALISTIC,
    # professional cash-out: forwards within minutes, thin cuts, wallets hop within the hour
    "fast": Behaviour(
        l1_delay_min=(1.0, 15.0),
        l2_delay_min=(2.0, 20.0),
        split_gap_min=(1.0, 5.0),
        desk_lag_min=(2.0, 15.0),
        hop_delay_scale=0.1,
        cut_l1=(0.005, 0.01),
        cut_l2=(0.002, 0.008),
        desk_spread=(0.003, 0.008),
    ),
    # cautious gangs: money sits for hours to days at each mule, cuts up to 8-10%
    "slow": Behaviour(
        l1_delay_min=(120.0, 2_880.0),
        l2_delay_min=(240.0, 4_320.0),
        split_gap_min=(10.0, 120.0),
        desk_lag_min=(30.0, 480.0),
        hop_delay_scale=3.0,
        cut_l1=(0.04, 0.10),
        cut_l2=(0.02, 0.08),
        desk_spread=(0.01, 0.03),
    ),
    # every large forward structured, always over two second-layer mules, more pooling
    "structured": Behaviour(
        split_p=1.0,
        two_l2_p=1.0,
        split_piece=(0.8, 0.99),
        tron_recv_sweep_days=2,
        tron_cons_sweep_days=5,
        btc_cons_sweep_days=10,
    ),
    # desks with many other customers (their pools are mostly other people's money)
    "busy-desks": Behaviour(desk_customer_rate=8.0, desk_customers=True, desk_restock=True),
    # the four switches of the first simulator off: dedicated mules, desks that serve only the
    # gang and never restock, no mixer
    "simple": Behaviour(
        desk_customers=False, desk_restock=False, mule_own_activity=False, mixer=False
    ),
    # long peel chains that peel less each time, consolidation swept weekly
    "long-chains": Behaviour(
        peel_hops=(4, 11), peel_share=(0.04, 0.15), tron_cons_sweep_days=7, btc_cons_sweep_days=7
    ),
    # no consolidation wallets and no peel chains: each bundle goes straight to laundering
    # and exchange deposits
    "direct": Behaviour(consolidation=False, peel_hops=(0, 0)),
}


def behaviour_for(name: str = "realistic", settings: list[str] | tuple[str, ...] = ()) -> Behaviour:
    """A named behaviour (``BEHAVIOURS``) with ``key=value`` settings applied."""
    if name not in BEHAVIOURS:
        raise InputError(f"--behaviour {name}: choose one of {', '.join(BEHAVIOURS)}.")
    return BEHAVIOURS[name].with_settings(settings)


def behaviour_name(b: Behaviour) -> str | None:
    """The name of the preset ``b`` is, if it is one."""
    return next((name for name, preset in BEHAVIOURS.items() if preset == b), None)


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
                raise InputError(
                    f"--scale {scale}: choose small, medium, large or a number of "
                    "transfers (e.g. 250000 or 2m)."
                ) from None
    else:
        target = int(scale)
    if target < 2_000:
        raise InputError(f"--scale {scale}: at least 2000 transfers.")
    # cases: one per 1,000 transfers in small worlds, fewer per transfer as worlds grow (the
    # background grows with the population, scams with the number of gangs)
    cases = max(
        12, int(round(target / 1_000 if target <= 20_000 else 20 + (target - 20_000) / 2_000))
    )
    scam_share = min(0.25, cases * 40 / target)  # ~40 canonical rows per case
    people = max(40, int(target * (1 - scam_share) / (_PER_PERSON_DAY * DAYS)))
    return World(
        target=target,
        people=people,
        merchants=max(12, people // 25),
        employers=max(6, people // 40),
        cases=cases,
        gangs=max(2, min(40, cases // 120 + 2)),
    )
