"""The venue's books in its SQLite database: fills, positions, cash, the replay position and
the identity of the bar file the database was made with.

Every amount is an INTEGER count of 1e-8 units (``journal_schema.units``); quantities are
signed in ``positions`` (negative = short) and ``cost`` carries the sign of the quantity.
Average-cost accounting: a fill that adds to a position adds its notional to ``cost``; one
that reduces it takes off the proportional share of ``cost`` (half-even), and a fill that
crosses zero opens the remainder at the fill price. Cash moves by notional and fee:
a buy pays ``qty x price + fee``, a sell receives ``qty x price - fee``.

All functions take the caller's cursor so that a fill, its position, cash, the order update
and the replay position commit in one transaction (``VenueStore.transaction``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from journal_schema.units import SCALE, div_round_half_even, mul_fixed

SCHEMA = """
CREATE TABLE IF NOT EXISTS fills (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    fill_id TEXT NOT NULL UNIQUE,
    order_id TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    qty INTEGER NOT NULL,
    price INTEGER NOT NULL,
    fee INTEGER NOT NULL,
    ts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS positions (
    symbol TEXT PRIMARY KEY,
    qty INTEGER NOT NULL,
    cost INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS venue_state (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS venue_text_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

CASH = "cash"
SIM_TIME = "sim_time_ns"
BAR_FINGERPRINT = "bar_file_fingerprint"  # BarTable.fingerprint of the file the database was made with
BAR_SOURCE = "bar_file_source"  # its path as given then (for the error message only)


@dataclass(frozen=True)
class Fill:
    fill_id: str
    order_id: str
    client_order_id: str
    symbol: str
    side: str
    qty: int
    price: int
    fee: int
    ts: int


@dataclass(frozen=True)
class Holding:
    symbol: str
    qty: int  # signed
    cost: int  # signed like qty

    @property
    def avg_entry_price(self) -> int:
        return div_round_half_even(abs(self.cost) * SCALE, abs(self.qty))


def init(cur: sqlite3.Cursor, starting_cash: int) -> None:
    cur.executescript(SCHEMA)
    cur.execute("INSERT OR IGNORE INTO venue_state (key, value) VALUES (?, ?)", (CASH, starting_cash))


def get_state(cur: sqlite3.Cursor, key: str) -> int | None:
    row = cur.execute("SELECT value FROM venue_state WHERE key = ?", (key,)).fetchone()
    return None if row is None else int(row[0])


def set_state(cur: sqlite3.Cursor, key: str, value: int) -> None:
    cur.execute(
        "INSERT INTO venue_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def get_text(cur: sqlite3.Cursor, key: str) -> str | None:
    row = cur.execute("SELECT value FROM venue_text_state WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_text(cur: sqlite3.Cursor, key: str, value: str) -> None:
    cur.execute(
        "INSERT INTO venue_text_state (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def holdings(cur: sqlite3.Cursor) -> list[Holding]:
    rows = cur.execute("SELECT symbol, qty, cost FROM positions WHERE qty != 0 ORDER BY symbol").fetchall()
    return [Holding(str(s), int(q), int(c)) for s, q, c in rows]


def fills(cur: sqlite3.Cursor) -> list[Fill]:
    rows = cur.execute(
        "SELECT fill_id, order_id, client_order_id, symbol, side, qty, price, fee, ts FROM fills ORDER BY seq"
    ).fetchall()
    return [
        Fill(str(a), str(b), str(c), str(d), str(e), int(f), int(g), int(h), int(i))
        for a, b, c, d, e, f, g, h, i in rows
    ]


def record_fill(cur: sqlite3.Cursor, fill: Fill) -> None:
    """Append ``fill`` and move its position and the cash."""
    cur.execute(
        "INSERT INTO fills (fill_id, order_id, client_order_id, symbol, side, qty, price, fee, ts) "
        "VALUES (?,?,?,?,?,?,?,?,?)",
        (fill.fill_id, fill.order_id, fill.client_order_id, fill.symbol, fill.side, fill.qty, fill.price,
         fill.fee, fill.ts),
    )  # fmt: skip
    notional = mul_fixed(fill.qty, fill.price)
    buy = fill.side == "buy"
    cash = get_state(cur, CASH) or 0
    set_state(cur, CASH, cash - notional - fill.fee if buy else cash + notional - fill.fee)
    row = cur.execute("SELECT qty, cost FROM positions WHERE symbol = ?", (fill.symbol,)).fetchone()
    qty, cost = (int(row[0]), int(row[1])) if row else (0, 0)
    signed = fill.qty if buy else -fill.qty
    new_qty, new_cost = apply(qty, cost, signed, fill.price)
    cur.execute(
        "INSERT INTO positions (symbol, qty, cost) VALUES (?, ?, ?) "
        "ON CONFLICT(symbol) DO UPDATE SET qty = excluded.qty, cost = excluded.cost",
        (fill.symbol, new_qty, new_cost),
    )


def apply(qty: int, cost: int, signed: int, price: int) -> tuple[int, int]:
    """Position ``(qty, cost)`` after a signed fill of ``signed`` at ``price`` (average cost)."""
    notional = mul_fixed(abs(signed), price)
    if qty == 0 or (qty > 0) == (signed > 0):
        return qty + signed, cost + (notional if signed > 0 else -notional)
    new_qty = qty + signed
    if abs(signed) <= abs(qty):
        return new_qty, div_round_half_even(cost * abs(new_qty), abs(qty))
    opened = mul_fixed(abs(new_qty), price)
    return new_qty, opened if new_qty > 0 else -opened
