"""Adversarial suite, paths: journals that are not journals, same-file outputs, links, directories,
read-only files, truncated and foreign databases. A command writes only to a path that does not exist or
holds a journal (or an output) of this engine, never the file it reads; reading writes nothing. Every
refusal is one line on stderr, exit 2, and leaves every file as it was (bytes, mode, mtime).

Audit findings 2 and 3 (each of these failed on the code before the fix): ``report --out`` the journal
wrote HTML over it; ``run --journal`` another program's database wrote the journal's tables into it, and
``--replace`` deleted it (or a text file); ``verify`` and ``query`` switched a foreign database to WAL, and
``verify`` wrote an SQLite header into a zero-byte file; ``journal copy`` switched a foreign destination to
WAL before refusing it; ``migrate up`` adopted an unrelated table named like the journal's.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.journal.verify import verify_journal
from tests.adversarial import assert_refused, assert_unchanged, foreign_db, journal_with_bars, run_cli, states

pytestmark = pytest.mark.adversarial


@pytest.fixture(scope="module")
def journal_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real journal (and its bars and the what-if config) made once; each test works on a copy."""
    return journal_with_bars(tmp_path_factory.mktemp("journal"), "w.toml", "[paper]\nhalf_spread_bps = 8\n")


def refused_untouched(work: Path, capsys: pytest.CaptureFixture[str], args: list[str], *needles: str) -> None:
    """``engine ARGS`` is refused in one line naming ``needles``, and every file under ``work`` stays as it was."""
    before = states(work)
    code, _, err = run_cli(args, capsys)
    assert_refused(code, err, *needles)
    assert_unchanged(before, work)


@pytest.fixture
def work(tmp_path: Path, journal_dir: Path) -> Path:
    for name in ("j.db", "bars.csv", "w.toml"):
        shutil.copy(journal_dir / name, tmp_path / name)
    return tmp_path


# ---------------------------------------------------------------- what sits at the path
def text_file(p: Path) -> None:
    p.write_text("my notes: do not lose\n")


def zero_bytes(p: Path) -> None:
    p.write_bytes(b"")


def foreign(p: Path) -> None:
    foreign_db(p)


def lookalike(p: Path) -> None:
    """A table named like the journal's, with other columns."""
    foreign_db(p, "CREATE TABLE journal_events (id INTEGER PRIMARY KEY, note TEXT)")


def lookalike_same_columns(p: Path) -> None:
    """The journal's table and an unrelated one next to it."""
    foreign_db(
        p,
        "CREATE TABLE journal_events (originator_id TEXT, originator_version INTEGER, topic TEXT, "
        "state BLOB, PRIMARY KEY (originator_id, originator_version))",
    )
    with sqlite3.connect(p) as db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    db.close()


def empty_sqlite(p: Path) -> None:
    db = sqlite3.connect(p)
    db.execute("CREATE TABLE t (x)")
    db.execute("DROP TABLE t")
    db.close()


def directory(p: Path) -> None:
    p.mkdir()


def link_to_text(p: Path) -> None:
    text_file(p.parent / "notes.txt")
    p.symlink_to("notes.txt")


def dangling_link(p: Path) -> None:
    p.symlink_to("nowhere.db")


