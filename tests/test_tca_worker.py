"""The ``tca`` projection worker (``engine project --projection tca``) on a real PostgreSQL server: its table
``T_proj_tca`` holds exactly the per-order frame of ``load_tca`` on the same journal (row by row, every
column, floats bit for bit), after ``--once``, after a resume that writes only the rows that changed, and
after being killed with SIGKILL again and again while another process appends.

Needs the server at 127.0.0.1:5432 (trust auth, database ``test``); without it every test here is
skipped with that reason, never passed."""

from __future__ import annotations

import functools
import math
import random
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main
from engine.journal import JournalReader, JournalWriter
from engine.runner import historical_run
from projections.tca import ORDER_COLUMNS, load_tca
from tests.stores import needs_pg
from tests.test_pg_journal import small_cfg
from tests.test_projection_worker import (
    APPENDER,
    _db,
    _exists,
    _table,
    backend_gone,
    kill_at_a_random_moment,
    table_maker,
    wait_until,
    wide_bars,
    worker,
)

pytestmark = needs_pg
Row = tuple[Any, ...]


@pytest.fixture
def tables() -> Iterator[Callable[[], str]]:
    with table_maker() as fresh:
        yield fresh


def _same(v: Any) -> Any:
    """NaN compares unequal to itself: make it a marker so rows compare by value."""
    return "NaN" if isinstance(v, float) and math.isnan(v) else v


def fresh_rows(address: str) -> list[Row]:
    """The per-order TCA frame of a fresh in-process fold, as rows."""
    return [tuple(map(_same, r)) for r in load_tca(address).orders.rows()]


def stored_tca(address: str) -> tuple[int, list[Row]]:
    """(tca position, rows of T_proj_tca in row_no order, without row_no)."""
    t = _table(address)
    with _db() as conn:
        if not _exists(f"{t}_proj_tca"):
            return 0, []
        pos = conn.execute(f"SELECT last_seq FROM {t}_proj_position WHERE name = 'tca'").fetchone()
        cur = conn.execute(f"SELECT * FROM {t}_proj_tca ORDER BY row_no")
        assert cur.description is not None
        assert tuple(c.name for c in cur.description) == ("row_no", *ORDER_COLUMNS)
        rows = cur.fetchall()
    assert [r[0] for r in rows] == list(range(len(rows)))
    return (int(pos[0]) if pos else 0), [tuple(map(_same, r[1:])) for r in rows]


def _versions(address: str) -> dict[str, str]:
    """client_order_id -> xmin of its row (changes exactly when the row is written)."""
    with _db() as conn:
        return dict(conn.execute(f"SELECT client_order_id, xmin::text FROM {_table(address)}_proj_tca").fetchall())


def test_once_stores_the_per_order_frame_of_load_tca(
    tables: Callable[[], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = tables()
    cfg, snap = small_cfg(tmp_path)
    head = historical_run(cfg, snap, url, wide_bars(tmp_path, 120)).last_seq  # type: ignore[arg-type]
    assert main(["project", "--journal", url, "--projection", "tca", "--once", "--batch", "50"]) == 0
    out = capsys.readouterr().out
    assert f"tca: position {head} (journal head {head}); {head} record(s) folded" in out
    fresh = fresh_rows(url)
    assert stored_tca(url) == (head, fresh)
    assert len(fresh) >= 5 and {r[ORDER_COLUMNS.index("status")] for r in fresh} >= {"FILLED"}
    with _db() as conn:  # exact types: ints stay integers, bps are double precision
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
                (f"{_table(url)}_proj_tca",),
            ).fetchall()
        )
    assert types["decision_ts"] == "bigint" and types["is_bps"] == "double precision"
    assert types["arrival_is_proxy"] == "boolean" and types["status"] == "text"
    assert main(["project", "--journal", url, "--projection", "tca", "--once"]) == 0  # nothing left to do
    assert "0 record(s) folded in 0 transaction(s), 0 row(s) written" in capsys.readouterr().out


def test_a_resumed_worker_writes_only_the_rows_that_changed(
    tables: Callable[[], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, url = tables(), tables()
    cfg, snap = small_cfg(tmp_path)
    historical_run(cfg, snap, source, wide_bars(tmp_path, 200))  # type: ignore[arg-type]
    with JournalReader(source) as r:
        recs = list(r.records())
    half = len(recs) // 2
    with JournalWriter(url) as w:
        w.append_stored(recs[:half])
    assert main(["project", "--journal", url, "--projection", "tca", "--once"]) == 0
    first = stored_tca(url)
    assert first == (half, fresh_rows(url))
    before = _versions(url)
    with JournalWriter(url) as w:
        w.append_stored(recs[half:])
    capsys.readouterr()
    assert main(["project", "--journal", url, "--projection", "tca", "--once", "--batch", str(len(recs))]) == 0
    out = capsys.readouterr().out
    final = fresh_rows(url)
    assert stored_tca(url) == (len(recs), final) and final == fresh_rows(source)
    old = {r[0]: r for r in first[1]}  # client_order_id is the first column
    changed = {r[0] for r in final if old.get(r[0]) != r}
    assert 0 < len(changed) < len(final) and len(old) < len(final)  # new orders, some updated, some untouched
    assert f"in 1 transaction(s), {len(changed)} row(s) written since seq {half}" in out
    after = _versions(url)
    assert {k for k in after if before.get(k) != after[k]} == changed  # untouched rows were not rewritten


def test_tca_worker_killed_again_and_again_while_another_process_appends_ends_equal_to_a_fresh_fold(
    tables: Callable[[], str], tmp_path: Path
) -> None:
    source, url = tables(), tables()
    cfg, snap = small_cfg(tmp_path)
    head = historical_run(cfg, snap, source, wide_bars(tmp_path, 240)).last_seq  # type: ignore[arg-type]
    appender = subprocess.Popen([sys.executable, "-c", APPENDER, source, url, "10", "0.03"])
    wait_until("the journal table", lambda: _exists(_table(url)))
    rng, kills, seen = random.Random(11), 0, []
    try:
        while appender.poll() is None or kills < 4:
            proc = worker(url, "tca", "--poll-seconds", "0.2", "--batch", "7")
            kill_at_a_random_moment(proc, rng)
            kills += 1
            seen.append(stored_tca(url)[0])
            wait_until("the killed worker's backend to go", functools.partial(backend_gone, proc.pid))
    finally:
        appender.wait(timeout=30)
    assert appender.returncode == 0
    assert any(0 < p < head for p in seen), seen  # some committed work survived a kill, some was still to do
    final = worker(url, "tca", "--poll-seconds", "0.2", "--batch", "7")
    assert final.stderr is not None and "resumed at seq" in final.stderr.readline()
    wait_until("the restarted worker to reach the head", lambda: stored_tca(url)[0] == head)
    final.send_signal(signal.SIGTERM)
    out, err = final.communicate(timeout=10)
    assert final.returncode == 0, err
    assert f"position {head} (journal head {head})" in out
    fresh = fresh_rows(url)
    assert stored_tca(url) == (head, fresh)
    assert fresh == fresh_rows(source) and len(fresh) >= 20
