"""Daily prices in US dollars: currencies drift a little, crypto more; USDT is one dollar.

Prices are rounded to 8 significant digits before use, so the values the generator computes
are the ones ``tracer ingest`` computes from ``prices.csv``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from tracer.simulate.params import DAYS, START

__all__ = ["Prices"]

# asset: price on day 0, daily volatility (log)
_START = {
    "USD": (1.0, 0.0),
    "THB": (1 / 34.2, 0.0025),
    "CNY": (1 / 7.27, 0.0012),
    "EUR": (1.035, 0.004),
    "BTC": (94_250.0, 0.025),
    "ETH": (3_350.0, 0.035),
    "USDT-TRC20": (1.0, 0.0),
    "USDT-ERC20": (1.0, 0.0),
}


def _round8(x: np.ndarray) -> np.ndarray:
    digits = 7 - np.floor(np.log10(np.abs(x))).astype(np.int64)
    return np.array([round(float(v), int(d)) for v, d in zip(x, digits, strict=True)])


class Prices:
    """``usd[asset][day]`` for day -1 .. DAYS (one spare day each side)."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng([seed, 2])
        self.days = DAYS + 2
        self.usd: dict[str, np.ndarray] = {}
        self._lists: dict[str, list[float]] = {}
        for asset, (p0, vol) in _START.items():
            steps = rng.normal(0.0, vol, self.days) if vol else np.zeros(self.days)
            steps[0] = 0.0
            self.usd[asset] = _round8(p0 * np.exp(np.cumsum(steps)))

    def price(self, asset: str, day: int) -> float:
        """Price on ``day`` (0 = START) as a float, clipped to the table."""
        table = self._lists.get(asset)
        if table is None:
            table = self._lists[asset] = self.usd[asset].tolist()
        return table[min(max(day + 1, 0), self.days - 1)]

    def table(self) -> pl.DataFrame:
        first = START.date() - dt.timedelta(days=1)
        dates = [first + dt.timedelta(days=i) for i in range(self.days)]
        return pl.concat(
            [
                pl.DataFrame({"date": dates, "asset": [a] * self.days, "usd": self.usd[a]})
                for a in sorted(self.usd)
                if a != "USD"
            ]
        ).sort("date", "asset")
