"""Live configuration changes (``engine reconfigure``, journaled as ``ConfigChanged`` v2) and operator
commands on a Postgres journal (its ``<T>_inbox`` table): journaled directly when no run holds the
journal, queued for the run that does, and every later decision carries the new config hash."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.cli import main
from engine.config import config_hash, load, resolve
from engine.journal import read_events
from engine.operator import Command, drain_inbox, open_inbox
from engine.runner import historical_run
from engine.shell import DEFAULT_BATCH, Engine
from journal_schema.events import (
    AlertRaised,
    ConfigChanged,
    DecisionMade,
    Event,
    KillSwitchEngaged,
    KillSwitchReleased,
    RunStarted,
)
from tests.stores import fresh_table, needs_pg, pg_url
from tests.test_pg_journal import bars, small_cfg

Capsys = pytest.CaptureFixture[str]
REPO = Path(__file__).resolve().parent.parent


def events(journal: str | Path) -> list[tuple[int, Event]]:
    return list(read_events(journal))


def finished_run(tmp_path: Path, journal: str | Path) -> str:
    """A small historical run on ``journal``; returns its config hash."""
    cfg, snap = small_cfg(tmp_path)
    historical_run(cfg, snap, journal, bars(tmp_path))  # type: ignore[arg-type]
    return config_hash(snap)


def new_config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "new.toml"
    path.write_text('[strategy]\nfast = 2\nslow = 4\nqty = 10\n[risk.policy]\nmin_liquidity_score = "0"\n' + extra)
    return path


def test_reconfigure_journals_the_whole_new_config_and_replay_stays_identical(
    journal_url: str | Path, tmp_path: Path, capsys: Capsys
) -> None:
    old_hash = finished_run(tmp_path, journal_url)
    new = new_config(tmp_path, '[orders]\nlimit_offset_bps = "7"\n')
    assert (
        main(
            [
                "reconfigure",
                "--journal",
                str(journal_url),
                "--config",
                str(new),
                "--reason",
                "wider limits",
                "--actor",
                "ops@desk",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "  orders.limit_offset_bps: '0' -> '7'\n" in out
    seq, ev = events(journal_url)[-1]
    assert isinstance(ev, ConfigChanged) and f"journaled ConfigChanged at seq {seq}" in out
    assert ev.previous_config_hash == old_hash and ev.config_hash == config_hash(ev.config) != old_hash
    assert ev.config["orders"]["limit_offset_bps"] == "7" and (ev.actor, ev.reason) == ("ops@desk", "wider limits")
    assert len(ev.command_id) == 32
    assert main(["verify", str(journal_url)]) == 0
    assert main(["replay", "--from", str(journal_url)]) == 0 and "identical" in capsys.readouterr().out


def test_reconfigure_refuses_start_up_settings_no_change_and_journals_nothing_on_a_dry_run(
    tmp_path: Path, capsys: Capsys
) -> None:
    journal = tmp_path / "j.db"
    finished_run(tmp_path, journal)
    n = len(events(journal))
    assert (
        main(
            [
                "reconfigure",
                "--journal",
                str(journal),
                "--config",
                str(new_config(tmp_path, "[run]\nseed = 9\n")),
                "--reason",
                "x",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert f"run.seed (file {tmp_path / 'new.toml'}) cannot change while running (read at start-up" in err
    assert (
        main(["reconfigure", "--journal", str(journal), "--config", str(new_config(tmp_path, "")), "--reason", "x"])
        == 2
    )
    assert "gives the running configuration" in capsys.readouterr().err
    renamed = (
        new_config(tmp_path, "")
        .read_text()
        .replace("[strategy]\n", '[strategy]\nname = "engine.strategies:SMA_CROSS"\n')
    )
    (tmp_path / "renamed.toml").write_text(renamed)
    assert (
        main(["reconfigure", "--journal", str(journal), "--config", str(tmp_path / "renamed.toml"), "--reason", "x"])
        == 2
    )
    assert "strategy.name" in capsys.readouterr().err
    assert (
        main(
            [
                "reconfigure",
                "--journal",
                str(journal),
                "--config",
                str(new_config(tmp_path, "[strategy.x]\n")),
                "--reason",
                "x",
            ]
        )
        == 2
    )
    capsys.readouterr()
    assert (
        main(
            [
                "reconfigure",
                "--journal",
                str(journal),
                "--dry-run",
                "--reason",
                "x",
                "--config",
                str(new_config(tmp_path, '[costs]\nedge_buffer_bps = "3"\n')),
            ]
        )
        == 0
    )
    assert "costs.edge_buffer_bps" in capsys.readouterr().out
    assert len(events(journal)) == n


def test_a_queued_config_change_reaches_a_running_engine_and_later_decisions_carry_its_hash(tmp_path: Path) -> None:
    from tools.bench.gen_minute_bars import write

    csv = write(DEFAULT_BATCH + 600, ("SYN",), seed=3, out=tmp_path / "bars.csv")
    journal = tmp_path / "j.db"
    cfg, snap = resolve({})
    new_cfg, new_snap = resolve({"strategy": {"fast": 3}})
    old_hash, new_hash = config_hash(snap), config_hash(new_snap)
    inbox = open_inbox(journal)  # queued while the run starts (it holds the lock from then on)
    command_id = inbox.queue(
        Command(
            command_id="",
            kind="CONFIG",
            reason="faster",
            actor="ops",
            config=new_snap,
            config_hash=new_hash,
            previous_config_hash=old_hash,
        )
    )
    inbox.close()
    historical_run(cfg, snap, journal, bars=csv)
    evs = events(journal)
    at, changed = next((s, e) for s, e in evs if isinstance(e, ConfigChanged))
    assert isinstance(changed, ConfigChanged) and changed.command_id == command_id
    before = {e.config_hash for s, e in evs if isinstance(e, DecisionMade) and s < at}
    after = {e.config_hash for s, e in evs if isinstance(e, DecisionMade) and s > at}
    assert before == {old_hash} and after == {new_hash}
    inbox = open_inbox(journal)
    assert inbox.status(command_id) == at and not inbox.pending()
    inbox.close()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
        env=dict(os.environ),
    )


@needs_pg
def test_operator_commands_on_a_postgres_journal_queue_for_its_writer_and_journal_directly_without_one(
    tmp_path: Path,
) -> None:
    with fresh_table() as table:
        url = pg_url(table)
        finished_run(tmp_path, url)
        engine = Engine.open(url)  # a run holding the journal's writer lock
        try:
            out = _cli("kill", "--journal", url, "--reason", "runaway", "--wait", "0")
            assert out.returncode == 3, out.stderr
            assert "queued as command" in out.stdout
            inbox = open_inbox(url)
            (pending,) = inbox.pending()
            assert pending.kind == "KILL" and pending.reason == "runaway"
            ts = events(url)[-1][1].ts
            ((cmd, seq),) = drain_inbox(engine, ts)
            assert inbox.status(cmd.command_id) == seq and not inbox.pending()
            inbox.close()
        finally:
            engine.close()
        assert isinstance(dict(events(url))[seq], KillSwitchEngaged)
        waiting = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "resume", "--journal", url, "--reason", "ok"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        done, err = waiting.communicate(timeout=60)
        assert waiting.returncode == 0, err
        assert done.startswith("journaled KillSwitchReleased at seq ")
        assert any(isinstance(e, KillSwitchReleased) for _, e in events(url)[-3:])


@needs_pg
def test_a_command_queued_on_postgres_is_journaled_by_the_cli_once_the_writer_goes(tmp_path: Path) -> None:
    with fresh_table() as table:
        url = pg_url(table)
        finished_run(tmp_path, url)
        engine = Engine.open(url)
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "kill", "--journal", url, "--reason", "r", "--wait", "30"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                inbox = open_inbox(url)
                pending = inbox.pending()
                inbox.close()
                if pending:
                    break
                time.sleep(0.05)
            assert pending, "the CLI never queued its command"
        finally:
            engine.close()  # the writer goes away with the command still queued
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert "the engine that held the journal has stopped" in out
        assert [type(e) for _, e in events(url)[-2:]] == [KillSwitchEngaged, AlertRaised]


def test_start_up_settings_the_new_file_leaves_out_stay_as_the_run_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capsys
) -> None:
    journal = tmp_path / "j.db"
    cfg, snap = load(new_config(tmp_path, "[paper]\nhalf_spread_bps = 5\n"))  # a start-up setting of the run
    historical_run(cfg, snap, journal, bars(tmp_path))
    _, running_hash = next((e.config, e.config_hash) for _, e in events(journal) if isinstance(e, RunStarted))
    assert (
        main(
            [
                "reconfigure",
                "--journal",
                str(journal),
                "--config",
                str(new_config(tmp_path, '[orders]\nlimit_offset_bps = "7"\n')),
                "--reason",
                "x",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith("  orders.limit_offset_bps: '0' -> '7'\nconfig_hash ")
    changed = events(journal)[-1][1]
    assert isinstance(changed, ConfigChanged) and changed.previous_config_hash == running_hash
    assert changed.config["paper"]["half_spread_bps"] == "5"  # kept, though the new file does not say it
    monkeypatch.setenv("ENGINE__PAPER__HALF_SPREAD_BPS", "9")
    assert (
        main(["reconfigure", "--journal", str(journal), "--config", str(new_config(tmp_path, "")), "--reason", "x"])
        == 2
    )
    assert "paper.half_spread_bps (env ENGINE__PAPER__HALF_SPREAD_BPS) cannot change" in capsys.readouterr().err


def test_a_config_change_journaled_before_a_crash_is_not_journaled_again(
    journal_url: str | Path, tmp_path: Path
) -> None:
    from engine.operator import UNKNOWN_SEQ, journal_command

    old_hash = finished_run(tmp_path, journal_url)
    _, new_snap = resolve({"strategy": {"fast": 3, "slow": 4, "qty": 10}})
    inbox = open_inbox(journal_url)
    command_id = inbox.queue(
        Command(
            command_id="",
            kind="CONFIG",
            reason="r",
            actor="ops",
            config=new_snap,
            config_hash=config_hash(new_snap),
            previous_config_hash=old_hash,
        )
    )
    engine = Engine.open(journal_url)
    try:  # the crash: journaled and committed, the process dies before the inbox is marked
        journal_command(engine, inbox.pending()[0], events(journal_url)[-1][1].ts)
    finally:
        engine.close()
    assert inbox.status(command_id) is None
    engine = Engine.open(journal_url)  # the restart: the fold knows the command id
    try:
        assert command_id in engine.state.commands
        assert drain_inbox(engine, events(journal_url)[-1][1].ts) == []
        assert engine.state.config is not None and engine.state.config.config_hash == config_hash(new_snap)
    finally:
        engine.close()
    assert inbox.status(command_id) == UNKNOWN_SEQ
    inbox.close()
    assert sum(isinstance(e, ConfigChanged) for _, e in events(journal_url)) == 1


def test_an_inbox_made_before_reconfigure_is_widened_keeping_its_commands(tmp_path: Path) -> None:
    import sqlite3

    from engine.operator import Inbox, inbox_path

    journal = tmp_path / "j.db"
    with sqlite3.connect(inbox_path(journal)) as db:  # the schema of the previous release
        db.execute(
            "CREATE TABLE commands (rowid INTEGER PRIMARY KEY, command_id TEXT UNIQUE NOT NULL, kind TEXT NOT "
            "NULL CHECK (kind IN ('KILL', 'RESUME', 'APPROVE')), payload TEXT NOT NULL, created_at TEXT NOT "
            "NULL, journaled_seq INTEGER)"
        )
        db.execute("INSERT INTO commands VALUES (1, 'c1', 'KILL', '{\"reason\":\"r\"}', '2026-01-01', NULL)")
    with Inbox(journal) as inbox:
        config_id = inbox.queue(
            Command(
                command_id="",
                kind="CONFIG",
                reason="x",
                actor="ops",
                config={"a": 1},
                config_hash="h",
                previous_config_hash="p",
            )
        )
        assert [(c.command_id, c.kind) for c in inbox.pending()] == [("c1", "KILL"), (config_id, "CONFIG")]
        assert inbox.pending()[1].config == {"a": 1}


def test_the_change_list_shows_secret_references_and_refuses_secrets(
    tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "j.db"
    strategy = '[strategy]\nname = "tests.test_config_env:SECRETIVE"\napi_token = "{}"\n'
    (tmp_path / "old.toml").write_text(strategy.format("env:OLD_TOKEN"))
    cfg, snap = load(tmp_path / "old.toml")
    historical_run(cfg, snap, journal, bars(tmp_path))
    monkeypatch.setenv("NEW_TOKEN", "tok-new-s3cr3t")
    (tmp_path / "new.toml").write_text(strategy.format("env:NEW_TOKEN"))
    code = main(
        ["reconfigure", "--journal", str(journal), "--config", str(tmp_path / "new.toml"), "--reason", "x", "--dry-run"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "  strategy.api_token: 'env:OLD_TOKEN' -> 'env:NEW_TOKEN'" in out and "s3cr3t" not in out + err
    (tmp_path / "secret.toml").write_text(strategy.format("tok-new-s3cr3t"))
    code = main(
        [
            "reconfigure",
            "--journal",
            str(journal),
            "--config",
            str(tmp_path / "secret.toml"),
            "--reason",
            "x",
            "--dry-run",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 2 and "strategy.api_token looks like a secret" in err and "s3cr3t" not in out + err
