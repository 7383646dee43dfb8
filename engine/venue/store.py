"""The venue's own durable state: one SQLite file (stdlib ``sqlite3``), not the engine journal.

Quantities and prices are exact decimal TEXT (normalised, no exponent); timestamps are
ISO-8601 UTC text ending in ``Z``. An order's ``status`` follows Alpaca: ``accepted``, then
``partially_filled`` while its fills leave a rest working, then ``filled``, ``canceled`` or
``expired`` (the last two keep the ``filled_qty`` and ``filled_avg_price`` of what filled).

``client_order_id`` is UNIQUE for the database's lifetime, also after the order is canceled (as
Alpaca does, wire contract section 3). Every acceptance, duplicate refusal, cancel, fill and expiry
is appended to ``order_log`` (a fill that leaves a rest as ``partially_filled``, an order's last one
as ``filled``), so an audit can show that no ``client_order_id`` was ever accepted twice. Injected
faults go to ``fault_log`` (``engine.venue.faultlog``); a fault on an accepted submit is written in
the order's transaction.

Ids are derived, never random: the order id is ``uuid5`` of the client order id (unique by the
constraint above); a generated client order id is ``uuid5`` of the order's sequence number.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Literal

from engine.alpaca.status import TERMINAL_ALPACA_STATUSES
from engine.journal.target import sqlite_file_problem
from engine.venue import faultlog, ledger
from engine.venue.errors import (
    CODE_NOT_CANCELABLE,
    MSG_DUPLICATE_CID,
    MSG_NOT_CANCELABLE,
    VenueError,
    not_found,
    validation,
)
from engine.venue.orders import ORDER_COLUMNS, SCHEMA, NewOrder, OrderQuery, VenueOrder, optional_text, row_to_order


class VenueDbError(ValueError):
    """The ``--db`` path holds something that is not a venue database (one line)."""


ORDER_ID_NAMESPACE = uuid.UUID("6f1b7c52-3c1e-5f0a-9d0b-2a4c1e8f7a10")
GENERATED_CID_NAMESPACE = uuid.UUID("0e9d4c8a-61f2-5b7e-8a43-7c2d9f1b3e55")


@functools.cache
def venue_tables() -> frozenset[str]:
    """The tables of a venue database, as the schema below makes them (in memory: one definition)."""
    db = sqlite3.connect(":memory:")
    try:
        _create(db)
        return frozenset(str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
    finally:
        db.close()


def _create(conn: sqlite3.Connection, starting_cash: int = 0) -> None:
    conn.executescript(SCHEMA)
    ledger.init(conn.cursor(), starting_cash)
    faultlog.init(conn.cursor())


class VenueStore:
    """Thread-safe access to the venue database; one connection guarded by a lock."""

    def __init__(self, path: str | Path, starting_cash: int = 0) -> None:
        """``starting_cash`` (1e-8 USD) seeds the cash of a new database; an existing one keeps its own. A
        file that is not a venue database (a journal, another program's database, a text file) is refused
        (``VenueDbError``), never written."""
        problem = sqlite_file_problem(Path(path), venue_tables(), "a venue database")
        if problem is not None:
            raise VenueDbError(problem)
        self.path = str(path)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            _create(self._conn, starting_cash)
        except sqlite3.Error:
            self._conn.close()
            raise

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """One ``BEGIN IMMEDIATE`` transaction under the store lock: committed on success."""
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Cursor]:
        """A cursor for reads under the store lock (autocommit)."""
        with self._lock:
            yield self._conn.cursor()

    @staticmethod
    def open_orders(cur: sqlite3.Cursor) -> list[VenueOrder]:
        terminal = sorted(TERMINAL_ALPACA_STATUSES)
        rows = cur.execute(
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE status NOT IN ({','.join('?' * len(terminal))}) ORDER BY seq",
            terminal,
        ).fetchall()
        return [row_to_order(tuple(r)) for r in rows]

    @classmethod
    def mark_fill(
        cls, cur: sqlite3.Cursor, order: VenueOrder, filled_qty: str, avg_price: str, at: str, done: bool
    ) -> None:
        """A fill at ``at`` brought the order to ``filled_qty`` at the average ``avg_price`` (exact
        decimal text): ``filled`` (with ``filled_at``) when ``done``, else ``partially_filled``."""
        status = "filled" if done else "partially_filled"
        cur.execute(
            "UPDATE orders SET status = ?, filled_qty = ?, filled_avg_price = ?, filled_at = ?, updated_at = ? "
            "WHERE id = ?",
            (status, filled_qty, avg_price, at if done else None, at, order.id),
        )
        cls._log(cur, at, status, order.client_order_id, order.id)

    @classmethod
    def mark_expired(cls, cur: sqlite3.Cursor, order: VenueOrder, at: str) -> None:
        """The unfilled rest expired at ``at``; what filled stays filled (``filled_qty`` is kept)."""
        cur.execute(
            "UPDATE orders SET status = 'expired', expired_at = ?, updated_at = ? WHERE id = ?", (at, at, order.id)
        )
        cls._log(cur, at, "expired", order.client_order_id, order.id)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def submit(self, new: NewOrder, now: str, fault: faultlog.FaultRecord | None = None) -> VenueOrder:
        """Accept ``new`` with status ``accepted``, or refuse a duplicate client order id (422).

        ``fault`` (an ``accept_then_*`` fault) is logged in the same transaction as the accepted
        order, with the order's client order id; a refused submit logs no fault."""
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cid = new.client_order_id
                if cid is None:
                    (next_seq,) = cur.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM orders").fetchone()
                    cid = str(uuid.uuid5(GENERATED_CID_NAMESPACE, str(next_seq)))
                if cur.execute("SELECT 1 FROM orders WHERE client_order_id = ?", (cid,)).fetchone():
                    self._log(cur, now, "duplicate_refused", cid, None)
                    cur.execute("COMMIT")
                    # Unverified form (wire contract section 3): HTTP 422, code 40010001.
                    raise validation(MSG_DUPLICATE_CID)
                oid = str(uuid.uuid5(ORDER_ID_NAMESPACE, cid))
                cur.execute(
                    f"INSERT INTO orders ({ORDER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        oid,
                        cid,
                        new.symbol,
                        new.side,
                        new.type,
                        new.time_in_force,
                        new.qty,
                        new.limit_price,
                        int(new.extended_hours),
                        "accepted",
                        "0",
                        None,
                        now,
                        now,
                        now,
                        None,
                        None,
                        None,
                    ),
                )
                self._log(cur, now, "accepted", cid, oid)
                if fault is not None:
                    faultlog.record(cur, now, replace(fault, client_order_id=cid))
                cur.execute("COMMIT")
            except VenueError:
                raise
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            return self._get(cur, "id", oid)

    def get(self, order_id: str) -> VenueOrder:
        with self._lock:
            return self._get(self._conn.cursor(), "id", order_id)

    def get_by_client_order_id(self, client_order_id: str) -> VenueOrder:
        with self._lock:
            return self._get(self._conn.cursor(), "client_order_id", client_order_id)

    def list_orders(self, query: OrderQuery) -> list[VenueOrder]:
        where: list[str] = []
        args: list[object] = []
        terminal = sorted(TERMINAL_ALPACA_STATUSES)
        marks = ",".join("?" * len(terminal))
        if query.status == "open":
            where.append(f"status NOT IN ({marks})")
            args.extend(terminal)
        elif query.status == "closed":
            where.append(f"status IN ({marks})")
            args.extend(terminal)
        if query.symbols:
            where.append(f"symbol IN ({','.join('?' * len(query.symbols))})")
            args.extend(query.symbols)
        if query.side is not None:
            where.append("side = ?")
            args.append(query.side)
        if query.after is not None:
            where.append("submitted_at > ?")
            args.append(query.after)
        if query.until is not None:
            where.append("submitted_at < ?")
            args.append(query.until)
        order = "ASC" if query.direction == "asc" else "DESC"
        sql = f"SELECT {ORDER_COLUMNS} FROM orders"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY submitted_at {order}, seq {order} LIMIT ?"
        args.append(query.limit)
        with self._lock:
            return [row_to_order(r) for r in self._conn.execute(sql, args).fetchall()]

    def cancel(self, order_id: str, now: str) -> VenueOrder:
        """Cancel the unfilled rest of an open order at once (a partially filled order keeps its
        ``filled_qty``); 422 when it is terminal."""
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                order = self._get(cur, "id", order_id)
                if not order.is_open:
                    raise VenueError(422, CODE_NOT_CANCELABLE, MSG_NOT_CANCELABLE)
                cur.execute(
                    "UPDATE orders SET status = 'canceled', canceled_at = ?, updated_at = ? WHERE id = ?",
                    (now, now, order_id),
                )
                self._log(cur, now, "canceled", order.client_order_id, order_id)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            return self._get(cur, "id", order_id)

    def counts(self) -> tuple[int, int]:
        """``(orders, open orders)``."""
        terminal = sorted(TERMINAL_ALPACA_STATUSES)
        marks = ",".join("?" * len(terminal))
        with self._lock:
            (total,) = self._conn.execute("SELECT COUNT(*) FROM orders").fetchone()
            (still_open,) = self._conn.execute(
                f"SELECT COUNT(*) FROM orders WHERE status NOT IN ({marks})", terminal
            ).fetchone()
        return int(total), int(still_open)

    def log(self) -> list[tuple[str, str, str, str | None]]:
        """The order log as ``(at, event, client_order_id, order_id)``, oldest first."""
        with self._lock:
            rows = self._conn.execute("SELECT at, event, client_order_id, order_id FROM order_log ORDER BY seq")
            return [(str(a), str(e), str(c), optional_text(o)) for a, e, c, o in rows.fetchall()]

    @staticmethod
    def _log(cur: sqlite3.Cursor, now: str, event: str, cid: str, oid: str | None) -> None:
        cur.execute(
            "INSERT INTO order_log (at, event, client_order_id, order_id) VALUES (?,?,?,?)", (now, event, cid, oid)
        )

    @staticmethod
    def _get(cur: sqlite3.Cursor, column: Literal["id", "client_order_id"], value: str) -> VenueOrder:
        row = cur.execute(f"SELECT {ORDER_COLUMNS} FROM orders WHERE {column} = ?", (value,)).fetchone()
        if row is None:
            raise not_found()
        return row_to_order(tuple(row))
