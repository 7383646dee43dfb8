"""The end-of-run summary, as text and as JSON (exact decimal strings, never floats)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.runner import RunResult
from journal_schema.units import exact, fmt_fixed, to_fixed

if TYPE_CHECKING:
    from engine.live.outcome import LiveResult


def data_problem(r: RunResult, universe: list[str]) -> str | None:
    """Why the run's data does not fit it, when more than half of its bars were rejected (rows of
    symbols a configured ``universe`` leaves out do not count) or a symbol the configured
    ``universe`` lists has no accepted bar: the reasons' histogram with the first row of each."""
    stats = r.stats
    why = []
    # rows of symbols the configured universe leaves out are chosen away, not bad data
    chosen_away = stats.rejected.get("UNKNOWN_SYMBOL", 0) if universe else 0
    bad, considered = stats.bars_rejected - chosen_away, stats.bars_read - chosen_away
    if bad * 2 > considered:
        of = " of the universe" if chosen_away else ""
        why.append(f"{bad} of {considered} bars{of} rejected, more than half")
    missing = [s for s in universe if s not in stats.symbols]
    if missing:
        why.append(f"no bars accepted for {', '.join(missing)} of the universe")
    if not why:
        return None
    reasons = [
        f"  {reason:<26} {n:>8}  e.g. row {stats.examples[reason][0]}: {stats.examples[reason][2]}"
        for reason, n in sorted(stats.rejected.items(), key=lambda item: (-item[1], item[0]))
    ]
    return "; ".join(why) + "".join(f"\n{line}" for line in reasons)


def summary_dict(r: RunResult) -> dict[str, Any]:
    c = r.counts
    positions = {sym: {k: (None if v is None else exact(v)) for k, v in p.items()} for sym, p in r.positions.items()}
    realized = sum(int(p["realized"] or 0) for p in r.positions.values())
    unrealized = sum(int(p["unrealized"] or 0) for p in r.positions.values())
    fees = sum(int(p["fees"] or 0) for p in r.positions.values())
    return {
        "journal": r.journal,
        "run_id": r.run_id,
        "dataset": r.dataset,
        "bars_read": r.stats.bars_read,
        "bars_accepted": r.stats.bars_accepted,
        "bars_rejected": r.stats.bars_rejected,
        "rejections_by_code": dict(sorted(r.stats.rejected.items())),
        "signals": c.get("SignalGenerated", 0),
        "decisions": r.decisions,
        "held_back_by_reason": r.held_back,
        "orders_blocked": c.get("OrderBlocked", 0),
        "orders": c.get("OrderSubmitRequested", 0),
        "orders_rejected": c.get("OrderRejected", 0),
        "orders_expired": c.get("OrderExpired", 0),
        "orders_canceled": c.get("OrderCanceled", 0),
        "fills": c.get("OrderFilled", 0) + c.get("OrderPartiallyFilled", 0),
        "positions": positions,
        "realized_pnl": exact(realized),
        "unrealized_pnl": exact(unrealized),
        "fees": exact(fees),
        "events": r.last_seq,
        "end_reason": r.end_reason,
        "halted": r.halted,
        "digest": r.digest,
    }


def summary_text(r: RunResult) -> str:
    d = summary_dict(r)
    lines = [
        f"run {d['run_id']} on {d['dataset']}: {d['end_reason']}",
        f"  bars read        {d['bars_read']:>10}",
        f"  bars rejected    {d['bars_rejected']:>10}",
    ]
    lines += [f"    {code:<28}{n:>6}" for code, n in d["rejections_by_code"].items()]
    lines += [
        f"  signals          {d['signals']:>10}",
        "  decisions        " + ", ".join(f"{k.lower()} {n}" for k, n in d["decisions"].items()),
    ]
    lines += [f"    {code:<28}{n:>6}" for code, n in d["held_back_by_reason"].items()]
    lines += [
        f"  orders blocked   {d['orders_blocked']:>10}   (pre-trade checks)",
        f"  orders           {d['orders']:>10}   (rejected {d['orders_rejected']}, expired {d['orders_expired']}, "
        f"canceled {d['orders_canceled']})",
        f"  fills            {d['fills']:>10}",
        "  final positions:",
        f"    {'symbol':<8}{'qty':>12}{'avg price':>14}{'last':>12}{'unrealized':>14}{'realized':>14}",
    ]
    for sym, p in r.positions.items():
        lines.append(
            f"    {sym:<8}{fmt_fixed(int(p['qty'] or 0), 0):>12}{fmt_fixed(int(p['avg_price'] or 0), 4):>14}"
            f"{fmt_fixed(int(p['last_price'] or 0), 4):>12}{fmt_fixed(int(p['unrealized'] or 0), 2):>14}"
            f"{fmt_fixed(int(p['realized'] or 0), 2):>14}"
        )
    totals = [
        ("realized P&L", "realized_pnl", ""),
        ("unrealized P&L", "unrealized_pnl", "  (marked to each symbol's last close)"),
        ("fees", "fees", ""),
    ]
    for label, key, note in totals:
        cents = fmt_fixed(to_fixed(d[key]), 2)
        lines.append(f"  {label:<17}{cents:>14}{note}")
    return "\n".join(lines + _ending(d))


def _ending(d: dict[str, Any]) -> list[str]:
    """The last lines of both summaries: a halt, the journal and its digest."""
    halted = [f"  TRADING HALTED: {d['halted']}"] if d["halted"] else []
    return [*halted, f"  journal          {d['journal']} ({d['events']} events)", f"  digest           {d['digest']}"]


def live_summary_dict(r: LiveResult) -> dict[str, Any]:
    c = r.counts
    return {
        "journal": r.journal,
        "run_id": r.run_id,
        "broker": r.target,
        "end_reason": r.end_reason,
        "cycles": r.cycles,
        "bars": c.get("BarClosed", 0),
        "bars_rejected": c.get("BarRejected", 0),
        "orders": c.get("OrderSubmitRequested", 0),
        "resubmits": c.get("OrderResubmitRequested", 0),
        "fills": c.get("OrderFilled", 0) + c.get("OrderPartiallyFilled", 0),
        "alerts": c.get("AlertRaised", 0),
        "open_orders": r.open_orders,
        "positions": {s: exact(q) for s, q in r.positions.items()},
        "halted": r.halted,
        "events": r.last_seq,
        "digest": r.digest,
    }


def live_summary_text(r: LiveResult) -> str:
    d = live_summary_dict(r)
    lines = [
        f"run {d['run_id']} against {d['broker']}: {d['end_reason']} after {d['cycles']} cycle(s)",
        f"  bars             {d['bars']:>10}   (rejected {d['bars_rejected']})",
        f"  orders           {d['orders']:>10}   (resubmitted {d['resubmits']}, still open {d['open_orders']})",
        f"  fills            {d['fills']:>10}",
        f"  alerts           {d['alerts']:>10}",
        "  positions        "
        + (", ".join(f"{s} {fmt_fixed(to_fixed(q), 0)}" for s, q in d["positions"].items()) or "none"),
    ]
    return "\n".join(lines + _ending(d))
