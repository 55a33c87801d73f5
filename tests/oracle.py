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

RULES = ("poison", "haircut", "fifo", "lifo", "libr", "match")
FALLBACKS = ("haircut", "fifo", "lifo", "libr")


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
            acct: h.tainted_balance for acct, h in self.holdings.items() if h.tainted_balance > 0
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
        order = (
            range(len(self.segments) - 1, -1, -1) if self.from_back else range(len(self.segments))
        )
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


# ---------------------------------------------------------------------------
# match: pair outflows with the inflows they forward (docs/semantics.md, "match")
# ---------------------------------------------------------------------------

PASS1_CANDIDATES = 256  # in-payments looked at, newest first, for a one-to-one pairing


@dataclass
class Payment:
    """Transfers of one account with one counterparty at one instant, netted."""

    first: int  # replay rank of its first transfer
    last: int  # and of its last
    ts: int
    amount: float = 0.0
    members: list = field(default_factory=list)  # replay ranks


@dataclass(eq=False)
class Group:
    """In-payments paired with out-payments: S in, T out, R = min(S, T) forwarded."""

    S: float
    T: float
    R: float
    outs_left: int  # member outflows not replayed yet
    amount: float = 0.0  # the reservation: what the members reserved, less what was drawn
    tainted: float = 0.0


@dataclass
class Pairing:
    """One account's statement, paired: per transfer rank, its net factor and its group."""

    factor: dict  # rank -> net factor (absent: 1.0; 0.0: a return)
    group_of: dict  # rank -> Group
    reserve: dict  # inflow rank -> amount it reserves in its group


def pair_statement(account, ordered, *, window, cut, over, width) -> Pairing:
    """Pair the transfers of ``account`` (``ordered``: every transfer in replay order).
    Written as docs/semantics.md states it, step by step."""
    ins = [(r, tr) for r, tr in enumerate(ordered) if tr.dst == account and tr.value > 0]
    outs = [(r, tr) for r, tr in enumerate(ordered) if tr.src == account and tr.value > 0]
    factor: dict[int, float] = {}
    # 1. netting: with one counterparty at one instant, the smaller direction is a return
    keys_in = {(tr.src, tr.ts) for _, tr in ins}
    keys_out = {(tr.dst, tr.ts) for _, tr in outs}
    for key in keys_in & keys_out:
        got = [(r, tr) for r, tr in ins if (tr.src, tr.ts) == key]
        sent = [(r, tr) for r, tr in outs if (tr.dst, tr.ts) == key]
        total_in = 0.0
        for _, tr in got:
            total_in = total_in + tr.value
        total_out = 0.0
        for _, tr in sent:
            total_out = total_out + tr.value
        if total_out <= total_in:
            for r, _ in sent:
                factor[r] = 0.0
            for r, _ in got:
                factor[r] = (total_in - total_out) / total_in
        else:
            for r, _ in got:
                factor[r] = 0.0
            for r, _ in sent:
                factor[r] = (total_out - total_in) / total_out

    # 2. payments: what is left, by counterparty and instant, in order of first transfer
    def payments(legs, other):
        found: dict = {}
        for r, tr in legs:
            f = factor.get(r, 1.0)
            if f == 0.0:
                continue
            key = (other(tr), tr.ts)
            if key not in found:
                found[key] = Payment(first=r, last=r, ts=tr.ts)
            pay = found[key]
            pay.last = r
            pay.amount = pay.amount + tr.value * f
            pay.members.append(r)
        return sorted(found.values(), key=lambda p: p.first)

    p_in = payments(ins, lambda tr: tr.src)
    p_out = payments(outs, lambda tr: tr.dst)
    value = {r: tr.value for r, tr in ins + outs}
    paired_in: set[int] = set()  # indices into p_in
    paired_out: set[int] = set()
    group_of: dict[int, Group] = {}
    reserve: dict[int, float] = {}

    def fits(ratio):
        return 1.0 - cut <= ratio <= 1.0 + over

    def form(in_idx, out_idx):
        S = 0.0
        for i in in_idx:
            S = S + p_in[i].amount
        T = 0.0
        for o in out_idx:
            T = T + p_out[o].amount
        R = min(S, T)
        group = Group(S=S, T=T, R=R, outs_left=sum(len(p_out[o].members) for o in out_idx))
        for i in in_idx:
            paired_in.add(i)
            for r in p_in[i].members:
                group_of[r] = group
                reserve[r] = value[r] * factor.get(r, 1.0) * R / S
        for o in out_idx:
            paired_out.add(o)
            for r in p_out[o].members:
                group_of[r] = group

    def open_before(pay, limit):
        """Unpaired in-payments wholly before ``pay`` and within the window, newest first."""
        found = []
        for i in sorted(range(len(p_in)), key=lambda i: -p_in[i].first):
            if len(found) >= limit:
                break
            if p_in[i].last >= pay.first or i in paired_in:
                continue
            if pay.ts - p_in[i].ts > window:
                break
            found.append(i)
        return found

    # 3. one to one, outflows in order
    for o, pay in enumerate(p_out):
        best, best_d = None, None
        for i in open_before(pay, PASS1_CANDIDATES):
            ratio = pay.amount / p_in[i].amount
            if not fits(ratio):
                continue
            d = 1.0 - ratio if ratio <= 1.0 else 3.0 * (ratio - 1.0)
            if best is None or d < best_d:
                best, best_d = i, d
        if best is not None:
            form([best], [o])

    # 4. groups: k in-payments (newest first) and m out-payments (this one and the next)
    for o, pay in enumerate(p_out):
        if o in paired_out:
            continue
        cand_in = open_before(pay, width)
        if not cand_in:
            continue
        cand_out = []
        for o2 in range(o, len(p_out)):
            if len(cand_out) >= width:
                break
            if o2 in paired_out:
                continue
            if p_out[o2].ts - pay.ts > window:
                break
            cand_out.append(o2)
        best = None
        S = 0.0
        for k in range(1, len(cand_in) + 1):
            S = S + p_in[cand_in[k - 1]].amount
            T = 0.0
            for m in range(1, len(cand_out) + 1):
                T = T + p_out[cand_out[m - 1]].amount
                ratio = T / S
                if fits(ratio):
                    if best is None or k + m < best[0] + best[1]:
                        best = (k, m)
                    break
                if ratio > 1.0 + over:
                    break
        if best is not None:
            form(cand_in[: best[0]], cand_out[: best[1]])
    return Pairing(factor=factor, group_of=group_of, reserve=reserve)


