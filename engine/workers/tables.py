"""The projection worker's own tables, next to the journal table ``T`` in the same database.

* ``T_proj_orders``: one row per ``client_order_id``, the columns of ``projections.orders.OrderRow``
  plus ``row_no`` (its index in the fold's request order, so ``ORDER BY row_no`` lists the orders
  exactly as ``engine query orders`` does).
* ``T_proj_positions``: one row per symbol ever filled, the columns of ``PositionRow``.
* ``T_proj_tca``: one row per ``client_order_id`` that got a submit request, the columns of the per-order
  frame of ``projections.tca`` (``load_tca(...).orders``, docs/tca.md) plus ``row_no`` (its submit order).
* ``T_proj_position``: one row per projection name: ``last_seq`` (the last journal sequence folded
  into that projection's rows), ``last_hash`` (that record's chain hash, so a replaced journal is
  noticed) and ``updated_at``.

Integers of orders/positions (1e-8 units, ns timestamps) are ``numeric``: exact, never overflowing; the TCA
frame's Int64 columns are ``bigint``, its Float64 columns ``double precision`` (stored and read back bit for
bit), Boolean ``boolean``. The worker creates
the tables itself (``CREATE TABLE IF NOT EXISTS``); they are not journal objects and ``engine migrate``
does not manage them. Dropping them makes the next worker rebuild from seq 1.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

import polars as pl
import psycopg
from psycopg import sql

from projections.ledger import Ledger
from projections.orders import OrderRow, order_rows
from projections.positions import PositionRow, position_rows
from projections.tca import TcaFold, order_schema

MAX_IDENTIFIER = 63  # PostgreSQL truncates longer names silently, so two tables could collide
Value = str | int | float | None  # bool is an int
Record = tuple[Value, ...]
NAN = math.nan  # every NaN of a record is this object, so equal records compare equal (``is`` first)
S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class ProjectionSpec(Generic[S]):
    """A projection the worker can keep: its table suffix, columns, key, fold state and the rows of that state."""

    name: str
    columns: Callable[[], Sequence[tuple[str, str]]]  # (column, SQL type) in record order
    key: str
    order_by: str  # the column that reproduces the fold's row order
    new_state: Callable[[], S]  # a fresh fold state: ``apply(seq, event)`` (projections.fold.Projection)
    rows_of: Callable[[S], Iterable[Record]]  # the state's rows in the fold's order, values in column order
    numbered: bool  # stores row_no (the index in the fold's order)


def _sql_type(hint: object) -> str:
    nullable = isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint)
    base = next(a for a in typing.get_args(hint) if a is not type(None)) if nullable else hint
    kind = {str: "text", int: "numeric"}[base]  # type: ignore[index]
    return kind if nullable else f"{kind} NOT NULL"


def _dataclass_columns(row_type: type[Any]) -> Callable[[], list[tuple[str, str]]]:
    def columns() -> list[tuple[str, str]]:
        hints = typing.get_type_hints(row_type)
        return [(f.name, _sql_type(hints[f.name])) for f in dataclasses.fields(row_type)]

    return columns


def _dataclass_records(rows: Sequence[Any]) -> Iterable[Record]:
    names = [f.name for f in dataclasses.fields(rows[0])] if rows else []
    return (tuple(getattr(row, n) for n in names) for row in rows)


_PL_TYPES = {pl.String: "text", pl.Int64: "bigint", pl.Float64: "double precision", pl.Boolean: "boolean"}


def _tca_columns() -> list[tuple[str, str]]:
    return [
        (name, _PL_TYPES[type(dtype)] + (" NOT NULL" if name == "client_order_id" else ""))
        for name, dtype in order_schema().items()
    ]


def _tca_records(state: TcaFold) -> Iterable[Record]:
    frame = state.orders()
    rows: list[Record] = frame.rows()
    if frame.select(pl.any_horizontal(pl.col(pl.Float64).is_nan().any())).item():  # rare (a zero notional)
        return [tuple(NAN if isinstance(v, float) and math.isnan(v) else v for v in row) for row in rows]
    return rows


SPECS: dict[str, ProjectionSpec[Any]] = {
    "orders": ProjectionSpec(
        "orders",
        _dataclass_columns(OrderRow),
        "client_order_id",
        "row_no",
        Ledger,
        lambda led: _dataclass_records(order_rows(led.orders)),
        True,
    ),
    "positions": ProjectionSpec(
        "positions",
        _dataclass_columns(PositionRow),
        "symbol",
        "symbol",
        Ledger,
        lambda led: _dataclass_records(position_rows(led.positions)),
        False,
    ),
    "tca": ProjectionSpec("tca", _tca_columns, "client_order_id", "row_no", TcaFold, _tca_records, True),
}


def output_table(journal_table: str, projection: str) -> str:
    return f"{journal_table}_proj_{projection}"


def position_table(journal_table: str) -> str:
    return f"{journal_table}_proj_position"


def check_names(journal_table: str) -> None:
    """Refuse a journal table whose projection table names would exceed PostgreSQL's 63 bytes."""
    longest = max([position_table(journal_table)] + [output_table(journal_table, n) for n in SPECS], key=len)
    if len(longest) > MAX_IDENTIFIER:
        raise ValueError(
            f"journal table {journal_table!r} is too long for its projection tables "
            f"({longest!r} exceeds {MAX_IDENTIFIER} characters); use at most "
            f"{MAX_IDENTIFIER - len(longest) + len(journal_table)}"
        )


