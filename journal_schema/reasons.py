"""Stable reason codes. They are part of the journal format: never rename one, only add."""

from __future__ import annotations

from typing import Literal, get_args

BarRejectReason = Literal[
    "UNPARSEABLE_ROW",  # a field is missing or is not a number / ISO-8601 timestamp
    "TIMESTAMP_WITHOUT_ZONE",  # timestamp parses but carries no UTC offset
    "TIMESTAMP_OUT_OF_RANGE",  # timestamp before 1970-01-02T00:00:00Z or after 2262-04-01T00:00:00Z
    "NON_FINITE_PRICE",  # NaN or infinity in open/high/low/close
    "NON_POSITIVE_PRICE",  # a price <= 0
    "HIGH_BELOW_LOW",  # high < low
    "OPEN_OUTSIDE_RANGE",  # open not within [low, high]
    "CLOSE_OUTSIDE_RANGE",  # close not within [low, high]
    "NEGATIVE_VOLUME",  # volume < 0 (a NaN or infinite volume is UNPARSEABLE_ROW)
    "UNKNOWN_SYMBOL",  # symbol not in the run's universe
    "DUPLICATE_BAR",  # repeats an earlier row exactly (symbol, timestamp and values)
    "TIMESTAMP_NOT_INCREASING",  # timestamp not after an earlier row of the same symbol in the file
    "OUTSIDE_SESSION",  # timestamp not inside (open, close] of a calendar session
]

DecisionReason = Literal[
    "SIGNAL_ACCEPTED",  # an order is needed to reach the signal's target
    "ALREADY_AT_TARGET",  # position (incl. open orders) already equals the target
    "KILL_SWITCH_ENGAGED",  # operator kill switch is on: no new orders
    "TRADING_HALTED",  # trading is halted (see TradingHalted for the reason); engine resume lifts it
    "SESSION_CLOSED",  # no session is open, or the bar is of another session than the open one
    "OPPOSITE_ORDER_WORKING",  # (no longer produced) an order on the other side was working; nothing was sent
    "OPPOSITE_ORDER_CANCEL_REQUESTED",  # orders on the other side are working: canceled first, decided again after
    # --- policy gate rules (engine.core.risk.gate): each is REJECT or REVIEW by configuration
    "STALE_DATA",  # the bar is older than risk.policy.max_data_age_seconds (live) or than one bar (replay)
    "SYMBOL_NOT_ALLOWED",  # the symbol is not in risk.allowlist
    "DAILY_DRAWDOWN_LIMIT",  # equity is down risk.policy.max_daily_drawdown_pct or more from the session's peak
    "EVENT_BLACKOUT",  # a configured event blackout window covers the bar
    "LOW_LIQUIDITY",  # liquidity score (average dollar volume x participation / order notional) below the minimum
    "LOW_CONFIDENCE",  # the strategy's confidence is below risk.policy.min_confidence
    "HIGH_CORRELATION",  # the symbol's returns correlate with the book's above risk.policy.max_correlation
    # --- portfolio limits (engine.core.risk.portfolio)
    "REDUCE_ONLY",  # trading is REDUCING and the order would add risk
    "GROSS_EXPOSURE_LIMIT",  # no quantity of the order fits under the gross exposure cap
    "NET_EXPOSURE_LIMIT",  # no quantity of the order fits under the net exposure cap
    "SYMBOL_WEIGHT_LIMIT",  # no quantity of the order fits under the per-symbol weight cap
    "TRADE_SIZE_LIMIT",  # not one share fits under risk.limits.max_trade_notional
    "CLIPPED_GROSS_EXPOSURE",  # approved for less than asked: the rest would break the gross exposure cap
    "CLIPPED_NET_EXPOSURE",  # approved for less than asked: the rest would break the net exposure cap
    "CLIPPED_SYMBOL_WEIGHT",  # approved for less than asked: the rest would break the per-symbol weight cap
    "CLIPPED_TRADE_SIZE",  # approved for less than asked: risk.limits.max_trade_notional
    # --- dependencies and quarantine
    "CIRCUIT_OPEN_BROKER_SUBMIT",  # the broker submit breaker is open
    "CIRCUIT_OPEN_BROKER_READS",  # the broker reads breaker is open
    "CIRCUIT_OPEN_MARKET_DATA",  # the market data breaker is open
    "CIRCUIT_OPEN_CALENDAR",  # the calendar breaker is open
    "SYMBOL_QUARANTINED",  # the symbol is quarantined (see Quarantined)
    "STRATEGY_QUARANTINED",  # the strategy is quarantined (see Quarantined)
    "OPERATOR_APPROVED",  # an operator approved a decision held for REVIEW (engine approve)
    "CANCEL_THROTTLED",  # the opposite orders' cancels would exceed risk.pretrade.max_cancels_per_window
    # --- the cost gate (engine.core.costs)
    "COST_GATE_BLOCK",  # SKIPPED: the expected edge is below the expected cost plus costs.edge_buffer_bps
    "COST_MODEL_STALE_BLOCK",  # REJECTED: too few fills or none recent in the symbol's cost model (block_when_stale)
    # --- canary mode (run.canary_symbols)
    "CANARY_SYMBOL_EXCLUDED",  # the symbol is not a canary symbol and the order adds risk (a flip is cut to flat)
    "CANARY_MODE",  # canary mode is on: carried last by every decision of the run, whatever its outcome
]

