"""`engine report`: one self-contained HTML page over a real run's journal."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import msgspec
import pytest

from engine.cli import main
from engine.journal import read_events
from journal_schema.events import BarClosed, DecisionMade, OrderFilled, OrderPartiallyFilled, OrderSubmitRequested
from projections import build
from projections.charts import COLORS
from projections.equity import capital_of, equity_frame
from projections.tca import load_tca
from tests.journal_factory import write_journal
from tests.support import DAY, T0, run_engine, run_started, synthetic_stream

S = 100_000_000


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


CONFIG = {
    "strategy": {"fast": 2, "slow": 5, "qty": 100, "long_only": False},
    "paper": {"fee_per_share": "0.005"},
    "risk": {
        "policy": {"min_liquidity_score": "0"},  # the synthetic bars are thin
        # BBB's third and fourth sessions are blacked out: their decisions are REJECTED (real blocks)
        "blackouts": [
            {"start": _iso(T0 + 2 * DAY), "end": _iso(T0 + 4 * DAY), "reason": "earnings", "symbols": ["BBB"]}
        ],
    },
}
CHARTS = (
    "chart-equity",
    "chart-drawdown",
    "chart-exposure",
    "chart-tca-is",
    "chart-tca-components",
    "chart-tca-spread",
)
VOID = {"meta", "br", "hr", "img", "input", "link", "wbr"}
LOADING_ATTRS = {"src", "href", "xlink:href", "srcset", "action", "formaction", "poster", "data", "background"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    text: str = ""

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()

    def find(self, tag: str, **attrs: str) -> list[Node]:
        return [n for n in self.walk() if n.tag == tag and all(n.attrs.get(k) == v for k, v in attrs.items())]

    def all_text(self) -> str:
        return self.text + "".join(c.all_text() for c in self.children)


class Tree(HTMLParser):
    """A strict little DOM: every element must be closed, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]
        self.doctype = ""

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].text += data


def parse(page: str) -> Tree:
    tree = Tree()
    tree.feed(page)
    tree.close()
    assert tree.stack == [tree.root], [n.tag for n in tree.stack]
    return tree


def bars() -> list[tuple[str, int]]:
    out = []
    for i in range(120):
        out.append(("AAA", int((10 + 2 * math.sin(i / 4)) * S)))
        out.append(("BBB", int((20 + 3 * math.cos(i / 5)) * S)))
    return out


@pytest.fixture(scope="module")
def journal(tmp_path_factory) -> Path:
    """A real run (core and paper broker) over 12 synthetic sessions of two symbols."""
    path = tmp_path_factory.mktemp("report") / "journal.db"
    stream, _ = synthetic_stream(bars(), per_session=20)
    run_engine(path, stream, CONFIG)
    return path


def report(journal: Path, out: Path, capsys, *extra: str) -> tuple[int, str, str]:
    code = main(["report", "--journal", str(journal), "--out", str(out), *extra])
    o, e = capsys.readouterr()
    return code, o, e


