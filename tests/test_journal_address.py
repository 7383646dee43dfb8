"""One journal address type (``engine.journal.address``): the text a user gives, parsed once into the store it
names; and the rule that nothing else in the product asks which store a journal is in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.journal import JournalError, JournalWriter
from engine.journal.address import PgAddress, SqliteAddress, parse
from engine.journal.lock import WriterLock
from tests.stores import fresh_table, needs_pg, pg_url

ROOT = Path(__file__).resolve().parent.parent


def test_a_path_is_a_sqlite_journal(tmp_path: Path) -> None:
    text = str(tmp_path / "j.db")
    for given in (text, Path(text)):
        address = parse(given)
        assert isinstance(address, SqliteAddress)
        assert (str(address), address.name, address.label) == (text, "j.db", "j.db")
        assert address.files() == (Path(text),)
        assert address.beside(".comparison.json") == Path(f"{text}.comparison.json")
        assert address.missing()
    assert parse(address) is address
    assert isinstance(parse("postgresql.db"), SqliteAddress)  # a scheme needs its "://"


def test_a_url_is_a_postgres_journal_shown_without_its_password() -> None:
    address = parse("postgresql://alice:s3cret@db.example:5433/trading?table=runs_1")
    assert isinstance(address, PgAddress)
    assert str(address) == address.label == "postgresql://alice:***@db.example:5433/trading?table=runs_1"
    assert "s3cret" not in repr(address)
    loc = address.location
    assert (loc.user, loc.password, loc.host, loc.port, loc.dbname, loc.table) == (
        "alice",
        "s3cret",
        "db.example",
        5433,
        "trading",
        "runs_1",
    )
    assert (address.name, address.files(), address.missing()) == ("runs_1", (), False)
    assert address.beside(".comparison.json") == Path("runs_1.comparison.json")
    assert isinstance(parse("postgres://u@h/d"), PgAddress)


@pytest.mark.parametrize("url", ["postgresql://u@h:5432/db", "postgresql://u@h:5432/db?table="])
def test_without_a_table_the_journal_is_journal_events(url: str) -> None:
    """Today's behaviour, kept: no ``?table=`` (or an empty one) names the table ``journal_events``."""
    address = parse(url)
    assert isinstance(address, PgAddress) and address.name == "journal_events"
    assert (address.location.host, address.location.port) == ("h", 5432)


def test_host_and_port_have_defaults() -> None:
    address = parse("postgresql:///db?table=t")
    assert isinstance(address, PgAddress)
    assert (address.location.host, address.location.port, address.location.user) == ("127.0.0.1", 5432, "postgres")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "postgresql://u:pw@h:notaport/db",
            "postgresql://u:***@h:notaport/db: the port is not a number from 0 to 65535",
        ),
        ("postgresql://u:pw@h:99999/db", "postgresql://u:***@h:99999/db: the port is not a number from 0 to 65535"),
        (
            "postgresql://u:pw@h:5432/",
            "postgresql://u:***@h:5432/: name the database (postgresql://user@host:port/DBNAME)",
        ),
        (
            "postgresql://u@h/db?table=Runs",
            "table 'Runs': use 1-50 lowercase letters, digits and _ (not first a digit)",
        ),
        ("postgresql://u@h/db?table=1x", "table '1x': use 1-50 lowercase letters, digits and _ (not first a digit)"),
        ("postgresql://u@h/db?table=a;drop", "table 'a;drop': use 1-50 lowercase letters"),
        (
            "postgresql://u:pw@h/db?tbl=x&sslmode=off",
            "unknown parameter(s) sslmode, tbl in postgresql://u:***@h/db?tbl=x&sslmode=off; only ?table=NAME",
        ),
    ],
)
def test_a_bad_url_is_one_line_without_the_password(url: str, message: str) -> None:
    with pytest.raises(JournalError) as info:
        parse(url)
    assert str(info.value).startswith(message) and "\n" not in str(info.value) and ":pw@" not in str(info.value)
    assert info.value.category == "ADDRESS"


def test_the_same_journal_under_two_names(tmp_path: Path) -> None:
    journal = tmp_path / "j.db"
    journal.touch()
    (tmp_path / "link.db").symlink_to(journal)
    assert parse(str(journal)).same_journal(parse(str(tmp_path / "link.db")))
    assert not parse(str(journal)).same_journal(parse(str(tmp_path / "other.db")))
    url = "postgresql://u@127.0.0.1:5432/db?table=t"
    assert parse(url).same_journal(parse("postgresql://v:pw@localhost:5432/db?table=t"))
    assert not parse(url).same_journal(parse("postgresql://u@127.0.0.1:5432/db?table=t2"))
    assert not parse(url).same_journal(parse("postgresql://u@127.0.0.1:5433/db?table=t"))
    assert not parse(url).same_journal(parse(str(journal)))
    assert not parse(str(journal)).same_journal(parse(url))


def test_a_feature_that_needs_postgres_says_so(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match=r"j\.db: projection workers need a postgresql:// journal$"):
        parse(str(tmp_path / "j.db")).postgres_location("projection workers need a postgresql:// journal")
    pg = parse("postgresql://u@h/db?table=t")
    assert isinstance(pg, PgAddress) and pg.postgres_location("-") is pg.location


def test_sqlite_operations_without_a_journal_make_nothing(tmp_path: Path) -> None:
    address = parse(str(tmp_path / "j.db"))
    assert address.open_inbox(create=False) is None
    assert address.writer_holder() is None and address.lock_problem() is None
    assert list(tmp_path.iterdir()) == []
    address.refuse_existing(replace=False)  # nothing there: a new journal may be written
    with JournalWriter(address) as writer:
        writer.flush()
    with pytest.raises(JournalError, match=r"j\.db already holds a journal; give a new path or --replace"):
        address.refuse_existing(replace=False)
    address.refuse_existing(replace=True)
    with WriterLock(tmp_path / "j.db"):
        assert address.writer_holder() is not None and address.writer_holder().startswith("pid ")  # type: ignore[union-attr]


@needs_pg
def test_postgres_operations_on_a_fresh_table() -> None:
    with fresh_table() as table:
        address = parse(pg_url(table))
        address.check_target()  # nothing there: a writer may make the journal
        address.refuse_existing(replace=False)
        assert address.writer_holder() is None
        with JournalWriter(address) as writer:
            assert address.writer_holder() is not None  # the advisory lock's session
            writer.flush()
        address.refuse_existing(replace=False)  # a journal without records
        inbox = address.open_inbox(create=False)
        assert inbox is not None
        inbox.close()


PRODUCT = ("engine", "projections", "replay", "tools")
SNIFFING = re.compile(r"is_postgres|startswith\(\s*SCHEMES|startswith\(\s*\(?\s*\"postgres|PgLocation\(")


def test_only_the_address_module_asks_which_store_a_journal_is_in() -> None:
    """The backend is chosen once, where the address is parsed: no other module sniffs the text."""
    found = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in ("engine/journal/address.py", "engine/journal/pg.py"):
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if SNIFFING.search(line):
                    found.append(f"{rel}:{n}: {line.strip()}")
    assert found == []