Verdict = Literal["REJECT", "REVIEW"]  # what a tripped policy rule does (precedence REJECT > REVIEW > APPROVE)

PreTradeBlock = Literal[
    "ORDER_SIZE_BLOCK",  # order notional or shares above risk.pretrade.max_order_notional / max_order_shares
    "PRICE_COLLAR_BLOCK",  # a limit price farther from the last close than risk.pretrade.price_collar_bps
    "DUPLICATE_ORDER_BLOCK",  # same client_order_id, or same symbol, side, quantity and bar as an existing order
    "RATE_THROTTLE_BLOCK",  # too many new orders (global or per symbol) in the throttle window
    "CANCEL_LOOP_BLOCK",  # the symbol was canceled and replaced too often in the loop-guard window
]

ReviewOutcome = Literal[
    "APPROVED",  # an operator approved it before it expired: decided again, REVIEW rules waived
    "EXPIRED",  # nobody approved it before its expiry
    "SUPERSEDED",  # a newer signal for the symbol replaced it
    "NOT_FOUND",  # an approval named a decision that is not waiting for review (unknown, decided or expired)
]

TradingState = Literal["ACTIVE", "REDUCING", "HALTED"]

QuarantineScope = Literal["SYMBOL", "STRATEGY"]

QuarantineReason = Literal[
    "REJECT_RATE",  # too many broker rejections among the symbol's recent orders
    "NEGATIVE_EXPECTANCY",  # the mean realized P&L after costs of recent closing fills is negative
    "REPEATED_BREAKER_OPENS",  # dependency breakers opened too often in the window
]

Dependency = Literal["BROKER_SUBMIT", "BROKER_READS", "MARKET_DATA", "CALENDAR"]

ErrorAction = Literal[
    "RETRY",  # try again later (bounded for idempotent reads; submits go through the exactly-once lookup)
    "SKIP_SYMBOL",  # drop this symbol's data or order for now, go on with the rest
    "DISABLE_PROVIDER",  # open the dependency's breaker at once
    "HALT_TRADING",  # journal the error; the core halts trading
]

CancelReason = Literal[
    "OPPOSITE_SIGNAL",  # a new target needs the other side: the working order is canceled before a new one is sent
    "KILL_SWITCH",  # engine kill --cancel-all: every open order is canceled once
    "SESSION_END",  # risk.session.cancel_day_orders_at_close: day orders still open at the close
    "START_CLEANUP",  # risk.session.cancel_leftovers_at_start: orders left open by an earlier run
]

