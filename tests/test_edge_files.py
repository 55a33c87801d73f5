"""The edges of a graph being built, on disk (``tracer.graph.edges``): what is appended block
by block reads back the same, slice by slice or whole, and the files are what ``np.save``
writes."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracer.graph import edges as edges_mod
from tracer.graph.edges import Column, EdgeFiles

ids = st.text(alphabet=st.sampled_from("ab:é0\x00 ,"), max_size=5)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(ids, st.integers(0, 9), st.integers(0, 9), st.floats(0, 5)), max_size=40
    ),
    block=st.integers(1, 7),
    cut=st.integers(0, 3),
)
def test_edges_read_back_as_written(tmp_path_factory, monkeypatch, rows, block, cut):
    monkeypatch.setattr(edges_mod, "SLICE", 3)  # several slices even for a few rows
    folder = tmp_path_factory.mktemp("edges")
    n = len(rows)
    edges = EdgeFiles(folder, n)
    for i in range(0, n, block):
        part = rows[i : i + block]
        # a slice of a larger array: its offsets do not start at 0
        tx = pa.array(["pad"] * cut + [r[0] for r in part], pa.string()).slice(cut)
        edges.append_tx_ids(tx)
        edges.append_accounts(np.array([r[1] for r in part]), np.array([r[2] for r in part]))
        edges.append_numbers(np.arange(i, i + len(part)), np.array([r[3] for r in part]))
    edges.check()
    want = [r[0] for r in rows]
    assert edges.all_tx_ids().to_pylist() == want
    for lo in range(0, n, 3):
        assert edges.tx_ids(lo, min(lo + 3, n)).to_pylist() == want[lo : lo + 3]
    rank = np.arange(10, dtype=np.int32)[::-1].copy()
    edges.renumber(rank)
    assert edges["src"].read().tolist() == [9 - r[1] for r in rows]
    assert edges["dst"].read(1, 4).tolist() == [9 - r[2] for r in rows[1:4]]
    assert edges["value"].read().tolist() == [r[3] for r in rows]
    assert edges.zero_values == any(r[3] <= 0 for r in rows)
    edges.close()


def test_a_column_is_the_file_np_save_writes(tmp_path):
    values = np.arange(10, dtype=np.int64) * 7
    column = Column(tmp_path / "c.npy", np.int64, 10)
    column.append(values[:4])
    with pytest.raises(ValueError, match="4 values of 10"):
        column.check()
    column.append(values[4:])
    column.check()
    column.close()
    saved = io.BytesIO()
    np.save(saved, values, allow_pickle=False)
    assert (tmp_path / "c.npy").read_bytes() == saved.getvalue()


def test_no_edges(tmp_path):
    edges = EdgeFiles(tmp_path, 0)
    edges.check()
    assert edges.all_tx_ids().to_pylist() == [] and edges.tx_ids(0, 0).to_pylist() == []
    assert len(edges["ts"].read()) == 0
    edges.close()
