"""`tracer trace` (and the command line as a whole) as a user sees it, through click's CliRunner.

The hand-made case used throughout (amounts in USD, times on 2025-01-01, UTC):

    s1  00:00  V -> M  100   the victim's payment (seed)
    t2  00:10  M -> X   90   X is labelled exchange (a stop by default)
    t3  00:20  M -> O   80
    t4  00:30  O -> P   30
    s5  00:40  V -> Q   10   a second outflow of V (only seeded by --from V)

M has an opening balance of 50 (clean). Worked out by hand from docs/semantics.md:

fifo   M pool [clean 50, taint 100]; t2 takes clean 50 + taint 40 (tau 40), leaving [taint 60];
       t3 80 > 60: shortfall 20 (unexplained on M) put at the front as clean, t3 carries
       [clean 20, taint 60] (tau 60); O pool [clean 20, taint 60]; t4 30 takes clean 20 +
       taint 10 (tau 10). Endpoints O 50, X 40 (stopped), P 10.
haircut t2: tau = 100 * 90 / 150 = 60, t = 40, c = 50 - 30 = 20; t3: 80 >= 60: shortfall 20,
       tau 40; O c 40 t 40; t4: tau = 40 * 30 / 80 = 15. Endpoints X 60, O 25, P 15.
lifo   t2 takes taint 90 from the back (tau 90), pool [clean 50, taint 10]; t3 shortfall 20,
       takes everything (tau 10); O [clean 70, taint 10]; t4 takes taint 10 + clean 20 (tau 10).
       Endpoints X 90, P 10.
libr   t2: tau = 90 - 50 = 40; t3: shortfall 20, tau 60; t4: tau = 30 - 20 = 10.
       Endpoints O 50, X 40, P 10.
poison t2 tau 90, t3 tau 80 (shortfall 20), t4 tau 30; O keeps b = 50, P 30, X 90.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from conftest import ok, run, write_csv  # noqa: E402

from tracer.cli import cli

ROOT = Path(__file__).resolve().parent.parent

CASE = [
    ("s1", "2025-01-01T00:00:00Z", "V", "M", "100"),
    ("t2", "2025-01-01T00:10:00Z", "M", "X", "90"),
    ("t3", "2025-01-01T00:20:00Z", "M", "O", "80"),
    ("t4", "2025-01-01T00:30:00Z", "O", "P", "30"),
    ("s5", "2025-01-01T00:40:00Z", "V", "Q", "10"),
]


def assert_one_line_error(result) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error:"), result.stderr


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("case")
    transfers = write_csv(
        folder / "transfers.csv",
        ["tx_id", "timestamp", "src", "dst", "amount", "asset"],
        [(*row, "USD") for row in CASE],
    )
    labels = write_csv(
        folder / "labels.csv",
        ["account", "label", "name", "entity", "opening_balance"],
        [("X", "exchange", "Big Exchange", "ExCo Ltd", ""), ("M", "", "Mule", "", "50")],
    )
    ok("ingest", transfers, "--labels", labels, "-w", folder / "ws")
    return folder / "ws"


def trace_json(ws: Path, *args) -> dict:
    result = ok("trace", "-w", ws, *args, "--format", "json")
    return json.loads(result.stdout)


# --------------------------------------------------------------------------------------------
# --format json
# --------------------------------------------------------------------------------------------


def test_json_is_one_object_with_the_documented_keys(ws):
    result = ok("trace", "-w", ws, "--tx", "s1", "--format", "json")
    out = json.loads(result.stdout)  # the whole of stdout is one JSON object
    assert isinstance(out, dict)
    assert {"rule", "unit", "seed_value", "summary", "endpoints", "holdings", "flows"} <= set(out)
    assert {"at_endpoints", "at_stops", "dust", "unexplained"} <= set(out["summary"])
    for e in out["endpoints"]:
        assert {"account", "label", "value", "share", "stopped", "min_hops", "first_ts"} <= set(e)
    for h in out["holdings"]:
        assert {
            "account",
            "label",
            "tainted_in",
            "tainted_out",
            "tainted_balance",
            "unexplained",
            "min_hops",
        } <= set(h)
    for f in out["flows"]:
        assert {"tx_id", "ts", "src", "dst", "value", "tainted", "hop"} <= set(f)


def test_json_default_rule_is_match():
    from tracer.options import TraceOptions

    assert TraceOptions().rule == "match"


def test_json_fifo_stop_at_exchange(ws):
    out = trace_json(ws, "--tx", "s1", "--rule", "fifo")
    assert out["rule"] == "fifo"
    assert out["unit"] == "USD"
    assert out["seed_value"] == 100.0
    assert out["summary"]["at_endpoints"] == pytest.approx(100.0)
    assert out["summary"]["at_stops"] == pytest.approx(40.0)
    assert out["summary"]["dust"] == 0.0
    assert out["summary"]["unexplained"] == pytest.approx(20.0)
    assert out["endpoints"] == [
        {
            "account": "O",
            "label": None,
            "value": pytest.approx(50.0),
            "share": pytest.approx(0.5),
            "stopped": False,
            "min_hops": 2,
            "first_ts": "2025-01-01T00:20:00Z",
        },
        {
            "account": "X",
            "label": "exchange",
            "value": pytest.approx(40.0),
            "share": pytest.approx(0.4),
            "stopped": True,
            "min_hops": 2,
            "first_ts": "2025-01-01T00:10:00Z",
        },
        {
            "account": "P",
            "label": None,
            "value": pytest.approx(10.0),
            "share": pytest.approx(0.1),
            "stopped": False,
            "min_hops": 3,
            "first_ts": "2025-01-01T00:30:00Z",
        },
    ]
    holdings = {h["account"]: h for h in out["holdings"]}
    assert set(holdings) == {"M", "O", "P", "X"}  # V only sent the seed: not a holding
    m = holdings["M"]
    assert (
        m["tainted_in"],
        m["tainted_out"],
        m["tainted_balance"],
        m["unexplained"],
        m["min_hops"],
    ) == (100.0, 100.0, 0.0, 20.0, 1)
    o = holdings["O"]
    assert (
        o["tainted_in"],
        o["tainted_out"],
        o["tainted_balance"],
        o["unexplained"],
        o["min_hops"],
    ) == (60.0, 10.0, 50.0, 0.0, 2)
    x = holdings["X"]
    assert (
        x["label"],
        x["tainted_in"],
        x["tainted_out"],
        x["tainted_balance"],
        x["unexplained"],
    ) == ("exchange", 40.0, 0.0, 40.0, 0.0)
    assert holdings["P"]["tainted_balance"] == 10.0 and holdings["P"]["min_hops"] == 3
    assert out["flows"] == [
        {
            "tx_id": "s1",
            "ts": "2025-01-01T00:00:00Z",
            "src": "V",
            "dst": "M",
            "value": 100.0,
            "tainted": 100.0,
            "hop": 1,
        },
        {
            "tx_id": "t2",
            "ts": "2025-01-01T00:10:00Z",
            "src": "M",
            "dst": "X",
            "value": 90.0,
            "tainted": 40.0,
            "hop": 2,
        },
        {
            "tx_id": "t3",
            "ts": "2025-01-01T00:20:00Z",
            "src": "M",
            "dst": "O",
            "value": 80.0,
            "tainted": 60.0,
            "hop": 2,
        },
        {
            "tx_id": "t4",
            "ts": "2025-01-01T00:30:00Z",
            "src": "O",
            "dst": "P",
            "value": 30.0,
            "tainted": 10.0,
            "hop": 3,
        },
    ]


@pytest.mark.parametrize(
    ("rule", "endpoints", "taints", "at_endpoints"),
    [
        ("fifo", {"O": 50.0, "X": 40.0, "P": 10.0}, [100.0, 40.0, 60.0, 10.0], 100.0),
        ("haircut", {"X": 60.0, "O": 25.0, "P": 15.0}, [100.0, 60.0, 40.0, 15.0], 100.0),
        ("lifo", {"X": 90.0, "P": 10.0}, [100.0, 90.0, 10.0, 10.0], 100.0),
        ("libr", {"O": 50.0, "X": 40.0, "P": 10.0}, [100.0, 40.0, 60.0, 10.0], 100.0),
        ("poison", {"X": 90.0, "O": 50.0, "P": 30.0}, [100.0, 90.0, 80.0, 30.0], 170.0),
    ],
)
def test_json_each_rule_by_hand(ws, rule, endpoints, taints, at_endpoints):
    out = trace_json(ws, "--tx", "s1", "--rule", rule)
    assert out["rule"] == rule
    got = {e["account"]: e["value"] for e in out["endpoints"]}
    assert got == pytest.approx(endpoints)
    assert list(got) == list(endpoints)  # value down
    assert [f["tainted"] for f in out["flows"]] == pytest.approx(taints)
    assert [f["tx_id"] for f in out["flows"]] == ["s1", "t2", "t3", "t4"]
    assert out["summary"]["at_endpoints"] == pytest.approx(at_endpoints)
    assert out["summary"]["at_stops"] == pytest.approx(endpoints["X"])
    assert out["summary"]["unexplained"] == pytest.approx(20.0)
    for e in out["endpoints"]:
        assert e["share"] == pytest.approx(e["value"] / 100.0)
        assert e["stopped"] == (e["account"] == "X")


def test_stop_at_empty_stops_nowhere(ws):
    # X is no longer a stop: it is replayed like any other account (it sends nothing).
    out = trace_json(ws, "--tx", "s1", "--rule", "haircut", "--stop-at", "")
    assert out["summary"]["at_stops"] == 0.0
    assert {e["account"]: e["stopped"] for e in out["endpoints"]} == {
        "X": False,
        "O": False,
        "P": False,
    }


def test_max_hops_one_keeps_taint_at_first_receiver(ws):
    # M is at hop 1 >= 1: its outflows draw clean only; 50 clean, then shortfalls 40 + 80.
    out = trace_json(ws, "--tx", "s1", "--rule", "haircut", "--max-hops", "1")
    assert [(e["account"], e["value"]) for e in out["endpoints"]] == [("M", 100.0)]
    assert out["summary"]["unexplained"] == pytest.approx(120.0)
    assert [f["tx_id"] for f in out["flows"]] == ["s1"]


def test_min_amount_turns_small_taint_into_dust(ws):
    # haircut t4 carries 15 < 20: dust; P gets clean funds.
    out = trace_json(ws, "--tx", "s1", "--rule", "haircut", "--min-amount", "20")
    assert out["summary"]["dust"] == pytest.approx(15.0)
    assert {e["account"]: e["value"] for e in out["endpoints"]} == pytest.approx(
        {"X": 60.0, "O": 25.0}
    )
    assert out["summary"]["at_endpoints"] + out["summary"]["dust"] == pytest.approx(100.0)


def test_horizon_stops_the_replay(ws):
    # 15 minutes after s1: only s1 and t2 are replayed.
    out = trace_json(ws, "--tx", "s1", "--rule", "haircut", "--horizon", "15m")
    assert {e["account"]: e["value"] for e in out["endpoints"]} == pytest.approx(
        {"X": 60.0, "M": 40.0}
    )
    assert [f["tx_id"] for f in out["flows"]] == ["s1", "t2"]


@pytest.mark.parametrize(
    ("window", "seed_value", "seeds"),
    [
        ((), 110.0, ["s1", "s5"]),
        (("--since", "2025-01-01T00:30:00Z"), 10.0, ["s5"]),
        (("--until", "2025-01-01T00:05:00"), 100.0, ["s1"]),
        (
            ("--since", "2025-01-01T00:00:00Z", "--until", "2025-01-01T00:40:00Z"),
            110.0,
            ["s1", "s5"],
        ),
        (("--since", "2025-01-01T07:40:00+07:00"), 10.0, ["s5"]),  # 00:40 UTC, inclusive
    ],
)
def test_from_account_with_window(ws, window, seed_value, seeds):
    out = trace_json(ws, "--from", "V", *window)
    assert out["seed_value"] == seed_value
    assert [f["tx_id"] for f in out["flows"] if f["hop"] == 1] == seeds


def test_several_tx_seeds_repeated_or_comma_separated(ws):
    a = trace_json(ws, "--tx", "s1", "--tx", "s5")
    b = trace_json(ws, "--tx", "s1,s5")
    assert a == b
    assert a["seed_value"] == 110.0
    assert {e["account"]: e["value"] for e in a["endpoints"]}["Q"] == 10.0


# --------------------------------------------------------------------------------------------
# --format table
# --------------------------------------------------------------------------------------------

FIFO_TABLE = """\
Trace (fifo) from 1 seed transfer: 100.00 USD