CancelResult = Literal[
    "ACCEPTED",  # the broker took the cancel request (the order's own report says when it is canceled)
    "NOT_CANCELABLE",  # the broker says the order cannot be canceled any more (it is filled or already ended)
    "UNCERTAIN",  # no usable answer; the cancel is sent again while the order is working (cancels are idempotent)
]

OrderRejectReason = Literal[
    "BROKER_REJECTED",  # the broker refused the order (detail has its words)
    "INVALID_QUANTITY",  # quantity <= 0 or not a whole unit the venue accepts
    "UNKNOWN_SYMBOL",  # the venue does not trade the symbol
]

HaltReason = Literal[
    "UNKNOWN_ORDER_REPORT",  # a broker report names a client_order_id the core never requested
    "OVERFILL",  # cumulative fills exceed the order quantity
    "REPORT_AFTER_TERMINAL",  # (no longer produced: such a report is refused, see OrderReportRejected)
    "STRATEGY_CONTRACT_VIOLATION",  # the strategy returned something that is not a valid Target
    "RECONCILIATION_MISMATCH",  # the broker's books disagree with the journal and the config does not adopt them
    "BROKER_AUTH_FAILED",  # the broker refused our credentials (a submit, or a read the shell reported)
    "DAILY_LOSS_LIMIT",  # the session's loss reached risk.limits.max_daily_loss (action: HALTED or REDUCING)
    "GROSS_EXPOSURE_LIMIT",  # gross exposure above its cap (prices moved): REDUCING until back under it
    "NET_EXPOSURE_LIMIT",  # net exposure above its cap: REDUCING until back under it
    "SYMBOL_WEIGHT_LIMIT",  # a symbol's weight above its cap: REDUCING until back under it
    "CORE_INVARIANT_VIOLATION",  # the core met a state it must never be in (the detail names it)
    "CORE_PROGRAMMING_ERROR",  # code inside the core (e.g. a strategy) raised; the detail names the exception
    "SHELL_INVARIANT_VIOLATION",  # the shell reported an invariant violation (ShellErrorReported)
    "SHELL_PROGRAMMING_ERROR",  # the shell reported a programming error (ShellErrorReported)
    "UNKNOWN_ERROR",  # the shell reported an error it could not classify (ShellErrorReported)
]

ResumeReason = Literal[
    "RECONCILED",  # a later start-up reconciliation found the books in agreement again
    "OPERATOR_RESUMED",  # engine resume (KillSwitchReleased) lifted the halt or the reduce-only state
    "LIMITS_CLEARED",  # the portfolio is back within the caps that put it in REDUCING
    "NEW_SESSION",  # a session opened: the daily loss that put trading in REDUCING starts again from zero
]

IntentSkipReason = Literal[
    "KILL_SWITCH_ENGAGED",  # the broker never saw the request and the kill switch is now on
    "TRADING_HALTED",  # the broker never saw the request and trading is now halted
    "STALE_REQUEST",  # the broker never saw a day order and the session it was for is over
]

SubmittedReason = Literal[
    "BROKER_ACKNOWLEDGED",  # the broker reported the order (accepted, or already filled/canceled/expired/replaced)
]

ReportRejectReason = Literal[
    "UNKNOWN_BROKER_STATUS",  # the broker sent an order status the status table does not know
    "UNPARSEABLE_BROKER_PAYLOAD",  # a broker order does not parse (missing field, bad number or time)
    "INCONSISTENT_BROKER_ORDER",  # a broker order contradicts itself (e.g. status filled, filled_qty < qty)
    "FILLED_QTY_DECREASED",  # the broker's filled quantity is below what was already journaled
]

ReportRefusal = Literal[
    "ILLEGAL_TRANSITION",  # the report is not allowed from the order's current status
    "REPORT_AFTER_TERMINAL",  # the order is already in a terminal status
    "INCONSISTENT_FILL",  # cum_qty / leaves_qty of a fill do not agree with the order
]

