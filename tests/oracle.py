"""Reference tracer: slow, obvious, standard library only.

This module is the yardstick the numba kernels in ``tracer/kernels/`` are compared
against.  It implements docs/semantics.md literally and is written to be read, not to
be fast:

* every transfer is replayed in the global order ``(ts, seq, tx_id)``;
* every account keeps a full pool from the first transfer on, whether or not taint has
  reached it yet (no laziness, no pruning, no clever bookkeeping);
* each rule's pool is its own small class with the draw formulas written in the order
  the semantics page gives them, so the floats agree with the kernels up to rounding.

Per transfer, in replay order:

1. A seed: the receiver gets the whole value as taint at hop 1; the sender's pool is
   not touched at all (no draw, no shortfall).
2. Otherwise the sender draws ``a`` from its pool, in one of three modes:
   stopped (clean only, pool not replayed), hop-limited (clean only, pool replayed) or
   normal (the rule's draw).  The draw yields ``tau`` (taint carried), the shortfall,
   and for fifo/lifo the segments carried.
3. Dust: ``0 < tau < min_amount`` books ``tau`` as dust and the transfer arrives clean.
4. The receiver takes the inflow (a stopped receiver just books ``tainted_in``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

RULES = ("poison", "haircut", "fifo", "lifo", "libr")


# ---------------------------------------------------------------------------
# Public data types
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Transfer:
    tx_id: str
    ts: int  # microseconds since epoch, UTC
    seq: int
    src: str
    dst: str
    value: float


@dataclass
class Holding:
    account: str
    tainted_in: float
    tainted_out: float
    tainted_balance: float
    unexplained: float
    min_hops: int
    first_ts: int
    stopped: bool


@dataclass
class Flow:
    tx_id: str
    ts: int
    src: str
    dst: str
    value: float
    tainted: float
    hop: int


@dataclass
class OracleResult:
    seed_value: float
    dust: float
    holdings: dict[str, Holding]  # every account that received taint
    flows: list[Flow]  # in replay order

    @property
    def endpoints(self) -> dict[str, float]:
        """account -> tainted_balance, for holdings whose tainted_balance > 0."""
        return {
            acct: h.tainted_balance
            for acct, h in self.holdings.items()
            if h.tainted_balance > 0
        }

    @property
    def at_endpoints(self) -> float:
        """Sum of tainted_balance over all holdings."""
        return sum(h.tainted_balance for h in self.holdings.values())

    @property
    def at_stops(self) -> float:
        """The part of at_endpoints held by stopped accounts."""
        return sum(h.tainted_balance for h in self.holdings.values() if h.stopped)

    @property
    def unexplained(self) -> float:
        """Sum of unexplained over all holdings."""
        return sum(h.unexplained for h in self.holdings.values())


# ---------------------------------------------------------------------------
# Seeds
# ---------------------------------------------------------------------------


def replay_order(transfers) -> list[Transfer]:
    """The transfers sorted in the global replay order (ts, seq, tx_id)."""
    return sorted(transfers, key=lambda tr: (tr.ts, tr.seq, tr.tx_id))


def seeds_from_accounts(transfers, accounts, since=None, until=None) -> list[str]:
    """tx ids of every transfer from one of `accounts` with since <= ts <= until
    (ints, µs, inclusive; None = open) whose dst is not one of `accounts`.

    Returned in replay order."""
    accounts = set(accounts)
    out = []
    for tr in replay_order(transfers):
        if tr.src not in accounts:
            continue
        if tr.dst in accounts:  # several seed accounts act as one source
            continue
        if since is not None and tr.ts < since:
            continue
        if until is not None and tr.ts > until:
            continue
        out.append(tr.tx_id)
    return out


# ---------------------------------------------------------------------------
# Pools
# ---------------------------------------------------------------------------
#
# Every pool class offers the same four operations:
#
#   draw(a)             normal-mode outflow -> Draw
#   draw_clean_only(a)  hop-limited outflow -> Draw (tau is always 0)
#   receive(a, tau, segments)
#                       inflow; `segments` is only used by the lot pools (fifo/lifo)
#   tainted()           the pool's tainted funds now (for tainted_balance)


@dataclass
class Draw:
    tau: float  # tainted part of the outflow
    shortfall: float  # amount missing from the pool (booked as unexplained)
    # fifo/lifo only: the (amount, is_tainted) segments carried, in sender-pool order
    segments: list[tuple[float, bool]] = field(default_factory=list)


class HaircutPool:
    """Clean c and tainted t; outflows are pro rata."""

    def __init__(self, opening: float):
        self.c = opening
        self.t = 0.0

    def draw(self, a: float) -> Draw:
        bal = self.c + self.t
        if a >= bal:
            shortfall = a - bal
            tau = self.t
            self.c = 0.0
            self.t = 0.0
            return Draw(tau, shortfall)
        tau = (self.t * a) / bal
        self.t = self.t - tau
        self.c = self.c - (a - tau)
        if self.c < 0:
            self.c = 0.0
        return Draw(tau, 0.0)

    def draw_clean_only(self, a: float) -> Draw:
        if a > self.c:
            shortfall = a - self.c
            self.c = 0.0
            return Draw(0.0, shortfall)
        self.c = self.c - a
        return Draw(0.0, 0.0)

    def receive(self, a: float, tau: float, segments) -> None:
        self.t = self.t + tau
        self.c = self.c + (a - tau)

    def tainted(self) -> float:
        return self.t


class LibrPool(HaircutPool):
    """Clean c and tainted t; outflows take clean funds first (lowest intermediate
    balance rule: later clean deposits never refill the taint)."""

    def draw(self, a: float) -> Draw:
        if a <= self.c:
            self.c = self.c - a
            return Draw(0.0, 0.0)
        if a <= self.c + self.t:
            tau = a - self.c
            self.t = self.t - tau
            self.c = 0.0
            return Draw(tau, 0.0)
        shortfall = a - self.c - self.t
        tau = self.t
        self.c = 0.0
        self.t = 0.0
        return Draw(tau, shortfall)

    # draw_clean_only, receive, tainted: as haircut


class LotPool:
    """An ordered list of [amount, is_tainted] segments, oldest first.

    fifo takes from the front, lifo from the back; the last segment taken is split.
    Carried segments keep the order they had in the sender's pool; the receiver appends
    them in that order at its back.  Segments are never merged (allowed to be; it only
    changes rounding) and zero-amount segments are not stored (they change nothing)."""

    def __init__(self, opening: float, from_back: bool):
        self.from_back = from_back  # False: fifo, True: lifo
        self.segments: list[list] = []  # [amount, is_tainted], oldest first
        if opening > 0:
            self.segments.append([opening, False])

    def _total(self) -> float:
        total = 0.0
        for amount, _ in self.segments:
            total = total + amount
        return total

    def _take(self, a: float, clean_only: bool) -> list[tuple[float, bool]]:
        """Take up to `a` from the front (fifo) or back (lifo), splitting the last
        segment taken; with clean_only, tainted segments are skipped.  Returns the
        taken segments in the order they had in the pool."""
        taken = []  # in the order taken
        need = a
        order = range(len(self.segments) - 1, -1, -1) if self.from_back else range(len(self.segments))
        emptied = []  # indices of segments taken whole
        for i in order:
            if need <= 0:
                break
            seg = self.segments[i]
            amount, is_tainted = seg
            if clean_only and is_tainted:
                continue
            if amount <= need:
                taken.append((i, amount, is_tainted))
                emptied.append(i)
                need = need - amount
            else:
                taken.append((i, need, is_tainted))
                seg[0] = amount - need
                need = 0.0
        for i in sorted(emptied, reverse=True):
            del self.segments[i]
        taken.sort(key=lambda x: x[0])  # back to pool order (matters for lifo)
        return [(amount, is_tainted) for _, amount, is_tainted in taken]

    def draw(self, a: float) -> Draw:
        total = self._total()
        if total < a:
            # Shortfall: presumed older clean funds, a clean segment at the very front;
            # then the outflow takes everything.
            shortfall = a - total
            carried = [(shortfall, False)] + [(amt, tnt) for amt, tnt in self.segments]
            self.segments = []
        else:
            shortfall = 0.0
            carried = self._take(a, clean_only=False)
        tau = 0.0
        for amount, is_tainted in carried:
            if is_tainted:
                tau = tau + amount
        return Draw(tau, shortfall, carried)

    def draw_clean_only(self, a: float) -> Draw:
        clean_total = 0.0
        for amount, is_tainted in self.segments:
            if not is_tainted:
                clean_total = clean_total + amount
        if clean_total < a:
            # take every clean segment; the rest is a shortfall (no segment is added
            # to the pool), and it still leaves as clean funds.
            shortfall = a - clean_total
            carried = [(shortfall, False)] + [(amt, False) for amt, tnt in self.segments if not tnt]
            self.segments = [seg for seg in self.segments if seg[1]]
        else:
            shortfall = 0.0
            carried = self._take(a, clean_only=True)
        return Draw(0.0, shortfall, carried)

    def receive(self, a: float, tau: float, segments) -> None:
        for amount, is_tainted in segments:
            if amount > 0:
                self.segments.append([amount, is_tainted])

    def tainted(self) -> float:
        total = 0.0
        for amount, is_tainted in self.segments:
            if is_tainted:
                total = total + amount
        return total


class PoisonPool:
    """A balance b and a flag; once poisoned, every outflow is wholly tainted."""

    def __init__(self, opening: float):
        self.b = opening
        self.poisoned = False

    def _debit(self, a: float) -> float:
        shortfall = max(0.0, a - self.b)
        self.b = max(0.0, self.b - a)
        return shortfall

    def draw(self, a: float) -> Draw:
        shortfall = self._debit(a)
        tau = a if self.poisoned else 0.0
        return Draw(tau, shortfall)

    def draw_clean_only(self, a: float) -> Draw:
        shortfall = self._debit(a)
        return Draw(0.0, shortfall)

    def receive(self, a: float, tau: float, segments) -> None:
        self.b = self.b + a
        if tau > 0:
            self.poisoned = True

    def tainted(self) -> float:
        return self.b if self.poisoned else 0.0


def new_pool(rule: str, opening: float):
    if rule == "haircut":
        return HaircutPool(opening)
    if rule == "libr":
        return LibrPool(opening)
    if rule == "fifo":
        return LotPool(opening, from_back=False)
    if rule == "lifo":
        return LotPool(opening, from_back=True)
    if rule == "poison":
        return PoisonPool(opening)
    raise ValueError(f"unknown rule {rule!r}")


# ---------------------------------------------------------------------------
# Trace
# ---------------------------------------------------------------------------


@dataclass
class _Account:
    """Everything the replay knows about one account."""

    pool: object
    stopped: bool
    tainted_in: float = 0.0
    tainted_out: float = 0.0
    unexplained: float = 0.0
    min_hops: int | None = None  # None: no taint has reached it yet
    first_ts: int | None = None  # time of the first tainted transfer received


def trace(
    transfers,
    seeds,
    *,
    rule="fifo",
    stopped=frozenset(),
    opening=None,
    max_hops=None,
    horizon=None,
    min_amount=0.0,
) -> OracleResult:
    """transfers: iterable of Transfer (any order; sorted inside by (ts, seq, tx_id)).
    seeds: iterable of tx ids.  rule: poison|haircut|fifo|lifo|libr.
    stopped: set of account ids that are stopped (their label is in stop_at).
    opening: dict account -> opening balance (clean), default none.
    max_hops: int or None.  horizon: int µs or None (replay ends at earliest seed ts +
    horizon, inclusive).  min_amount: dust threshold."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; expected one of {', '.join(RULES)}")
    ordered = replay_order(transfers)
    stopped = frozenset(stopped)
    opening = dict(opening or {})

    by_id = {tr.tx_id: tr for tr in ordered}
    seed_ids = set()
    for tx_id in seeds:
        if tx_id not in by_id:
            raise ValueError(f"seed {tx_id!r} is not a transfer")
        seed_ids.add(tx_id)

    # Horizon: the replay ends at the earliest seed's ts + horizon (inclusive).
    end_ts = None
    if horizon is not None and seed_ids:
        end_ts = min(by_id[tx_id].ts for tx_id in seed_ids) + horizon

    accounts: dict[str, _Account] = {}

    def account(acct_id: str) -> _Account:
        if acct_id not in accounts:
            accounts[acct_id] = _Account(
                pool=new_pool(rule, opening.get(acct_id, 0.0)),
                stopped=acct_id in stopped,
            )
        return accounts[acct_id]

    seed_value = 0.0
    dust = 0.0
    flows: list[Flow] = []

    for tr in ordered:
        if end_ts is not None and tr.ts > end_ts:
            break
        src = account(tr.src)
        dst = account(tr.dst)
        a = tr.value

        # ---- the sender's side ------------------------------------------------
        if tr.tx_id in seed_ids:
            # A seed carries its whole value as taint at hop 1 and draws nothing
            # from the sender's pool.  No dust on seeds.
            seed_value = seed_value + a
            tau = a
            hop = 1
            segments = [(a, True)]
        else:
            if src.stopped:
                # Stopped: the pool is not replayed; outflows are clean.
                draw = Draw(0.0, 0.0, [(a, False)])
            elif max_hops is not None and src.min_hops is not None and src.min_hops >= max_hops:
                # Hop-limited: clean funds only; taint stays.
                draw = src.pool.draw_clean_only(a)
            else:
                draw = src.pool.draw(a)
            # Unexplained counts only shortfalls after the first tainted inflow.
            if src.first_ts is not None:
                src.unexplained = src.unexplained + draw.shortfall
            tau = draw.tau
            segments = draw.segments
            if 0 < tau < min_amount:
                # Dust: the taint left the sender's pool and goes nowhere.
                dust = dust + tau
                tau = 0.0
                segments = [(amount, False) for amount, _ in segments]
            hop = src.min_hops + 1 if tau > 0 else None
            if tau > 0:
                src.tainted_out = src.tainted_out + tau

        # ---- the receiver's side ----------------------------------------------
        if not dst.stopped:
            dst.pool.receive(a, tau, segments)
        if tau > 0:
            dst.tainted_in = dst.tainted_in + tau
            if dst.first_ts is None:
                dst.first_ts = tr.ts
            if dst.min_hops is None or hop < dst.min_hops:
                dst.min_hops = hop
            flows.append(Flow(tr.tx_id, tr.ts, tr.src, tr.dst, a, tau, hop))

    holdings = {}
    for acct_id in sorted(accounts):
        acc = accounts[acct_id]
        if acc.first_ts is None:  # never received taint
            continue
        if acc.stopped:
            balance = acc.tainted_in
            unexplained = 0.0
        else:
            balance = acc.pool.tainted()
            unexplained = acc.unexplained
        holdings[acct_id] = Holding(
            account=acct_id,
            tainted_in=acc.tainted_in,
            tainted_out=acc.tainted_out,
            tainted_balance=balance,
            unexplained=unexplained,
            min_hops=acc.min_hops,
            first_ts=acc.first_ts,
            stopped=acc.stopped,
        )
    return OracleResult(seed_value=seed_value, dust=dust, holdings=holdings, flows=flows)


# ---------------------------------------------------------------------------
# Reach
# ---------------------------------------------------------------------------


def reach(transfers, seeds, *, horizon=None) -> dict[str, Transfer]:
    """Every account the money of the seed transfers reaches, with the first transfer that
    brings it, in the order they arrive.  Replayed in the global order: a transfer carries
    money on if it is a seed or its sender was reached by an earlier transfer, and it moves a
    positive value.  horizon: int µs or None (the replay ends at the earliest seed's ts +
    horizon, inclusive)."""
    ordered = replay_order(transfers)
    seed_ids = set(seeds)
    end_ts = None
    if horizon is not None and seed_ids:
        end_ts = min(tr.ts for tr in ordered if tr.tx_id in seed_ids) + horizon
    first: dict[str, Transfer] = {}
    for tr in ordered:
        if end_ts is not None and tr.ts > end_ts:
            break
        carries = tr.tx_id in seed_ids or tr.src in first
        if carries and tr.value > 0 and tr.dst not in first:
            first[tr.dst] = tr
    return first