def truncated_journal(p: Path) -> None:
    data = (p.parent / "j.db").read_bytes()
    p.write_bytes(data[: len(data) // 2 + 100])


def fifo(p: Path) -> None:
    os.mkfifo(p)


def binary_noise(p: Path) -> None:
    p.write_bytes(bytes(range(256)) * 64)


def link_loop(p: Path) -> None:
    p.symlink_to(p.name)


def text_settings(p: Path) -> None:
    """A copy of a journal whose settings hold text, not the bytes a journal writes."""
    p.write_bytes((p.parent / "j.db").read_bytes())
    with sqlite3.connect(p) as db:
        db.execute("INSERT INTO journal_settings VALUES ('cipher', 'plain text')")
    db.close()


HOSTILE: dict[str, Callable[[Path], None]] = {
    "text": text_file,
    "zero_bytes": zero_bytes,
    "foreign_db": foreign,
    "lookalike_table": lookalike,
    "journal_table_and_another": lookalike_same_columns,
    "empty_sqlite": empty_sqlite,
    "directory": directory,
    "link_to_text": link_to_text,
    "dangling_link": dangling_link,
    "truncated_journal": truncated_journal,
    "fifo": fifo,
    "binary_noise": binary_noise,
    "link_loop": link_loop,
    "text_settings": text_settings,
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
@pytest.mark.parametrize("replace", [False, True], ids=["plain", "replace"])
def test_a_run_never_writes_into_or_deletes_what_is_not_a_journal(
    work: Path, capsys: pytest.CaptureFixture[str], kind: str, replace: bool
) -> None:
    HOSTILE[kind](work / "target.db")
    args = ["run", "--bars", str(work / "bars.csv"), "--journal", str(work / "target.db")] + ["--replace"] * replace
    refused_untouched(work, capsys, args, "target.db")  # nothing written, deleted or made next to it (no .lock)


READERS: dict[str, Callable[[Path, Path], list[str]]] = {
    "verify": lambda j, w: ["verify", str(j)],
    "query_pnl": lambda j, w: ["query", "pnl", "--journal", str(j)],
    "query_events": lambda j, w: ["query", "events", "--journal", str(j)],
    "tca": lambda j, w: ["tca", "--journal", str(j)],
    "report": lambda j, w: ["report", "--journal", str(j), "--out", str(w / "r.html")],
    "replay": lambda j, w: ["replay", "--from", str(j)],
    "copy_source": lambda j, w: ["journal", "copy", str(j), str(w / "copy.db")],
    "migrate_status": lambda j, w: ["migrate", "status", "--journal", str(j)],
    "kill": lambda j, w: ["kill", "--journal", str(j), "--reason", "drill", "--wait", "0"],
}
READ_HOSTILE = [
    "text",
    "zero_bytes",
    "foreign_db",
    "lookalike_table",
    "empty_sqlite",
    "directory",
    "truncated_journal",
    "fifo",
    "link_loop",
    "text_settings",
]


@pytest.mark.parametrize("kind", READ_HOSTILE)
@pytest.mark.parametrize("command", sorted(READERS))
def test_commands_refuse_what_is_not_a_journal_and_change_nothing(
    work: Path, capsys: pytest.CaptureFixture[str], kind: str, command: str
) -> None:
    target = work / "target.db"
    HOSTILE[kind](target)
    refused_untouched(work, capsys, READERS[command](target, work), "target.db")


def test_reading_a_journal_writes_nothing_into_it(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = work / "j.db"
    before = journal.read_bytes(), journal.stat().st_mtime_ns
    for command in sorted(READERS):
        if command in ("kill", "copy_source", "report"):
            continue
        code, _, err = run_cli(READERS[command](journal, work), capsys)
        assert code == 0, (command, err)
    assert (journal.read_bytes(), journal.stat().st_mtime_ns) == before


# ---------------------------------------------------------------- same-file and foreign outputs
def test_report_out_the_journal_is_refused(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    j = work / "j.db"
    os.link(j, work / "hard.db")
    (work / "soft.db").symlink_to("j.db")
    for out in (j, work / "hard.db", work / "soft.db"):
        refused_untouched(
            work, capsys, ["report", "--journal", str(j), "--out", str(out)], "is the journal this command reads"
        )
    assert verify_journal(j).ok


@pytest.mark.parametrize("kind", ["text", "foreign_db", "zero_bytes", "directory", "binary_noise"])
def test_report_out_replaces_only_an_earlier_report(work: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    out = work / "r.html"
    HOSTILE[kind](out)
    refused_untouched(work, capsys, ["report", "--journal", str(work / "j.db"), "--out", str(out)], "r.html")


def test_report_out_an_earlier_report_is_replaced(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = work / "r.html"
    assert run_cli(["report", "--journal", str(work / "j.db"), "--out", str(out)], capsys)[0] == 0
    first = out.read_bytes()
    out.write_bytes(first.replace(b"</footer>", b"<!-- edited --></footer>"))
    assert run_cli(["report", "--journal", str(work / "j.db"), "--out", str(out)], capsys)[0] == 0
    assert out.read_bytes() == first
    assert [p.name for p in work.iterdir() if p.name.startswith(".r.html")] == []  # no temporary file left


def test_report_out_in_a_missing_directory_is_refused(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["report", "--journal", str(work / "j.db"), "--out", str(work / "no" / "r.html")], capsys)
    assert_refused(code, err, "does not exist")
    assert not (work / "no").exists()


def test_what_if_out_the_source_is_refused(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "soft.db").symlink_to("j.db")
    os.link(work / "j.db", work / "hard.db")
    for out in ("j.db", "soft.db", "hard.db"):
        for replace in ([], ["--replace"]):
            args = ["replay", "--from", str(work / "j.db"), "--config", str(work / "w.toml"), "--out", str(work / out)]
            refused_untouched(work, capsys, args + replace, "is the source journal")


@pytest.mark.parametrize("kind", ["text", "foreign_db", "lookalike_table", "zero_bytes", "directory"])
def test_what_if_out_replace_deletes_only_a_journal(work: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    HOSTILE[kind](work / "out.db")
    args = [
        "replay",
        "--from",
        str(work / "j.db"),
        "--config",
        str(work / "w.toml"),
        "--out",
        str(work / "out.db"),
        "--replace",
    ]
    refused_untouched(work, capsys, args, "out.db")


def test_what_if_refuses_a_comparison_path_holding_something_else(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "out.db.comparison.json").write_text('{"mine": true}\n')
    args = ["replay", "--from", str(work / "j.db"), "--config", str(work / "w.toml"), "--out", str(work / "out.db")]
    refused_untouched(work, capsys, args, "comparison")  # refused before the run: no out.db either


@pytest.mark.parametrize("dst", ["same", "symlink", "hardlink", "text", "foreign_db", "lookalike_table"])
@pytest.mark.parametrize("replace", [False, True], ids=["plain", "replace"])
def test_copy_never_writes_its_source_or_a_foreign_destination(
    work: Path, capsys: pytest.CaptureFixture[str], dst: str, replace: bool
) -> None:
    target = work / "dst.db"
    if dst == "same":
        target = work / "j.db"
    elif dst == "symlink":
        target.symlink_to("j.db")
    elif dst == "hardlink":
        os.link(work / "j.db", target)
    else:
        HOSTILE[dst](target)
    refused_untouched(work, capsys, ["journal", "copy", str(work / "j.db"), str(target)] + ["--replace"] * replace)


# ---------------------------------------------------------------- migrations and the operator inbox
@pytest.mark.parametrize("kind", ["foreign_db", "lookalike_table", "journal_table_and_another", "text", "empty_sqlite"])
@pytest.mark.parametrize("action", [["up"], ["down", "--to", "0", "--force"], ["status"]])
def test_migrations_never_adopt_or_change_what_is_not_a_journal(
    work: Path, capsys: pytest.CaptureFixture[str], kind: str, action: list[str]
) -> None:
    target = work / "target.db"
    HOSTILE[kind](target)
    refused_untouched(work, capsys, ["migrate", action[0], "--journal", str(target), *action[1:]], "target.db")


def test_a_lookalike_after_migrate_up_is_not_adopted_and_verify_says_why(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The audit's sequence: the engine's own advice (migrate up) on a lookalike, then verify (a traceback)."""
    target = work / "target.db"
    lookalike(target)
    assert run_cli(["migrate", "up", "--journal", str(target)], capsys)[0] == 2
    code, _, err = run_cli(["verify", str(target)], capsys)
    assert_refused(code, err, "not a journal of this engine", "journal_events")


@pytest.mark.parametrize("kind", ["text", "foreign_db", "directory"])
@pytest.mark.parametrize("journal", ["j.db", "new.db"])
def test_a_run_refuses_an_inbox_that_is_not_one(
    work: Path, capsys: pytest.CaptureFixture[str], kind: str, journal: str
) -> None:
    """The run drains its journal's inbox: one that is something else is refused before the run, untouched."""
    HOSTILE[kind](work / f"{journal}.inbox")
    args = ["run", "--bars", str(work / "bars.csv"), "--journal", str(work / journal), "--replace"]
    refused_untouched(work, capsys, args, f"{journal}.inbox")


@pytest.mark.parametrize("kind", ["text", "link_to_text", "foreign_db", "directory"])
def test_a_lock_file_that_is_not_one_is_never_taken(work: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    """A journal named ``poetry`` beside a ``poetry.lock`` emptied it (the review of this change found it)."""
    HOSTILE[kind](work / "poetry.lock")
    for args in (
        ["run", "--bars", str(work / "bars.csv"), "--journal", str(work / "poetry")],
        ["journal", "copy", str(work / "j.db"), str(work / "poetry")],
        ["migrate", "up", "--journal", str(work / "poetry")],
    ):
        refused_untouched(work, capsys, args, "poetry.lock")


def test_a_name_the_system_cannot_hold_is_one_line(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    long = str(work / ("x" * 300))
    for args in (
        ["run", "--bars", str(work / "bars.csv"), "--journal", long + ".db"],
        ["verify", long],
        ["run", "--bars", long + ".csv", "--journal", str(work / "k.db")],
        ["report", "--journal", str(work / "j.db"), "--out", long],
    ):
        refused_untouched(work, capsys, args, "File name too long")


# ---------------------------------------------------------------- read-only files and links that work
def test_a_read_only_journal_is_read_but_never_written(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    j = work / "j.db"
    j.chmod(0o444)
    before = states(work)
    assert run_cli(["verify", str(j)], capsys)[0] == 0
    for args in (
        ["kill", "--journal", str(j), "--reason", "r", "--wait", "0"],
        ["run", "--bars", str(work / "bars.csv"), "--journal", str(j), "--replace"],
        ["migrate", "up", "--journal", str(j)],
    ):
        code, _, err = run_cli(args, capsys)
        assert_refused(code, err, "read-only")
    assert_unchanged(before, work)


def test_a_journal_behind_a_symbolic_link_is_used_where_it_is(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "data").mkdir()
    shutil.move(work / "j.db", work / "data" / "j.db")
    (work / "j.db").symlink_to("data/j.db")
    code, out, err = run_cli(["verify", str(work / "j.db")], capsys)
    assert code == 0 and out.startswith("ok: "), err
    code, _, err = run_cli(
        ["run", "--bars", str(work / "bars.csv"), "--journal", str(work / "j.db"), "--replace"], capsys
    )
    assert code == 0, err
    assert (work / "j.db").is_symlink() and verify_journal(work / "data" / "j.db").ok  # replaced where it lives
    assert (work / "data" / "j.db.lock").exists() and not (work / "j.db.lock").exists()


# ---------------------------------------------------------------- the venue's database and port file
@pytest.mark.parametrize("kind", ["journal", "text", "foreign_db", "zero_bytes", "directory", "empty_sqlite"])
def test_the_venue_never_writes_a_database_that_is_not_its_own(
    work: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    db = work / "j.db" if kind == "journal" else work / "venue.db"
    if kind != "journal":
        HOSTILE[kind](db)
    args = ["venue", "--bars", str(work / "bars.csv"), "--db", str(db), "--port", "0"]
    refused_untouched(work, capsys, args, db.name, "not a venue database")


@pytest.mark.parametrize("kind", ["text", "foreign_db", "directory", "link_to_text"])
def test_the_venue_port_file_replaces_only_a_port_file(
    work: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    HOSTILE[kind](work / "port")
    args = [
        "venue",
        "--bars",
        str(work / "bars.csv"),
        "--db",
        str(work / "v.db"),
        "--port",
        "0",
        "--port-file",
        str(work / "port"),
    ]
    refused_untouched(work, capsys, args, "--port-file", "not a port file")


def test_an_inbox_being_made_is_an_inbox(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``engine kill`` creates the inbox while the running engine may look at it: an empty file there is an
    inbox being made, not a foreign file (the running engine once refused it, by a race)."""
    (work / "j.db.inbox").write_bytes(b"")
    code, out, err = run_cli(["kill", "--journal", str(work / "j.db"), "--reason", "drill", "--wait", "0"], capsys)
    assert code == 0 and out.startswith("journaled KillSwitchEngaged"), err
    assert verify_journal(work / "j.db").ok
