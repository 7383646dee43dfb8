"""The building blocks of the HTML pages the projections render: escaping, cell text by kind,
tables, figures and the one stylesheet. Nothing here reads a journal."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

import numpy as np

from journal_schema.units import to_decimal
from projections.render import fmt_qty, iso_utc

Kind = Literal["text", "int", "qty", "price", "money", "bps", "ts", "flag"]

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0 auto;max-width:1180px;
padding:16px 24px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:8px 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d5d9e0;padding-bottom:4px}
table{border-collapse:collapse;margin:6px 0 12px}
th,td{padding:3px 8px;border-bottom:1px solid #eceef2;text-align:left}
th{background:#f4f6f9;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
table.facts th{background:none;color:#5a6272;font-weight:500}
.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.card{border:1px solid #d5d9e0;border-radius:6px;padding:8px 14px;min-width:130px}
.card b{display:block;font-size:18px}.card span{color:#5a6272;font-size:12px}
.neg{color:#b83232}.pos{color:#2b7a3d}
figure{margin:14px 0}figure svg{max-width:100%;height:auto}figcaption{color:#5a6272;font-size:12.5px}
.empty{color:#5a6272;font-style:italic;padding:14px;border:1px dashed #c4c9d2}
.scroll{overflow-x:auto;max-height:640px;overflow-y:auto}.scroll table{font-size:12px}
.scroll th{position:sticky;top:0}.scroll td{white-space:nowrap}
.warn{color:#8a4b00}
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def units_text(units: int, places: int) -> str:
    return f"{to_decimal(units):,.{places}f}"


def cell(value: object, kind: Kind) -> str:
    """Display text of one value. Integers of price/money/qty kinds are 1e-8 units."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    if kind == "flag":
        return "yes" if value else ""
    if kind in ("price", "money", "bps"):
        places = {"price": 4, "money": 2, "bps": 2}[kind]
        if isinstance(value, int) and kind != "bps":
            return units_text(value, places)
        if isinstance(value, (int, float, Decimal)):
            return f"{value:,.{places}f}"
    if kind == "qty" and isinstance(value, int):
        return fmt_qty(value)
    if kind == "qty" and isinstance(value, float):
        return f"{value:,.8f}".rstrip("0").rstrip(".")
    if kind == "ts" and isinstance(value, int):
        return iso_utc(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _td(text: str, numeric: bool = False, cls: str = "") -> str:
    classes = " ".join(c for c in ("n" if numeric else "", cls) if c)
    return f'<td class="{classes}">{esc(text)}</td>' if classes else f"<td>{esc(text)}</td>"


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    numeric: Sequence[bool] | None = None,
    table_id: str = "",
    row_ids: Sequence[str] | None = None,
) -> str:
    num = list(numeric) if numeric is not None else [False] * len(headers)
    head = "".join(
        f'<th class="n">{esc(h)}</th>' if n else f"<th>{esc(h)}</th>" for h, n in zip(headers, num, strict=True)
    )
    body = []
    for i, row in enumerate(rows):
        rid = f' id="{esc(row_ids[i])}"' if row_ids is not None else ""
        body.append(f"<tr{rid}>" + "".join(_td(c, n) for c, n in zip(row, num, strict=True)) + "</tr>")
    tid = f' id="{esc(table_id)}"' if table_id else ""
    return f"<table{tid}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def figure(chart_id: str, svg: str | None, caption: str, empty: str) -> str:
    inner = svg if svg is not None else f'<p class="empty">{esc(empty)}</p>'
    return f'<figure id="{esc(chart_id)}">{inner}<figcaption>{esc(caption)}</figcaption></figure>'
