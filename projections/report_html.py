"""The run report as one self-contained HTML page (docs/reports.md).

``render(data)`` assembles the page from projections that were already folded: the run's
identity, the P&L snapshot, the equity series and the TCA frames. Charts are inline SVG from
``projections.charts``; the only CSS is the ``<style>`` block below; there is no script and
no reference to anything outside the file. Every text taken from the journal goes through
``html.escape``. Nothing in the page depends on the clock or on where it was written, so the
same journal (and ``--at``) gives the same bytes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import polars as pl

from journal_schema.events import RunStarted
from projections.charts import Series, drawdown_chart, histograms, line_chart
from projections.html_parts import CSS, Kind, cell, esc, figure, table, units_text
from projections.snapshot import Snapshot

# The trade table: (header, tca.orders column, kind)
ORDER_COLUMNS: tuple[tuple[str, str, Kind], ...] = (
    ("client_order_id", "client_order_id", "text"),
    ("symbol", "symbol", "text"),
    ("side", "side", "text"),
    ("type", "order_type", "text"),
    ("day", "day", "text"),
    ("status", "status", "text"),
    ("qty", "qty", "qty"),
    ("filled", "filled_qty", "qty"),
    ("fills", "n_fills", "int"),
    ("decision px", "decision_price", "price"),
    ("arrival px", "arrival_price", "price"),
    ("proxy", "arrival_is_proxy", "flag"),
    ("fill vwap", "fill_vwap", "price"),
    ("notional", "notional", "money"),
    ("IS bps", "is_bps", "bps"),
    ("delay bps", "delay_bps", "bps"),
    ("exec bps", "execution_bps", "bps"),
    ("fees bps", "fees_bps", "bps"),
    ("opp bps", "opportunity_bps", "bps"),
    ("spread bps", "spread_paid_bps", "bps"),
    ("IS usd", "is_usd", "money"),
)
IS_COMPONENTS = (
    ("delay", "delay_bps"),
    ("execution", "execution_bps"),
    ("fees", "fees_bps"),
    ("opportunity", "opportunity_bps"),
)
TCA_METRICS = (("implementation shortfall", "is_bps"), *IS_COMPONENTS, ("spread paid", "spread_paid_bps"))
NO_ORDERS = "The journal has no orders: there are no costs to show."


class TcaFrames(Protocol):
    """What the page needs of ``projections.tca.Tca``."""

    @property
    def orders(self) -> pl.DataFrame: ...
    @property
    def blocks(self) -> pl.DataFrame: ...
    @property
    def counts(self) -> dict[str, int]: ...


@dataclass(frozen=True, slots=True)
class ReportData:
    journal: str  # the journal's name as shown in the page
    run: RunStarted | None  # the latest RunStarted folded
    capital: int | None  # its risk capital, 1e-8 USD
    equity: pl.DataFrame  # projections.equity.SCHEMA
    snapshot: Snapshot
    tca: TcaFrames


def _header(data: ReportData) -> str:
    run, eq = data.run, data.equity
    period = f"{eq['day'][0]} to {eq['day'][-1]} ({eq.height} equity points)" if eq.height else "no bars or sessions"
    strategy = run.config.get("strategy", {}).get("name", "-") if run is not None else "-"
    facts = [
        ("run id", run.run_id if run else "- (no RunStarted in the journal)"),
        ("mode", run.mode if run else "-"),
        ("dataset", run.dataset if run else "-"),
        ("universe", ", ".join(run.universe) if run else "-"),
        ("strategy", strategy),
        ("config hash", run.config_hash if run else "-"),
        ("code version", run.code_version if run else "-"),
        ("seed", str(run.seed) if run else "-"),
        ("period", period),
        ("capital", units_text(data.capital, 2) if data.capital is not None else "unknown: equity is P&L only"),
        ("journal", f"{data.journal}, as of seq {data.snapshot.seq}"),
    ]
    rows = "".join(f'<tr><th>{esc(k)}</th><td class="mono">{esc(v)}</td></tr>' for k, v in facts)
    title = run.run_id if run else data.journal
    return f'<header><h1>Run report: {esc(title)}</h1><table class="facts">{rows}</table></header>'


def _card(label: str, text: str, sign: int = 0) -> str:
    cls = ' class="neg"' if sign < 0 else ' class="pos"' if sign > 0 else ""
    return f'<div class="card"><span>{esc(label)}</span><b{cls}>{esc(text)}</b></div>'


def _pnl(data: ReportData) -> str:
    pnl, eq = data.snapshot.pnl, data.equity
    t = pnl.total
    cards = [
        _card("realized", units_text(t.realized, 2), t.realized),
        _card("unrealized", units_text(t.unrealized, 2)),
        _card("fees", units_text(t.fees, 2)),
        _card("net P&L", units_text(t.net, 2), t.net),
    ]
    if eq.height:
        final = int(eq["equity"][-1])
        cards.append(_card("final equity", units_text(final, 2)))
        drawdowns = [d for d in eq["drawdown"].to_list() if d is not None]
        if drawdowns:
            worst = min(drawdowns)
            cards.append(_card("max drawdown", f"{worst * 100:.2f}%", -1 if worst < 0 else 0))
        if data.capital:
            cards.append(_card("return on capital", f"{t.net / data.capital * 100:.2f}%", t.net))
    rows = [
        (
            r.symbol,
            units_text(r.realized, 2),
            units_text(r.unrealized, 2),
            units_text(r.fees, 2),
            units_text(r.net, 2),
        )
        for r in [*pnl.rows, t]
    ]
    body = table(
        ("symbol", "realized", "unrealized", "fees", "net"), rows, (False, True, True, True, True), "pnl-table"
    )
    note = "Realized P&L is before fees; unrealized is marked to each symbol's last close."
    return f'<section id="pnl"><h2>P&amp;L</h2><div class="cards">{"".join(cards)}</div>{body}<p>{note}</p></section>'


def _activity(data: ReportData) -> str:
    orders = data.snapshot.orders
    status = Counter(o.status for o in orders)
    tca = data.tca.orders
    fills = int(tca["n_fills"].sum()) if tca.height else 0
    blocks = data.tca.blocks
    extra = data.tca.counts
    counts = [
        ("decisions", extra.get("decisions", 0)),
        ("orders", len(orders)),
        ("fills", fills),
        ("partially filled orders", extra.get("partial_orders", 0)),
        ("rejected", status["REJECTED"]),
        ("canceled", status["CANCELED"]),
        ("expired", status["EXPIRED"]),
        ("failed", status["FAILED"]),
        ("blocks (reasons of decisions a control held back, pre-trade blocks)", blocks.height),
    ]
    parts = [table(("count", "n"), [(k, str(v)) for k, v in counts], (False, True), "counts-table")]
    if status:
        parts.append("<h3>Orders by final status</h3>")
        parts.append(table(("status", "orders"), [(s, str(n)) for s, n in sorted(status.items())], (False, True)))
    parts.append("<h3>Blocks by reason</h3>")
    if blocks.height:
        grouped = (
            blocks.group_by("gate", "reason", "outcome")
            .len()
            .sort("len", "gate", "reason", "outcome", descending=[True, False, False, False])
        )
        rows = [(str(g), str(r), str(o), str(n)) for g, r, o, n in grouped.iter_rows()]
        parts.append(table(("gate", "reason", "outcome", "blocks"), rows, (False, False, False, True), "blocks-table"))
    else:
        parts.append('<p class="empty">No order was blocked.</p>')
    for a in data.snapshot.anomalies:
        parts.append(f'<p class="warn">warning: seq {a.seq}: {esc(a.code)}: {esc(a.detail)} (report not applied)</p>')
    return f'<section id="activity"><h2>Orders, fills and blocks</h2>{"".join(parts)}</section>'


def _usd(column: pl.Series) -> list[float]:
    return [v / 1e8 for v in column.to_list()]


def _performance(eq: pl.DataFrame, capital: int | None) -> str:
    empty = "No bars or sessions in the journal: nothing to plot."
    x = eq["ts"].dt.replace_time_zone(None).to_numpy() if eq.height else np.array([])
    has = eq.height > 0
    equity = (
        line_chart(
            "chart-equity",
            x,
            [Series("equity", _usd(eq["equity"]))],
            title="Equity",
            ylabel="USD",
            baseline=capital / 1e8 if capital else None,
        )
        if has
        else None
    )
    drawdown = (
        drawdown_chart("chart-drawdown", x, eq["drawdown"].fill_null(0.0).to_list(), title="Drawdown") if has else None
    )
    exposure = (
        line_chart(
            "chart-exposure",
            x,
            [Series("gross", _usd(eq["gross_exposure"])), Series("net", _usd(eq["net_exposure"]))],
            title="Exposure",
            ylabel="USD",
        )
        if has
        else None
    )
    return (
        '<section id="performance"><h2>Equity, drawdown and exposure</h2>'
        + figure(
            "chart-equity",
            equity,
            "Equity = capital + realized + unrealized - fees, at each session close (dashed: capital).",
            empty,
        )
        + figure(
            "chart-drawdown", drawdown, "Drawdown = equity / running peak - 1 (0 at a new peak, never positive).", empty
        )
        + figure(
            "chart-exposure",
            exposure,
            "Gross = sum of |position value|, net = sum of position values, at the last closes.",
            empty,
        )
        + "</section>"
    )


def _samples(frame: pl.DataFrame, column: str) -> list[float]:
    values = frame[column].cast(pl.Float64).drop_nulls().drop_nans()
    return [float(v) for v in values.to_list()]


def _stats_row(label: str, values: list[float]) -> tuple[str, ...]:
    if not values:
        return (label, "0", "-", "-", "-", "-")
    a = np.asarray(values)
    q = np.quantile(a, [0.05, 0.5, 0.95])
    return (label, str(a.size), f"{a.mean():.2f}", f"{q[1]:.2f}", f"{q[0]:.2f}", f"{q[2]:.2f}")


def _tca(tca: pl.DataFrame) -> str:
    if tca.height == 0:
        figs = "".join(
            figure(i, None, c, NO_ORDERS)
            for i, c in (
                ("chart-tca-is", "Implementation shortfall"),
                ("chart-tca-components", "IS components"),
                ("chart-tca-spread", "Spread paid"),
            )
        )
        return f'<section id="tca"><h2>Transaction costs</h2>{figs}</section>'
    samples = {col: _samples(tca, col) for _, col in TCA_METRICS}
    stats = table(
        ("metric (bps)", "orders", "mean", "median", "p5", "p95"),
        [_stats_row(label, samples[col]) for label, col in TCA_METRICS],
        (False, True, True, True, True, True),
        "tca-stats",
    )
    is_svg = histograms(
        "chart-tca-is", [Series("implementation shortfall", samples["is_bps"])], xlabel="bps", columns=1
    )
    parts = histograms(
        "chart-tca-components", [Series(label, samples[col]) for label, col in IS_COMPONENTS], xlabel="bps"
    )
    spread = histograms(
        "chart-tca-spread", [Series("spread paid", samples["spread_paid_bps"])], xlabel="bps", columns=1
    )
    sign = (
        "Costs are bps of the order's notional at the decision price, positive when paid (a gain is negative). "
        "Dashed: median."
    )
    return (
        '<section id="tca"><h2>Transaction costs</h2>'
        + stats
        + figure("chart-tca-is", is_svg, f"Implementation shortfall per order. {sign}", NO_ORDERS)
        + figure("chart-tca-components", parts, "IS = delay + execution + fees + opportunity, per order.", NO_ORDERS)
        + figure(
            "chart-tca-spread",
            spread,
            "Spread paid per filled order: the fills' distance from the quote "
            "mid at each fill, quantity weighted, positive when paid; orders without a quote are left out.",
            NO_ORDERS,
        )
        + "</section>"
    )


def _trades(tca: pl.DataFrame) -> str:
    if tca.height == 0:
        return f'<section id="trades"><h2>Orders</h2><p class="empty">{esc(NO_ORDERS)}</p></section>'
    present = [c for c in ORDER_COLUMNS if c[1] in tca.columns]
    rows, ids = [], []
    for rec in tca.iter_rows(named=True):
        rows.append([cell(rec[col], kind) for _, col, kind in present])
        ids.append(f"order-{rec['client_order_id']}")
    numeric = [kind not in ("text", "flag") for _, _, kind in present]
    body = table([h for h, _, _ in present], rows, numeric, "orders-table", ids)
    return (
        f'<section id="trades"><h2>Orders ({tca.height})</h2><p>One row per order; prices in USD, costs in bps of '
        f'the notional at the decision price. "proxy": no quote at arrival, the arrival price is a proxy '
        f"(the next bar's open or the decision price).</p>"
        f'<div class="scroll">{body}</div></section>'
    )


REPORT_HEAD = (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="generator" content="engine report">'
)
"""How every report begins: ``engine report`` replaces a file only when it begins so (one it wrote)."""


def render(data: ReportData) -> str:
    title = data.run.run_id if data.run else data.journal
    return (
        REPORT_HEAD + '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Run report: {esc(title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(
            (
                _header(data),
                _pnl(data),
                _activity(data),
                _performance(data.equity, data.capital),
                _tca(data.tca.orders),
                _trades(data.tca.orders),
            )
        )
        + f"\n<footer><p>Generated by engine report from {esc(data.journal)} as of seq {data.snapshot.seq}."
        "</p></footer>\n</body></html>\n"
    )
