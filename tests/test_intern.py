"""Interning block by block (``Interner``) gives the ids of the obvious interning: every
distinct account sorted, an account's id its place in that list."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.graph.build import Interner

names = st.text(alphabet=st.sampled_from("ab:é0\x00 "), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.lists(st.tuples(names, names), min_size=1, max_size=60),
    extra=st.lists(names, max_size=5),
    block=st.integers(1, 9),
)
def test_blocks_give_the_ids_of_the_sorted_accounts(pairs, extra, block):
    src = [s for s, _ in pairs]
    dst = [d for _, d in pairs]
    accounts = sorted(set(src) | set(dst) | set(extra))  # code points: UTF-8 byte order
    index = {a: i for i, a in enumerate(accounts)}
    interner = Interner()
    first_src, first_dst = [], []
    for i in range(0, len(pairs), block):
        s, d = interner.add(pa.array(src[i : i + block]), pa.array(dst[i : i + block]))
        first_src += s.tolist()
        first_dst += d.tolist()
    rank, got = interner.finish(pa.array(extra, pa.string()))
    s, d = rank[first_src], rank[first_dst]
    assert s.tolist() == [index[a] for a in src]
    assert d.tolist() == [index[a] for a in dst]
    assert got.to_pylist() == accounts


def test_the_table_grows_past_its_first_size():
    interner = Interner()
    n = 100_000  # more than the first table holds
    s1, d1 = interner.add(
        pa.array([f"a{i}" for i in range(n)]), pa.array([f"b{i}" for i in range(n)])
    )
    s2, d2 = interner.add(
        pa.array([f"a{i}" for i in range(0, n, 7)]), pa.array(["c"] * len(range(0, n, 7)))
    )
    rank, accounts = interner.finish(pa.array([], pa.string()))
    s, d = rank[np.concatenate([s1, s2])], rank[np.concatenate([d1, d2])]
    assert len(accounts) == 2 * n + 1
    names = accounts.to_pylist()
    assert names[s[n + 1]] == "a7" and names[d[-1]] == "c" and names[d[5]] == "b5"
