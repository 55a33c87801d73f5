"""The scam's money on chain: Tron receiving wallets, hops and consolidation wallets,
Ethereum hops, Bitcoin peel chains, the mixer and consolidation, the exchanges sweeping the
gangs' deposits, and the desks restocking at an exchange. A mixin of the scam's run
(``tracer.simulate.scam``), which holds the book, the draws and the cast."""

from __future__ import annotations

import numpy as np

from tracer.simulate.book import (
    END_US,
    HOUR,
    Gang,
    add,
    bank_time,
    btc_time,
    day_of,
    eth_time,
    scale,
    split_int,
    tron_time,
)
from tracer.simulate.frames import BANK, ERC20, START_US, TRON, UNSEEN_UID, asset_code
from tracer.simulate.params import COUNTRIES, US_PER_DAY, US_PER_MIN
from tracer.simulate.world import COUNTRY_CODES

__all__ = ["OnChain", "MIXER_FEE"]

MIXER_FEE = 0.025  # the mixer's (a service's price, not the gangs' behaviour)


class OnChain:
    """Routes of the gangs' crypto, from the desks' payouts to where it rests."""

    # --- Tron ---------------------------------------------------------------------------------

    def tron_routes(self, gangs: list[Gang]) -> None:
        r, book = self.r, self.book
        usdt = asset_code("USDT-TRC20")
        for gang in gangs:
            for recv in gang.tron_recv.tolist():
                arrivals = sorted(self.tron_in.get(recv, []), key=lambda a: a[0])
                if not arrivals:
                    continue
                hour = r.u(12, 22)
                k = 0
                day = day_of(arrivals[0][0])
                while k < len(arrivals):
                    sweep = tron_time(
                        START_US + (day + hour / 24) * US_PER_DAY + r.u(0, 30) * US_PER_MIN
                    )
                    day += self.behaviour.tron_recv_sweep_days
                    batch = []
                    while k < len(arrivals) and arrivals[k][0] < sweep:
                        batch.append(arrivals[k])
                        k += 1
                    if not batch:
                        continue
                    micro = sum(b[1] for b in batch)
                    comp: dict = {}
                    for b in batch:
                        comp = add(comp, b[2])
                    if sweep >= END_US:
                        book.rest(comp, recv, "in_transit")
                        for b in arrivals[k:]:
                            book.rest(b[2], recv, "in_transit")
                        break
                    self.tron_bundle(gang, recv, sweep, micro, comp, usdt)
            for cons in gang.tron_cons.tolist():
                self.tron_consolidation(gang, cons, usdt)

    def _move(self, chain, t, src, dst, minor, asset, comp, step) -> bool:
        """A transfer unless the world has ended; then the money rests at ``src``."""
        if t >= END_US:
            self.book.rest(comp, src, "in_transit")
            return False
        self.book.transfer(t, chain, src, dst, minor, asset, comp, step)
        return True

    def _hours(self, a: float, b: float) -> float:
        """An on-chain hop delay drawn in [a, b) hours, scaled by the behaviour."""
        be = self.behaviour
        return self.r.u(a, b) * be.hop_delay_scale * be.delay_scale * HOUR

    def tron_bundle(self, gang: Gang, recv: int, t: int, micro: int, comp: dict, usdt: int):
        r, direct = self.r, not self.behaviour.consolidation
        route = r.weighted((0.5, 0.85, 1.0))
        cons = int(r.pick(gang.tron_cons))
        if route == 0:  # fan out to hop wallets, fan in at a consolidation wallet
            k = r.int(2, 6)
            hops = r.sample(gang.tron_hop_list, k)
            parts = split_int(micro, np.array(r.weights(k, 2)))
            for n, (hop, part) in enumerate(zip(hops, parts, strict=True)):
                c = scale(comp, part / micro)
                ts = tron_time(t + n * 3_000_000)
                if not self._move(TRON, ts, recv, hop, part, usdt, c, "fan_out"):
                    continue
                t2 = tron_time(ts + self._hours(1, 18))
                if direct:
                    self.tron_pay_out(gang, hop, t2, part, c, usdt, hop=True)
                elif self._move(TRON, t2, hop, cons, part, usdt, c, "fan_in"):
                    self.tron_cons_in[cons].append((t2, part, c))
        elif route == 1:  # a chain of hops
            h1, h2 = r.sample(gang.tron_hop_list, 2)
            t2 = tron_time(t + self._hours(0.5, 8))
            t3 = tron_time(t2 + self._hours(0.5, 8))
            if self._move(TRON, t, recv, h1, micro, usdt, comp, "hop") and self._move(
                TRON, t2, h1, h2, micro, usdt, comp, "hop"
            ):
                if direct:
                    self.tron_pay_out(gang, h2, t3, micro, comp, usdt, hop=True)
                elif self._move(TRON, t3, h2, cons, micro, usdt, comp, "hop"):
                    self.tron_cons_in[cons].append((t3, micro, comp))
        else:  # straight to an exchange
            h1 = int(r.pick(gang.tron_hop))
            dep = int(r.pick(r.pick(gang.tron_dep)))
            t2 = tron_time(t + self._hours(1, 12))
            if self._move(TRON, t, recv, h1, micro, usdt, comp, "hop") and self._move(
                TRON, t2, h1, dep, micro, usdt, comp, "exchange_deposit"
            ):
                self.book.rest(comp, dep, "exchange_deposit")
                self.sweep_deposit(TRON, dep, t2, micro, usdt)

    def tron_consolidation(self, gang: Gang, cons: int, usdt: int) -> None:
        r, book = self.r, self.book
        arrivals = sorted(self.tron_cons_in.get(cons, []), key=lambda a: a[0])
        if not arrivals:
            return
        period = self.behaviour.tron_cons_sweep_days
        hour, offset = r.u(0, 24), r.int(0, period)
        k = 0
        day = offset
        while k < len(arrivals):
            sweep = tron_time(START_US + (day + hour / 24) * US_PER_DAY)
            day += period
            batch = []
            while k < len(arrivals) and arrivals[k][0] < sweep:
                batch.append(arrivals[k])
                k += 1
            if not batch:
                continue
            micro = sum(b[1] for b in batch)
            comp: dict = {}
            for b in batch:
                comp = add(comp, b[2])
            if sweep >= END_US:
                book.rest(comp, cons, "in_transit")
                for b in arrivals[k:]:
                    book.rest(b[2], cons, "in_transit")
                return
            self.tron_pay_out(gang, cons, sweep, micro, comp, usdt)

    def tron_pay_out(
        self, gang: Gang, src: int, t: int, micro: int, comp: dict, usdt: int, hop: bool = False
    ) -> None:
        """``src`` pays what it holds to one to three laundering wallets and one to three of
        the gang's exchange deposits (a consolidation wallet's sweep, or, ``hop``, a bundle's
        last hop when the gang does without consolidation wallets)."""
        r, book = self.r, self.book
        if t >= END_US:
            return book.rest(comp, src, "in_transit")
        n_l, n_d = r.int(1, 3), r.int(1, 3)
        laund = [int(x) for x in r.sample(gang.tron_laund.tolist(), n_l)]
        deps = [int(r.pick(r.pick(gang.tron_dep))) for _ in range(n_d)]
        share = r.u(0.4, 0.8)
        weights = np.array(
            [share * x for x in r.weights(n_l)] + [(1 - share) * x for x in r.weights(n_d)]
        )
        for n, (dst, part) in enumerate(zip(laund + deps, split_int(micro, weights), strict=True)):
            c = scale(comp, part / micro)
            ts = tron_time(t + n * 3_000_000)
            is_dep = n >= n_l
            if hop and ts >= END_US:
                book.rest(c, src, "in_transit")
                continue
            book.transfer(
                ts, TRON, src, dst, part, usdt, c, "exchange_deposit" if is_dep else "laundering"
            )
            book.rest(c, dst, "exchange_deposit" if is_dep else "laundering")
            if is_dep:
                self.sweep_deposit(TRON, dst, ts, part, usdt)

    def sweep_deposit(self, chain: int, dep: int, t: int, minor: int, asset: int) -> None:
        """The exchange moves a deposit to its hot wallet (background: inside the exchange)."""
        ex = self.pop.exchanges[self.exchange_of[dep]]
        ts = t + int(self.r.u(1, 6) * HOUR)
        ts = tron_time(ts) if chain == TRON else eth_time(ts)
        if ts < END_US:
            self.book.background(
                ts, chain, dep, int((ex.tron if chain == TRON else ex.eth)[0]), minor, asset
            )

    # --- Ethereum -----------------------------------------------------------------------------

    def erc20_route(self, gang: Gang, recv: int, t: int, micro: int, comp: dict) -> None:
        r = self.r
        usdt = asset_code("USDT-ERC20")
        hop = int(r.pick(gang.eth_hop))
        t2 = eth_time(t + self._hours(1, 12))
        t3 = eth_time(t2 + self._hours(1, 12))
        to_exchange = r.u() < 0.6
        dst = int(r.pick(gang.eth_dep)[0]) if to_exchange else int(r.pick(gang.eth_laund))
        kind = "exchange_deposit" if to_exchange else "laundering"
        if self._move(ERC20, t2, recv, hop, micro, usdt, comp, "hop") and self._move(
            ERC20, t3, hop, dst, micro, usdt, comp, kind
        ):
            self.book.rest(comp, dst, kind)
            if to_exchange:
                self.sweep_deposit(ERC20, dst, t3, micro, usdt)

    # --- Bitcoin ------------------------------------------------------------------------------

    def peel_chain(self, gang: Gang, utxo) -> None:
        r, book, fee_sink, be = self.r, self.book, self.pop.fee, self.behaviour
        tx, idx, addr, sat, comp, t = utxo
        lo, hi = be.peel_hops
        for _ in range(r.int(lo, hi) if hi > lo else lo):
            if sat < 400_000:  # too little left to peel
                break
            t = btc_time(t + self._hours(1, 10))
            if t >= END_US:
                return book.rest(comp, addr, "in_transit")
            fee = min(r.int(1_500, 8_000), sat // 100)
            peel = int(sat * r.u(*be.peel_share))
            change = sat - peel - fee
            to_exchange = r.u() < 0.5
            target = (
                int(r.pick(r.pick(gang.btc_dep))) if to_exchange else int(r.pick(gang.btc_laund))
            )
            nxt = self.new_btc("gang_peel", gang.index)
            c_peel, c_change, c_fee = (
                scale(comp, peel / sat),
                scale(comp, change / sat),
                scale(comp, fee / sat),
            )
            outs = [(target, peel, c_peel), (nxt, change, c_change)]
            order = [0, 1] if r.u() < 0.5 else [1, 0]
            outs = [outs[o] for o in order]
            new = book.btc_tx(
                t, [(addr, sat, tx, idx, comp)], outs, "peel", fee_to=(fee_sink, c_fee)
            )
            kind = "exchange_deposit" if to_exchange else "laundering"
            book.rest(c_peel, target, kind)
            book.rest(c_fee, fee_sink, "miner_fee")
            if to_exchange:
                self.sweep_btc(target, new, order.index(0), peel, t)
            tx, idx, addr, sat, comp = new, order.index(1), nxt, change, c_change
        t = btc_time(t + self._hours(1, 10))
        if t >= END_US:
            return book.rest(comp, addr, "in_transit")
        fee = min(r.int(1_500, 8_000), sat // 100)
        c_fee = scale(comp, fee / sat)
        c_out = scale(comp, (sat - fee) / sat)
        # drawn either way, so switching the mixer off changes nothing else
        mixed = r.u() < be.mixer_p and be.mixer
        if not mixed and not be.consolidation:  # straight to laundering and an exchange
            return self.btc_pay_out(gang, [(addr, sat, tx, idx, comp)], sat, comp, t, fee)
        book.rest(c_fee, fee_sink, "miner_fee")
        if mixed:
            mixer = self.pop.mixer
            dep = int(r.pick(mixer.deposits))
            book.btc_tx(
                t,
                [(addr, sat, tx, idx, comp)],
                [(dep, sat - fee, c_out)],
                "mixer_in",
                fee_to=(fee_sink, c_fee),
            )
            t2 = btc_time(t + self._hours(6, 48))
            if t2 >= END_US:
                return book.rest(c_out, dep, "in_transit")
            book.rest(scale(c_out, MIXER_FEE), dep, "mixer_fee")
            c_mix = scale(c_out, 1 - MIXER_FEE)
            amount = int((sat - fee) * (1 - MIXER_FEE))
            out = self.new_btc("gang_mixed_out", gang.index)
            m_fee = min(r.int(2_000, 9_000), amount // 100)
            change = int(amount * r.u(0.5, 3.0)) + 10_000
            total = amount + change + m_fee
            first = int(total * r.u(0.3, 0.7))
            pool = mixer.btc
            a, b, c_ = (int(r.pick(pool)) for _ in range(3))
            mtx = book.btc_tx(
                t2,
                [
                    (a, first, UNSEEN_UID + r.int(0, 1 << 40), 0, None),
                    (b, total - first, UNSEEN_UID + r.int(0, 1 << 40), 1, None),
                ],
                [(out, amount, c_mix), (c_, change, None)],
                "mixer_out",
            )
            t3 = btc_time(t2 + self._hours(2, 24))
            if t3 >= END_US:
                return book.rest(c_mix, out, "in_transit")
            fee2 = min(r.int(1_500, 8_000), amount // 100)
            laund = int(r.pick(gang.btc_laund))
            book.btc_tx(
                t3,
                [(out, amount, mtx, 0, c_mix)],
                [(laund, amount - fee2, scale(c_mix, (amount - fee2) / amount))],
                "laundering",
                fee_to=(fee_sink, scale(c_mix, fee2 / amount)),
            )
            book.rest(scale(c_mix, (amount - fee2) / amount), laund, "laundering")
            book.rest(scale(c_mix, fee2 / amount), fee_sink, "miner_fee")
        else:
            cons = int(gang.btc_cons[0])
            new = book.btc_tx(
                t,
                [(addr, sat, tx, idx, comp)],
                [(cons, sat - fee, c_out)],
                "consolidation",
                fee_to=(fee_sink, c_fee),
            )
            self.btc_cons_in[cons].append((new, 0, cons, sat - fee, c_out, t))

    def btc_consolidate(self, gangs: list[Gang]) -> None:
        r, book = self.r, self.book
        for gang in gangs:
            cons = int(gang.btc_cons[0])
            utxos = sorted(self.btc_cons_in.get(cons, []), key=lambda u: u[5])
            if not utxos:
                continue
            period = self.behaviour.btc_cons_sweep_days
            day, hour = r.int(0, period), r.u(0, 24)
            k = 0
            while k < len(utxos):
                sweep = btc_time(START_US + (day + hour / 24) * US_PER_DAY)
                day += period
                batch = []
                while k < len(utxos) and utxos[k][5] < sweep:
                    batch.append(utxos[k])
                    k += 1
                if not batch:
                    continue
                if sweep >= END_US:
                    for u in batch + utxos[k:]:
                        book.rest(u[4], cons, "in_transit")
                    break
                sat = sum(u[3] for u in batch)
                comp: dict = {}
                for u in batch:
                    comp = add(comp, u[4])
                fee = min(r.int(3_000, 15_000) + 500 * len(batch), sat // 100)
                ins = [(u[2], u[3], u[0], u[1], u[4]) for u in batch]
                self.btc_pay_out(gang, ins, sat, comp, sweep, fee)

    def btc_pay_out(self, gang: Gang, ins: list, sat: int, comp: dict, t: int, fee: int) -> None:
        """One transaction spending ``ins`` (``sat`` in all, ``fee`` to the miner) to a
        laundering address and an exchange deposit of the gang."""
        r, book, fee_sink = self.r, self.book, self.pop.fee
        net = sat - fee
        ex = r.int(0, gang.btc_dep.shape[0])
        dep = int(r.pick(gang.btc_dep[ex]))
        laund = int(r.pick(gang.btc_laund))
        share = r.u(0.4, 0.8)
        to_l, to_d = split_int(net, np.array([share, 1 - share]))
        c_l, c_d = scale(comp, to_l / sat), scale(comp, to_d / sat)
        c_fee = scale(comp, fee / sat)
        tx = book.btc_tx(
            t, ins, [(laund, to_l, c_l), (dep, to_d, c_d)], "laundering", fee_to=(fee_sink, c_fee)
        )
        book.rest(c_l, laund, "laundering")
        book.rest(c_d, dep, "exchange_deposit")
        book.rest(c_fee, fee_sink, "miner_fee")
        self.sweep_btc(dep, tx, 1, to_d, t)

    def sweep_btc(self, dep: int, tx: int, index: int, sat: int, t: int) -> None:
        """The exchange sweeps a bitcoin deposit into its hot wallet (background)."""
        k = self.exchange_of[dep]
        ts = btc_time(t + self.r.u(1, 12) * HOUR)
        if ts < END_US:
            fee = min(self.r.int(1_000, 5_000), sat // 100)
            self.book.btc_tx(
                ts,
                [(dep, sat, tx, index, None)],
                [(int(self.pop.exchanges[k].btc[2]), sat - fee, None)],
                "sweep",
                background=True,
            )

    # --- the desks' own business --------------------------------------------------------------

    def restock(self) -> None:
        """Each morning a desk buys at its exchange what it paid out the day before: bank money
        to the exchange's account, then coins from the exchange's hot wallet to the desk."""
        r, book, pop = self.r, self.book, self.pop
        if not self.behaviour.desk_restock:
            return
        for (c, day, chain), usd in sorted(self.desk_out.items()):
            desk = pop.desks[c]
            code = COUNTRY_CODES[c]
            ccy = COUNTRIES[code][0]
            ex = pop.exchanges[0]
            amount = usd * r.u(0.9, 1.1)
            t = bank_time(
                START_US
                + (day + 1) * US_PER_DAY
                + ((9 - COUNTRIES[code][1]) % 24) * HOUR
                + r.u(0, 60) * US_PER_MIN
            )
            if t >= END_US:
                continue
            local = int(round(amount / (self.prices.price(ccy, day_of(t))) * 100))
            book.background(
                t, BANK, int(desk.bank[c][0]), int(ex.bank[c][0]), local, asset_code(ccy)
            )
            t2 = t + int(r.u(1, 3) * HOUR)
            if chain == "tron":
                t2 = tron_time(t2)
                if t2 < END_US:
                    book.background(
                        t2,
                        TRON,
                        int(ex.tron[1]),
                        int(desk.tron[0]),
                        int(round(amount * 0.999 * 100)) * 10_000,
                        asset_code("USDT-TRC20"),
                    )
            elif chain == "erc20":
                t2 = eth_time(t2)
                if t2 < END_US:
                    book.background(
                        t2,
                        ERC20,
                        int(ex.eth[1]),
                        int(desk.eth[0]),
                        int(round(amount * 0.999 * 100)) * 10_000,
                        asset_code("USDT-ERC20"),
                    )
            else:
                t2 = btc_time(t2)
                if t2 < END_US:
                    sat = int(round(amount * 0.999 / (self.prices.price("BTC", day_of(t2))) * 1e8))
                    fee = r.int(2_000, 9_000)
                    change = sat + 50_000
                    book.btc_tx(
                        t2,
                        [
                            (
                                int(ex.btc[0]),
                                sat + change + fee,
                                UNSEEN_UID + r.int(0, 1 << 40),
                                0,
                                None,
                            )
                        ],
                        [(int(desk.btc[1]), sat, None), (int(ex.btc[2]), change, None)],
                        "restock",
                        background=True,
                    )
