"""Messages at the investigator's desk: rejects, result folders given as workspaces, what
poison and unexplained mean, and an example in every command's help."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest
from conftest import ok, run, write_csv

from tracer.cli import cli
from tracer.evaluate import CaseScore, ResultSet, Score, score_text

CASE = [
    ("s1", "2025-01-01T00:00:00Z", "V", "M", "100"),
    ("t2", "2025-01-01T00:10:00Z", "M", "X", "90"),
    ("t3", "2025-01-01T00:20:00Z", "M", "O", "80"),
    ("t4", "2025-01-01T00:30:00Z", "O", "P", "30"),
    ("u1", "2025-01-01T00:05:00Z", "W", "M", "5"),
]
BAD = """tx_id,timestamp,src,dst,amount,asset
a1,2025-01-01T00:00:00Z,A,B,10,USD
a2,notatime,A,B,10,USD
a3,2025-01-01T00:00:00Z,A,B,-5,USD
a4,nottime2,A,B,10,USD
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("desk")
    transfers = write_csv(
        folder / "transfers.csv",
        ["tx_id", "timestamp", "src", "dst", "amount", "asset"],
        [(*row, "USD") for row in CASE],
    )
    labels = write_csv(folder / "labels.csv", ["account", "label"], [("X", "exchange")])
    bad = folder / "=cmd.csv"
    bad.write_text(BAD)
    ok("ingest", transfers, bad, "--labels", labels, "-w", folder / "ws")
    return folder / "ws"


REJECTS_TABLE = """\
3 rejected rows in 1 file:

=cmd.csv: 3 rows
         2  unparseable timestamp (expected ISO 8601, e.g. 2025-03-01T12:00:00Z)
            row 2: {"tx_id":"a2","timestamp":"notatime","src":"A","dst":"B","amount":"10","asset":"USD"}
            row 4: {"tx_id":"a4","timestamp":"nottime2","src":"A","dst":"B","amount":"10","asset":"USD"}
         1  negative amount
            row 3: {"tx_id":"a3","timestamp":"2025-01-01T00:00:00Z","src":"A","dst":"B","amount":"-5","asset":"USD"}

All rows: tracer rejects --format csv -o FILE (or rejects.parquet in the workspace).
"""


def test_rejects_are_summarised_by_file_and_reason(ws):
    assert ok("rejects", "-w", ws).stdout == REJECTS_TABLE


def test_rejects_csv_holds_every_row_neutralised(ws, tmp_path):
    out = tmp_path / "r.csv"
    result = ok("rejects", "-w", ws, "--format", "csv", "-o", out)
    assert result.stderr == f"3 rejected rows written to {out}\n"
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["source", "source_row", "reason", "raw"]
    assert [r[:2] for r in rows[1:]] == [["'=cmd.csv", "2"], ["'=cmd.csv", "3"], ["'=cmd.csv", "4"]]
    assert rows[2][2] == "negative amount"
    assert ok("rejects", "-w", ws, "--format", "csv").stdout == raw.decode("utf-8-sig")


def test_rejects_none_and_bad_option(ws, tmp_path):
    clean = tmp_path / "clean"
    (tmp_path / "t.csv").write_text(BAD.splitlines()[0] + "\n" + BAD.splitlines()[1] + "\n")
    ok("ingest", tmp_path / "t.csv", "-w", clean)
    assert ok("rejects", "-w", clean).stdout == "No rejected rows: every row read was ingested.\n"
    result = run("rejects", "-w", ws, "-o", tmp_path / "x.csv")
    assert result.exit_code == 1
    assert result.stderr == "Error: -o: only with --format csv (the table is printed).\n"


