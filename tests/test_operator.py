"""Operator commands (engine kill / resume / approve): the inbox, its drain, and the CLI against real
journals, with and without a process holding the writer lock."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.cli.operator_cmd import EXIT_QUEUED, _print_review
from engine.config import resolve
from engine.journal import JournalReader, JournalWriter, read_events
from engine.journal.lock import WriterLock
from engine.operator import UNKNOWN_SEQ, Command, Inbox, drain, drain_inbox, inbox_path, journal_command
from engine.runner import historical_run
from engine.shell import DEFAULT_BATCH, Engine
from journal_schema.catalogue import INPUT_TYPE_SET
from journal_schema.events import (
    BarClosed,
    BarRejected,
    Event,
    KillSwitchEngaged,
    KillSwitchReleased,
    RunEnded,
    RunStarted,
    SessionClosed,
    SessionOpened,
)
from journal_schema.risk_events import ReviewApproved, ReviewResolved
from tests.support import SCALE, run_engine, run_started, synthetic_stream

ENGINE = [sys.executable, "-m", "engine.cli"]
REPO = Path(__file__).resolve().parent.parent
STREAM_TYPES = (BarClosed, BarRejected, SessionOpened, SessionClosed)  # what engine.feeds.stream.events yields


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ENGINE, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def popen(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*ENGINE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)


def events(path: Path) -> list[tuple[int, Event]]:
    return list(read_events(path))


def last_seq(path: Path) -> int:
    with JournalReader(path) as r:
        return r.last_seq()


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    """A finished synthetic run: one session of AAA bars (no process holds it)."""
    path = tmp_path / "journal.db"
    stream, _ = synthetic_stream([("AAA", (100 + i % 7) * SCALE) for i in range(30)], per_session=30)
    run_engine(path, stream)
    return path


def wait_for_pending(journal: Path, timeout: float = 60.0) -> list[Command]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if inbox_path(journal).exists():
            with Inbox(journal) as inbox:
                pending = inbox.pending()
            if pending:
                return pending
        time.sleep(0.05)
    raise AssertionError("the CLI never queued its command")


# ---------------------------------------------------------------- the inbox


def test_inbox_round_trip_keeps_queue_order(tmp_path: Path) -> None:
    j = tmp_path / "j.db"
    with Inbox(j) as inbox:
        a = inbox.put("KILL", reason="runaway", actor="ops@h", cancel_all=True)
        b = inbox.put("APPROVE", decision_id="dec-1", actor="ops@h")
        c = inbox.put("RESUME", reason="fixed", actor="ops@h")
        assert len({a, b, c}) == 3 and all(re.fullmatch("[0-9a-f]{32}", x) for x in (a, b, c))
        pending = inbox.pending()
        assert [(p.command_id, p.kind) for p in pending] == [(a, "KILL"), (b, "APPROVE"), (c, "RESUME")]
        assert pending[0].reason == "runaway" and pending[0].cancel_all and pending[0].actor == "ops@h"
        assert pending[1].decision_id == "dec-1" and not pending[1].cancel_all
        assert pending[0].created_at <= pending[1].created_at <= pending[2].created_at
        assert inbox.status(a) is None
        inbox.mark(b, 17)
        assert inbox.status(b) == 17 and inbox.status(a) is None
        assert [p.command_id for p in inbox.pending()] == [a, c]
        with pytest.raises(KeyError):
            inbox.status("nope")
        with pytest.raises(KeyError):
            inbox.mark("nope", 1)
        with pytest.raises(ValueError, match="unknown command kind"):
            inbox.put("HALT")  # type: ignore[arg-type]
    assert inbox_path(j) == tmp_path / "j.db.inbox"
    # a second connection (another process: the CLI) sees the same queue; the file is in WAL mode
    with Inbox(j) as again:
        assert [p.command_id for p in again.pending()] == [a, c]
    con = sqlite3.connect(inbox_path(j))
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        with pytest.raises(sqlite3.IntegrityError):  # the table itself refuses an unknown kind
            con.execute("INSERT INTO commands (command_id, kind, payload, created_at) VALUES ('x', 'HALT', '{}', '')")
    finally:
        con.close()


def test_commands_build_their_journal_inputs() -> None:
    kill = Command("c1", "KILL", reason="r", actor="a", cancel_all=True)
    assert kill.event(5) == KillSwitchEngaged(ts=5, reason="r", actor="a", cancel_all=True, command_id="c1")
    resume = Command("c2", "RESUME", reason="ok", actor="a")
    assert resume.event(6) == KillSwitchReleased(ts=6, reason="ok", actor="a", command_id="c2")
    approve = Command("c3", "APPROVE", reason="looked", actor="a", decision_id="dec-9")
    assert approve.event(7) == ReviewApproved(ts=7, decision_id="dec-9", actor="a", reason="looked", command_id="c3")
    assert all(type(c.event(1)) in INPUT_TYPE_SET for c in (kill, resume, approve))
    assert [c.event_name for c in (kill, resume, approve)] == [
        "KillSwitchEngaged",
        "KillSwitchReleased",
        "ReviewApproved",
    ]


# ---------------------------------------------------------------- drain


class CheckingInbox(Inbox):
    """Checks at every mark that the command is already committed (readable by another connection)."""

    marks: list[tuple[str, int]]

    def mark(self, command_id: str, seq: int) -> None:
        if seq != UNKNOWN_SEQ:
            with JournalReader(self.path.with_suffix("")) as r:
                ((_, ev),) = list(r.events(start=seq, stop=seq))
            assert getattr(ev, "command_id", None) == command_id
        self.marks.append((command_id, seq))
        super().mark(command_id, seq)


def test_drain_journals_in_order_and_commits_before_marking(journal: Path) -> None:
    with Inbox(journal) as inbox:
        k = inbox.put("KILL", reason="stop", actor="ops", cancel_all=True)
        r = inbox.put("RESUME", reason="go", actor="ops")
    engine = Engine.open(journal, batch=1_000_000)  # nothing is committed unless drain flushes
    try:
        ts = events(journal)[-1][1].ts
        before = engine.writer.last_seq
        inbox = CheckingInbox(journal)
        inbox.marks = []
        try:
            done = drain(engine, inbox, ts)
            assert [(c.command_id, s) for c, s in done] == inbox.marks
            assert [c.command_id for c, _ in done] == [k, r]
            assert done[0][1] == before + 1 and done[1][1] > done[0][1]
            assert inbox.pending() == [] and inbox.status(k) == done[0][1] and inbox.status(r) == done[1][1]
            assert drain(engine, inbox, ts) == []  # nothing twice
        finally:
            inbox.close()
        assert engine.state.kill_switch is False  # engaged, then released
        assert {k, r} <= engine.state.commands
    finally:
        engine.close()
    by_seq = dict(events(journal))
    engaged, released = by_seq[done[0][1]], by_seq[done[1][1]]
    assert engaged == KillSwitchEngaged(ts=ts, reason="stop", actor="ops", cancel_all=True, command_id=k)
    assert released == KillSwitchReleased(ts=ts, reason="go", actor="ops", command_id=r)


def test_a_command_journaled_before_a_crash_is_not_journaled_again(journal: Path) -> None:
    with Inbox(journal) as inbox:
        first = inbox.put("KILL", reason="stop", actor="ops")
        second = inbox.put("RESUME", reason="go", actor="ops")
        engine = Engine.open(journal)
        try:  # the crash: journaled and committed, the process dies before the inbox is marked
            cmd = inbox.pending()[0]
            crashed_seq = journal_command(engine, cmd, events(journal)[-1][1].ts)
        finally:
            engine.close()
        assert inbox.status(first) is None
    engine = Engine.open(journal)  # the restart: the fold knows the command id
    try:
        assert first in engine.state.commands
        n = engine.writer.last_seq
        done = drain_inbox(engine, events(journal)[-1][1].ts)
        assert [(c.command_id, s) for c, s in done] == [(second, n + 1)]
    finally:
        engine.close()
    with Inbox(journal) as inbox:
        assert inbox.status(first) == UNKNOWN_SEQ and inbox.status(second) == n + 1
    ids = [getattr(ev, "command_id", None) for _, ev in events(journal)]
    assert ids.count(first) == 1 and ids.count(second) == 1
    assert dict(events(journal))[crashed_seq].command_id == first  # type: ignore[attr-defined]


def test_drain_inbox_without_an_inbox_creates_none(journal: Path) -> None:
    engine = Engine.open(journal)
    try:
        assert drain_inbox(engine, 0) == []
    finally:
        engine.close()
    assert not inbox_path(journal).exists()


def test_historical_run_drains_every_batch_at_the_stream_time(tmp_path: Path) -> None:
    from tools.bench.gen_minute_bars import write

    csv = write(DEFAULT_BATCH + 500, ("SYN",), seed=3, out=tmp_path / "bars.csv")
    journal = tmp_path / "j.db"
    with Inbox(journal) as inbox:  # queued while the run starts (it holds the lock from then on)
        k = inbox.put("KILL", reason="stop", actor="ops", cancel_all=True)
    cfg, snap = resolve({})
    result = historical_run(cfg, snap, journal, bars=csv)
    assert result.end_reason == "END_OF_DATA"
    inputs = [(seq, ev) for seq, ev in events(journal) if type(ev) in INPUT_TYPE_SET]
    assert isinstance(inputs[0][1], RunStarted) and isinstance(inputs[-1][1], RunEnded)
    at = next(i for i, (_, ev) in enumerate(inputs) if isinstance(ev, KillSwitchEngaged))
    stream = [ev for _, ev in inputs[:at] if isinstance(ev, STREAM_TYPES)]
    assert len(stream) == DEFAULT_BATCH  # after the first DEFAULT_BATCH inputs of the stream
    seq, engaged = inputs[at]
    assert isinstance(engaged, KillSwitchEngaged) and engaged.command_id == k and engaged.cancel_all
    assert engaged.ts == stream[-1].ts  # the last input's time: the stream time stays monotonic
    assert [ev.ts for _, ev in inputs] == sorted(ev.ts for _, ev in inputs)
    with Inbox(journal) as inbox:
        assert inbox.status(k) == seq


# ---------------------------------------------------------------- the CLI, no writer running


def test_kill_is_journaled_directly_when_no_engine_runs(journal: Path) -> None:
    last_ts = events(journal)[-1][1].ts
    n = last_seq(journal)
    out = cli("kill", "--journal", str(journal), "--reason", "runaway orders", "--cancel-all", "--actor", "ops@desk")
    assert out.returncode == 0, out.stderr
    m = re.fullmatch(r"journaled KillSwitchEngaged at seq (\d+) \(command ([0-9a-f]{32})\)\n", out.stdout)
    assert m, out.stdout
    seq, command_id = int(m.group(1)), m.group(2)
    assert seq == n + 1
    ev = dict(events(journal))[seq]
    assert isinstance(ev, KillSwitchEngaged)
    assert (ev.command_id, ev.actor, ev.cancel_all, ev.reason) == (command_id, "ops@desk", True, "runaway orders")
    assert ev.ts >= last_ts and ev.ts >= time.time_ns() - 120 * 10**9  # the wall clock, never before the journal
    WriterLock(journal).acquire().release()  # the lock is free again


def test_resume_defaults_the_actor_to_user_at_host(journal: Path) -> None:
    out = cli("resume", "--journal", str(journal), "--reason", "all clear", env={"USER": "alice"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("journaled KillSwitchReleased at seq ")
    ev = events(journal)[-1][1]
    assert isinstance(ev, KillSwitchReleased)
    assert ev.actor == f"alice@{socket.gethostname()}" and ev.reason == "all clear" and len(ev.command_id) == 32


def test_approve_journals_review_approved(journal: Path) -> None:
    out = cli("approve", "dec-42", "--journal", str(journal), "--actor", "risk@desk")
    assert out.returncode == 0, out.stderr
    first, *rest = out.stdout.splitlines()
    m = re.fullmatch(r"journaled ReviewApproved at seq (\d+) \(command ([0-9a-f]{32})\)", first)
    assert m, out.stdout
    seq = int(m.group(1))
    recorded = dict(events(journal))
    ev = recorded[seq]
    assert isinstance(ev, ReviewApproved)
    assert (ev.decision_id, ev.actor, ev.reason, ev.command_id) == ("dec-42", "risk@desk", "", m.group(2))
    resolved = [e for e in recorded.values() if isinstance(e, ReviewResolved) and e.cause_seq == seq]
    if resolved:  # the core answers an approval of an unknown decision with NOT_FOUND
        assert resolved[0].outcome == "NOT_FOUND"
        assert rest and rest[0].startswith(f"review of decision dec-42: {resolved[0].outcome}")
    else:  # a core that does not handle approvals yet: nothing extra is printed
        assert rest == []


def test_print_review_finds_the_resolution_in_the_approvals_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "j.db"
    approve = ReviewApproved(ts=2, decision_id="d1", actor="a", reason="", command_id="c")
    other = ReviewResolved(
        ts=2, cause_seq=1, decision_id="d0", symbol="AAA", outcome="EXPIRED", actor="", detail="too late"
    )
    mine = ReviewResolved(
        ts=2, cause_seq=2, decision_id="d1", symbol="AAA", outcome="APPROVED", actor="a", detail="decided again"
    )
    with JournalWriter(path) as w:
        w.append([run_started()])
        w.append([approve, other, mine])
        w.append([ReviewApproved(ts=3, decision_id="d2", actor="a", reason="", command_id="c2")])
    _print_review(path, 2)
    assert capsys.readouterr().out == "review of decision d1: APPROVED: decided again\n"
    _print_review(path, 5)  # the group of seq 5 has no resolution
    assert capsys.readouterr().out == ""


def test_unknown_journal_or_bad_arguments_are_usage_errors(tmp_path: Path, journal: Path) -> None:
    missing = tmp_path / "nope.db"
    out = cli("kill", "--journal", str(missing), "--reason", "x")
    assert out.returncode == 2
    assert f"journal {missing} does not exist" in out.stderr
    assert not missing.exists() and not inbox_path(missing).exists()
    not_a_journal = tmp_path / "notes.db"
    con = sqlite3.connect(not_a_journal)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    out = cli("resume", "--journal", str(not_a_journal), "--reason", "x")
    assert out.returncode == 2 and "not a journal" in out.stderr
    out = cli("kill", "--journal", str(journal), "--reason", "  ")
    assert out.returncode == 2 and "--reason must not be empty" in out.stderr
    out = cli("kill", "--journal", str(journal))
    assert out.returncode == 2 and "--reason" in out.stderr  # argparse: required


def test_help_explains_reason_and_exit_codes() -> None:
    out = cli("--help")
    assert all(c in out.stdout for c in ("kill", "resume", "approve"))
    kill = cli("kill", "--help").stdout
    assert "KILL_SWITCH_ENGAGED" in kill and "KILL_SWITCH" in kill and "--cancel-all" in kill
    for text in (kill, cli("resume", "--help").stdout, cli("approve", "--help").stdout):
        assert "exit codes:" in text and "3  queued" in text and "<journal>.inbox" in text
    assert "OPERATOR_RESUMED" in cli("resume", "--help").stdout
    approve = cli("approve", "--help").stdout
    assert all(o in approve for o in ("APPROVED", "EXPIRED", "NOT_FOUND", "DECISION_ID"))


# ---------------------------------------------------------------- the CLI, a writer running


def test_command_is_queued_while_a_writer_holds_the_lock(journal: Path) -> None:
    n = last_seq(journal)
    with WriterLock(journal):
        out = cli(
            "kill", "--journal", str(journal), "--reason", "stop", "--cancel-all", "--wait", "0.3", "--actor", "ops"
        )
    assert out.returncode == EXIT_QUEUED, out.stdout + out.stderr
    m = re.fullmatch(
        r"queued as command ([0-9a-f]{32}): the running engine has not journaled it within 0.3s; "
        r"it will when its next cycle runs\n",
        out.stdout,
    )
    assert m, out.stdout
    assert last_seq(journal) == n  # nothing journaled by the CLI
    with Inbox(journal) as inbox:
        (cmd,) = inbox.pending()
    assert (cmd.command_id, cmd.kind, cmd.reason, cmd.actor, cmd.cancel_all) == (
        m.group(1),
        "KILL",
        "stop",
        "ops",
        True,
    )
    engine = Engine.open(journal)  # the next writer journals it
    try:
        (done,) = drain_inbox(engine, events(journal)[-1][1].ts)
    finally:
        engine.close()
    assert done == (cmd, n + 1)


def test_running_engine_journals_the_command_and_the_cli_reports_it(journal: Path) -> None:
    engine = Engine.open(journal)  # this process is the running writer
    try:
        proc = popen("approve", "dec-7", "--journal", str(journal), "--reason", "checked", "--wait", "60")
        try:
            (cmd,) = wait_for_pending(journal)
            ts = events(journal)[-1][1].ts
            with Inbox(journal) as inbox:
                ((journaled, seq),) = drain(engine, inbox, ts)
        finally:
            out, err = proc.communicate(timeout=60)
    finally:
        engine.close()
    assert proc.returncode == 0, out + err
    assert journaled == cmd and cmd.kind == "APPROVE" and cmd.decision_id == "dec-7" and cmd.reason == "checked"
    first = out.splitlines()[0]
    assert first == (
        f"journaled ReviewApproved at seq {seq} by the running engine (pid {os.getpid()} from the lock file)"
    )
    assert dict(events(journal))[seq] == cmd.event(ts)


def test_cli_journals_the_command_itself_when_the_writer_stops(journal: Path) -> None:
    n = last_seq(journal)
    lock = WriterLock(journal).acquire()
    try:
        proc = popen("resume", "--journal", str(journal), "--reason", "go", "--wait", "60")
        wait_for_pending(journal)
    finally:
        lock.release()  # the run ends without journaling it
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert re.fullmatch(
        rf"journaled KillSwitchReleased at seq {n + 1} \(command [0-9a-f]{{32}}; the engine that held "
        r"the journal has stopped\)\n",
        out,
    ), out
    assert isinstance(dict(events(journal))[n + 1], KillSwitchReleased)


def test_direct_command_journals_earlier_queued_ones_first(journal: Path) -> None:
    n = last_seq(journal)
    with Inbox(journal) as inbox:  # left by a writer that stopped before its next cycle
        stranded = inbox.put("KILL", reason="stop", actor="ops")
    out = cli("resume", "--journal", str(journal), "--reason", "go")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"journaled KillSwitchEngaged at seq {n + 1} (command {stranded}, queued earlier)"
    m = re.fullmatch(r"journaled KillSwitchReleased at seq (\d+) \(command ([0-9a-f]{32})\)", lines[1])
    assert m, out.stdout
    recorded = dict(events(journal))
    assert isinstance(recorded[n + 1], KillSwitchEngaged)  # its derived events follow it, then the resume
    released = recorded[int(m.group(1))]
    assert isinstance(released, KillSwitchReleased) and released.command_id == m.group(2)
    assert [type(e) for e in recorded.values() if type(e) in INPUT_TYPE_SET][-2:] == [
        KillSwitchEngaged,
        KillSwitchReleased,
    ]
    with Inbox(journal) as inbox:
        assert inbox.status(stranded) == n + 1 and inbox.pending() == []