class RowCodec:
    """A projection's rows as table records: column list, DDL, upsert and read back."""

    def __init__(self, spec: ProjectionSpec[Any], journal_table: str) -> None:
        self.spec = spec
        self.table = sql.Identifier(output_table(journal_table, spec.name))
        fields = list(spec.columns())
        self.fields = [name for name, _ in fields]
        self.types = dict(fields)
        self.columns = (["row_no"] if spec.numbered else []) + self.fields
        if spec.numbered:
            self.types["row_no"] = "integer NOT NULL"
        self._key_at = self.fields.index(spec.key)

    def records(self, state: Any) -> dict[str, Record]:
        """key -> stored record of every row the state's projection has now."""
        out: dict[str, Record] = {}
        for i, values in enumerate(self.spec.rows_of(state)):
            out[str(values[self._key_at])] = ((i,) if self.spec.numbered else ()) + values
        return out

    def create(self, cur: psycopg.Cursor[Any]) -> None:
        cols = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(self.types[c])) for c in self.columns
        )
        cur.execute(
            sql.SQL("CREATE TABLE IF NOT EXISTS {t} ({cols}, PRIMARY KEY ({key}))").format(
                t=self.table, cols=cols, key=sql.Identifier(self.spec.key)
            )
        )

    def load(self, cur: psycopg.Cursor[Any]) -> dict[str, Record]:
        names = sql.SQL(", ").join(map(sql.Identifier, self.columns))
        cur.execute(sql.SQL("SELECT {names} FROM {t}").format(names=names, t=self.table))
        key_at = self.columns.index(self.spec.key)
        return {str(r[key_at]): tuple(_value(v) for v in r) for r in cur.fetchall()}

    def write(self, cur: psycopg.Cursor[Any], upserts: Sequence[Record], deletes: Sequence[str]) -> None:
        if upserts:
            names = sql.SQL(", ").join(map(sql.Identifier, self.columns))
            marks = sql.SQL(", ").join(sql.Placeholder() * len(self.columns))
            sets = sql.SQL(", ").join(
                sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in self.columns if c != self.spec.key
            )
            query = sql.SQL("INSERT INTO {t} ({names}) VALUES ({marks}) ON CONFLICT ({key}) DO UPDATE SET {sets}")
            cur.executemany(
                query.format(t=self.table, names=names, marks=marks, key=sql.Identifier(self.spec.key), sets=sets),
                upserts,
            )
        if deletes:
            cur.execute(
                sql.SQL("DELETE FROM {t} WHERE {key} = ANY(%s)").format(
                    t=self.table, key=sql.Identifier(self.spec.key)
                ),
                (list(deletes),),
            )


def _value(v: object) -> Value:
    if isinstance(v, Decimal):
        return int(v)
    if isinstance(v, float):
        return NAN if math.isnan(v) else v
    if v is None or isinstance(v, (str, int)):
        return v
    raise TypeError(f"unexpected column value {v!r}")


class PositionTable:
    """``T_proj_position``: projection name -> last applied journal seq and its chain hash."""

    def __init__(self, journal_table: str) -> None:
        self.table = sql.Identifier(position_table(journal_table))

    def create(self, cur: psycopg.Cursor[Any]) -> None:
        cur.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {t} (name text PRIMARY KEY, last_seq bigint NOT NULL, "
                "last_hash bytea NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"
            ).format(t=self.table)
        )

    def read(self, cur: psycopg.Cursor[Any], name: str, *, lock: bool = False) -> tuple[int, bytes]:
        """(last_seq, last_hash); (0, b"") before the first commit. ``lock`` takes the row for update."""
        query = "SELECT last_seq, last_hash FROM {t} WHERE name = %s" + (" FOR UPDATE" if lock else "")
        cur.execute(sql.SQL(query).format(t=self.table), (name,))
        row = cur.fetchone()
        return (int(row[0]), bytes(row[1])) if row else (0, b"")

    def write(self, cur: psycopg.Cursor[Any], name: str, seq: int, hash_: bytes) -> None:
        cur.execute(
            sql.SQL(
                "INSERT INTO {t} (name, last_seq, last_hash) VALUES (%s, %s, %s) ON CONFLICT (name) "
                "DO UPDATE SET last_seq = EXCLUDED.last_seq, last_hash = EXCLUDED.last_hash, "
                "updated_at = now()"
            ).format(t=self.table),
            (name, seq, hash_),
        )


def diff(old: dict[str, Record], new: dict[str, Record]) -> tuple[list[Record], list[str]]:
    """The records to upsert (new or changed) and the keys to delete to turn ``old`` into ``new``."""
    upserts = [rec for key, rec in new.items() if old.get(key) != rec]
    deletes = sorted(key for key in old if key not in new)
    return upserts, deletes
