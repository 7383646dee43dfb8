"""What-if replay: a recorded journal's market inputs under another config, on real journals."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from engine.broker.paper import PaperBroker, cost_model
from engine.cli import main
from engine.config import resolve
from engine.feeds.calendar import load_sessions
from engine.journal import read_events, unwrap
from engine.runner import historical_run
from engine.shell import Engine
from journal_schema.codec import decode_topic
from journal_schema.events import BarClosed, BarRejected, Event, OrderFilled, RunEnded, RunStarted, SessionClosed
from journal_schema.run_events import RunManifest
from projections import build
from replay import replay_journal
from replay.compare import comparison_dict
from replay.whatif import MARKET_INPUTS, WhatIfResult, comparison_path, whatif
from tests.stores import fresh_table, needs_pg, pg_url
from tests.support import SCALE, run_started, stored, synthetic_stream

BASE: dict[str, Any] = {
    "strategy": {"fast": 3, "slow": 8, "qty": 10, "long_only": False},
    "risk": {"policy": {"min_liquidity_score": "0"}},
}


def toml(path: Path, text: str = "") -> Path:
    path.write_text(text)
    return path


BASE_TOML = '[strategy]\nfast = 3\nslow = 8\nqty = 10\nlong_only = false\n[risk.policy]\nmin_liquidity_score = "0"\n'


def daily_bars(path: Path, days: int) -> Path:
    """Daily AAPL and MSFT bars stamped at the close of ``days`` XNYS sessions from 2024-01-03:
    two sine waves of different periods with a little deterministic noise, 1M shares a day."""
    sessions = load_sessions("XNYS", date(2024, 1, 2), date(2024, 12, 31))
    rows = ["timestamp,symbol,open,high,low,close,volume"]
    prev: dict[str, float] = {}
    for i, close_ns in enumerate(sessions.closes[1 : days + 1].tolist()):
        stamp = datetime.fromtimestamp(close_ns // 10**9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for sym, base, amp, phase, period in (("AAPL", 100.0, 10.0, 0.0, 5.0), ("MSFT", 50.0, 5.0, 1.3, 3.0)):
            c = round(base + amp * math.sin(i / period + phase) + ((i * 7919 + len(sym)) % 13 - 6) * 0.15, 2)
            o = prev.get(sym, c)
            prev[sym] = c
            rows.append(f"{stamp},{sym},{o:.2f},{max(o, c) + 0.5:.2f},{min(o, c) - 0.5:.2f},{c:.2f},1000000")
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A backtest of 120 sessions of two symbols, long and short."""
    d = tmp_path_factory.mktemp("whatif")
    cfg, snap = resolve(BASE)
    historical_run(cfg, snap, d / "recorded.db", bars=daily_bars(d / "bars.csv", 120))
    return d / "recorded.db"


def run_whatif(source: Path, out: Path, raw: dict[str, Any]) -> WhatIfResult:
    cfg, snap = resolve(raw)
    return whatif(source, cfg, snap, out)


