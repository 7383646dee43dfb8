"""A projection worker: folds a Postgres journal into tables next to it, exactly once, following new records.

* **State**: one in-memory fold state per projection, made by its ``ProjectionSpec`` (``engine.workers.tables``):
  a ``projections.ledger.Ledger`` for orders/positions (the same fold as ``engine query``; the stored rows
  are its ``order_rows``/``position_rows``), a ``projections.tca.TcaFold`` for tca (the stored rows are its
  per-order frame, recomputed from the collected columns after each batch; never a re-read of the journal).
* **Exactly once**: after each batch of up to ``batch`` records the worker upserts the rows that changed
  (and deletes vanished ones) AND moves its position (``T_proj_position``) in ONE transaction, so the stored
  rows are always the fold of records ``1..position``. A crash before the commit loses the whole batch,
  which the next start redoes; a crash after it loses nothing.
* **Start-up** (approach (a)): read the stored position ``P`` and rows, check that record ``P`` still has the
  stored chain hash (a replaced journal is refused), re-fold records ``1..P`` into a fresh state, and
  write any row that differs from that fold (normally none) before continuing from ``P + 1``.
* **Following**: ``LISTEN`` on the journal table's channel (the journal NOTIFYs it on every commit), plus a
  read every ``poll_seconds`` whatever happened, so a lost notification delays the worker by at most one
  poll. ``LISTEN`` is issued before the first read, so nothing committed after that read goes unnoticed.
* **One worker per projection and journal**: a session-level advisory lock, released by the server when
  the worker's connection dies (``kill -9`` included).
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from engine.journal import JournalError, JournalReader, parse
from engine.journal.chain import GENESIS, walk
from engine.journal.errors import first_line
from engine.journal.pg import PgLocation
from engine.journal.read import decode_payload
from engine.workers.tables import SPECS, PositionTable, Record, RowCodec, check_names, diff, position_table
from journal_schema.events import Event
from projections.fold import Projection

DEFAULT_BATCH = 500
DEFAULT_POLL_SECONDS = 1.0
WAIT_SLICE = 0.25  # seconds: how soon a stop request ends a wait


class WorkerError(RuntimeError):
    """The worker cannot start or continue (one line for the user)."""


@dataclass(slots=True)
class Progress:
    """What a worker did since it started."""

    resumed_at: int = 0  # stored position found at start-up
    position: int = 0  # last journal seq committed
    records: int = 0  # records folded after start-up
    transactions: int = 0
    rows_written: int = 0  # upserts + deletes
    corrected: int = 0  # rows rewritten at start-up because they differed from the re-fold


def _lock_key(loc: PgLocation, projection: str) -> int:
    digest = hashlib.sha256(f"engine-projection:{loc.dbname}:{loc.table}:{projection}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class ProjectionWorker:
    """One projection of one Postgres journal, kept in that journal's database."""

    def __init__(self, address: str, projection: str, *, batch: int = DEFAULT_BATCH) -> None:
        try:
            journal = parse(address)
            self.loc: PgLocation = journal.postgres_location("projection workers need a postgresql:// journal")
        except JournalError as exc:
            raise WorkerError(str(exc)) from None
        if projection not in SPECS:
            raise WorkerError(f"unknown projection {projection!r}; choose from {', '.join(SPECS)}")
        try:
            check_names(self.loc.table)
        except ValueError as exc:
            raise WorkerError(str(exc)) from None
        self.address, self.name, self.batch = journal, projection, batch
        self.codec = RowCodec(SPECS[projection], self.loc.table)
        self.positions = PositionTable(self.loc.table)
        self.state = SPECS[projection].new_state()
        self.progress = Progress()
        self._written: dict[str, Record] = {}  # what the output table holds
        self._hash = b""
        self._broken = False
        try:
            self._listen = self._connect(autocommit=True)
            self._conn = self._connect(autocommit=False)
        except psycopg.Error as exc:
            self._close_connections()
            raise WorkerError(f"cannot connect to {self.loc}: {first_line(exc)}") from None
        try:
            self._take_lock()
            self._listen.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.loc.table.replace(".", "_"))))
            self.reader = JournalReader(journal, page_size=batch)  # refuses a table that is not a journal
            with self._conn.transaction(), self._conn.cursor() as cur:
                # workers of other projections may be creating the shared position table right now
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(self.loc, "(tables)"),))
                self.codec.create(cur)
                self.positions.create(cur)
        except (JournalError, psycopg.Error) as exc:
            self._close_connections()
            raise WorkerError(first_line(exc)) from None
        except WorkerError:
            self._close_connections()
            raise

    def _connect(self, *, autocommit: bool) -> psycopg.Connection[Any]:
        name = f"engine project {self.name} pid {os.getpid()} on {socket.gethostname()}"[:63]
        return psycopg.connect(**self.loc.conninfo(), autocommit=autocommit, application_name=name, connect_timeout=5)

    def _take_lock(self) -> None:
        key = _lock_key(self.loc, self.name)
        row = self._listen.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if row and row[0]:
            return
        holder = self._listen.execute(
            "SELECT a.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND "
            "((l.classid::bigint << 32) | l.objid::bigint) = %s::bigint",
            (key,),
        ).fetchone()
        who = f"backend pid {holder[0]} ({holder[1]})" if holder else "another session"
        raise WorkerError(
            f"projection {self.name!r} of {self.loc} is already kept by {who}; run one worker per projection"
        )

    def recover(self, stopping: Callable[[], bool] = lambda: False) -> None:
        """Rebuild the in-memory state at the stored position (re-fold ``1..P``), fixing rows that differ."""
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                seq, stored_hash = self.positions.read(cur, self.name)
                self._written = self.codec.load(cur)
            head = self.reader.last_seq()
            if seq > head:
                raise WorkerError(
                    f"stored position {seq} of projection {self.name!r} is beyond the journal head "
                    f"{head}: the journal was replaced; {self._rebuild_hint()}"
                )
            if seq:
                if self.reader.hash_of(seq) != stored_hash:
                    raise WorkerError(
                        f"record {seq} of {self.loc} is not the one projection {self.name!r} folded "
                        f"(chain hash differs): the journal was replaced; {self._rebuild_hint()}"
                    )
                refold = _Stoppable(self.state, stopping)
                for folded, event in self.reader.events(at=seq):
                    refold.apply(folded, event)
        except (JournalError, psycopg.Error) as exc:
            raise WorkerError(first_line(exc)) from None
        self.progress.resumed_at = self.progress.position = seq
        self._hash = stored_hash
        current = self.codec.records(self.state)
        if current != self._written:
            self.progress.corrected = self._commit(current, seq, stored_hash)

    def _rebuild_hint(self) -> str:
        return f"to rebuild it from seq 1, DELETE FROM {position_table(self.loc.table)} WHERE name = '{self.name}'"

    def step(self) -> int:
        """Fold up to ``batch`` new records and commit rows + position in one transaction; returns the count."""
        if self._broken:
            raise WorkerError("the worker's state is unknown after a failed commit; restart it")
        start = self.progress.position + 1
        prev = self._hash if start > 1 else GENESIS
        try:  # the batch's records, checked along the chain from the last one folded
            records = list(walk(self.reader.records(start, start + self.batch - 1), prev=prev, first=start))
        except JournalError as exc:
            raise WorkerError(str(exc)) from None
        if not records:
            return 0
        self._broken = True  # the state runs ahead of the stored rows until the commit succeeds
        try:
            for seq, topic, payload, _ in records:
                self.state.apply(seq, decode_payload(seq, topic, payload))
        except JournalError as exc:
            raise WorkerError(str(exc)) from None
        self._commit(self.codec.records(self.state), records[-1].seq, records[-1].hash)
        self._broken = False
        self.progress.records += len(records)
        return len(records)

    def _commit(self, current: dict[str, Record], seq: int, hash_: bytes) -> int:
        upserts, deletes = diff(self._written, current)
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                stored, _ = self.positions.read(cur, self.name, lock=True)
                if stored != self.progress.position:
                    raise WorkerError(
                        f"position of projection {self.name!r} moved from {self.progress.position} "
                        f"to {stored} under this worker"
                    )
                self.codec.write(cur, upserts, deletes)
                self.positions.write(cur, self.name, seq, hash_)
        except psycopg.Error as exc:
            self._broken = True
            raise WorkerError(f"commit of projection {self.name!r} at seq {seq} failed: {first_line(exc)}") from None
        self._written, self._hash = current, hash_
        self.progress.position = seq
        self.progress.transactions += 1
        self.progress.rows_written += len(upserts) + len(deletes)
        return len(upserts) + len(deletes)

    def catch_up(self, stopping: Callable[[], bool]) -> None:
        """Commit batches until the journal head (as seen by each read) or a stop request."""
        while not stopping() and self.step():
            pass

    def wait(self, timeout: float, stopping: Callable[[], bool] = lambda: False) -> None:
        """Block until a NOTIFY on the journal's channel, ``timeout`` seconds or a stop request (noticed within
        ``WAIT_SLICE`` seconds); drops the notifications queued meanwhile."""
        deadline = time.monotonic() + timeout  # shell: a wait for NOTIFY
        try:
            while not stopping() and (left := deadline - time.monotonic()) > 0:  # shell: a wait for NOTIFY
                if any(True for _ in self._listen.notifies(timeout=min(left, WAIT_SLICE), stop_after=1)):
                    for _ in self._listen.notifies(timeout=0.0):
                        pass
                    return
        except psycopg.Error as exc:
            raise WorkerError(f"lost the connection to {self.loc}: {first_line(exc)}") from None

    def head(self) -> int:
        return self.reader.last_seq()

    def _close_connections(self) -> None:
        for conn in (getattr(self, "_conn", None), getattr(self, "_listen", None)):
            if conn is not None:
                conn.close()

    def close(self) -> None:
        reader = getattr(self, "reader", None)
        if reader is not None:
            reader.close()
        self._close_connections()  # ends the session: the advisory lock goes with it


class _Stoppable:
    """A fold state whose start-up re-fold stops early (by raising) when a stop is requested."""

    def __init__(self, state: Projection, stopping: Callable[[], bool]) -> None:
        self.state, self.stopping = state, stopping

    def apply(self, seq: int, event: Event) -> None:
        if seq % 1000 == 0 and self.stopping():
            raise WorkerStopped(seq)
        self.state.apply(seq, event)


class WorkerStopped(Exception):
    """A stop request arrived during the start-up re-fold (nothing was written)."""
