"""Shared parts of the crash drill and the fault drill: a venue process, a bar file of real data,
engine processes, and the end-of-drill audit.

The audit (``audit``) is the proof the issue asks for, read from both sides:
- the venue's own order log shows no client order id accepted twice;
- every intent in the journal has exactly one outcome (``OrderIntentResolved``), and every order is
  terminal in the journal or open at the venue (none is left SUBMIT_REQUESTED, none is open in the
  journal but not at the venue, none is open at the venue but not in the journal);
- the journal's positions equal the venue's;
- ``engine verify`` and ``engine replay`` pass on the final journal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
AUTH = {"APCA-API-KEY-ID": "drill-key", "APCA-API-SECRET-KEY": "drill-secret"}
TERMINAL = {"FILLED", "CANCELED", "REJECTED", "EXPIRED", "FAILED", "REPLACED"}
SYMBOLS = ("AAPL", "MSFT")  # the universe of the drills


def workdir_for(given: Path | None, prefix: str) -> Path:
    """The drill's working directory: the one given, or a new temporary one."""
    workdir = given or Path(tempfile.mkdtemp(prefix=prefix))
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


def bar_file(path: Path, symbols: tuple[str, ...] = SYMBOLS, days: int = 300) -> Path:
    """The first ``days`` sessions of the bundled real daily bars of ``symbols`` as a CSV."""
    from engine.feeds.bundled import load_bundled
    from journal_schema.units import exact

    table, _ = load_bundled()
    frame = table.frame.filter(pl.col("reason").is_null() & pl.col("symbol").is_in(list(symbols))).sort("ts")
    stamps = sorted(set(frame["ts"].to_list()))[:days]
    frame = frame.filter(pl.col("ts").is_in(stamps))
    rows = [
        (
            datetime.fromtimestamp(r["ts"] / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            r["symbol"],
            *(exact(r[k]) for k in ("open", "high", "low", "close", "volume")),
        )
        for r in frame.iter_rows(named=True)
    ]
    pl.DataFrame(
        rows, schema=["timestamp", "symbol", "open", "high", "low", "close", "volume"], orient="row"
    ).write_csv(path)
    return path


def engine_config(path: Path, port: int, *, timeout: float = 0.5, extra: str = "") -> Path:
    path.write_text(f"""[run]
universe = ["AAPL", "MSFT"]
[strategy]
fast = 2
slow = 4
[broker]
kind = "venue"
venue_url = "http://127.0.0.1:{port}"
poll_interval_seconds = 0.05
rate_limit_per_minute = 6000
timeout_seconds = {timeout}
session_close_grace_seconds = 0
[risk.policy]
# the drills test the exactly-once protocol: AAPL and MSFT correlate, and a REVIEW nobody
# approves would leave the drill with few orders to crash around
max_correlation = "1"
{extra}""")
    return path


def _python_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    for name in ("ENGINE_CRASHPOINTS", "ENGINE_CRASHPOINT_SEED"):
        env.pop(name, None)
    return env


class Venue:
    """``engine venue`` as a separate process on a free port, its clock at ``speed`` simulated seconds
    per wall second or, without a speed, stepped by hand (``POST /venue/step``); ``config`` (TOML
    text, e.g. a ``[paper]`` section for its fill simulator) becomes its ``--config``."""

    def __init__(
        self,
        workdir: Path,
        bars: Path,
        *,
        speed: float | None = None,
        faults: dict[str, float],
        seed: int,
        hold: float = 1.0,
        retry_after: float = 1.0,
        config: str = "",
    ) -> None:
        self.port_file = workdir / "venue.port"
        self.port_file.unlink(missing_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "engine.cli",
            "venue",
            "--bars",
            str(bars),
            "--port",
            "0",
            "--port-file",
            str(self.port_file),
            "--db",
            str(workdir / "venue.db"),
            *(["--manual"] if speed is None else ["--speed", str(speed)]),
            "--fault-seed",
            str(seed),
            "--hold",
            str(hold),
            "--retry-after",
            str(retry_after),
        ]
        if config:
            (workdir / "venue.toml").write_text(config)
            cmd += ["--config", str(workdir / "venue.toml")]
        for kind, p in faults.items():
            cmd += ["--fault", f"{kind}={p}"]
        self.log = (workdir / "venue.log").open("w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=_python_env(), cwd=workdir)
        deadline = time.monotonic() + 30
        while not self.port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"venue did not start: {(workdir / 'venue.log').read_text()}")
            time.sleep(0.05)
        self.port = int(self.port_file.read_text())
        self.url = f"http://127.0.0.1:{self.port}"

    def call(self, method: str, path: str, body: object = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={**AUTH, "Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as answer:
            text = answer.read()
        return json.loads(text) if text else None

    def set_faults(self, probabilities: dict[str, float]) -> None:
        """Replace the fault probabilities (kinds not named: 0), keeping the seed and timings."""
        plan = self.call("GET", "/venue/faults")
        plan["probabilities"] = {k: probabilities.get(k, 0.0) for k in plan["probabilities"]}
        self.call("PUT", "/venue/faults", plan)

    def clear_faults(self) -> None:
        self.set_faults({})

    def run_out(self) -> None:
        """Replay the rest of the bar file at once (fills and expiries happen as usual)."""
        while not self.call("GET", "/venue/status")["exhausted"]:
            self.call("POST", "/venue/step")

    def open_orders(self) -> dict[str, str]:
        orders = self.call("GET", "/v2/orders?status=open&limit=500")
        return {o["client_order_id"]: o["status"] for o in orders}

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def start_engine(
    config: Path,
    journal: str | Path,
    log: Path,
    *,
    cycles: int | None = None,
    crashpoints: str = "",
    crash_seed: str = "0",
    replace: bool = False,
) -> subprocess.Popen[bytes]:
    """``engine run`` on ``journal`` (a SQLite path or a ``postgresql://`` URL; ``replace`` starts it
    afresh), its output appended to ``log``, in the log's directory."""
    cmd = [sys.executable, "-m", "engine.cli", "run", "--config", str(config), "--journal", str(journal)]
    if cycles is not None:
        cmd += ["--cycles", str(cycles)]
    if replace:
        cmd.append("--replace")
    env = _python_env()
    if crashpoints:
        env["ENGINE_CRASHPOINTS"], env["ENGINE_CRASHPOINT_SEED"] = crashpoints, crash_seed
    with log.open("ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=out, env=env, cwd=log.parent)


def engine_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True,
        text=True,
        env=_python_env(),
        timeout=300,
        check=False,
    )


@dataclass
class Audit:
    problems: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def audit(journal: str | Path, venue: Venue) -> Audit:
    """Both sides checked; ``journal`` is a SQLite path or a ``postgresql://`` URL."""
    from engine.journal import read_events
    from journal_schema.events import OrderIntentCreated, OrderIntentResolved
    from journal_schema.units import exact
    from projections import build

    result = Audit()
    log = venue.call("GET", "/venue/order-log")
    accepted = Counter(row["client_order_id"] for row in log if row["event"] == "accepted")
    twice = sorted(cid for cid, n in accepted.items() if n > 1)
    if twice:
        result.problems.append(f"client order ids accepted twice at the venue: {twice}")
    types: Counter[str] = Counter()
    resolved: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    intents: list[str] = []
    for _, ev in read_events(journal):
        name = type(ev).__name__
        types[name] += 1
        if isinstance(ev, OrderIntentCreated):
            intents.append(ev.client_order_id)
        elif isinstance(ev, OrderIntentResolved):
            resolved[ev.client_order_id] += 1
            outcomes[f"{ev.outcome}:{ev.reason}"] += 1
    if any(n > 1 for n in resolved.values()):
        result.problems.append(f"intents resolved more than once: {[c for c, n in resolved.items() if n > 1]}")
    unresolved = [cid for cid in intents if resolved[cid] == 0]
    if unresolved:
        result.problems.append(f"intents without an outcome (SUBMITTED / SKIPPED / FAILED): {unresolved}")
    snap = build(journal)
    venue_open = venue.open_orders()
    status = {o.client_order_id: o.status for o in snap.orders}
    for cid in intents:
        s = status[cid]
        if s not in TERMINAL and cid not in venue_open:
            result.problems.append(f"{cid} is {s} in the journal but not open at the venue")
    journal_open = {c for c, s in status.items() if s not in TERMINAL}
    for cid in sorted(set(venue_open) - journal_open):
        result.problems.append(f"{cid} is open at the venue but {status.get(cid, 'unknown')} in the journal")
    mine = {p.symbol: p.qty for p in snap.positions if p.qty}
    theirs = {s: _units(q) for s, q in venue.call("GET", "/venue/positions").items() if _units(q)}
    if mine != theirs:
        result.problems.append(f"positions differ: journal {mine}, venue {theirs}")
    verify, replay = engine_cli("verify", str(journal)), engine_cli("replay", "--from", str(journal))
    for name, done in (("verify", verify), ("replay", replay)):
        if done.returncode != 0:
            result.problems.append(f"engine {name} exit {done.returncode}: {done.stdout.strip()} {done.stderr.strip()}")
    status_counts = Counter(status[c] for c in intents)
    result.figures = {
        "intents": len(intents),
        "order_status": dict(sorted(status_counts.items())),
        "intent_outcomes": dict(sorted(outcomes.items())),
        "resubmits": types["OrderResubmitRequested"],
        "submit_uncertain": types["OrderSubmitUncertain"],
        "not_found_at_broker": types["OrderNotFoundAtBroker"],
        "cancel_requests": types["OrderCancelRequested"],
        "cancel_answers": types["OrderCancelAnswered"],
        "venue_canceled": sum(1 for row in log if row["event"] == "canceled"),
        "run_segments": types["RunStarted"],
        "clean_ends": types["RunEnded"],
        "alerts": types["AlertRaised"],
        "venue_accepted": sum(accepted.values()),
        "venue_duplicates_refused": sum(1 for row in log if row["event"] == "duplicate_refused"),
        "venue_partial_fills": sum(1 for row in log if row["event"] == "partially_filled"),
        "fills_journaled": types["OrderPartiallyFilled"] + types["OrderFilled"],
        "venue_faults": venue.call("GET", "/venue/status")["faults"],
        "positions": {s: exact(q) for s, q in mine.items()},
        "events": sum(types.values()),
        "replay": replay.stdout.strip(),
    }
    return result


def _units(text: str) -> int:
    from journal_schema.units import to_fixed

    return to_fixed(text)
