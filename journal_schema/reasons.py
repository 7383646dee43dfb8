"""Stable reason codes. They are part of the journal format: never rename one, only add."""

from __future__ import annotations

from typing import Literal, get_args

BarRejectReason = Literal[
    "UNPARSEABLE_ROW",  # a field is missing or is not a number / ISO-8601 timestamp
    "TIMESTAMP_WITHOUT_ZONE",  # timestamp parses but carries no UTC offset
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
    "TRADING_HALTED",  # the core halted after an invariant violation
    "SESSION_CLOSED",  # no session is open for the bar's symbol
    "OPPOSITE_ORDER_WORKING",  # an order on the other side is still working; no cancel/replace yet
]

OrderRejectReason = Literal[
    "BROKER_REJECTED",  # the broker refused the order (detail has its words)
    "INVALID_QUANTITY",  # quantity <= 0 or not a whole unit the venue accepts
    "UNKNOWN_SYMBOL",  # the venue does not trade the symbol
]

HaltReason = Literal[
    "UNKNOWN_ORDER_REPORT",  # a broker report names a client_order_id the core never requested
    "OVERFILL",  # cumulative fills exceed the order quantity
    "REPORT_AFTER_TERMINAL",  # a report for an order already in a terminal status
    "STRATEGY_CONTRACT_VIOLATION",  # the strategy returned something that is not a valid Target
]

RunEndReason = Literal[
    "END_OF_DATA",  # every input of the source was processed
    "INTERRUPTED",  # the operator stopped the run (SIGINT); state up to here is journaled
    "HALTED",  # the data ran out after the core halted trading (see TradingHalted)
]

BAR_REJECT_REASONS: tuple[str, ...] = get_args(BarRejectReason)
DECISION_REASONS: tuple[str, ...] = get_args(DecisionReason)
ORDER_REJECT_REASONS: tuple[str, ...] = get_args(OrderRejectReason)
HALT_REASONS: tuple[str, ...] = get_args(HaltReason)