MismatchKind = Literal[
    "POSITION_QTY",  # broker position quantity differs from the journal's
    "ORDER_MISSING_AT_BROKER",  # the journal has a working order the broker does not know
    "CLIENT_ORDER_ID_CONFLICT",  # the broker's order under our client_order_id is a different order
]

ForeignKind = Literal[
    "ORDER",  # an open order at the broker whose client_order_id the journal never requested
    "POSITION",  # a position in a symbol outside the universe that the journal never traded
]

AlertOnly = Literal[
    "TRADING_HALTED",  # the core halted trading (the halt reason is in the detail)
    "INVARIANT_VIOLATION",  # a report broke an order invariant while trading was already halted (not applied)
    "RECONCILIATION_MISMATCH",  # a reconciliation found the books in disagreement
    "ORDER_SUBMIT_FAILED",  # an intent ended FAILED
    "KILL_SWITCH_ENGAGED",  # an operator engaged the kill switch
    "PRE_TRADE_BLOCK",  # a pre-trade check blocked an intent (the code is in the detail)
    "TRADING_REDUCED",  # a portfolio limit put trading in REDUCING (only risk-reducing orders pass)
    "REVIEW_REQUIRED",  # a decision waits for engine approve (the decision id is the subject)
    "QUARANTINED",  # a symbol or the strategy was quarantined
    "CIRCUIT_OPEN",  # a dependency breaker opened
]

ErrorCategory = Literal[
    "TRANSIENT_NETWORK",  # connection refused or reset, dropped response, timeout, HTTP 5xx: outcome unknown
    "RATE_LIMIT",  # HTTP 429: the broker refused the call before acting on it; wait for Retry-After
    "AUTH",  # HTTP 401, or 403 on a read: credentials are missing, wrong or not allowed
    "BAD_DATA",  # a value the broker sent is out of range or inconsistent (e.g. filled quantity went down)
    "PROVIDER_SCHEMA",  # a 2xx body that does not parse as the documented shape
    "ORDER_REJECTED",  # the broker refused this order for good (HTTP 400/403/422 on submit)
    "BROKER_STATE",  # the broker's state answers the call: duplicate client_order_id, not cancelable, not found
    "INVARIANT_VIOLATION",  # our own bookkeeping and the broker's disagree in a way that must not happen
    "PROGRAMMING_ERROR",  # the request itself is malformed (HTTP 400/422 on a read): a bug on our side
    "UNKNOWN",  # anything not named above
]

RunEndReason = Literal[
    "END_OF_DATA",  # every input of the source was processed
    "INTERRUPTED",  # the operator stopped the run (SIGINT); state up to here is journaled
    "HALTED",  # the data ran out after the core halted trading (see TradingHalted)
    "CYCLE_LIMIT",  # a live run did the number of cycles it was asked for (--cycles)
]

BAR_REJECT_REASONS: tuple[str, ...] = get_args(BarRejectReason)
DECISION_REASONS: tuple[str, ...] = get_args(DecisionReason)
ORDER_REJECT_REASONS: tuple[str, ...] = get_args(OrderRejectReason)
HALT_REASONS: tuple[str, ...] = get_args(HaltReason)
ERROR_CATEGORIES: tuple[str, ...] = get_args(ErrorCategory)
INTENT_SKIP_REASONS: tuple[str, ...] = get_args(IntentSkipReason)
REPORT_REJECT_REASONS: tuple[str, ...] = get_args(ReportRejectReason)
REPORT_REFUSALS: tuple[str, ...] = get_args(ReportRefusal)
MISMATCH_KINDS: tuple[str, ...] = get_args(MismatchKind)
PRE_TRADE_BLOCKS: tuple[str, ...] = get_args(PreTradeBlock)
DEPENDENCIES: tuple[str, ...] = get_args(Dependency)
ERROR_ACTIONS: tuple[str, ...] = get_args(ErrorAction)