@pytest.fixture(scope="module")
def page(journal, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("page") / "report.html"
    assert main(["report", "--journal", str(journal), "--out", str(out)]) == 0
    return out.read_text()


def test_prints_the_path_and_size(journal, tmp_path, capsys):
    out = tmp_path / "r.html"
    code, stdout, stderr = report(journal, out, capsys)
    assert (code, stderr) == (0, "")
    assert stdout == f"wrote {out} ({out.stat().st_size} bytes)\n"


def test_the_page_parses_and_holds_every_chart_with_plotted_paths(page):
    tree = parse(page)
    assert tree.doctype.lower() == "doctype html"
    for chart in CHARTS:
        (fig,) = tree.root.find("figure", id=chart)
        (svg,) = fig.find("svg")
        paths = [p for p in svg.find("path") if p.attrs.get("d")]
        assert len(paths) > 10, chart
    series = {
        "chart-equity": f"stroke: {COLORS[0]}",
        "chart-exposure": f"stroke: {COLORS[1]}",
        "chart-drawdown": "fill: #e6b3b3",
    }
    for chart, style in series.items():
        drawn = [
            p.attrs["d"]
            for p in tree.root.find("figure", id=chart)[0].find("path")
            if style in p.attrs.get("style", "")
        ]
        assert drawn and drawn[0].count(" L ") >= 11, chart  # 12 sessions: a real series, not an empty frame
    for chart in ("chart-tca-is", "chart-tca-spread"):
        bars_ = [
            p
            for p in tree.root.find("figure", id=chart)[0].find("path")
            if f"fill: {COLORS[0]}" in p.attrs.get("style", "")
        ]
        assert len(bars_) >= 3, chart  # histogram bars
    ids = [n.attrs["id"] for n in tree.root.walk() if "id" in n.attrs]
    assert len(ids) == len(set(ids))  # several inline SVGs, no clashing ids


def test_the_page_loads_nothing_from_outside(page):
    tree = parse(page)
    for node in tree.root.walk():
        assert node.tag not in ("script", "link", "iframe", "object", "embed", "base"), node.tag
        for name, value in node.attrs.items():
            if name in LOADING_ATTRS:
                assert value.startswith(("#", "data:")), (node.tag, name, value)
            if name.startswith("on"):
                raise AssertionError(f"event handler {name} on <{node.tag}>")
            if "http:" in value or "https:" in value or "//" in value:
                assert name.startswith("xmlns"), (node.tag, name, value)  # namespace names load nothing
            if name == "style":
                assert "url(" not in value.replace("url(#", "") and "@import" not in value
    styles = "".join(n.all_text() for n in tree.root.find("style"))
    assert "@import" not in styles and "url(" not in styles.replace("url(#", "")
    assert "http" not in styles


def test_the_same_journal_gives_the_same_bytes_in_any_process(journal, tmp_path, capsys, page):
    a, b = tmp_path / "a.html", tmp_path / "b.html"
    assert report(journal, a, capsys)[0] == 0
    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    proc = subprocess.run(
        [sys.executable, "-m", "engine.cli", "report", "--journal", str(journal), "--out", str(b)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert a.read_bytes() == b.read_bytes() == page.encode()


def test_matplotlib_settings_made_elsewhere_neither_change_the_page_nor_are_changed(journal, tmp_path, capsys, page):
    import matplotlib as mpl

    out = tmp_path / "rc.html"
    with mpl.rc_context({"lines.linewidth": 7.0, "font.size": 20.0, "svg.hashsalt": "other", "svg.fonttype": "none"}):
        assert report(journal, out, capsys)[0] == 0
        assert (mpl.rcParams["lines.linewidth"], mpl.rcParams["svg.hashsalt"]) == (7.0, "other")
    assert out.read_text() == page


def test_the_header_names_the_run_and_counts_orders_fills_and_blocks(journal, page):
    tree = parse(page)
    (facts_table,) = tree.root.find("table", **{"class": "facts"})
    facts = {r.find("th")[0].all_text(): r.find("td")[0].all_text() for r in facts_table.find("tr")}
    run = next(e for _, e in read_events(journal) if type(e).__name__ == "RunStarted")
    assert facts["run id"] == run.run_id
    assert facts["dataset"] == run.dataset
    assert facts["config hash"] == run.config_hash
    assert facts["code version"] == run.code_version
    assert facts["period"].startswith("2030-01-01 to 2030-01-12")
    snap = build(journal)
    counts = {
        r.find("td")[0].all_text(): int(r.find("td")[1].all_text())
        for r in tree.root.find("table", id="counts-table")[0].find("tbody")[0].find("tr")
    }
    fills = sum(1 for _, e in read_events(journal) if isinstance(e, (OrderFilled, OrderPartiallyFilled)))
    assert counts["orders"] == len(snap.orders) > 5
    assert counts["fills"] == fills > counts["orders"] // 2
    assert counts["expired"] == sum(1 for o in snap.orders if o.status == "EXPIRED")
    tca = load_tca(journal)
    assert counts["blocks (reasons of decisions a control held back, pre-trade blocks)"] == tca.blocks.height > 0
    assert set(tca.blocks["reason"]) == {"EVENT_BLACKOUT"}  # ALREADY_AT_TARGET skips are not blocks
    blocks = tree.root.find("table", id="blocks-table")[0].find("tbody")[0].find("tr")
    assert sum(int(r.find("td")[3].all_text()) for r in blocks) == tca.blocks.height
    pnl = {
        r.find("td")[0].all_text(): r.find("td")[4].all_text()
        for r in tree.root.find("table", id="pnl-table")[0].find("tbody")[0].find("tr")
    }
    assert pnl["TOTAL"] == f"{snap.pnl.total.net / S:,.2f}"


def _cells(tree: Tree) -> tuple[list[str], dict[str, dict[str, str]]]:
    (table,) = tree.root.find("table", id="orders-table")
    headers = [th.all_text() for th in table.find("th")]
    rows = {}
    for tr in table.find("tbody")[0].find("tr"):
        cells = [td.all_text() for td in tr.find("td")]
        rows[tr.attrs["id"].removeprefix("order-")] = dict(zip(headers, cells, strict=True))
    return headers, rows


def test_the_trade_table_has_one_row_per_order_with_its_costs(journal, page):
    _, rows = _cells(parse(page))
    submitted = [e.client_order_id for _, e in read_events(journal, [OrderSubmitRequested])]
    assert list(rows) == list(dict.fromkeys(submitted))
    snap = {o.client_order_id: o for o in build(journal).orders}
    # one fully filled order, its figures rebuilt from the journal: the decision price is the symbol's
    # last close journaled before the decision, IS = side x (vwap - decision price) x qty + fees
    cid = next(c for c, o in snap.items() if o.status == "FILLED")
    order, row = snap[cid], rows[cid]
    last_close: dict[str, int] = {}
    decision_price = None
    fills = []
    for _, e in read_events(journal):
        if isinstance(e, BarClosed):
            last_close[e.symbol] = e.close
        elif isinstance(e, DecisionMade) and decision_price is None and e.decision_id == _decision_of(journal, cid):
            decision_price = last_close[e.symbol] / S
        elif isinstance(e, (OrderFilled, OrderPartiallyFilled)) and e.client_order_id == cid:
            fills.append(e)
    qty = order.qty / S
    vwap = sum(f.fill_qty * f.fill_price for f in fills) / sum(f.fill_qty for f in fills) / S
    fees = sum(f.fee for f in fills) / S
    side = 1 if order.side == "buy" else -1
    is_bps = (side * (vwap - decision_price) * qty + fees) / (qty * decision_price) * 10_000
    assert (row["symbol"], row["side"], row["status"]) == (order.symbol, order.side, "FILLED")
    assert (row["qty"], row["filled"], row["fills"]) == (f"{qty:g}", f"{qty:g}", str(len(fills)))
    assert row["decision px"] == f"{decision_price:,.4f}"
    assert row["fill vwap"] == f"{order.avg_fill_price / S:,.4f}" == f"{vwap:,.4f}"
    assert row["IS bps"] == f"{is_bps:,.2f}"
    parts = sum(float(row[k]) for k in ("delay bps", "exec bps", "fees bps", "opp bps"))
    assert parts == pytest.approx(float(row["IS bps"]), abs=0.03)


def _decision_of(journal: Path, cid: str) -> str:
    from journal_schema.events import OrderIntentCreated

    return next(e.decision_id for _, e in read_events(journal, [OrderIntentCreated]) if e.client_order_id == cid)


def test_final_equity_is_capital_plus_net_pnl_and_drawdown_is_never_positive(journal, page):
    frame = equity_frame(journal)
    capital = capital_of(next(e for _, e in read_events(journal) if type(e).__name__ == "RunStarted").config)
    net = build(journal).pnl.total.net
    assert frame["equity"][-1] == capital + net
    assert frame["drawdown"].max() <= 0.0 < frame.height
    assert frame["drawdown"].min() < 0.0  # the synthetic prices swing: there is a drawdown to draw
    tree = parse(page)
    cards = {
        c.find("span")[0].all_text(): c.find("b")[0].all_text() for c in tree.root.find("div", **{"class": "card"})
    }
    assert cards["final equity"] == f"{(capital + net) / S:,.2f}"
    assert cards["max drawdown"] == f"{frame['drawdown'].min() * 100:.2f}%"


def test_at_gives_the_report_as_of_that_sequence_number(journal, tmp_path, capsys):
    out = tmp_path / "at.html"
    at = build(journal).seq // 2
    assert report(journal, out, capsys, "--at", str(at))[0] == 0
    tree = parse(out.read_text())
    (facts,) = tree.root.find("table", **{"class": "facts"})
    assert f"as of seq {at}" in facts.all_text()
    _, rows = _cells(tree)
    assert len(rows) == load_tca(journal, at=at).orders.height < load_tca(journal).orders.height


def test_a_journal_without_orders_still_gives_a_page_that_says_so(tmp_path, capsys):
    path = tmp_path / "quiet.db"
    stream, _ = synthetic_stream([("AAA", 10 * S)] * 3, per_session=3)  # fewer bars than the slow average
    run_engine(path, stream, CONFIG)
    out = tmp_path / "quiet.html"
    assert report(path, out, capsys)[0] == 0
    page = out.read_text()
    tree = parse(page)
    for chart in CHARTS:
        assert len(tree.root.find("figure", id=chart)) == 1
    assert tree.root.find("table", id="orders-table") == []
    assert "The journal has no orders" in page
    assert tree.root.find("figure", id="chart-equity")[0].find("svg")  # equity is still drawn


def test_text_from_the_journal_is_escaped(tmp_path, capsys):
    evil = msgspec.structs.replace(run_started(), dataset='<script src="https://x.example/a.js"></script>&')
    path = write_journal(tmp_path / "evil.db", [[evil]])
    out = tmp_path / "evil.html"
    assert report(path, out, capsys)[0] == 0
    page = out.read_text()
    assert "<script" not in page
    assert "&lt;script src=&quot;https://x.example/a.js&quot;&gt;&lt;/script&gt;&amp;" in page
    assert "No bars or sessions in the journal" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--journal", "{tmp}/missing.db", "--out", "{tmp}/r.html"], "missing.db"),
        (["--journal", "{journal}", "--out", "{tmp}/no/such/dir/r.html"], "cannot write"),
        (["--journal", "{journal}", "--out", "{tmp}"], "is a directory"),
        (["--journal", "{journal}", "--out", "{tmp}/r.html", "--at", "0"], "--at must be"),
        (["--journal", "{journal}", "--out", "{tmp}/r.html", "--at", "99999999"], "beyond the end"),
    ],
)
def test_input_errors_are_one_line_and_exit_2(journal, tmp_path, capsys, args, message):
    argv = [a.format(tmp=tmp_path, journal=journal) for a in args]
    code = main(["report", *argv])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("engine report: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "r.html").exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_an_out_file_that_is_not_a_regular_file_is_exit_2(journal, capsys):
    code = main(["report", "--journal", str(journal), "--out", "/dev/full"])  # a device is never written
    err = capsys.readouterr().err
    assert code == 2 and err == "engine report: error: cannot write /dev/full: it is a device\n"


def test_the_svg_charts_carry_no_date_or_metadata(page):
    assert "<metadata" not in page and "<?xml" not in page and "DOCTYPE svg" not in page
    assert not re.search(r"\b(19|20)\d\d-\d\d-\d\dT\d\d:\d\d", page)  # no timestamp of when it was made
