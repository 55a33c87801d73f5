"""The scam economy, with its ground truth.

Victims (people of the background, in four countries) pay a gang in one or several
instalments, often weeks apart (pig-butchering: a small first payment, then larger ones), into
first-layer mule accounts. A mule keeps a cut and forwards within hours to one or two
second-layer mules, splitting amounts above the country's reporting threshold into transfers
just below it. Second-layer mules keep a cut and pay an OTC desk's bank account; the desk keeps
its spread and pays USDT on Tron, USDT on Ethereum or bitcoin from its wallets to the gang.
On chain: Tron receiving wallets sweep daily into fan-out or chains of hop wallets that meet
again in consolidation wallets, which every three days pay laundering wallets and the gang's
deposit addresses at exchanges; bitcoin goes down peel chains (each hop peels a part to an
exchange deposit or a laundering address), then to a consolidation address swept weekly, or
for some through the mixer. Whatever has not reached its end when the world ends is in
transit where it is. (As described with the realistic defaults: delays, cuts, splitting,
pooling, peel chains, consolidation and the mixer are parameters, ``params.Behaviour``.)

Truth is kept as compositions: how much of each case's loss (in dollars of the victim's
payment day) a transfer carries or an account keeps. Splits divide a composition in
proportion to amounts, so each case's rests add up to its loss.

Also generated here, because they depend on the scam's volumes: the desks restocking their
wallets at exchanges (background: the desk's own business), and the exchanges sweeping the
gangs' deposit addresses.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import polars as pl

from tracer.simulate.book import (
    END_US,
    SCAM_UID_LIMIT,
    Book,
    Draws,
    Gang,
    add,
    bank_time,
    btc_time,
    day_of,
    eth_time,
    scale,
    tron_time,
)
from tracer.simulate.chains import MIXER_FEE, OnChain
from tracer.simulate.frames import BANK, ERC20, START_US, TRON, UNSEEN_UID, Chunk, asset_code
from tracer.simulate.params import (
    BANKS,
    COUNTRIES,
    DAYS,
    REALISTIC,
    US_PER_DAY,
    US_PER_MIN,
    Behaviour,
    World,
)
from tracer.simulate.prices import Prices
from tracer.simulate.world import COUNTRY_CODES, ROLE, Population

__all__ = ["Scam", "generate_scam", "REST_KINDS", "SCAM_UID_LIMIT", "MIXER_FEE"]

REST_KINDS = (
    "laundering",
    "exchange_deposit",
    "mule_cut",
    "otc_spread",
    "mixer_fee",
    "miner_fee",
    "in_transit",
)

# --- behaviour, with the reasons for the numbers ---------------------------------------------
INSTALMENTS = (0.18, 0.17, 0.16, 0.14, 0.12, 0.10, 0.08, 0.05)  # P(1..8 payments)
LOSS_MEDIAN_USD, LOSS_SIGMA = 9_000.0, 1.0  # pig-butchering losses: thousands to 100k+
# the gangs', mules' and desks' behaviour (delays, cuts, splitting, pooling): ``Behaviour``
PAYOUT_CHAIN = {
    "TH": (0.75, 0.0, 0.25),
    "CN": (0.75, 0.0, 0.25),
    "US": (0.5, 0.3, 0.2),
    "DE": (0.5, 0.25, 0.25),
}  # tron, erc20, btc
_PAYOUT_CUM = [tuple(np.cumsum(PAYOUT_CHAIN[c]).tolist()) for c in ("TH", "CN", "US", "DE")]


@dataclass
class Scam:
    """The scam side of a world: its rows (a Chunk, every time), the truth, and what an
    investigator is given (cases, labels of sanctioned wallets)."""

    chunk: Chunk
    cases: pl.DataFrame  # truth/cases
    seeds: pl.DataFrame  # case_id, uid, victim, minor, asset, ts (the cases.csv rows)
    book_transfers: pl.DataFrame  # uid, case, value, step (plain transfers)
    book_btc: pl.DataFrame  # tx, leg, index, case, value, step
    rests: pl.DataFrame  # case, account (registry index), kind, value
    roles: dict[int, int]  # registry index -> role (mules, victims)
    gang_of: dict[int, int]  # registry index -> gang, for people recruited as mules
    sanctioned: np.ndarray  # gang wallets under sanctions (labelled)
    gang_deposits: dict[int, np.ndarray]  # exchange index -> gang deposit addresses


class _Run(OnChain):
    def __init__(
        self, w: World, pop: Population, prices: Prices, seed: int, behaviour: Behaviour
    ) -> None:
        self.w, self.pop, self.prices, self.behaviour = w, pop, prices, behaviour
        self.rng = np.random.default_rng([seed, 6])
        self.r = Draws(np.random.default_rng([seed, 7]))
        self.book = Book()
        self.roles: dict[int, int] = {}
        self.gang_of: dict[int, int] = {}  # people recruited as mules -> their gang
        self.reg = pop.reg
        self.desk_out = defaultdict(float)  # (country, day, chain) -> usd paid by desks
        self.btc_blocks: dict[tuple[str, int], list[int]] = {}

    # --- the cast -----------------------------------------------------------------------------

    def cases(self) -> pl.DataFrame:
        rng, w = self.rng, self.w
        n = w.cases
        victim_share = [COUNTRIES[c][3] for c in COUNTRY_CODES]
        country = rng.choice(len(COUNTRY_CODES), n, p=np.array(victim_share) / sum(victim_share))
        sizes = rng.pareto(1.5, w.gangs) + 1.0  # a few big gangs
        gang = rng.choice(w.gangs, n, p=sizes / sizes.sum())
        loss = np.clip(LOSS_MEDIAN_USD * np.exp(rng.normal(0, LOSS_SIGMA, n)), 300, 600_000)
        k = rng.choice(len(INSTALMENTS), n, p=np.array(INSTALMENTS)) + 1
        start = rng.uniform(0, DAYS - 3, n)  # reports keep coming: some cases are fresh
        return pl.DataFrame(
            {"country": country, "gang": gang, "loss": loss, "k": k, "start": start}
        ).sort("start")

    def gangs(self, cases: pl.DataFrame) -> list[Gang]:
        rng, pop, reg = self.rng, self.pop, self.reg
        taken: set[int] = set()
        people_by_c = [np.flatnonzero(pop.person_country == c) for c in range(len(COUNTRY_CODES))]
        banks_by_c = [
            [i for i, (_, cc, _) in enumerate(BANKS) if cc == code] for code in COUNTRY_CODES
        ]
        load = cases.group_by("gang", "country").agg(pl.col("k").sum()).sort("gang", "country")
        load = {(g, c): k for g, c, k in load.iter_rows()}
        gangs = []
        for g in range(self.w.gangs):
            gang = Gang(g)
            for c in range(len(COUNTRY_CODES)):
                inst = load.get((g, c), 0)
                n1 = max(2, math.ceil(inst / 6))
                n2 = max(1, math.ceil(n1 / 3))
                for layer, n_layer, own_share, role in (
                    (1, n1, self.behaviour.own_l1, "mule_l1"),
                    (2, n2, self.behaviour.own_l2, "mule_l2"),
                ):
                    own = int(round(n_layer * own_share)) if self.behaviour.mule_own_activity else 0
                    own = min(own, people_by_c[c].shape[0] // 6)  # most people are not mules
                    pool = [
                        p
                        for p in rng.permutation(people_by_c[c])[: own * 3 + 5].tolist()
                        if p not in taken
                    ][:own]
                    taken.update(pool)
                    accs = (
                        pop.person_bank[np.array(pool, np.int64)] if pool else np.zeros(0, np.int64)
                    )
                    ded = n_layer - len(pool)
                    banks = np.array(banks_by_c[c])[rng.integers(0, len(banks_by_c[c]), ded)]
                    dedicated = reg.bank(banks, role, gang=g) if ded else np.zeros(0, np.int64)
                    members = np.concatenate([accs, dedicated])
                    for a in members:
                        self.roles[int(a)] = ROLE[role]
                        self.gang_of[int(a)] = g
                    (gang.l1 if layer == 1 else gang.l2)[c] = members
            gang.tron_recv = reg.wallets("tron", 3, "gang_receiving", g)
            gang.tron_hop = reg.wallets("tron", 12, "gang_hop", g)
            gang.tron_hop_list = gang.tron_hop.tolist()
            gang.tron_cons = reg.wallets("tron", 2, "gang_consolidation", g)
            gang.tron_laund = reg.wallets("tron", 3, "gang_laundering", g)
            n_ex = len(pop.exchanges)
            gang.tron_dep = reg.wallets("tron", 2 * n_ex, "gang_exchange_deposit", g).reshape(
                n_ex, 2
            )
            gang.eth_recv = reg.wallets("eth", 2, "gang_receiving", g)
            gang.eth_hop = reg.wallets("eth", 4, "gang_hop", g)
            gang.eth_laund = reg.wallets("eth", 2, "gang_laundering", g)
            gang.eth_dep = reg.wallets("eth", n_ex, "gang_exchange_deposit", g).reshape(n_ex, 1)
            gang.btc_cons = reg.wallets("btc", 1, "gang_consolidation", g)
            gang.btc_laund = reg.wallets("btc", 2, "gang_laundering", g)
            gang.btc_dep = reg.wallets("btc", 2 * n_ex, "gang_exchange_deposit", g).reshape(n_ex, 2)
            gangs.append(gang)
        self.taken = taken
        self.exchange_of = {
            int(a): k
            for g in gangs
            for k in range(len(pop.exchanges))
            for a in np.concatenate([g.tron_dep[k], g.eth_dep[k], g.btc_dep[k]])
        }
        return gangs

    # --- bank side ----------------------------------------------------------------------------

    def run(self) -> Scam:
        rng, r, pop, book = self.rng, self.r, self.pop, self.book
        cases = self.cases()
        gangs = self.gangs(cases)
        self.gang_list = gangs
        people_by_c = [
            np.array(
                [
                    p
                    for p in np.flatnonzero(pop.person_country == c).tolist()
                    if p not in self.taken
                ],
                np.int64,
            )
            for c in range(len(COUNTRY_CODES))
        ]
        self.tron_in = defaultdict(list)  # receiving wallet -> [(ts, micro, comp)]
        self.btc_cons_in = defaultdict(list)  # consolidation address -> [utxo]
        self.tron_cons_in = defaultdict(list)
        case_rows, seed_rows = [], []
        for i, (c, g, loss, k, start) in enumerate(cases.iter_rows()):
            code = COUNTRY_CODES[c]
            case_id = f"{code}-{i + 1:05d}"
            victim = int(pop.person_bank[r.pick(people_by_c[c])])
            self.roles[victim] = ROLE["victim"]
            ccy = COUNTRIES[code][0]
            fractions = np.sort(rng.dirichlet(np.full(k, 1.5)))
            day = start
            paid_usd, n_paid, first, last = 0.0, 0, None, None
            for j in range(k):
                if j:
                    day += r.u(*self.behaviour.instalment_gap_days)
                if day >= DAYS:
                    break
                local_hour = r.u(9.0, 22.0)
                ts = START_US + int(
                    (math.floor(day) + (local_hour - COUNTRIES[code][1]) / 24) * US_PER_DAY
                )
                ts = max(START_US, bank_time(ts))
                if ts >= END_US:
                    break
                price = self.prices.price(ccy, day_of(ts))
                unit = 100 if ccy == "THB" else 10  # victims pay round sums
                amount = max(unit, round(loss * fractions[j] / price / unit) * unit)
                minor = amount * 100
                value = minor / 100 * price
                comp = {i: value}
                l1 = int(r.pick(gangs[g].l1[c]))
                uid = book.transfer(
                    ts, BANK, victim, l1, minor, asset_code(ccy), comp, "victim_payment"
                )
                seed_rows.append((case_id, uid, victim, minor, asset_code(ccy), ts))
                paid_usd += value
                n_paid += 1
                first = ts if first is None else first
                last = ts
                self.first_layer(gangs[g], c, l1, ts, minor, ccy, comp)
            case_rows.append((case_id, g, code, victim, n_paid, paid_usd, first, last))
        self.tron_routes(gangs)
        self.btc_consolidate(gangs)
        self.restock()
        return self.finish(case_rows, seed_rows, gangs)

    def first_layer(
        self, gang: Gang, c: int, l1: int, t0: int, minor: int, ccy: str, comp: dict
    ) -> None:
        r, book, b = self.r, self.book, self.behaviour
        t1 = bank_time(t0 + r.u(*b.l1_delay_min) * b.delay_scale * US_PER_MIN)
        if t1 >= END_US:
            return book.rest(comp, l1, "in_transit")
        kept = int(round(minor * r.u(*b.cut_l1)))
        book.rest(scale(comp, kept / minor), l1, "mule_cut")
        forward = minor - kept
        threshold = COUNTRIES[COUNTRY_CODES[c]][4] * 100
        pieces = [forward]
        if forward > threshold and r.u() < b.split_p:
            pieces = []
            left = forward
            while left > threshold:
                piece = int(threshold * r.u(*b.split_piece)) // 10_000 * 10_000
                pieces.append(piece)
                left -= piece
            pieces.append(left)
        pool = gang.l2[c]
        targets = [int(r.pick(pool))]
        if len(pieces) > 1 and pool.shape[0] > 1 and r.u() < b.two_l2_p:
            other = [int(x) for x in pool if int(x) != targets[0]]
            targets.append(r.pick(other))
        received = defaultdict(lambda: [0, {}, 0])  # l2 -> [minor, comp, last ts]
        t = t1
        for n, piece in enumerate(pieces):
            if n:
                t = bank_time(t + r.u(*b.split_gap_min) * b.delay_scale * US_PER_MIN)
            part = scale(comp, piece / minor)
            if t >= END_US:
                book.rest(part, l1, "in_transit")
                continue
            l2 = targets[n % len(targets)]
            book.transfer(t, BANK, l1, l2, piece, asset_code(ccy), part, "mule_forward")
            got = received[l2]
            got[0] += piece
            got[1] = add(got[1], part)
            got[2] = t
        for l2, (got, part, t_last) in received.items():
            self.second_layer(c, l2, t_last, got, ccy, part)

    def second_layer(self, c: int, l2: int, t_last: int, minor: int, ccy: str, comp: dict):
        r, book, pop, b = self.r, self.book, self.pop, self.behaviour
        t2 = bank_time(t_last + r.u(*b.l2_delay_min) * b.delay_scale * US_PER_MIN)
        if t2 >= END_US:
            return book.rest(comp, l2, "in_transit")
        kept = int(round(minor * r.u(*b.cut_l2)))
        book.rest(scale(comp, kept / minor), l2, "mule_cut")
        forward = minor - kept
        comp = scale(comp, forward / minor)
        desk = pop.desks[c]
        account = int(r.pick(desk.bank[c]))
        book.transfer(t2, BANK, l2, account, forward, asset_code(ccy), comp, "desk_deposit")
        t3 = t2 + int(r.u(*b.desk_lag_min) * b.delay_scale * US_PER_MIN)
        if t3 >= END_US:
            return book.rest(comp, account, "in_transit")
        spread = r.u(*b.desk_spread)
        book.rest(scale(comp, spread), account, "otc_spread")
        comp = scale(comp, 1 - spread)
        usd = forward / 100 * (self.prices.price(ccy, day_of(t2))) * (1 - spread)
        gang = self._gang_of(l2)
        route = r.weighted(_PAYOUT_CUM[c])
        if route == 2 and usd < 500:  # no desk pays small sums in bitcoin
            route = 0
        if route == 0:
            t = tron_time(t3)
            wallet = int(r.pick(desk.tron))
            recv = int(r.pick(gang.tron_recv))
            micro = int(round(usd * 100)) * 10_000
            book.transfer(
                t, TRON, wallet, recv, micro, asset_code("USDT-TRC20"), comp, "desk_payout"
            )
            self.tron_in[recv].append((t, micro, comp))
            self.desk_out[(c, day_of(t), "tron")] += usd
        elif route == 1:
            t = eth_time(t3)
            wallet = int(desk.eth[0])
            recv = int(r.pick(gang.eth_recv))
            micro = int(round(usd * 100)) * 10_000
            book.transfer(
                t, ERC20, wallet, recv, micro, asset_code("USDT-ERC20"), comp, "desk_payout"
            )
            self.desk_out[(c, day_of(t), "erc20")] += usd
            self.erc20_route(gang, recv, t, micro, comp)
        else:
            t = btc_time(t3)
            sat = int(round(usd / (self.prices.price("BTC", day_of(t))) * 1e8))
            a0 = self.new_btc("gang_peel", gang.index)
            fee = r.int(2_000, 9_000)
            change = int(sat * r.u(0.2, 2.0)) + 20_000
            total = sat + change + fee
            first = int(total * r.u(0.3, 0.7))
            ins = [
                (int(desk.btc[0]), first, UNSEEN_UID + r.int(0, 1 << 40), 0, None),
                (int(desk.btc[1]), total - first, UNSEEN_UID + r.int(0, 1 << 40), 1, None),
            ]
            tx = book.btc_tx(
                t, ins, [(a0, sat, comp), (int(desk.btc[0]), change, None)], "desk_payout"
            )
            self.desk_out[(c, day_of(t), "btc")] += usd
            self.peel_chain(gang, (tx, 0, a0, sat, comp, t))

    def _gang_of(self, l2: int) -> Gang:
        cache = getattr(self, "_l2_gang", None)
        if cache is None:
            cache = self._l2_gang = {
                int(a): g for g in self.gang_list for cc in g.l2 for a in g.l2[cc]
            }
        return cache[l2]

    def new_btc(self, role: str, gang: int) -> int:
        """A fresh address of the gang (taken from a block made in bulk)."""
        key = (role, gang)
        block = self.btc_blocks.get(key)
        if not block:
            block = self.btc_blocks[key] = self.reg.wallets("btc", 64, role, gang).tolist()[::-1]
        return int(block.pop())

    # --- the result ---------------------------------------------------------------------------

    def finish(self, case_rows, seed_rows, gangs) -> Scam:
        book = self.book
        t = pl.DataFrame(dict(book.t)) if book.t["uid"] else None
        bg = pl.DataFrame(dict(book.bg)) if book.bg["uid"] else None
        from tracer.simulate.frames import T_SCHEMA

        frames = [f.cast(T_SCHEMA) for f in (t, bg) if f is not None]
        ins, outs = book.btc.frames()
        bins, bouts = book.bg_btc.frames()
        chunk = Chunk(
            pl.concat(frames) if frames else None, pl.concat([ins, bins]), pl.concat([outs, bouts])
        )
        case_ids = [r[0] for r in case_rows]
        cases = pl.DataFrame(
            case_rows,
            schema={
                "case_id": pl.String,
                "gang": pl.Int64,
                "country": pl.String,
                "victim": pl.Int64,
                "payments": pl.Int64,
                "loss": pl.Float64,
                "first": pl.Int64,
                "last": pl.Int64,
            },
            orient="row",
        )
        seeds = pl.DataFrame(
            seed_rows,
            schema={
                "case_id": pl.String,
                "uid": pl.Int64,
                "victim": pl.Int64,
                "minor": pl.Int64,
                "asset": pl.Int8,
                "ts": pl.Int64,
            },
            orient="row",
        )

        def explode(rows, key_names):
            """A row per (row, case) of each row's composition, in order."""
            keys: list[list] = [[] for _ in key_names]
            cases_, values, steps = [], [], []
            for row in rows:
                comp, step = row[-2], row[-1]
                n = len(comp)
                for k, column in enumerate(keys):
                    column.extend((row[k],) * n)
                cases_.extend([case_ids[case] for case in comp])
                values.extend(comp.values())
                steps.extend((step,) * n)
            return {
                **dict(zip(key_names, keys, strict=True)),
                "case_id": cases_,
                "value": values,
                "step": steps,
            }

        tt = explode(book.t_truth, ("uid",))
        book_transfers = pl.DataFrame(
            tt,
            schema={"uid": pl.Int64, "case_id": pl.String, "value": pl.Float64, "step": pl.String},
        )
        bt = explode(book.btc_truth, ("tx", "leg", "index"))
        book_btc = pl.DataFrame(
            bt,
            schema={
                "tx": pl.Int64,
                "leg": pl.String,
                "index": pl.Int64,
                "case_id": pl.String,
                "value": pl.Float64,
                "step": pl.String,
            },
        )
        rr = defaultdict(list)
        for comp, account, kind in book.rest_rows:
            for case, value in comp.items():
                rr["case_id"].append(case_ids[case])
                rr["account"].append(account)
                rr["kind"].append(kind)
                rr["value"].append(value)
        rests = (
            pl.DataFrame(
                rr,
                schema={
                    "case_id": pl.String,
                    "account": pl.Int64,
                    "kind": pl.String,
                    "value": pl.Float64,
                },
            )
            .group_by("case_id", "account", "kind", maintain_order=True)
            .agg(pl.col("value").sum())
            .sort("case_id", "kind", "account")
        )
        # some gangs' laundering wallets are under sanctions, and published as such
        sanctioned = np.array([int(g.tron_laund[0]) for g in gangs if g.index % 2 == 0], np.int64)
        deposits = {
            k: np.concatenate(
                [np.concatenate([g.tron_dep[k], g.eth_dep[k], g.btc_dep[k]]) for g in gangs]
            )
            for k in range(len(self.pop.exchanges))
        }
        return Scam(
            chunk=chunk,
            cases=cases,
            seeds=seeds,
            book_transfers=book_transfers,
            book_btc=book_btc,
            rests=rests,
            roles=self.roles,
            gang_of=self.gang_of,
            sanctioned=sanctioned,
            gang_deposits=deposits,
        )


def generate_scam(
    w: World, pop: Population, prices: Prices, seed: int, behaviour: Behaviour = REALISTIC
) -> Scam:
    return _Run(w, pop, prices, seed, behaviour).run()
