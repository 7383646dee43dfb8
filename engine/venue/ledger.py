"""The venue's books in its SQLite database: fills, positions, cash, the replay position and
the identity of the bar file the database was made with.

A fill is one slice of an order (``engine.broker.fills.SliceFill``): an order may have several
(a partial fill per bar until it is done), numbered ``{order_id}-{n}``. Each fill row keeps the
simulated quote it was priced against (``bid`` / ``ask``); a database made before quotes were kept
gets the two columns added when it is opened, NULL for its earlier fills.

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
from typing import Any

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
    ts INTEGER NOT NULL,
    bid INTEGER,
    ask INTEGER
);
CREATE INDEX IF NOT EXISTS fills_by_order ON fills (order_id, seq);
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
    bid: int | None  # the quote the fill was priced against (None: a fill recorded before quotes were kept)
    ask: int | None


@dataclass(frozen=True)
class Holding:
    symbol: str
    qty: int  # signed
    cost: int  # signed like qty

    @property
    def avg_entry_price(self) -> int:
        return div_round_half_even(abs(self.cost) * SCALE, abs(self.qty))


QUOTE_COLUMNS = ("bid", "ask")
_FILL_COLUMNS = "fill_id, order_id, client_order_id, symbol, side, qty, price, fee, ts, bid, ask"


def init(cur: sqlite3.Cursor, starting_cash: int) -> None:
    known = {str(row[1]) for row in cur.execute("PRAGMA table_info(fills)").fetchall()}
    if known:  # a database made before fills kept their quote
        for column in QUOTE_COLUMNS:
            if column not in known:
                cur.execute(f"ALTER TABLE fills ADD COLUMN {column} INTEGER")
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
        "INSERT INTO venue_text_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def holdings(cur: sqlite3.Cursor) -> list[Holding]:
    rows = cur.execute("SELECT symbol, qty, cost FROM positions WHERE qty != 0 ORDER BY symbol").fetchall()
    return [Holding(str(s), int(q), int(c)) for s, q, c in rows]


def _fill(row: Any) -> Fill:  # a sqlite3 row of _FILL_COLUMNS
    fill_id, oid, cid, symbol, side, qty, price, fee, ts, bid, ask = row
    return Fill(
        str(fill_id),
        str(oid),
        str(cid),
        str(symbol),
        str(side),
        int(qty),
        int(price),
        int(fee),
        int(ts),
        None if bid is None else int(bid),
        None if ask is None else int(ask),
    )


def fills(cur: sqlite3.Cursor, order_id: str | None = None) -> list[Fill]:
    """Every fill (or those of ``order_id``), oldest first."""
    if order_id is None:
        rows = cur.execute(f"SELECT {_FILL_COLUMNS} FROM fills ORDER BY seq").fetchall()
    else:
        rows = cur.execute(f"SELECT {_FILL_COLUMNS} FROM fills WHERE order_id = ? ORDER BY seq", (order_id,)).fetchall()
    return [_fill(r) for r in rows]


def fill_count(cur: sqlite3.Cursor) -> int:
    (n,) = cur.execute("SELECT COUNT(*) FROM fills").fetchone()
    return int(n)


def record_fill(cur: sqlite3.Cursor, fill: Fill) -> None:
    """Append ``fill`` and move its position and the cash."""
    cur.execute(
        f"INSERT INTO fills ({_FILL_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            fill.fill_id,
            fill.order_id,
            fill.client_order_id,
            fill.symbol,
            fill.side,
            fill.qty,
            fill.price,
            fill.fee,
            fill.ts,
            fill.bid,
            fill.ask,
        ),
    )
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
