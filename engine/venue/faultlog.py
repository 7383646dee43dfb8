"""The ``fault_log`` table: one row per injected fault, in the venue's own database.

``at`` is the venue's simulated time (UTC ``...Z`` text) when the fault was injected; ``path``
has no query string; ``client_order_id`` is the one the request named (submit body or the
``by_client_order_id`` query), the venue's generated one for an accepted submit without one,
or NULL. A fault on an accepted submit (``accept_then_timeout``, ``accept_then_drop``) is
written in the same transaction as the order, so an audit can count faults against orders.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from engine.venue.faults import FAULT_KINDS

SCHEMA = """
CREATE TABLE IF NOT EXISTS fault_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    client_order_id TEXT
);
"""


@dataclass(frozen=True)
class FaultRecord:
    kind: str
    method: str
    path: str
    client_order_id: str | None = None


@dataclass(frozen=True)
class FaultEntry:
    seq: int
    at: str
    kind: str
    method: str
    path: str
    client_order_id: str | None


def init(cur: sqlite3.Cursor) -> None:
    cur.executescript(SCHEMA)


def record(cur: sqlite3.Cursor, at: str, fault: FaultRecord) -> None:
    cur.execute(
        "INSERT INTO fault_log (at, kind, method, path, client_order_id) VALUES (?,?,?,?,?)",
        (at, fault.kind, fault.method, fault.path, fault.client_order_id),
    )


def counts(cur: sqlite3.Cursor) -> dict[str, int]:
    """Faults injected so far, every kind (0 included), in catalogue order."""
    found = {str(k): int(n) for k, n in cur.execute("SELECT kind, COUNT(*) FROM fault_log GROUP BY kind")}
    return {kind: found.get(kind, 0) for kind in FAULT_KINDS}


def entries(cur: sqlite3.Cursor) -> list[FaultEntry]:
    rows = cur.execute("SELECT seq, at, kind, method, path, client_order_id FROM fault_log ORDER BY seq")
    return [
        FaultEntry(int(s), str(a), str(k), str(m), str(p), None if c is None else str(c))
        for s, a, k, m, p, c in rows.fetchall()
    ]
