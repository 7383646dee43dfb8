"""``CycleCompleted``: what one live cycle did, journaled unless the cycle was idle."""

from __future__ import annotations

import logging

from engine.alpaca.client import CallStats
from engine.live.context import Context, Tally
from journal_schema.live_events import CycleCompleted

log = logging.getLogger("engine.live")


def summarize_cycle(
    ctx: Context, before: CallStats, run_id: str, cycle: int, tally: Tally, backoff: float
) -> CallStats:
    """Journal ``CycleCompleted`` unless the cycle was idle (nothing came in, nothing failed, no
    429); broker counters cover every cycle since the last one journaled. Returns the broker
    counters the next summary counts from."""
    after = ctx.broker.stats()
    waited_ms = round((after.waited_seconds - before.waited_seconds) * 1000)
    lockouts = after.lockouts - before.lockouts
    errors = _delta(before.by_category, after.by_category)
    if tally.idle and not lockouts and not errors and not backoff:
        return before
    book = ctx.engine.state.orders
    summary = CycleCompleted(
        ts=ctx.now,
        run_id=run_id,
        cycle=cycle,
        bars=tally.bars,
        reports=tally.reports,
        intents=dict(sorted(tally.intents.items())),
        errors=errors,
        broker_calls=after.calls - before.calls,
        rate_limited=after.rate_limited - before.rate_limited,
        lockouts=lockouts,
        locked_ms=round(after.locked_for * 1000),
        waited_ms=waited_ms,
        backoff_ms=round(backoff * 1000),
        pending_lookups=len(book.with_status("SUBMIT_REQUESTED")),
        open_orders=len(book.with_status("ACCEPTED", "PARTIALLY_FILLED")),
    )
    ctx.input(summary)
    log.info(
        "cycle %d: %d bar(s), %d report(s), intents %s, errors %s, waited %d ms, backoff %d ms",
        cycle,
        tally.bars,
        tally.reports,
        dict(tally.intents) or "{}",
        errors or "{}",
        waited_ms,
        summary.backoff_ms,
    )
    return after


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Broker calls that did not succeed in this cycle, by category (retried attempts included)."""
    return {k: after[k] - before.get(k, 0) for k in sorted(after) if after[k] != before.get(k, 0)}
