"""Rendering projection rows as a text table, CSV or JSON.

Values stay integers (1e-8 units, ns timestamps) until rendered. The text table is for
people: prices and money are rounded half-even by ``fmt_fixed``. CSV and JSON are for
programs: every fixed-point value is its exact decimal string (8 places), never a
binary float; timestamps are ISO-8601 UTC with all nonzero nanosecond digits.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import msgspec

from journal_schema.units import SCALE, exact, fmt_fixed

Kind = Literal["text", "int", "ts", "price", "qty", "money", "json"]
Value = str | int | bytes | None
Format = Literal["table", "json", "csv"]
FORMATS: tuple[Format, ...] = ("table", "json", "csv")

PRICE_PLACES = 4
MONEY_PLACES = 2
_NUMERIC: frozenset[Kind] = frozenset({"int", "price", "qty", "money"})


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind = "text"


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[Column, ...]
    rows: Sequence[tuple[Value, ...]]


def iso_utc(ns: int) -> str:
    """``2024-01-02T21:00:00Z``; fractional seconds only when nonzero, trailing zeros cut."""
    seconds, frac = divmod(ns, 1_000_000_000)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


def fmt_qty(units: int) -> str:
    """Quantity for people: whole shares without decimals, fractions without trailing zeros."""
    if units % SCALE == 0:
        return fmt_fixed(units, 0)
    return exact(units).rstrip("0")


def _human(kind: Kind, value: Value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, str):
        return value
    if kind == "ts":
        return iso_utc(value)
    if kind == "price":
        return fmt_fixed(value, PRICE_PLACES)
    if kind == "money":
        return fmt_fixed(value, MONEY_PLACES)
    if kind == "qty":
        return fmt_qty(value)
    return str(value)


def _machine(kind: Kind, value: Value) -> str | int | bytes | None:
    """A value for CSV/JSON: exact decimal strings, ISO timestamps, raw JSON bytes."""
    if value is None or isinstance(value, (str, bytes)):
        return value
    if kind == "ts":
        return iso_utc(value)
    if kind in ("price", "qty", "money"):
        return exact(value)
    return value


def render_table(table: Table) -> str:
    header = [c.name for c in table.columns]
    cols = table.columns
    body = [[_human(c.kind, v) for c, v in zip(cols, row, strict=True)] for row in table.rows]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(header)]
    right = [c.kind in _NUMERIC for c in table.columns]

    def line(cells: Sequence[str]) -> str:
        parts = [cell.rjust(w) if r else cell.ljust(w) for cell, w, r in zip(cells, widths, right, strict=True)]
        return "  ".join(parts).rstrip()

    lines = [line(header), line(["-" * w for w in widths])]
    lines.extend(line(r) for r in body)
    return "\n".join(lines) + "\n"


def render_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.name for c in table.columns])
    for row in table.rows:
        cells = []
        for c, v in zip(table.columns, row, strict=True):
            m = _machine(c.kind, v)
            cells.append("" if m is None else m.decode() if isinstance(m, bytes) else m)
        writer.writerow(cells)
    return out.getvalue()


def render_json(table: Table) -> str:
    """A JSON array, one object per line; ``json`` columns are embedded as JSON, not strings."""
    names = [c.name for c in table.columns]
    lines = []
    for row in table.rows:
        obj: dict[str, object] = {}
        for name, c, v in zip(names, table.columns, row, strict=True):
            m = _machine(c.kind, v)
            obj[name] = msgspec.Raw(m) if isinstance(m, bytes) else m
        lines.append(msgspec.json.encode(obj).decode())
    if not lines:
        return "[]\n"
    return "[\n" + ",\n".join(lines) + "\n]\n"


RENDERERS: dict[Format, Callable[[Table], str]] = {
    "table": render_table,
    "json": render_json,
    "csv": render_csv,
}


def render(table: Table, fmt: Format) -> str:
    return RENDERERS[fmt](table)
