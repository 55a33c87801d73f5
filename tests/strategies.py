"""Transfers for tests, made by hand or generated: one place for the constructors, the seeded
random graphs and the Hypothesis strategies the oracle comparisons draw from."""

from __future__ import annotations

import random

from conftest import minutes
from hypothesis import strategies as st
from oracle import Transfer

__all__ = ["T", "rows", "random_transfers", "transfer_lists"]


def T(tx_id: str, minute: float, src: str, dst: str, value: float, seq: int) -> Transfer:
    """One transfer ``minute`` minutes after the epoch."""
    return Transfer(tx_id, minutes(minute), seq, src, dst, float(value))


def rows(*spec: tuple) -> list[Transfer]:
    """Transfers ``(tx_id, minute, src, dst, value)`` in file order: seq is the row position
    + 1."""
    return [T(tx, m, s, d, v, i + 1) for i, (tx, m, s, d, v) in enumerate(spec)]


def random_transfers(
    rng: random.Random, n: int, n_accounts: int, distinct_ts: bool = False
) -> list[Transfer]:
    """``n`` transfers between ``n_accounts`` accounts with log-normal values, many sharing a
    minute unless ``distinct_ts``."""
    accounts = [f"acc{i:03d}" for i in range(n_accounts)]
    stamps = (
        rng.sample(range(n * 10), n)
        if distinct_ts
        else [rng.randrange(n // 2 + 1) for _ in range(n)]
    )
    out = []
    for i, k in enumerate(sorted(stamps)):
        src, dst = rng.sample(accounts, 2)
        out.append(
            Transfer(f"t{i:05d}", minutes(k), i + 1, src, dst, round(rng.lognormvariate(4, 1.2), 2))
        )
    return out


@st.composite
def transfer_lists(
    draw,
    accounts: list[str],
    amounts: st.SearchStrategy,
    *,
    min_size: int = 1,
    max_size: int = 30,
    last_minute: int = 12,
    around: str | None = None,
) -> list[Transfer]:
    """Lists of transfers ``t00, t01, ...`` in file order between ``accounts`` (or, with
    ``around``, each between that account and one of ``accounts``, either way), at whole
    minutes from 0 to ``last_minute``, with values drawn from ``amounts``."""
    n = draw(st.integers(min_size, max_size))
    out = []
    for i in range(n):
        if around is None:
            src = draw(st.sampled_from(accounts))
            dst = draw(st.sampled_from([a for a in accounts if a != src]))
        else:
            other = draw(st.sampled_from(accounts))
            src, dst = (other, around) if draw(st.booleans()) else (around, other)
        out.append(
            T(f"t{i:02d}", draw(st.integers(0, last_minute)), src, dst, draw(amounts), i + 1)
        )
    return out