Where the money rests (3 endpoints):
account  label     value   share  hops  stopped
O                  50.00  50.00%     2
X        exchange  40.00  40.00%     2  yes
P                  10.00  10.00%     3

Totals: at endpoints 100.00 (at stopped services 40.00), dust 0.00, unexplained 20.00 USD
Conservation: seed value = at endpoints + dust holds (difference 0).
"""


def test_table_is_the_default_and_exact(ws):
    result = ok("trace", "-w", ws, "--tx", "s1", "--rule", "fifo")
    assert result.stdout == FIFO_TABLE
    assert result.stderr == ""
    assert (
        ok("trace", "-w", ws, "--tx", "s1", "--rule", "fifo", "--format", "table").stdout
        == FIFO_TABLE
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
Poison measures exposure, not amounts: every account the tainted money touched counts all of it, so the values add up to more than the seed value; trace with another --rule to apportion the loss.
"""


def test_table_poison_exact(ws):
    assert ok("trace", "-w", ws, "--tx", "s1", "--rule", "poison").stdout == POISON_TABLE


# --------------------------------------------------------------------------------------------
# -o DIR
# --------------------------------------------------------------------------------------------


def test_output_folder_files_and_byte_identical_reruns(ws, tmp_path):
    out = tmp_path / "result"
    first = ok("trace", "-w", ws, "--tx", "s1", "--rule", "fifo", "-o", out, "--format", "json")
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "allocations.parquet",
        "endpoints.parquet",
        "flows.parquet",
        "holdings.parquet",
        "manifest.json",
        "paths.parquet",
        "requests.csv",
        "result.json",
    ]
    # manifest.json holds the time of the run; everything else is byte-identical
    snap = {p.name: p.read_bytes() for p in out.iterdir() if p.name != "manifest.json"}
    assert json.loads(snap["result.json"]) == json.loads(first.stdout)
    assert pl.read_parquet(out / "endpoints.parquet").get_column("account").to_list() == [
        "O",
        "X",
        "P",
    ]
    assert pl.read_parquet(out / "flows.parquet").get_column("tx_id").to_list() == [
        "s1",
        "t2",
        "t3",
        "t4",
    ]
    assert sorted(pl.read_parquet(out / "holdings.parquet").get_column("account").to_list()) == [
        "M",
        "O",
        "P",
        "X",
    ]

    ok("trace", "-w", ws, "--tx", "s1", "--rule", "fifo", "-o", out, "--format", "json")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != "manifest.json"} == snap


