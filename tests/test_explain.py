"""tracer explain: the chains, the rule's decisions and the unexplained funds met."""

from __future__ import annotations

from click.testing import CliRunner
from conftest import build
from strategies import rows as _rows

from tracer.cli import cli


def test_explain_shows_chain_decisions_and_unexplained(tmp_path):
    rows = _rows(
        ("s", 0, "V", "X", 100),
        ("c", 1, "C", "X", 30),
        ("o", 2, "X", "Y", 150),
        ("y", 3, "Y", "Z", 60),
    )
    build(tmp_path, rows)
    runner = CliRunner()
    r = runner.invoke(
        cli,
        [
            "trace",
            "-w",
            str(tmp_path / "ws"),
            "--tx",
            "s",
            "--rule",
            "fifo",
            "-o",
            str(tmp_path / "out"),
        ],
    )
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
    rows = _rows(
        ("s", 0, "V", "X", 100),
    )
    build(tmp_path, rows)
    runner = CliRunner()
    runner.invoke(
        cli, ["trace", "-w", str(tmp_path / "ws"), "--tx", "s", "-o", str(tmp_path / "o")]
    )
    for args in (["explain", str(tmp_path / "o"), "nobody"], ["explain", str(tmp_path), "X"]):
        r = runner.invoke(cli, args)
        assert r.exit_code == 1
        assert r.stderr.startswith("Error: ") and len(r.stderr.strip().splitlines()) == 1


def test_explain_says_what_was_paired(tmp_path):
    """Under match, a forward is explained as the pairing it is, in words; what the fallback
    drew is said to be the fallback's."""
    rows = _rows(
        ("salary", 0, "E", "M", 3000),
        ("s", 600, "V", "M", 10_000),
        ("rent", 700, "M", "L", 1200),
        ("f", 748, "M", "N", 9_700),
        ("n", 800, "N", "P", 4_000),
    )
    build(tmp_path, rows)
    runner = CliRunner()
    r = runner.invoke(
        cli, ["trace", "-w", str(tmp_path / "ws"), "--tx", "s", "-o", str(tmp_path / "out")]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["explain", str(tmp_path / "out"), "N"])
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert (
        "Rule match: each payment out of an account is paired with the payments into it "
        "that it forwards (received at most 3 d before it, worth 95% to 102% of it, at most 8 "
        "payments each way); what no pairing explains is drawn by the fifo rule" in out
    )
    assert any(
        line.strip().endswith("f  M -> N  9,700.00 (paired with s)") for line in out.splitlines()
    )
    assert (
        "  at M: f (9,700.00) took 9,700.00 of taint: 9,700.00 from s (paired: this "
        "payment forwards s, 2 h 28 min later, at 97.0% of its value)"
    ) in out.splitlines()
    r = runner.invoke(cli, ["explain", str(tmp_path / "out"), "P"])
    assert "4,000.00 from f (drawn by the fifo fallback (no pairing explains it))" in r.stdout
