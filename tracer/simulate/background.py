"""Ordinary economic life, generated in bulk one day at a time (numpy over whole arrays).

People are paid by employers, pay rent and bills, shop, and send money to each other; merchants
pay each other and employers. Crypto users move money between their bank, their exchange,
their wallets, each other, the OTC desk of their country, a sanctioned exchange and a mixer;
exchanges sweep deposit addresses into hot wallets. Rates are per agent per day (Poisson),
amounts lognormal in dollars and converted at the day's price into whole minor units.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from tracer.simulate.btc_legs import BtcTxs, btc_frames
from tracer.simulate.frames import (
    BACKGROUND_UID,
    BANK,
    BTC_RES,
    ERC20,
    ETH,
    START_US,
    TRON,
    UNSEEN_UID,
    Chunk,
    asset_code,
    resolution,
    round_up,
    transfers,
)
from tracer.simulate.params import COUNTRIES, REALISTIC, START, US_PER_DAY, Behaviour
from tracer.simulate.prices import Prices
from tracer.simulate.world import COUNTRY_CODES, Population

__all__ = ["Background"]

_HOUR = 3_600_000_000
_CCY = tuple(COUNTRIES[c][0] for c in COUNTRY_CODES)
_OFFSET = np.array([COUNTRIES[c][1] for c in COUNTRY_CODES], np.int64)

# per crypto user per month
_CRYPTO_RATES = {
    "fiat_in": 1.2,
    "fiat_out": 0.5,
    "tron_wd": 1.5,
    "tron_dep": 1.0,
    "tron_p2p": 2.5,
    "sanctioned": 0.1,
    "eth_wd": 0.4,
    "eth_dep": 0.3,
    "erc20_p2p": 0.6,
    "erc20_wd": 0.4,
    "btc_wd": 0.4,
    "btc_dep": 0.3,
    "btc_p2p": 0.4,
    "mixer": 0.04,
    "desk_buy": 0.3,
    "desk_sell": 0.2,
}
MIXER_FEE = 0.025
DESK_SPREAD = 0.01


def _lognormal(rng, n, median, sigma=1.0):
    return median * np.exp(rng.normal(0.0, sigma, n))


class Background:
    """Background transfers of a window of days at a time; ``window(d0, d1)`` is a pure
    function of (world, seed, d0, d1)."""

    def __init__(
        self, pop: Population, prices: Prices, seed: int, behaviour: Behaviour = REALISTIC
    ) -> None:
        self.pop, self.prices, self.seed, self.behaviour = pop, prices, seed, behaviour
        rng = np.random.default_rng([seed, 4])
        n = pop.person_bank.shape[0]
        self.rent_day = rng.integers(1, 4, n)
        self.merchants_by_country = [
            np.flatnonzero(pop.merchant_country == c) for c in range(len(COUNTRY_CODES))
        ]
        self.people_by_country = [
            np.flatnonzero(pop.person_country == c) for c in range(len(COUNTRY_CODES))
        ]
        self.employers_by_country = [
            np.flatnonzero(pop.employer_country == c) for c in range(len(COUNTRY_CODES))
        ]
        # merchants' popularity: a few take most of the shopping
        self.merchant_weight = rng.pareto(1.2, pop.merchant_bank.shape[0]) + 0.05
        ex = pop.exchanges
        self.ex_fiat = np.array([[svc.bank[c][0] for c in range(len(COUNTRY_CODES))] for svc in ex])
        self.ex_tron = np.stack([svc.tron for svc in ex])
        self.ex_eth = np.stack([svc.eth for svc in ex])
        self.ex_btc = np.stack([svc.btc for svc in ex])
        self.desk_bank = np.stack([pop.desks[c].bank[c] for c in range(len(COUNTRY_CODES))])
        self.desk_tron = np.stack([pop.desks[c].tron for c in range(len(COUNTRY_CODES))])
        self.crypto_country = pop.person_country[pop.crypto]
        self.crypto_bank = pop.person_bank[pop.crypto]
        # prices by [currency of country, day + 1]
        self.fx = np.stack([prices.usd[c] for c in _CCY])
        self.ccy_code = np.array([asset_code(c) for c in _CCY], np.int8)

    # --- helpers ------------------------------------------------------------------------------

    def _local_times(self, rng, day: np.ndarray, country: np.ndarray, hour_mean=14.0, hour_sd=3.5):
        """µs times on UTC days ``day`` for local daytime activity, minute resolution."""
        local = np.clip(rng.normal(hour_mean, hour_sd, country.shape[0]), 6.0, 23.5)
        minute = (np.mod(local - _OFFSET[country], 24.0) * 60).astype(np.int64)
        return START_US + day * US_PER_DAY + minute * 60_000_000

    def _uniform_times(self, rng, day: np.ndarray, res: int):
        ts = START_US + day * US_PER_DAY + rng.integers(0, US_PER_DAY, day.shape[0])
        return round_up(ts, res)

    def _local_minor(self, usd: np.ndarray, country: np.ndarray, day: np.ndarray) -> np.ndarray:
        price = self.fx[country, np.clip(day + 1, 0, self.fx.shape[1] - 1)]
        return np.maximum(1, np.round(usd / price * 100)).astype(np.int64)

    def _price(self, asset: str, day: np.ndarray) -> np.ndarray:
        table = self.prices.usd[asset]
        return table[np.clip(day + 1, 0, table.shape[0] - 1)]

    def _in_country(
        self, rng, pools: list[np.ndarray], country: np.ndarray, weights: np.ndarray | None = None
    ) -> np.ndarray:
        out = np.empty(country.shape[0], np.int64)
        for c, pool in enumerate(pools):
            sel = np.flatnonzero(country == c)
            if sel.shape[0] == 0:
                continue
            if pool.shape[0] == 0:
                pool = np.concatenate(pools)
            if weights is None:
                out[sel] = pool[rng.integers(0, pool.shape[0], sel.shape[0])]
            else:
                w = weights[pool]
                out[sel] = pool[rng.choice(pool.shape[0], sel.shape[0], p=w / w.sum())]
        return out

    # --- a window of days ---------------------------------------------------------------------

    def window(self, d0: int, d1: int) -> Chunk:
        rng = np.random.default_rng([self.seed, 5, d0, d1])
        pop = self.pop
        nd = d1 - d0
        bank: list[pl.DataFrame] = []
        uid = [BACKGROUND_UID + d0 * (1 << 26)]

        def uids(n: int) -> np.ndarray:
            out = np.arange(uid[0], uid[0] + n, dtype=np.int64)
            uid[0] += n
            return out

        def bank_rows(ts, src, dst, minor, country):
            bank.append(transfers(uids(len(ts)), ts, BANK, src, dst, minor, self.ccy_code[country]))

        def days(k: int) -> np.ndarray:
            return d0 + rng.integers(0, nd, k)

        n_people = pop.person_bank.shape[0]
        salary = pop.salary_usd
        country = pop.person_country
        us = COUNTRY_CODES.index("US")
        for d in range(d0, d1):
            date = (START + dt.timedelta(days=d)).date()
            # salaries: the 25th (US: half on the 1st and half on the 15th)
            if date.day == 25:
                who = np.flatnonzero(country != us)
            elif date.day in (1, 15):
                who = np.flatnonzero(country == us)
            else:
                who = np.zeros(0, np.int64)
            day = np.full(who.shape[0], d, np.int64)
            if who.shape[0]:
                part = np.where(country[who] == us, 0.5, 1.0)
                ts = START_US + d * US_PER_DAY + rng.integers(60, 240, who.shape[0]) * 60_000_000
                bank_rows(
                    ts,
                    pop.employer_bank[pop.person_employer[who]],
                    pop.person_bank[who],
                    self._local_minor(salary[who] * part, country[who], day),
                    country[who],
                )
            # rent: on the person's rent day
            who = np.flatnonzero(self.rent_day == date.day)
            if who.shape[0]:
                day = np.full(who.shape[0], d, np.int64)
                bank_rows(
                    self._local_times(rng, day, country[who], 10.0, 2.0),
                    pop.person_bank[who],
                    pop.merchant_bank[pop.person_landlord[who]],
                    self._local_minor(salary[who] * 0.3, country[who], day),
                    country[who],
                )
        # bills, shopping, transfers between people
        for rate, median, sigma, kind in (
            (2 / 30, 0.03, 0.4, "bill"),
            (0.45, 0.012, 0.8, "shop"),
            (0.08, 0.05, 1.0, "p2p"),
        ):
            k = rng.poisson(rate * n_people * nd)
            who = rng.integers(0, n_people, k)
            c = country[who]
            if kind == "p2p":
                other = self._in_country(rng, self.people_by_country, c)
                ok = other != who
                who, c, dst = who[ok], c[ok], pop.person_bank[other[ok]]
            else:
                dst = pop.merchant_bank[
                    self._in_country(
                        rng,
                        self.merchants_by_country,
                        c,
                        self.merchant_weight if kind == "shop" else None,
                    )
                ]
            day = days(who.shape[0])
            usd = salary[who] * _lognormal(rng, who.shape[0], median, sigma)
            bank_rows(
                self._local_times(rng, day, c),
                pop.person_bank[who],
                dst,
                self._local_minor(usd, c, day),
                c,
            )
        # businesses paying each other and employers
        n_m = pop.merchant_bank.shape[0]
        k = rng.poisson(0.5 * n_m * nd)
        who = rng.integers(0, n_m, k)
        c = pop.merchant_country[who]
        to_employer = rng.random(k) < 0.6
        emp = pop.employer_bank[self._in_country(rng, self.employers_by_country, c)]
        other = self._in_country(rng, self.merchants_by_country, c)
        dst = np.where(to_employer, emp, pop.merchant_bank[other])
        ok = dst != pop.merchant_bank[who]
        day = days(int(ok.sum()))
        bank_rows(
            self._local_times(rng, day, c[ok], 12.0, 2.5),
            pop.merchant_bank[who][ok],
            dst[ok],
            self._local_minor(_lognormal(rng, int(ok.sum()), 1_500.0), c[ok], day),
            c[ok],
        )

        chain_parts, btc = self._crypto(rng, nd, days, uids, bank_rows)
        ins, outs = btc_frames(btc)
        return Chunk(pl.concat([*bank, *chain_parts]), ins, outs)

    def _crypto(self, rng, nd, days, uids, bank_rows):
        pop = self.pop
        n = pop.crypto.shape[0]
        parts: list[pl.DataFrame] = []
        btc = BtcTxs()
        busy = self.behaviour.desk_customer_rate  # how often users trade with a desk
        count = {
            k: rng.poisson((r * busy if k.startswith("desk_") else r) / 30 * n * nd)
            for k, r in _CRYPTO_RATES.items()
        }
        if not self.behaviour.desk_customers:
            count["desk_buy"] = count["desk_sell"] = 0
        if not self.behaviour.mixer:
            count["mixer"] = 0
        ex = pop.crypto_exchange
        usdt = asset_code("USDT-TRC20")
        usdt_e = asset_code("USDT-ERC20")

        def users(key):
            return rng.integers(0, n, count[key])

        def chain(kind, ts, src, dst, minor, asset):
            parts.append(transfers(uids(len(ts)), ts, kind, src, dst, minor, asset))

        def micro(usd):
            return np.maximum(1, np.round(usd * 100)).astype(np.int64) * 10_000

        tron_res, eth_res = resolution(TRON), resolution(ETH)

        # fiat between bank and exchange
        for key, median, inward in (("fiat_in", 400.0, True), ("fiat_out", 300.0, False)):
            u = users(key)
            c = self.crypto_country[u]
            day = days(u.shape[0])
            bank_side, ex_side = self.crypto_bank[u], self.ex_fiat[ex[u], c]
            bank_rows(
                self._local_times(rng, day, c),
                bank_side if inward else ex_side,
                ex_side if inward else bank_side,
                self._local_minor(_lognormal(rng, u.shape[0], median), c, day),
                c,
            )
        # Tron USDT
        u = users("tron_wd")
        chain(
            TRON,
            self._uniform_times(rng, days(u.shape[0]), tron_res),
            self.ex_tron[ex[u], rng.integers(0, 2, u.shape[0])],
            pop.crypto_tron[u],
            micro(_lognormal(rng, u.shape[0], 350.0)),
            usdt,
        )
        u = users("tron_dep")
        ts = self._uniform_times(rng, days(u.shape[0]), tron_res)
        amount = micro(_lognormal(rng, u.shape[0], 300.0))
        chain(TRON, ts, pop.crypto_tron[u], pop.dep_tron[u], amount, usdt)
        sweep = round_up(ts + rng.integers(1, 6 * 60, u.shape[0]) * 60_000_000, tron_res)
        chain(TRON, sweep, pop.dep_tron[u], self.ex_tron[ex[u], 0], amount, usdt)
        u = users("tron_p2p")
        v = rng.integers(0, n, u.shape[0])
        ok = u != v
        k = int(ok.sum())
        chain(
            TRON,
            self._uniform_times(rng, days(k), tron_res),
            pop.crypto_tron[u[ok]],
            pop.crypto_tron[v[ok]],
            micro(_lognormal(rng, k, 150.0)),
            usdt,
        )
        u = users("sanctioned")
        out = rng.random(u.shape[0]) < 0.5
        sw = pop.sanctioned.tron[rng.integers(0, pop.sanctioned.tron.shape[0], u.shape[0])]
        chain(
            TRON,
            self._uniform_times(rng, days(u.shape[0]), tron_res),
            np.where(out, pop.crypto_tron[u], sw),
            np.where(out, sw, pop.crypto_tron[u]),
            micro(_lognormal(rng, u.shape[0], 800.0)),
            usdt,
        )

        # Ethereum: ETH and USDT-ERC20
        def gwei(usd, day):
            return np.round(usd / self._price("ETH", day) * 1e9).astype(np.int64) + 1

        u = users("eth_wd")
        day = days(u.shape[0])
        chain(
            ETH,
            self._uniform_times(rng, day, eth_res),
            self.ex_eth[ex[u], 0],
            pop.crypto_eth[u],
            gwei(_lognormal(rng, u.shape[0], 600.0), day),
            asset_code("ETH"),
        )
        u = users("eth_dep")
        day = days(u.shape[0])
        ts = self._uniform_times(rng, day, eth_res)
        amount = gwei(_lognormal(rng, u.shape[0], 500.0), day)
        chain(ETH, ts, pop.crypto_eth[u], pop.dep_eth[u], amount, asset_code("ETH"))
        chain(
            ETH,
            round_up(ts + rng.integers(1, 360, u.shape[0]) * 60_000_000, eth_res),
            pop.dep_eth[u],
            self.ex_eth[ex[u], 1],
            amount,
            asset_code("ETH"),
        )
        u = users("erc20_p2p")
        v = rng.integers(0, n, u.shape[0])
        ok = u != v
        k = int(ok.sum())
        chain(
            ERC20,
            self._uniform_times(rng, days(k), eth_res),
            pop.crypto_eth[u[ok]],
            pop.crypto_eth[v[ok]],
            micro(_lognormal(rng, k, 300.0)),
            usdt_e,
        )
        u = users("erc20_wd")
        chain(
            ERC20,
            self._uniform_times(rng, days(u.shape[0]), eth_res),
            self.ex_eth[ex[u], 0],
            pop.crypto_eth[u],
            micro(_lognormal(rng, u.shape[0], 500.0)),
            usdt_e,
        )

        # Bitcoin
        def sats(usd, day):
            return np.maximum(10_000, np.round(usd / self._price("BTC", day) * 1e8)).astype(
                np.int64
            )

        def pay(tx, ts, in_addr, out_addr, change_addr, amount, n_inputs):
            """Payments with change: inputs (1 or 2 per tx) -> [recipient, change]."""
            k = tx.shape[0]
            fee = rng.integers(1_500, 15_000, k)
            change = (amount * rng.uniform(0.05, 1.5, k)).astype(np.int64) + 1_000
            total = amount + fee + change
            first = np.where(
                n_inputs == 2, (total * rng.uniform(0.2, 0.8, k)).astype(np.int64), total
            )
            in_sat = np.stack([first, total - first], axis=1)
            in_addr = np.where(np.stack([np.ones(k, bool), n_inputs == 2], axis=1), in_addr, -1)
            spent = UNSEEN_UID + rng.integers(0, 1 << 40, (k, 2))
            btc.add(
                tx,
                ts,
                in_addr,
                in_sat,
                spent,
                rng.integers(0, 3, (k, 2)),
                np.stack([out_addr, change_addr], axis=1),
                np.stack([amount, change], axis=1),
            )

        u = users("btc_wd")
        k = u.shape[0]
        day = days(k)
        hot = self.ex_btc[ex[u]]
        pay(
            uids(k),
            self._uniform_times(rng, day, BTC_RES),
            hot[:, :2],
            pop.crypto_btc[u, 0],
            hot[:, 2],
            sats(_lognormal(rng, k, 700.0), day),
            rng.integers(1, 3, k),
        )
        u = users("btc_dep")
        k = u.shape[0]
        day = days(k)
        tx, ts = uids(k), self._uniform_times(rng, day, BTC_RES)
        amount = sats(_lognormal(rng, k, 600.0), day)
        pay(
            tx,
            ts,
            pop.crypto_btc[u],
            pop.dep_btc[u],
            pop.crypto_btc[u, 1],
            amount,
            rng.integers(1, 3, k),
        )
        fee = rng.integers(1_000, 5_000, k)
        btc.add(
            uids(k),
            round_up(ts + rng.integers(1, 12, k) * _HOUR, BTC_RES),
            pop.dep_btc[u][:, None],
            amount[:, None],
            tx[:, None],
            np.zeros((k, 1)),
            self.ex_btc[ex[u], 2][:, None],
            (amount - fee)[:, None],
        )
        u = users("btc_p2p")
        v = rng.integers(0, n, u.shape[0])
        ok = u != v
        u, v = u[ok], v[ok]
        k = u.shape[0]
        day = days(k)
        pay(
            uids(k),
            self._uniform_times(rng, day, BTC_RES),
            pop.crypto_btc[u],
            pop.crypto_btc[v, 0],
            pop.crypto_btc[u, 1],
            sats(_lognormal(rng, k, 250.0), day),
            rng.integers(1, 3, k),
        )
        u = users("mixer")
        k = u.shape[0]
        day = days(k)
        ts = self._uniform_times(rng, day, BTC_RES)
        amount = sats(_lognormal(rng, k, 900.0), day)
        deposit = pop.mixer.deposits[rng.integers(0, pop.mixer.deposits.shape[0], k)]
        pay(
            uids(k),
            ts,
            pop.crypto_btc[u],
            deposit,
            pop.crypto_btc[u, 0],
            amount,
            rng.integers(1, 3, k),
        )
        self.mixer_payout(
            rng,
            btc,
            uids(k),
            round_up(ts + rng.integers(6, 48, k) * _HOUR, BTC_RES),
            pop.crypto_btc[u, 1],
            (amount * (1 - MIXER_FEE)).astype(np.int64),
        )

        # the OTC desk of the user's country: buy USDT with bank money, or sell it
        for side in ("desk_buy", "desk_sell"):
            u = users(side)
            k = u.shape[0]
            c = self.crypto_country[u]
            day = days(k)
            usd = _lognormal(rng, k, 1_500.0, 0.9)
            desk_b = self.desk_bank[c, rng.integers(0, 2, k)]
            desk_t = self.desk_tron[c, rng.integers(0, 2, k)]
            t0 = self._local_times(rng, day, c)
            lag = rng.integers(5, 90, k) * 60_000_000
            if side == "desk_buy":
                bank_rows(t0, self.crypto_bank[u], desk_b, self._local_minor(usd, c, day), c)
                chain(
                    TRON,
                    round_up(t0 + lag, tron_res),
                    desk_t,
                    pop.crypto_tron[u],
                    micro(usd * (1 - DESK_SPREAD)),
                    usdt,
                )
            else:
                t0 = round_up(t0, tron_res)
                chain(TRON, t0, pop.crypto_tron[u], desk_t, micro(usd), usdt)
                bank_rows(
                    round_up(t0 + lag, resolution(BANK)),
                    desk_b,
                    self.crypto_bank[u],
                    self._local_minor(usd * (1 - DESK_SPREAD), c, day),
                    c,
                )
        return parts, btc

    def mixer_payout(self, rng, btc: BtcTxs, tx, ts, dst, amount):
        """The mixer pays ``amount`` to ``dst`` from two of its pool addresses (coins from before
        the world), change back to the pool."""
        k = tx.shape[0]
        pool = self.pop.mixer.btc
        fee = rng.integers(2_000, 9_000, k)
        change = (amount * rng.uniform(0.5, 3.0, k)).astype(np.int64) + 10_000
        total = amount + change + fee
        first = (total * rng.uniform(0.3, 0.7, k)).astype(np.int64)
        addr = pool[rng.integers(0, pool.shape[0], (k, 3))]
        btc.add(
            tx,
            ts,
            addr[:, :2],
            np.stack([first, total - first], axis=1),
            UNSEEN_UID + rng.integers(0, 1 << 40, (k, 2)),
            rng.integers(0, 3, (k, 2)),
            np.stack([dst, addr[:, 2]], axis=1),
            np.stack([amount, change], axis=1),
        )