def test_output_folder_with_table_says_where(ws, tmp_path):
    out = tmp_path / "r"
    result = ok("trace", "-w", ws, "--tx", "s1", "--rule", "fifo", "-o", out)
    assert result.stdout == FIFO_TABLE + f"Result written to {out}/\n"
    assert (out / "result.json").is_file()


# --------------------------------------------------------------------------------------------
# Errors: one line on stderr starting with "Error:", exit status 1, no traceback
# --------------------------------------------------------------------------------------------

TRACE_ERRORS = {
    "unknown account": (["--from", "nobody"], "nobody"),
    "unknown tx": (["--tx", "nope"], "nope"),
    "one unknown among known tx": (["--tx", "s1,nope"], "nope"),
    "empty seed set (no outflow)": (["--from", "P"], None),
    "empty seed set (window)": (["--from", "V", "--since", "2025-02-01"], None),
    "empty --tx": (["--tx", ""], None),
    "since after until": (["--from", "V", "--since", "2025-01-02", "--until", "2025-01-01"], None),
    "both --tx and --from": (["--tx", "s1", "--from", "V"], None),
    "neither --tx nor --from": ([], None),
    "--since with --tx": (["--tx", "s1", "--since", "2025-01-01"], "--since"),
    "--until with --tx": (["--tx", "s1", "--until", "2025-01-01"], "--until"),
    "bad --since": (["--from", "V", "--since", "yesterday"], "yesterday"),
    "bad rule": (["--tx", "s1", "--rule", "magic"], "magic"),
    "bad horizon": (["--tx", "s1", "--horizon", "10x"], "10x"),
    "negative horizon": (["--tx", "s1", "--horizon", "-1d"], "-1d"),
    "empty horizon": (["--tx", "s1", "--horizon", ""], None),
    "negative min-amount": (["--tx", "s1", "--min-amount", "-1"], None),
    "nan min-amount": (["--tx", "s1", "--min-amount", "nan"], None),
    "non-numeric min-amount": (["--tx", "s1", "--min-amount", "lots"], "lots"),
    "zero max-hops": (["--tx", "s1", "--max-hops", "0"], None),
    "bad format": (["--tx", "s1", "--format", "xml"], "xml"),
}