@pytest.mark.parametrize(("command", "marker"), [("trace", "result.json"), ("batch", "batch.json")])
def test_a_result_folder_given_as_workspace_says_so(ws, tmp_path, command, marker):
    folder = tmp_path / "res"
    folder.mkdir()
    (folder / marker).write_text("{}\n")
    (folder / "manifest.json").write_text('{"format": 1}\n')
    result = run("entity", "M", "-w", folder)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {folder} is a result folder (written by tracer {command} -o; it has {marker}), "
        "not a workspace. Give -w the workspace the result was traced on (the folder tracer "
        f"ingest wrote); to read the result, run tracer report {folder} or tracer evaluate "
        f"{folder}.\n"
    )


POISON_TABLE = """\
Trace (poison) from 1 seed transfer: 100.00 USD

Reach: the tainted money passed through 4 accounts:
account  label     tainted in  held at end  hops  stopped
M                      100.00         0.00     1
X        exchange       90.00        90.00     2  yes
O                       80.00        50.00     2
P                       30.00        30.00     3

Totals: tainted value held at the end 170.00 USD (at stopped services 90.00).
Poison measures exposure, not amounts: every account the tainted money touched counts all of \
it, so the values add up to more than the seed value; trace with another --rule to apportion \
the loss.
"""


def test_poison_table_lists_reach_not_shares(ws):
    out = ok("trace", "-w", ws, "--tx", "s1", "--rule", "poison").stdout
    assert out == POISON_TABLE
    assert "%" not in out


def test_large_unexplained_is_explained(ws):
    lines = ok("trace", "-w", ws, "--tx", "u1", "--rule", "fifo").stdout.splitlines()
    assert lines[-3] == (
        "Totals: at endpoints 5.00 (at stopped services 0.00), dust 0.00, unexplained 65.00 USD"
    )
    assert lines[-2] == (
        "Unexplained (65.00 USD, 13 times the seed value): outflows of "
        "reached accounts that the dump shows no incoming funds for, presumed "
        "their older clean money; it is not part of the victim's loss."
    )
    small = ok("trace", "-w", ws, "--tx", "s1", "--rule", "fifo").stdout
    assert "unexplained 65.00 USD" in small
    assert "Unexplained (" not in small  # less than the seed value: nothing to explain


def _score(rule: str) -> Score:
    res = ResultSet(
        Path("res"),
        "trace",
        rule,
        "account",
        {},
        pl.DataFrame({"case_id": ["c1"], "account": ["X"], "value": [3971.0]}),
        ["c1"],
    )
    case = CaseScore("c1", 100.0, 3971.0, 0.0, 3971.0, 1, 2, 1)
    return Score(res, [case], {}, {"person": 39.71}, {}, 0.0, 0.005)


def test_evaluate_does_not_score_poison_as_placement():
    text = score_text([_score("poison")], "truth")
    assert "3971" not in text and "person" not in text
    assert text.splitlines()[2] == (
        "Poison measures exposure, not placement: every account the tainted money touched "
        "counts all of it, so its values are not shares of the loss and are not scored as "
        "where the loss rests."
    )
    assert text.splitlines()[4:6] == [
        "case    loss  truth endpoints reached  reach",
        "c1    100.00                      1/2  50.0%",
    ]
    fifo = score_text([_score("fifo")], "truth")
    assert "person 3971.0%" in fifo  # placement rules are scored as before
    both = score_text([_score("poison"), _score("fifo")], "truth")
    assert "Only its reach (endpoints R) is scored." in both


OWNED_ELSEWHERE = {"trace", "batch", "trace-back", "simulate"}


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_help_ends_with_an_example(name):
    text = ok(name, "--help").stdout.rstrip()
    last = " ".join(text.split("\n\n")[-1].split())  # the last paragraph, unwrapped
    if name in OWNED_ELSEWHERE and not last.startswith("Example"):
        pytest.skip(f"{name}: its help gets an example from its own change")
    assert last.startswith(f"Example: tracer {name} "), last


def test_ingest_labels_help_lists_the_formats():
    text = " ".join(ok("ingest", "--help").stdout.split())
    assert "labels CSV" in text and "account,label" in text
    assert "TagPack" in text and "OFAC" in text
