"""The simulator's line kernels (`tracer.simulate.text`) against plain Python formatting, and
the ordering of rows (`tracer.simulate.order`) against `numpy.lexsort`."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.simulate import ids
from tracer.simulate.order import sort_rows
from tracer.simulate.text import Line, Pool

WORDS = ["", "a", "bank:KASITHBK:0123456789", "tron:T" + "x" * 33, "é€", "y" * 63]
LONG = "|" + "z" * 61 + "é" + "z" * 9 + "|"  # two slots, the é across them


def _pool() -> tuple[Pool, int]:
    pool = Pool()
    pool.add(["unused"])
    base = pool.add(WORDS)
    pool.data()
    return pool, base


def _decimal(v: int, d: int) -> str:
    if d == 0:
        return str(v)
    return f"{v // 10**d}.{v % 10**d:0{d}d}"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-(2**62), 2**62),
            st.integers(0, 2**62),
            st.integers(0, len(WORDS) - 1),
            st.booleans(),
            st.integers(0, 9),
        ),
        min_size=0,
        max_size=40,
    ),
    st.integers(0, 3),
)
def test_line_is_python_formatting(rows, split):
    pool, base = _pool()
    n = len(rows)
    v = np.array([r[0] for r in rows], np.int64)
    u = np.array([r[1] for r in rows], np.int64)
    w = np.array([r[2] for r in rows], np.int64)
    flag = np.array([r[3] for r in rows], bool)
    digits = np.array([r[4] for r in rows], np.int64)
    salt = 0xF7E7_0000_1234_ABCD  # above 2**63: passed to the kernel as a negative int64
    line = (
        Line(pool, n)
        .int(v)
        .lit(",")
        .text(w, base=base)
        .lit(LONG)
        .dec(u, 2)
        .lit(",")
        .dec(v, digits)
        .lit(",")
        .pad(u % 10**7, 7)
        .hash(u, salt, when=flag)
        .lit("-", when=~flag)
        .int(5 - w)
    )
    hashes = ids.hashes(u, salt).to_pylist() if n else []
    want = "".join(
        f"{a},{WORDS[c]}{LONG}{_decimal(b, 2)},{_decimal(a, d)},{b % 10**7:07d}"
        f"{h if f else '-'}{5 - c}\n"
        for (a, b, c, f, d), h in zip(rows, hashes or [None] * n, strict=True)
    )
    cut = n * split // 3
    parts = [line.render(0, cut), line.render(cut, n)]
    got = b"".join(bytes(buf[:size]) for buf, size in parts).decode()
    assert got == want


def test_rows_pick_and_order_the_lines():
    pool, base = _pool()
    values = np.arange(10, 20, dtype=np.int64)
    buf, size = (
        Line(pool, np.array([3, 1, 1, 7]))
        .int(values)
        .lit(":")
        .text(values - 10, base=base - 2, when=values > 12)
        .render(out=np.empty(5, np.uint8))
    )
    assert bytes(buf[:size]).decode() == f"13:{WORDS[1]}\n11:\n11:\n17:{WORDS[5]}\n"


def test_pool_refuses_long_strings_and_late_tables():
    pool = Pool()
    with pytest.raises(ValueError, match="more than 63 bytes"):
        pool.add(["x" * 64])
    pool.add(["ok"])
    pool.data()
    with pytest.raises(ValueError, match="after the pool was used"):
        pool.add(["late"])


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 400),
    st.sampled_from([1, 3, 60, 86_400 * 90]),
    st.sampled_from([2, 1 << 20, 2**63 - 1]),
    st.booleans(),
    st.integers(0, 2**32),
)
def test_sort_is_lexsort(n, seconds, keys, fractions, seed):
    rng = np.random.default_rng(seed)
    ts = 1_735_689_600_000_000 + rng.integers(0, seconds, n) * 1_000_000
    if fractions:
        ts += rng.integers(0, 2, n) * 500_000
    key = rng.integers(0, keys, n)
    sub = rng.integers(0, 3, n)
    perm = sort_rows(ts, key, sub)
    want = np.lexsort((sub, key, ts))
    assert (np.stack([ts, key, sub])[:, perm] == np.stack([ts, key, sub])[:, want]).all()