@pytest.mark.parametrize("name", list(TRACE_ERRORS))
def test_trace_errors_are_one_line(ws, tmp_path, name):
    args, mentioned = TRACE_ERRORS[name]
    out = tmp_path / "out"
    result = run("trace", "-w", ws, *args, "-o", out)
    assert_one_line_error(result)
    if mentioned is not None:
        assert mentioned in result.stderr
    assert not out.exists()


def test_trace_missing_workspace(tmp_path):
    missing = tmp_path / "nowhere"
    result = run("trace", "-w", missing, "--tx", "s1")
    assert_one_line_error(result)
    assert str(missing) in result.stderr
    assert not missing.exists()


def test_trace_folder_that_is_not_a_workspace(tmp_path):
    result = run("trace", "-w", tmp_path, "--tx", "s1")
    assert_one_line_error(result)


def test_trace_without_workspace_option():
    assert_one_line_error(run("trace", "--tx", "s1"))


def test_unknown_command_is_one_line():
    assert_one_line_error(run("frobnicate"))


# --------------------------------------------------------------------------------------------
# Hostile data in the trace output
# --------------------------------------------------------------------------------------------

HYPERLINK = '=HYPERLINK("http://x")'
SCRIPT = "<script>alert(1)</script>"
ANSI = "\x1b[31mred\x1b[0m"
BELL = "bell\x07\rcr"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # anything but \t and \n


