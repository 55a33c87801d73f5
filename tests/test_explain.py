"""tracer explain: the chains, the rule's decisions and the unexplained funds met."""

from __future__ import annotations

from click.testing import CliRunner
from conftest import build
from test_trace_vs_oracle import _rows

from tracer.cli import cli


def test_explain_shows_chain_decisions_and_unexplained(tmp_path):
    rows = _rows(("s", 0, "V", "X", 100), ("c", 1, "C", "X", 30), ("o", 2, "X", "Y", 150),
                 ("y", 3, "Y", "Z", 60))
    build(tmp_path, rows)
    runner = CliRunner()
    r = runner.invoke(cli, ["trace", "-w", str(tmp_path / "ws"), "--tx", "s", "-o",
                            str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["explain", str(tmp_path / "out"), "Z"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    # X holds [T100, C30] and pays 150: 20 presumed older clean funds first (unexplained), then
    # everything; Y holds [C20, T100, C30] and pays 60 fifo: 20 clean, 40 of the taint.
    assert lines[0].startswith("Z holds 40.00 USD of the traced funds (40.00% of 100.00)")
    assert "  1. 40.00 USD carried all the way" in lines
    assert any(line.strip().endswith("s  V -> X  100.00 (seed)") for line in lines)
    assert any(line.strip().endswith("y  Y -> Z  40.00 (drawn from o)") for line in lines)
    assert "  at X: o (150.00) took 100.00 of taint: 100.00 from s" in lines
    assert "  X: 20.00 USD" in lines


def test_explain_errors(tmp_path):
    rows = _rows(("s", 0, "V", "X", 100),)
    build(tmp_path, rows)
    runner = CliRunner()
    runner.invoke(cli, ["trace", "-w", str(tmp_path / "ws"), "--tx", "s", "-o", str(tmp_path / "o")])
    for args in (["explain", str(tmp_path / "o"), "nobody"], ["explain", str(tmp_path), "X"]):
        r = runner.invoke(cli, args)
        assert r.exit_code == 1
        assert r.stderr.startswith("Error: ") and len(r.stderr.strip().splitlines()) == 1