class MatchPool:
    """The match rule: a fallback pool plus the reservations of the groups the account's
    inflows belong to. Needs the transfer's rank, so it is driven by ``draw_at`` and
    ``receive_at`` instead of ``draw`` and ``receive``."""

    def __init__(self, opening: float, fallback: str, pairing: Pairing):
        self.fallback = new_pool(fallback, opening)
        self.fallback_rule = fallback
        self.pairing = pairing
        self.groups: list[Group] = []  # the groups it holds a reservation in

    def _into_fallback(self, amount: float, tau: float) -> None:
        if amount <= 0 and tau <= 0:
            return
        self.fallback.receive(amount, tau, [(tau, True), (amount - tau, False)])

    def receive_at(self, rank: int, a: float, tau: float) -> None:
        net = a * self.pairing.factor.get(rank, 1.0)
        if net <= 0:
            # a return (or a transfer without value): it brings nothing, except a seed's taint
            if tau > 0:
                self._into_fallback(tau, tau)
            return
        if tau > net:
            net = tau
        group = self.pairing.group_of.get(rank)
        if group is None:
            self._into_fallback(net, tau)
            return
        x = self.pairing.reserve[rank]
        if x > net:
            x = net
        t = tau * x / net
        group.amount = group.amount + x
        group.tainted = group.tainted + t
        if group not in self.groups:
            self.groups.append(group)
        self._into_fallback(net - x, tau - t)

    def draw_at(self, rank: int, a: float) -> Draw:
        f = self.pairing.factor.get(rank, 1.0)
        if a > 0 and f == 0.0:
            return Draw(0.0, 0.0)  # a return: the counterparty keeps the rest
        net = a * f
        group = self.pairing.group_of.get(rank)
        tau = 0.0
        rest = net
        if group is not None:
            group.outs_left -= 1
            if group.outs_left == 0:
                x = group.amount
                t = group.tainted
            else:
                x = net * group.R / group.T
                if x > group.amount:
                    x = group.amount
                t = group.tainted * x / group.amount if group.amount > 0 else 0.0
            group.amount = group.amount - x
            group.tainted = group.tainted - t
            if group.outs_left == 0:
                group.amount = 0.0
                group.tainted = 0.0
            tau = t
            rest = net - x
            if rest < 0:
                rest = 0.0
        if rest > 0:
            d = self.fallback.draw(rest)
            return Draw(tau + d.tau, d.shortfall)
        return Draw(tau, 0.0)

    def draw_clean_only_at(self, rank: int, a: float) -> Draw:
        f = self.pairing.factor.get(rank, 1.0)
        if a > 0 and f == 0.0:
            return Draw(0.0, 0.0)
        d = self.fallback.draw_clean_only(a * f)
        return Draw(0.0, d.shortfall)

    def tainted(self) -> float:
        total = self.fallback.tainted()
        for group in self.groups:
            total = total + group.tainted
        return total


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
    fallback="fifo",
    match_window=3 * 86_400_000_000,
    match_cut=0.05,
    match_over=0.02,
    match_group=8,
) -> OracleResult:
    """transfers: iterable of Transfer (any order; sorted inside by (ts, seq, tx_id)).
    seeds: iterable of tx ids.  rule: poison|haircut|fifo|lifo|libr.
    stopped: set of account ids that are stopped (their label is in stop_at).
    opening: dict account -> opening balance (clean), default none.
    max_hops: int or None.  horizon: int µs or None (replay ends at earliest seed ts +
    horizon, inclusive).  min_amount: dust threshold."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; expected one of {', '.join(RULES)}")
    if fallback not in FALLBACKS:
        raise ValueError(f"unknown fallback {fallback!r}")
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
            if rule == "match":
                pairing = pair_statement(
                    acct_id,
                    ordered,
                    window=match_window,
                    cut=match_cut,
                    over=match_over,
                    width=match_group,
                )
                pool = MatchPool(opening.get(acct_id, 0.0), fallback, pairing)
            else:
                pool = new_pool(rule, opening.get(acct_id, 0.0))
            accounts[acct_id] = _Account(pool=pool, stopped=acct_id in stopped)
        return accounts[acct_id]

    seed_value = 0.0
    dust = 0.0
    flows: list[Flow] = []

    for rank, tr in enumerate(ordered):
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
                draw = (
                    src.pool.draw_clean_only_at(rank, a)
                    if rule == "match"
                    else src.pool.draw_clean_only(a)
                )
            else:
                draw = src.pool.draw_at(rank, a) if rule == "match" else src.pool.draw(a)
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
            if rule == "match":
                dst.pool.receive_at(rank, a, tau)
            else:
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
