"""The engine command end to end, in subprocesses, on real journals."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from projections import build
from tests.test_feeds import BAD_ROWS, HEADER, good_rows

ENGINE = [sys.executable, "-m", "engine.cli"]


def engine(*args: str, seed: str = "0", cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    return subprocess.run([*ENGINE, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """The default `make run` job: bundled data, default config."""
    d = tmp_path_factory.mktemp("run")
    out = engine("run", "--journal", str(d / "journal.db"), "--json", seed="101")
    assert out.returncode == 0, out.stderr
    return d / "journal.db", json.loads(out.stdout)


def test_default_run_summary_matches_the_projections(default_run):
    journal, summary = default_run
    snap = build(journal)
    assert summary["events"] == snap.seq
    assert summary["bars_read"] == summary["bars_accepted"] == 11958  # AAPL, IBM, MSFT 3270 + GOOG 2148
    assert summary["bars_rejected"] == 0
    assert summary["orders"] == len(snap.orders) > 100
    assert summary["fills"] == sum(1 for o in snap.orders if o.status == "FILLED")
    assert summary["realized_pnl"] == format_exact(snap.pnl.total.realized)
    assert summary["unrealized_pnl"] == format_exact(snap.pnl.total.unrealized)
    assert summary["fees"] == format_exact(snap.pnl.total.fees)
    positions = {p.symbol: p for p in snap.positions}
    assert set(summary["positions"]) == set(positions) == {"AAPL", "GOOG", "IBM", "MSFT"}
    for sym, p in summary["positions"].items():
        assert p["qty"] == format_exact(positions[sym].qty)
        assert p["realized"] == format_exact(positions[sym].realized)
    with sqlite3.connect(journal) as con:
        signals = con.execute("SELECT count(*) FROM journal_events WHERE topic='SignalGenerated.v3'").fetchone()[0]
    assert summary["signals"] == signals


def format_exact(units: int) -> str:
    from journal_schema.units import exact

    return exact(units)


def test_replay_is_identical_across_processes_and_hash_seeds(default_run):
    journal, summary = default_run
    digests = set()
    for seed in ("1", "2", "random"):
        out = engine("replay", "--from", str(journal), seed=seed)
        assert out.returncode == 0, out.stdout + out.stderr
        m = re.match(r"identical: (\d+) records .* digest ([0-9a-f]{64})$", out.stdout.strip())
        assert m, out.stdout
        digests.add(m.group(2))
    assert digests == {summary["digest"]}


def test_rerun_gives_a_byte_identical_journal(default_run, tmp_path):
    journal, summary = default_run
    out = engine("run", "--journal", str(tmp_path / "again.db"), "--json", "--batch", "7", seed="999")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["digest"] == summary["digest"]


def _flip_byte(journal: Path, seq: int) -> None:
    con = sqlite3.connect(journal)
    con.execute("DROP TRIGGER journal_events_no_update")  # an attacker with file access
    (state,) = con.execute("SELECT state FROM journal_events WHERE rowid = ?", (seq,)).fetchone()
    i = state.index(b'"close":') + len(b'"close":')
    flipped = state[:i] + bytes([state[i] ^ 0x01]) + state[i + 1 :]
    con.execute("UPDATE journal_events SET state = ? WHERE rowid = ?", (flipped, seq))
    con.commit()
    con.close()


def test_flipped_byte_is_named_by_verify_and_replay(default_run, tmp_path):
    journal, _ = default_run
    copy = tmp_path / "tampered.db"
    with sqlite3.connect(journal) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
        (seq,) = dst.execute(
            "SELECT rowid FROM journal_events WHERE topic='BarClosed.v2' ORDER BY rowid LIMIT 1 OFFSET 5000"
        ).fetchone()
    _flip_byte(copy, seq)
    v = engine("verify", str(copy))
    r = engine("replay", "--from", str(copy))
    assert v.returncode == 1 and f"TAMPERED at seq {seq}:" in v.stdout
    assert r.returncode == 1 and r.stdout.startswith(f"DIVERGED at seq {seq}: TAMPERED")


def test_divergence_prints_both_events_and_a_field_diff(tmp_path):
    """A journal written under a different strategy setting diverges at its first derived event."""
    csv = tmp_path / "bars.csv"
    prices = [10, 9, 8, 7, 8, 9, 10, 11, 12, 11, 10, 9, 8, 7]
    csv.write_text(
        HEADER
        + "\n"
        + "\n".join(f"2024-01-02T15:{m:02d}:00Z,AAPL,{p},{p + 1},{p - 1},{p},100" for m, p in enumerate(prices))
        + "\n"
    )
    cfg = tmp_path / "c.toml"
    cfg.write_text("[strategy]\nfast = 2\nslow = 4\nqty = 10\n")
    journal = tmp_path / "j.db"
    assert engine("run", "--bars", str(csv), "--config", str(cfg), "--journal", str(journal)).returncode == 0
    # rewrite history: change the recorded SignalGenerated target as if older code had produced it
    con = sqlite3.connect(journal)
    con.execute("DROP TRIGGER journal_events_no_update")
    rows = con.execute("SELECT rowid, topic, state FROM journal_events ORDER BY rowid").fetchall()
    from engine.journal.chain import GENESIS, link, unwrap, wrap

    prev, changed = GENESIS, None
    for rowid, topic, state in rows:
        _, payload = unwrap(state)
        if changed is None and topic == "SignalGenerated.v3":
            payload = payload.replace(b'"target_qty":1000000000', b'"target_qty":2000000000')
            changed = rowid
        prev = link(prev, rowid, topic.encode(), payload)
        con.execute("UPDATE journal_events SET state = ? WHERE rowid = ?", (wrap(prev, payload), rowid))
    con.commit()
    con.close()
    assert changed is not None
    assert engine("verify", str(journal)).returncode == 0  # the chain was rebuilt consistently
    out = engine("replay", "--from", str(journal))
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"DIVERGED at seq {changed}: DERIVED_MISMATCH")
    assert '"target_qty":2000000000' in lines[1] and lines[1].startswith("  recorded:")
    assert '"target_qty":1000000000' in lines[2] and lines[2].startswith("  replayed:")
    assert "  diff target_qty: 2000000000 -> 1000000000" in lines


def test_bad_rows_are_counted_in_the_summary(tmp_path):
    rows = good_rows()
    rows.insert(41, BAD_ROWS["DUPLICATE_BAR"])
    rows.insert(42, BAD_ROWS["TIMESTAMP_NOT_INCREASING"])
    rows += [v for k, v in BAD_ROWS.items() if k not in ("DUPLICATE_BAR", "TIMESTAMP_NOT_INCREASING")]
    csv = tmp_path / "bars.csv"
    csv.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text('[run]\nuniverse = ["AAPL", "MSFT"]\n')
    out = engine("run", "--bars", str(csv), "--config", str(cfg), "--journal", str(tmp_path / "j.db"), "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["rejections_by_code"] == dict.fromkeys(sorted(BAD_ROWS), 1)
    assert summary["bars_rejected"] == len(BAD_ROWS)
    text = engine("run", "--bars", str(csv), "--config", str(cfg), "--journal", str(tmp_path / "k.db"))
    assert "    OUTSIDE_SESSION                  1" in text.stdout


@pytest.mark.parametrize(
    "args,files,message",
    [
        (["run", "--bars", "missing.csv"], {}, "bar file not found: missing.csv"),
        (["run", "--config", "missing.toml"], {}, "config file not found: missing.toml"),
        (["run", "--config", "c.toml"], {"c.toml": "[strategy\n"}, "config c.toml is not valid TOML"),
        (
            ["run", "--config", "c.toml"],
            {"c.toml": "[strategy]\nfastt = 3\n"},
            "strategy.fastt: Extra inputs are not permitted",
        ),
        (["run", "--config", "c.toml"], {"c.toml": "[risk]\nx = 1\n"}, "risk.x: Extra inputs are not permitted"),
        (["run", "--config", "c.toml"], {"c.toml": "[strategy]\nname = 'nope'\n"}, "unknown strategy 'nope'"),
        (["run", "--config", "c.toml"], {"c.toml": "[run]\ncalendar = 'NOPE'\n"}, "calendar 'NOPE'"),
        (["verify", "missing.db"], {}, "journal not found: missing.db"),
        (["replay", "--from", "missing.db"], {}, "journal not found: missing.db"),
        (["query", "pnl", "--journal", "missing.db"], {}, "journal not found"),
        (["verify", "notadb.db"], {"notadb.db": "hello"}, "notadb.db is not a journal (not an SQLite database)"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(tmp_path, args, files, message):
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    out = engine(*args, cwd=tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert message in out.stderr


def test_existing_journal_is_not_appended_to(default_run):
    journal, summary = default_run
    out = engine("run", "--journal", str(journal))
    assert out.returncode == 2
    assert f"already holds {summary['events']} events" in out.stderr


def test_help_lists_every_command():
    out = engine("--help")
    assert out.returncode == 0
    for cmd in ("run", "replay", "verify", "query", "schema"):
        assert cmd in out.stdout


def test_sigint_stops_at_an_input_boundary_and_journals_run_ended(tmp_path):
    import signal
    import time

    from tools.bench.gen_minute_bars import write

    csv = write(200_000, ("SYN",), seed=3, out=tmp_path / "bars.csv")
    journal = tmp_path / "j.db"
    proc = subprocess.Popen(
        [*ENGINE, "run", "--bars", str(csv), "--journal", str(journal), "--batch", "500"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the run is journaling
        time.sleep(0.05)
        if journal.exists() and journal.stat().st_size > 200_000:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert ": INTERRUPTED" in out.splitlines()[0]
    with sqlite3.connect(journal) as con:
        (last_topic,) = con.execute("SELECT topic FROM journal_events ORDER BY rowid DESC LIMIT 1").fetchone()
        (n,) = con.execute("SELECT count(*) FROM journal_events WHERE topic='BarClosed.v2'").fetchone()
    assert last_topic == "RunEnded.v1" and 0 < n < 200_000
    replay = engine("replay", "--from", str(journal))
    assert replay.returncode == 0, replay.stdout


def test_replace_recreates_the_journal_and_refuses_while_it_is_written(default_run, tmp_path):
    journal, summary = default_run
    copy = tmp_path / "j.db"
    with sqlite3.connect(journal) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    from engine.journal import JournalWriter

    holder = JournalWriter(copy)
    try:
        out = engine("run", "--journal", str(copy), "--replace")
        assert out.returncode == 2 and "already open for writing by pid" in out.stderr
        assert copy.exists()
    finally:
        holder.close()
    out = engine("run", "--journal", str(copy), "--replace", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["digest"] == summary["digest"]


def test_journal_in_a_missing_directory_is_a_one_line_error(tmp_path):
    out = engine("run", "--journal", str(tmp_path / "nodir" / "j.db"))
    assert out.returncode == 2 and "nodir does not exist" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "nodir").exists()


def test_replay_and_verify_name_a_deleted_record(default_run, tmp_path):
    journal, _ = default_run
    copy = tmp_path / "cut.db"
    with sqlite3.connect(journal) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
        dst.execute("DROP TRIGGER journal_events_no_delete")
        dst.execute("DELETE FROM journal_events WHERE rowid = 20")
    r = engine("replay", "--from", str(copy))
    v = engine("verify", str(copy))
    assert r.returncode == v.returncode == 1
    assert r.stdout.startswith("DIVERGED at seq 20: TAMPERED: record 20 is missing")
    assert "seq 20" in v.stdout


def test_readme_shows_the_real_default_run(default_run):
    """The README pastes `make run` output; any change to journal-shaping code must refresh it. The run
    id (code version, config, data, seed) and the figures must match; the chain digest cannot, because
    the run manifest records the git commit, and a README cannot hold the digest of its own commit."""
    _, summary = default_run
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert f"run {summary['run_id']} on {summary['dataset']}" in readme
    assert f"  realized P&L {float(summary['realized_pnl']):>18.2f}" in readme
    assert f"  journal          journal.db ({summary['events']} events)" in readme