def with_risk(**policy: object) -> dict[str, Any]:
    return {**BASE, "risk": {"policy": {"min_liquidity_score": "0", **policy}}}


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["replay", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def payloads(path: Path) -> list[tuple[str, bytes]]:
    """(topic, event bytes) of every record, without the chain hash."""
    return [(topic, bytes(unwrap(state)[1])) for _, topic, state in stored(path)]


def zero(v: object) -> bool:
    if isinstance(v, dict):
        return all(zero(x) for x in v.values())
    return v in (0, 0.0, "0.00000000", None)


def test_same_config_reproduces_every_recorded_event_but_the_run_header(recorded: Path, tmp_path: Path) -> None:
    result = run_whatif(recorded, tmp_path / "w.db", BASE)
    old, new = payloads(recorded), payloads(tmp_path / "w.db")
    assert len(old) == len(new) == result.run.last_seq
    assert old[0][0] == new[0][0] == "RunStarted.v1" and old[-1][0] == new[-1][0] == "RunEnded.v1"
    assert old[1][0] == new[1][0] == "RunManifest.v1"  # the header: RunStarted and RunManifest
    assert old[0] != new[0] and old[1] != new[1] and old[2:-1] == new[2:-1]  # every decision and fill, byte for byte
    manifest = decode_topic(*new[1])
    assert isinstance(manifest, RunManifest) and manifest.datasets[0].name == "whatif:recorded.db"
    c = result.comparison
    assert c.recorded.figures == c.what_if.figures
    assert c.recorded.figures.orders > 5 and c.recorded.figures.fills == c.recorded.figures.orders
    assert c.recorded.config_hash == c.what_if.config_hash
    assert zero(comparison_dict(c)["difference"])


def test_the_new_run_started_records_the_new_config_and_the_source_dataset(recorded: Path, tmp_path: Path) -> None:
    raw = {**BASE, "paper": {"half_spread_bps": "30"}}
    result = run_whatif(recorded, tmp_path / "w.db", raw)
    source = next(ev for _, ev in read_events(recorded, (RunStarted,)))
    ((_, rs),) = read_events(tmp_path / "w.db", (RunStarted,))
    assert isinstance(source, RunStarted) and isinstance(rs, RunStarted)
    _, snap = resolve(raw)
    assert rs.config == snap and rs.config_hash != source.config_hash
    assert rs.dataset == "whatif:recorded.db" and rs.dataset_fingerprint == source.dataset_fingerprint
    assert rs.mode == "backtest" and rs.config["broker"]["kind"] == "sim"
    assert rs.run_id == result.run.run_id != source.run_id
    assert rs.ts == source.ts and rs.universe == source.universe


def test_more_cost_gives_a_higher_shortfall_and_a_lower_net(recorded: Path, tmp_path: Path) -> None:
    result = run_whatif(recorded, tmp_path / "w.db", {**BASE, "paper": {"half_spread_bps": "30"}})
    c, diff = result.comparison, result.comparison.difference
    assert c.what_if.figures.orders == c.recorded.figures.orders  # the same trades at worse prices
    assert diff.shortfall.mean is not None and diff.shortfall.p50 is not None
    assert diff.shortfall.mean > 20 and diff.shortfall.p50 > 20  # 28 bps more half-spread on every fill
    assert diff.net < 0 and diff.fees == 0


def test_a_blocking_rule_raises_the_blocked_share(recorded: Path, tmp_path: Path) -> None:
    raw = {**BASE, "risk": {"allowlist": ["MSFT"], "policy": {"min_liquidity_score": "0"}}}
    result = run_whatif(recorded, tmp_path / "w.db", raw)
    c = result.comparison
    assert "SYMBOL_NOT_ALLOWED" not in c.recorded.figures.blocked_share
    assert c.difference.blocked_share["SYMBOL_NOT_ALLOWED"] == c.what_if.figures.blocked_share["SYMBOL_NOT_ALLOWED"] > 0
    assert {o.symbol for o in build(tmp_path / "w.db").orders} == {"MSFT"}
    assert {o.symbol for o in build(recorded).orders} == {"AAPL", "MSFT"}


def test_a_tighter_correlation_rule_holds_more_decisions_for_review(recorded: Path, tmp_path: Path) -> None:
    result = run_whatif(recorded, tmp_path / "w.db", with_risk(max_correlation="-1"))
    c = result.comparison
    before = c.recorded.figures.blocked_share.get("HIGH_CORRELATION", 0.0)
    assert c.what_if.figures.blocked_share["HIGH_CORRELATION"] > before
    assert c.what_if.figures.orders < c.recorded.figures.orders


def test_figures_are_defined_as_documented(recorded: Path, tmp_path: Path) -> None:
    f = run_whatif(recorded, tmp_path / "w.db", BASE).comparison.what_if.figures
    events = [ev for _, ev in read_events(recorded)]
    by_type = {t: [e for e in events if type(e).__name__ == t] for t in ("SessionOpened", "OrderSubmitRequested")}
    assert f.sessions == len(by_type["SessionOpened"]) == 120
    assert f.trades_per_day == f.orders / f.sessions
    assert f.flip_rate is not None and 0 < f.flip_rate <= 1  # long and short: most orders reverse
    assert f.shortfall.orders == f.orders and f.shortfall.p50 is not None and f.shortfall.p95 is not None
    assert f.shortfall.p50 <= f.shortfall.p95
    snap = build(recorded).pnl.total
    assert (f.realized, f.unrealized, f.fees, f.net) == (snap.realized, snap.unrealized, snap.fees, snap.net)


def test_a_long_only_strategy_never_flips(recorded: Path, tmp_path: Path) -> None:
    raw = {**BASE, "strategy": {**BASE["strategy"], "long_only": True}}
    c = run_whatif(recorded, tmp_path / "w.db", raw).comparison
    assert c.recorded.figures.flip_rate is not None and c.recorded.figures.flip_rate > 0.5
    assert c.what_if.figures.flip_rate == 0.0 and c.what_if.figures.orders > 0
    assert c.difference.flip_rate == -c.recorded.figures.flip_rate


def test_the_what_if_journal_verifies_and_replays_byte_identically(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_whatif(recorded, tmp_path / "w.db", with_risk(max_correlation="-1"))
    assert main(["verify", str(tmp_path / "w.db")]) == 0
    capsys.readouterr()
    code, out, _ = cli(capsys, "--from", str(tmp_path / "w.db"))
    assert code == 0 and out.startswith("identical:") and out.strip().endswith(result.run.digest)
    assert replay_journal(tmp_path / "w.db").digest == result.run.digest


def test_cli_prints_the_table_and_writes_the_json_next_to_the_journal(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = toml(tmp_path / "c.toml", BASE_TOML + "[paper]\nhalf_spread_bps = 30\n")
    out_db = tmp_path / "w.db"
    code, out, err = cli(capsys, "--from", str(recorded), "--config", str(cfg), "--out", str(out_db))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("what-if run run-") and lines[0].endswith("on whatif:recorded.db: END_OF_DATA")
    assert f"comparison  {out_db}.comparison.json" in out
    header = next(i for i, line in enumerate(lines) if line.startswith("figure"))
    assert lines[header].split() == ["figure", "recorded", "what-if", "difference"]
    rows = {line[: lines[header].index("recorded")].strip(): line.split()[-3:] for line in lines[header + 2 :]}
    assert rows["orders"][2] == "0" and float(rows["IS mean (bps)"][2]) > 20
    saved = json.loads(comparison_path(out_db).read_text())
    assert set(saved) == {"journals", "recorded", "what_if", "difference"}
    assert saved["journals"]["what_if"]["path"] == str(out_db)
    assert saved["difference"]["implementation_shortfall_bps"]["mean"] > 20
    assert isinstance(saved["recorded"]["net"], str)  # money as exact decimal strings
    code, out, _ = cli(
        capsys, "--from", str(recorded), "--config", str(cfg), "--out", str(out_db), "--replace", "--format", "json"
    )
    assert code == 0 and json.loads(out) == saved == json.loads(comparison_path(out_db).read_text())


def test_a_narrower_universe_rejects_the_other_symbols_bars_at_the_edge(recorded: Path, tmp_path: Path) -> None:
    result = run_whatif(recorded, tmp_path / "w.db", {**BASE, "run": {"universe": ["MSFT"]}})
    bars = [ev for _, ev in read_events(recorded, (BarClosed,))]
    aapl = [ev for ev in bars if isinstance(ev, BarClosed) and ev.symbol == "AAPL"]
    rejected = [ev for _, ev in read_events(tmp_path / "w.db", (BarRejected,))]
    assert len(rejected) == len(aapl) == result.run.stats.rejected["UNKNOWN_SYMBOL"] == 120
    assert all(isinstance(r, BarRejected) and r.raw.symbol == "AAPL" and r.source_row == 0 for r in rejected)
    assert result.run.stats.bars_read == 240 and result.run.stats.bars_accepted == 120
    assert {o.symbol for o in build(tmp_path / "w.db").orders} == {"MSFT"}


def _two_segment_journal(path: Path) -> list[Event]:
    """A journal of two starts (as a paper run resumed): each RunStarted, then its sessions, bars and
    the broker's reports. Returns the market inputs."""
    closes = [100 * SCALE + int(8 * SCALE * math.sin(i / 4)) for i in range(120)]
    inputs, _ = synthetic_stream([(("AAA", "BBB")[i % 2], c) for i, c in enumerate(closes)], per_session=20)
    cut = next(i for i, ev in enumerate(inputs) if isinstance(ev, SessionClosed) and i > len(inputs) // 2) + 1
    raw = {**BASE, "run": {"calendar": "SYN", "universe": ["AAA", "BBB"]}, "broker": {"kind": "venue"}}
    cfg, _ = resolve(raw)
    first = msgspec.structs.replace(run_started(raw), mode="paper", dataset="venue; bars 1Min", run_id="run-a")
    second = msgspec.structs.replace(
        first, ts=inputs[cut].ts - 1, run_id="run-b", dataset_fingerprint="f" * 64, dataset="venue, again"
    )
    for header, part in ((first, inputs[:cut]), (second, inputs[cut:])):
        engine = Engine.open(path, batch=64)
        closes_ts = [e.ts for e in part if isinstance(e, SessionClosed)]
        engine.broker = PaperBroker(cost_model(cfg.paper), cfg.run.seed, header.universe, closes_ts)
        for ev in (header, *part):
            engine.feed(ev)
        engine.feed(RunEnded(ts=part[-1].ts, run_id=header.run_id, reason="INTERRUPTED"))
        engine.close()
    return inputs


def test_a_journal_of_several_runs_replays_its_market_inputs_under_the_first_header(tmp_path: Path) -> None:
    inputs = _two_segment_journal(tmp_path / "paper.db")
    starts = [ev for _, ev in read_events(tmp_path / "paper.db", (RunStarted,))]
    assert len(starts) == 2
    result = run_whatif(tmp_path / "paper.db", tmp_path / "w.db", {**BASE, "run": {"calendar": "SYN"}})
    new = tmp_path / "w.db"
    ((_, rs),) = read_events(new, (RunStarted,))
    assert isinstance(rs, RunStarted) and isinstance(starts[0], RunStarted)
    assert rs.mode == "backtest" and rs.dataset == "whatif:paper.db"
    assert rs.dataset_fingerprint == starts[0].dataset_fingerprint and rs.universe == ["AAA", "BBB"]
    assert [ev for _, ev in read_events(new, MARKET_INPUTS)] == inputs
    fills = [ev for _, ev in read_events(new, (OrderFilled,))]
    assert fills and len(fills) == result.comparison.what_if.figures.fills
    assert result.comparison.what_if.figures.sessions == result.comparison.recorded.figures.sessions == 6
    assert replay_journal(new).identical


def test_a_config_asking_for_another_broker_is_refused(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = toml(tmp_path / "c.toml", '[run]\nuniverse = ["AAPL"]\n[broker]\nkind = "venue"\n')
    code, _, err = cli(capsys, "--from", str(recorded), "--config", str(cfg), "--out", str(tmp_path / "w.db"))
    assert code == 2 and err.count("\n") == 1 and "broker.kind is 'venue'" in err
    assert not (tmp_path / "w.db").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--from", "{d}/missing.db", "--config", "{d}/c.toml", "--out", "{d}/w.db"],
            "journal not found: {d}/missing.db",
        ),
        (["--from", "{src}", "--config", "{d}/c.toml", "--out", "{src}"], "is the source journal"),
        (["--from", "{src}", "--config", "{d}/c.toml"], "--config and --out go together"),
        (["--from", "{src}", "--out", "{d}/w.db"], "--config and --out go together"),
        (
            ["--from", "{src}", "--config", "{d}/c.toml", "--out", "{d}/exists.db"],
            "exists.db is an empty file (0 bytes), not a journal",
        ),
        (["--from", "{src}", "--replace"], "--replace and --format are for a what-if replay"),
        (["--from", "{src}", "--format", "json"], "--replace and --format are for a what-if replay"),
        (
            ["--from", "{src}", "--config", "{d}/cal.toml", "--out", "{d}/w.db"],
            "run.calendar is '24/7' but the journal's",
        ),
        (
            ["--from", "{d}/c.toml", "--config", "{d}/c.toml", "--out", "{d}/w.db"],
            "c.toml is not a journal (not an SQLite database)",
        ),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    toml(tmp_path / "c.toml", BASE_TOML)
    toml(tmp_path / "cal.toml", '[run]\ncalendar = "24/7"\n')
    toml(tmp_path / "exists.db", "")
    subst = {"d": str(tmp_path), "src": str(recorded)}
    code, out, err = cli(capsys, *(a.format(**subst) for a in argv))
    assert code == 2 and out == ""
    assert err.startswith("engine replay: error: ") and err.count("\n") == 1
    assert message.format(**subst) in err
    assert not (tmp_path / "w.db").exists()


def test_an_existing_out_is_replaced_with_replace(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = toml(tmp_path / "c.toml", BASE_TOML)
    out_db = tmp_path / "w.db"
    run_whatif(recorded, out_db, with_risk(max_correlation="-1"))
    code, out, err = cli(
        capsys, "--from", str(recorded), "--config", str(cfg), "--out", str(out_db), "--replace", "--format", "json"
    )
    assert code == 0, err
    assert zero(json.loads(out)["difference"])  # the same config as the recorded run this time
    assert payloads(out_db)[2:-1] == payloads(recorded)[2:-1]  # all but the header (RunStarted, RunManifest)


@needs_pg
def test_a_what_if_writes_its_journal_to_postgres_and_the_comparison_to_the_working_directory(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = toml(tmp_path / "c.toml", BASE_TOML)
    monkeypatch.chdir(tmp_path)
    with fresh_table() as table:
        url = pg_url(table)
        code, out, err = cli(capsys, "--from", str(recorded), "--config", str(cfg), "--out", url, "--format", "json")
        assert code == 0, err
        assert zero(json.loads(out)["difference"])  # the recorded run's config: nothing differs
        assert json.loads((tmp_path / f"{table}.comparison.json").read_text()) == json.loads(out)
        assert payloads(url)[2:-1] == payloads(recorded)[2:-1]  # all but the header: the same records on Postgres
        code, _, err = cli(capsys, "--from", str(recorded), "--config", str(cfg), "--out", url)
        assert code == 2 and "already holds" in err and "--replace" in err
        code, _, err = cli(capsys, "--from", url, "--config", str(cfg), "--out", url.replace("127.0.0.1", "localhost"))
        assert code == 2 and "is the source journal" in err
        assert main(["verify", url]) == 0
