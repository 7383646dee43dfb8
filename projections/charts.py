"""Charts as inline SVG text: matplotlib, rendered without a GUI backend or pyplot state.

Every chart is built on a bare ``matplotlib.figure.Figure`` (no pyplot, so no backend and no
global figure list) under matplotlib's built-in defaults (a user's matplotlibrc is ignored) plus
fixed rc settings: ``svg.hashsalt`` makes the generated ids
deterministic, ``svg.fonttype = "path"`` draws text as glyph paths (no font is needed to view
it), and the SVG is saved without a date. The same data therefore gives the same bytes.

The returned text starts at ``<svg``: the XML prolog, the DOCTYPE and the metadata block are
cut, and every ``id`` (and each reference to it) is prefixed with the chart's id, so several
charts can be inlined in one HTML page without id clashes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter
from matplotlib.typing import RcKeyType

RC: dict[RcKeyType, Any] = {
    "svg.hashsalt": "engine-report",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",  # bundled with matplotlib
    "font.size": 8.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "path.simplify": True,
}
WIDE = (9.0, 3.0)  # inches
PANEL = (4.4, 2.6)
MAX_BINS = 60
FEW = 40  # a series shorter than this gets point markers (one point draws no line)
COLORS = ("#1f5fa8", "#d9822b", "#2b9348", "#b83232")

_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_IDS = re.compile(r'(\bid="|href="#|url\(#)([^")]+)')
_PATH_DATA = re.compile(r'\bd="([^"]*)"')
_LONG_DECIMAL = re.compile(r"-?\d+\.\d{2,}")


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    y: Sequence[float]


def _usd(value: float, _pos: object = None) -> str:
    """Axis label for dollars: 1.2M, 350k, 12."""
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def _round(m: re.Match[str]) -> str:
    """One decimal of a point (1/720 inch) is plenty for a path coordinate."""
    return f"{float(m.group(0)):.1f}"


def to_svg(fig: Figure, chart_id: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = _METADATA.sub("", _PROLOG.sub("", buf.getvalue(), count=1), count=1)
    text = _PATH_DATA.sub(lambda m: 'd="' + " ".join(_LONG_DECIMAL.sub(_round, m.group(1)).split()) + '"', text)
    return _IDS.sub(lambda m: f"{m.group(1)}{chart_id}-{m.group(2)}", text).rstrip() + "\n"


@contextmanager
def _figure(size: tuple[float, float]) -> Iterator[Figure]:
    with mpl.rc_context():
        mpl.rcdefaults()  # matplotlib's own defaults: no matplotlibrc, no rcParams set elsewhere leak in
        mpl.rcParams.update(RC)
        yield Figure(figsize=size, layout="constrained")


def _date_axis(ax: Axes, x: np.ndarray) -> None:
    if len(x) and x.min() == x.max():  # one point: a day either side, not matplotlib's two years
        day = np.timedelta64(1, "D")
        ax.set_xlim(x.min() - day, x.max() + day)
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def line_chart(
    chart_id: str, x: np.ndarray, series: Sequence[Series], *, title: str, ylabel: str, baseline: float | None = None
) -> str:
    """One or more lines over a datetime64 x axis, y in dollars; ``baseline`` draws a dashed level."""
    with _figure(WIDE) as fig:
        ax = fig.subplots()
        for i, (s, color) in enumerate(zip(series, COLORS, strict=False)):
            ax.plot(
                x,
                np.asarray(s.y, dtype=float),
                label=s.label,
                color=color,
                linewidth=1.2,
                linestyle="-" if i == 0 else (0, (4, 2)),  # later series dashed: equal lines stay visible
                marker="o" if len(x) < FEW else "",
                markersize=3,
            )
        if baseline is not None:
            ax.axhline(baseline, color="#888888", linestyle="--", linewidth=0.8)
        ax.set_title(title, loc="left")
        ax.set_ylabel(ylabel)
        ax.yaxis.set_major_formatter(FuncFormatter(_usd))
        _date_axis(ax, x)
        if len(series) > 1:
            ax.legend(loc="upper left", frameon=False)
        return to_svg(fig, chart_id)


def drawdown_chart(chart_id: str, x: np.ndarray, drawdown: Sequence[float], *, title: str) -> str:
    """Drawdown fractions (<= 0) as a filled area below zero, labelled in percent."""
    y = np.asarray(drawdown, dtype=float) * 100.0
    with _figure(WIDE) as fig:
        ax = fig.subplots()
        # one closed polygon (first and last point on zero): simplified like a line, unlike fill_between
        ax.fill(
            np.concatenate([x[:1], x, x[-1:]]),
            np.concatenate([[0.0], y, [0.0]]),
            facecolor="#e6b3b3",
            edgecolor=COLORS[3],
            linewidth=0.8,
        )
        if len(x) < FEW:
            ax.plot(x, y, color=COLORS[3], linestyle="", marker="o", markersize=3)
        ax.set_title(title, loc="left")
        ax.set_ylabel("below running peak")
        ax.yaxis.set_major_formatter(PercentFormatter())
        ax.set_ylim(min(float(y.min()) * 1.1, -0.1), 0.0)  # at least 0.1% tall: a flat 0 is a visible line
        _date_axis(ax, x)
        return to_svg(fig, chart_id)


def _edges(values: np.ndarray) -> np.ndarray:
    edges = np.histogram_bin_edges(values, bins="auto")
    if len(edges) > MAX_BINS + 1:
        edges = np.histogram_bin_edges(values, bins=MAX_BINS)
    return edges


def histograms(chart_id: str, panels: Sequence[Series], *, xlabel: str, columns: int = 2) -> str:
    """One histogram per panel (``Series.y`` are the samples), in a grid of ``columns``.
    A panel without samples says so instead of drawing bars."""
    cols = min(columns, len(panels))
    rows = -(-len(panels) // cols)
    size = (PANEL[0] * cols, PANEL[1] * rows)
    with _figure(size) as fig:
        axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
        for i, (ax, panel) in enumerate(zip(axes, panels, strict=False)):
            values = np.asarray(panel.y, dtype=float)
            values = values[np.isfinite(values)]
            ax.set_title(panel.label, loc="left")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("orders")
            if values.size == 0 or values.min() == values.max():
                note = f"all {values.size} at {values[0]:.2f}" if values.size else "no samples"
                ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center")
                ax.set_xticks([])
                ax.set_yticks([])
                continue
            ax.hist(
                values, bins=_edges(values), color=COLORS[i % len(COLORS)], alpha=0.85, edgecolor="white", linewidth=0.4
            )
            ax.axvline(float(np.median(values)), color="#333333", linestyle="--", linewidth=0.8)
        for ax in axes[len(panels) :]:
            ax.set_visible(False)
        return to_svg(fig, chart_id)