@pytest.fixture(scope="module")
def hostile_ws(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    transfers = write_csv(
        folder / "t.csv",
        ["tx_id", "timestamp", "src", "dst", "amount", "asset"],
        [
            ("h1", "2025-01-01T00:00:00Z", "victim", HYPERLINK, "100", "USD"),
            ("h2", "2025-01-01T01:00:00Z", HYPERLINK, SCRIPT, "40", "USD"),
            ("h3", "2025-01-01T02:00:00Z", HYPERLINK, ANSI, "35", "USD"),
            ("h4", "2025-01-01T03:00:00Z", HYPERLINK, BELL, "25", "USD"),
        ],
    )
    ok("ingest", transfers, "-w", folder / "ws")
    return folder / "ws"


def test_hostile_names_exact_in_json(hostile_ws):
    out = trace_json(hostile_ws, "--tx", "h1")
    assert {e["account"]: e["value"] for e in out["endpoints"]} == {
        SCRIPT: 40.0,
        ANSI: 35.0,
        BELL: 25.0,
    }
    assert [(f["src"], f["dst"]) for f in out["flows"]] == [
        ("victim", HYPERLINK),
        (HYPERLINK, SCRIPT),
        (HYPERLINK, ANSI),
        (HYPERLINK, BELL),
    ]


def test_hostile_names_escaped_in_table(hostile_ws):
    # color=True: CliRunner does not strip ANSI codes, so this is what a terminal would get.
    result = ok("trace", "-w", hostile_ws, "--tx", "h1", color=True)
    text = result.stdout
    assert not CONTROL.search(text), repr(text)
    assert r"\x1b[31mred\x1b[0m" in text
    assert r"bell\x07\x0dcr" in text
    assert SCRIPT in text


def test_hostile_names_usable_as_seeds(hostile_ws):
    out = trace_json(hostile_ws, "--from", HYPERLINK)
    assert out["seed_value"] == 100.0
    assert [f["src"] for f in out["flows"]] == [HYPERLINK] * 3


def test_hostile_asset_escaped_in_table(tmp_path):
    transfers = write_csv(
        tmp_path / "t.csv",
        ["tx_id", "timestamp", "src", "dst", "amount", "asset"],
        [
            ("a1", "2025-01-01T00:00:00Z", "a", "b", "100", "\x1b[31mUSD"),
            ("a2", "2025-01-01T01:00:00Z", "b", "c", "100", "\x1b[31mUSD"),
        ],
    )
    ok("ingest", transfers, "-w", tmp_path / "ws")
    result = ok("trace", "-w", tmp_path / "ws", "--tx", "a1", color=True)
    assert not CONTROL.search(result.stdout), repr(result.stdout)


# --------------------------------------------------------------------------------------------
# Help and README
# --------------------------------------------------------------------------------------------

COMMANDS = sorted(cli.commands)


def test_commands_are_ingest_and_trace():
    assert {"ingest", "trace"} <= set(COMMANDS)


@pytest.mark.parametrize("args", [["--help"], ["-h"], *([c, "--help"] for c in COMMANDS)])
def test_help_exits_zero(args):
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    assert result.stderr == ""


def test_version_exits_zero():
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("tracer")


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_names_every_command(command):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"tracer {command}" in text


def test_seed_files_take_ids_as_written(tmp_path):
    """An id holding a comma can be given in a file, one per line, never split."""
    rows = [
        ("a,1", "2025-01-01T00:00:00Z", "V,1", "M", "100"),
        ("b", "2025-01-01T00:10:00Z", "M", "N", "100"),
    ]
    transfers = write_csv(
        tmp_path / "t.csv",
        ["tx_id", "timestamp", "src", "dst", "amount", "asset"],
        [(*r, "USD") for r in rows],
    )
    ok("ingest", transfers, "-w", tmp_path / "ws")
    (tmp_path / "tx.txt").write_text("\ufeffa,1\n\n", encoding="utf-8")
    out = json.loads(
        ok(
            "trace", "-w", tmp_path / "ws", "--tx-file", tmp_path / "tx.txt", "--format", "json"
        ).stdout
    )
    assert out["seed_value"] == 100.0 and out["options"]["tx_ids"] == ["a,1"]
    (tmp_path / "from.txt").write_text("V,1\n", encoding="utf-8")
    out = json.loads(
        ok(
            "trace", "-w", tmp_path / "ws", "--from-file", tmp_path / "from.txt", "--format", "json"
        ).stdout
    )
    assert out["seed_value"] == 100.0 and out["options"]["from_accounts"] == ["V,1"]
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00")
    r = run("trace", "-w", tmp_path / "ws", "--tx-file", tmp_path / "bad.txt")
    assert r.exit_code == 1
    assert (
        r.stderr == f"Error: {tmp_path / 'bad.txt'}: not UTF-8 text (byte 0); save the list "
        "of ids as UTF-8, one per line.\n"
    )


def test_stop_at_a_label_nobody_has_is_an_error(ws):
    r = run("trace", "-w", ws, "--tx", "s1", "--stop-at", "exchnge")
    assert r.exit_code == 1
    assert r.stderr == (
        "Error: --stop-at exchnge: no such label. The workspace's labels: "
        'exchange; use --stop-at "" to stop nowhere.\n'
    )
    # a category tracer knows stops nowhere here, but is no typo
    assert run("trace", "-w", ws, "--tx", "s1", "--stop-at", "otc").exit_code == 0


def test_seeds_after_the_horizon_are_reported(tmp_path):
    rows = [
        ("a", "2025-01-01T00:00:00Z", "V", "M", "100"),
        ("b", "2025-01-03T00:00:00Z", "V", "M", "50"),
        ("c", "2025-01-03T00:10:00Z", "M", "N", "120"),
    ]
    transfers = write_csv(
        tmp_path / "t.csv",
        ["tx_id", "timestamp", "src", "dst", "amount", "asset"],
        [(*r, "USD") for r in rows],
    )
    ok("ingest", transfers, "-w", tmp_path / "ws")
    r = ok("trace", "-w", tmp_path / "ws", "--tx", "a,b", "--horizon", "1d", "--format", "json")
    out = json.loads(r.stdout)
    assert out["seeds"] == 1 and out["options"]["seeds_not_traced"] == ["b"]
    assert r.stderr == (
        "Note: 1 of 2 seed transfers come after the horizon and are not traced: b.\n"
    )
    r = ok("trace", "-w", tmp_path / "ws", "--tx", "a,b", "--format", "json")
    assert "seeds_not_traced" not in json.loads(r.stdout)["options"] and r.stderr == ""
