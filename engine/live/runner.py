"""``engine run --broker venue|alpaca``: the long-running journal writer against a real broker API.

Start: open the journal (folding it rebuilds the core), journal ``RunStarted`` and ``RunManifest`` for the
new segment, reconcile with the broker (``engine.live.sync.reconcile``; retried until the broker answers),
and perform the resubmissions the core asked for. Then one cycle per poll interval:

1. read the broker clock (the time of every observation the shell journals);
2. journal what the broker says about our open and unanswered orders;
3. journal the session boundaries the clock has passed (so lookups are decided in the broker's
   session), then poll bars closed since the last journaled one and journal them with the session
   events around them; the core's decisions derive submit and cancel requests;
4. journal the session boundaries again;
5. commit (write-ahead), then submit each request of the cycle and journal the answer, or
   ``OrderSubmitUncertain`` when there is none (the next cycle looks the order up), and send each
   cancel request the broker has not taken yet (``OrderCancelAnswered``);
6. journal ``CycleCompleted`` (skipped for an idle cycle; its broker counters cover the cycles
   since the last one journaled) and commit.

A broker error is counted by category and the cycle goes on with what it has; a cycle with errors
backs off (doubling, up to 30 s) before the next. SIGINT / SIGTERM stop at the next input boundary:
``RunEnded(INTERRUPTED)``, commit, exit 0.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from engine.alpaca.client import AlpacaBroker
from engine.alpaca.errors import BrokerError
from engine.config import EngineConfig
from engine.core.orders import Order
from engine.feeds.calendar import Sessions, load_sessions
from engine.feeds.stream import SessionCursor, StreamStats
from engine.journal.address import JournalLike
from engine.kernel import RunCancelled, RunError, Segment, StopRequest, open_segment, run_segment
from engine.live.bars import Timeframe, bar_events, query_start, to_utc
from engine.live.breakers import Breakers
from engine.live.context import Context, Tally
from engine.live.crashpoints import CrashPoints
from engine.live.outcome import LiveResult, Resumed
from engine.live.setup import BrokerTarget, connect
from engine.live.submit import cancel, submit
from engine.live.summary import summarize_cycle
from engine.live.sync import reconcile, sync_orders
from engine.live.taxonomy import ACTIONS, classify
from engine.operator import InboxError, drain_inbox
from engine.redact import shown
from engine.shell import Engine
from journal_schema.events import SessionClosed, SessionOpened
from journal_schema.reasons import Dependency

log = logging.getLogger("engine.live")
MAX_BACKOFF = 30.0
SESSIONS_AHEAD = timedelta(days=400)
SESSIONS_BEHIND = timedelta(days=10)
SLICE = 0.05  # seconds: how often a sleep looks at the stop request
CALLS_PER_CYCLE = 3  # clock, open orders, bars: the calls of a cycle without lookups or submits


class LiveRunner:
    def __init__(
        self,
        cfg: EngineConfig,
        snapshot: dict[str, Any],
        journal: JournalLike,
        where: BrokerTarget,
        broker: AlpacaBroker,
        stop: StopRequest,
        *,
        crash: CrashPoints | None = None,
        cycles: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cfg, self.snapshot, self.where, self.stop = cfg, snapshot, where, stop
        self.crash = crash or CrashPoints()
        self.max_cycles = cycles
        self.sleep = sleep
        self.resumed = Resumed()
        self.engine = Engine.open(journal, observe=self.resumed.observe, encrypt=cfg.run.encrypt_journal)
        self.journal = shown(journal)  # no password
        self.ctx = Context(self.engine, broker, [*cfg.run.universe], breakers=Breakers.of(cfg.breakers.rule_tuples()))
        self.timeframe = Timeframe.parse(cfg.broker.timeframe)
        self.interval = float(cfg.broker.poll_interval_seconds)
        self.grace_ns = int(cfg.broker.session_close_grace_seconds * 1_000_000_000)
        self.run_id, self.cycle = "", 0
        self.cursor: SessionCursor | None = None
        self._stats = StreamStats()
        floor = CALLS_PER_CYCLE * 60 / cfg.broker.rate_limit_per_minute
        if self.interval < floor:
            log.warning(
                "broker.poll_interval_seconds %s is below what rate_limit_per_minute %d allows for about %d "
                "calls a cycle (%.2f s): cycles will wait for tokens",
                cfg.broker.poll_interval_seconds,
                cfg.broker.rate_limit_per_minute,
                CALLS_PER_CYCLE,
                floor,
            )
        self._last_stats = broker.stats()

    # --- lifecycle -------------------------------------------------------------------------

    def run(self) -> LiveResult:
        try:
            clock = self._until_answered(self.ctx.broker.clock, "CALENDAR")
            if clock is None:
                raise RunCancelled("stopped before the broker answered; nothing was journaled")
            self.ctx.now = clock.timestamp
            self._load_sessions()  # an unknown calendar fails here, before anything is journaled
            segment = self._segment()
        except BaseException:
            self.engine.close(failed=True)
            raise
        with run_segment(self.engine, segment, self.ctx.input, self.ctx.flush) as ending:
            self._started()
            ending.reason = self._run()
            ending.ts = self.ctx.now
        return self._result(ending.reason)

    def _run(self) -> str:
        self._cross_sessions()  # the core knows the broker's session before any lookup is decided
        self._drain_operator()
        log.info("run %s: %s, journal %s, reconciling", self.run_id, self.where.description, self.journal)
        done = self._until_answered(lambda: reconcile(self.ctx, self.run_id), "BROKER_READS")
        if done is None:
            return "INTERRUPTED"
        log.info(
            "reconciled: %d open order(s) checked, %d not found, %d mismatch(es), %d foreign",
            done.orders_checked,
            done.orders_not_found,
            done.mismatches,
            done.foreign,
        )
        self._perform()
        backoff = 0.0
        while not self.stop.requested:
            if self.max_cycles is not None and self.cycle >= self.max_cycles:
                return "CYCLE_LIMIT"
            self.cycle += 1
            backoff = self._cycle(backoff)
            self._nap(self.interval + backoff)
        return "INTERRUPTED"

    def _segment(self) -> Segment:
        """The new segment of this journal: the broker endpoint and timeframe are its dataset, and its
        run id depends on where in the journal and when (broker clock) it starts."""
        dataset = f"{self.where.description}; bars {self.timeframe.text}"
        segment = open_segment(
            self.cfg,
            self.snapshot,
            ts=self.ctx.now,
            dataset=dataset,
            fingerprint=hashlib.sha256(dataset.encode()).hexdigest(),
            universe=list(self.cfg.run.universe),
            run_id_parts=(self.engine.writer.last_seq, self.ctx.now),
        )
        self.run_id = segment.run_id
        return segment

    def _started(self) -> None:
        """After the segment's start is committed: journal shell errors from now on, and reopen the
        breakers that were open when the journal's last run stopped."""
        self.ctx.journaling = True
        wall = self.ctx.wall_ns()
        for dep, until in sorted(self.engine.state.risk.circuits.items()):
            self.ctx.breakers.restore(dep, wall + max(0, until - self.ctx.now))  # type: ignore[arg-type]
        if self.resumed.origin is None:
            self.resumed.origin = self.ctx.now

    def _until_answered(self, call: Callable[[], Any], dep: Dependency) -> Any:
        """Retry a call the run cannot start without, with backoff, until it answers or a stop."""
        wait = self.interval
        while not self.stop.requested:
            try:
                answer = call()
            except BrokerError as error:
                self.ctx.failed(error, dep)
                if ACTIONS[error.category] == "HALT_TRADING":  # waiting will not help: halted, and stop
                    self.ctx.flush()
                    hint = (
                        "check the API keys and the account"
                        if error.category == "AUTH"
                        else "trading is halted in the journal; see the log and docs/risk.md"
                    )
                    raise RunError(
                        f"the broker call failed with {error.category} ({error.kind}: {error.detail}); {hint}"
                    ) from None
                log.warning(
                    "broker not ready (%s %s: %s); again in %.1fs", error.category, error.kind, error.detail, wait
                )
                self.ctx.flush()
                self._nap(wait)
                wait = min(MAX_BACKOFF, 2 * wait)
            else:
                self.ctx.succeeded(dep)
                return answer
        return None

    def _nap(self, seconds: float) -> None:
        end = time.monotonic() + seconds  # shell: the poll interval is wall time
        while not self.stop.requested:
            left = end - time.monotonic()  # shell: the poll interval is wall time
            if left <= 0:
                return
            self.sleep(min(SLICE, left))

    # --- sessions --------------------------------------------------------------------------

    def _load_sessions(self) -> None:
        """Sessions from before the oldest bar still to poll (a restart catches up on what it missed)
        to well after the broker clock."""
        oldest = min([self.ctx.now, *self.resumed.last_close.values(), self.resumed.origin or self.ctx.now])
        first, day = to_utc(oldest).date(), to_utc(self.ctx.now).date()
        sessions = load_sessions(self.cfg.run.calendar, first - SESSIONS_BEHIND, day + SESSIONS_AHEAD)
        if self.cursor is None:
            self.cursor = self._resume_cursor(sessions)
        else:
            self.cursor.rebase(sessions)

    def _resume_cursor(self, sessions: Sessions) -> SessionCursor:
        state = self.engine.state
        if state.session is not None and state.session in sessions.labels:
            i = sessions.labels.index(state.session)
            return SessionCursor(sessions, i, i + 1)
        last = self.resumed.last_session
        if last is not None and last in sessions.labels:
            return SessionCursor(sessions, -1, sessions.labels.index(last) + 1)
        return SessionCursor.before(sessions, self.resumed.origin or self.ctx.now)

    def _sessions_cover_now(self) -> None:
        assert self.cursor is not None
        closes = self.cursor.sessions.closes
        if not len(closes) or int(closes[-1]) - self.ctx.now < 30 * 86_400 * 1_000_000_000:
            self._load_sessions()

    # --- one cycle -------------------------------------------------------------------------

    def _cycle(self, backoff: float) -> float:
        """One poll cycle; returns the backoff to wait (beyond the interval) before the next."""
        ctx = self.ctx
        ctx.tally = tally = Tally()
        self._stage: Dependency = "CALENDAR"
        try:
            self._cycle_steps()
        except Exception as exc:  # noqa: BLE001 - every shell exception is classified, journaled and acted on
            c = classify(exc)
            log.exception("cycle %d, %s stage: %s %s", self.cycle, self._stage, c.category, c.action)
            tally.errors[c.category] += 1
            ctx.fault(c, self._stage)
        backoff = min(MAX_BACKOFF, max(self.interval, 2 * backoff)) if tally.errors else 0.0
        self._summarize(tally, backoff)
        ctx.flush()
        return backoff

    def _cycle_steps(self) -> None:
        ctx = self.ctx
        clock = None
        if ctx.allow("CALENDAR"):
            try:
                clock = ctx.broker.clock()
            except BrokerError as error:
                ctx.failed(error, "CALENDAR")
            else:
                ctx.succeeded("CALENDAR")
        if clock is None:
            self._drain_operator()  # a kill switch is journaled even while the broker does not answer
            return
        ctx.now = max(ctx.now, clock.timestamp)
        self._drain_operator()
        self._sessions_cover_now()
        self._cross_sessions()
        self._stage = "BROKER_READS"
        if ctx.allow("BROKER_READS"):
            try:
                sync_orders(ctx, report_foreign=False)
            except BrokerError as error:
                ctx.failed(error, "BROKER_READS")
            else:
                ctx.succeeded("BROKER_READS")
        self.crash.hit("cycle.reports")
        self._stage = "MARKET_DATA"
        if ctx.allow("MARKET_DATA"):
            self._poll_bars()
        self._stage = "CALENDAR"
        self._cross_sessions()
        self._stage = "BROKER_SUBMIT"
        self._perform()

    def _drain_operator(self) -> None:
        """Journal the operator commands queued in ``<journal>.inbox`` (engine kill / resume / approve)
        at the broker clock, through ``ctx.input`` so the cancels a cancel-all derives are sent by
        this cycle's ``_perform``; each is committed before the inbox marks it. A broken inbox is
        logged, not fatal: the run goes on (and the commands are given again, or by a signal)."""
        try:
            done = drain_inbox(self.engine, self.ctx.now, apply=self.ctx.input)
        except InboxError as error:
            log.error("operator inbox not drained: %s", error)
            return
        for cmd, seq in done:
            log.info(
                "operator %s (command %s, actor %s): journaled at seq %d", cmd.kind, cmd.command_id, cmd.actor, seq
            )

    def _cross_sessions(self) -> None:
        """Journal the session opens and closes the broker clock has passed (closes ``grace`` late).
        Bars of a session closed this way that arrive later are journaled and seen by the strategy,
        but the core does not trade on them (SESSION_CLOSED). After a session close the books are
        reconciled with the broker again (session hygiene), when its reads are available."""
        assert self.cursor is not None
        closed = False
        for ev in self.cursor.cross(self.ctx.now - self.grace_ns):
            self.ctx.input(ev)
            closed = closed or type(ev) is SessionClosed
        if closed and self.cycle and self.ctx.allow("BROKER_READS"):  # at start the start-up one follows
            try:
                done = reconcile(self.ctx, self.run_id)
            except BrokerError as error:
                self.ctx.failed(error, "BROKER_READS")  # the next close, or the next start, tries again
            else:
                self.ctx.succeeded("BROKER_READS")
                log.info("session close reconciled: %d order(s), %d mismatch(es)", done.orders_checked, done.mismatches)

    def _poll_bars(self) -> None:
        ctx, cursor = self.ctx, self.cursor
        assert cursor is not None
        last = self.resumed.last_close
        origin = self.resumed.origin if self.resumed.origin is not None else ctx.now
        start = min(query_start(last.get(s, origin), self.timeframe) for s in ctx.universe)
        try:  # an idempotent read: the client retries a transient failure (read_retries)
            bars = ctx.broker.bars(ctx.universe, self.timeframe.text, start)
        except BrokerError as error:
            ctx.failed(error, "MARKET_DATA")
            return
        ctx.succeeded("MARKET_DATA")
        for s in ctx.universe:
            last.setdefault(s, origin)
        for ev in bar_events(bars, self.timeframe, cursor, ctx.universe, last, ctx.now, self._stats):
            if type(ev) not in (SessionOpened, SessionClosed):
                ctx.tally.bars += 1
            ctx.input(ev)

    def _perform(self) -> None:
        """Commit, then send every submit of the outbox and every cancel request not yet taken by the broker (write-
        ahead); then probe a due submit breaker nothing probed (nothing waits while it is open) by an account read."""
        ctx = self.ctx
        book = ctx.engine.state.orders

        def cancels() -> list[Order]:
            return [o for o in book.with_status("ACCEPTED", "PARTIALLY_FILLED") if o.cancel_state == "REQUESTED"]

        if ctx.outbox or cancels():
            ctx.flush()
            if ctx.engine.state.kill_switch:
                ctx.outbox.clear()  # never sent: each is looked up, found missing and resolved SKIPPED by the core
            while ctx.outbox and ctx.allow("BROKER_SUBMIT"):  # an open breaker keeps the rest for later
                cid, attempt = ctx.outbox.pop(0)
                submit(ctx, cid, attempt, self.crash)
            for order in cancels():  # after the submits: an order sent and then asked to cancel goes at once
                if not ctx.allow("BROKER_SUBMIT"):
                    break
                cancel(ctx, order, self.crash)
        ctx.probe("BROKER_SUBMIT", ctx.broker.account)

    def _result(self, reason: str) -> LiveResult:
        where = self.where.description
        return LiveResult.of(
            self.engine, journal=self.journal, run_id=self.run_id, target=where, cycles=self.cycle, reason=reason
        )

    def _summarize(self, tally: Tally, backoff: float) -> None:
        self._last_stats = summarize_cycle(self.ctx, self._last_stats, self.run_id, self.cycle, tally, backoff)


def live_run(
    cfg: EngineConfig,
    snapshot: dict[str, Any],
    journal: JournalLike,
    *,
    confirm_live: bool = False,
    cycles: int | None = None,
    replace: bool = False,
) -> LiveResult:
    """``engine run --broker venue|alpaca``: refuse unsafe starts, then run until stopped."""
    from engine.journal.store import JournalWriter

    where, broker = connect(cfg, confirm_live=confirm_live)
    crash = CrashPoints.from_env()
    if replace:
        JournalWriter(journal, replace=True).close()  # deleted under the writer lock, then reopened below
    stop = StopRequest()
    with stop.installed():
        return LiveRunner(cfg, snapshot, journal, where, broker, stop, crash=crash, cycles=cycles).run()
