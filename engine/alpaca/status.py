"""Every Alpaca order status, mapped explicitly to the engine's order lifecycle.

Alpaca reports a status string per order; the engine journals broker reports as its own
event types. This table is the one place that decides what each status means. A status
that is not in it is unknown: the adapter must journal a rejection with
``UNKNOWN_BROKER_STATUS`` and raise an alert, never guess (issue 3).

Terminal statuses follow Alpaca's order-status descriptions: filled, canceled, expired,
rejected, replaced ("no further updates will occur" / replaced by another order). The
others are working or transitional; ``done_for_day`` and ``calculated`` still wait for a
final status. ``held`` and ``pending_review`` are not described in Alpaca's public list
(treated as working; see docs/design/alpaca-wire-contract.md section 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Lifecycle = Literal["WORKING", "PARTIALLY_FILLED", "FILLED", "CANCELED", "EXPIRED", "REJECTED", "REPLACED"]


@dataclass(frozen=True)
class StatusMeaning:
    lifecycle: Lifecycle  # the engine order status this report moves the order to
    terminal: bool  # no further reports for this order id
    note: str


WORKING_NOTE = "live at the venue; fills may follow"
ALPACA_STATUSES: dict[str, StatusMeaning] = {
    "new": StatusMeaning("WORKING", False, "received and routed to the exchange"),
    "accepted": StatusMeaning("WORKING", False, "accepted by Alpaca, not yet routed"),
    "pending_new": StatusMeaning("WORKING", False, "routed, not yet acknowledged by the exchange"),
    "accepted_for_bidding": StatusMeaning("WORKING", False, "accepted for bidding (auction)"),
    "held": StatusMeaning("WORKING", False, "held, e.g. a triggered order waiting for its trigger"),
    "stopped": StatusMeaning("WORKING", False, "stopped: a fill at a guaranteed price is pending"),
    "suspended": StatusMeaning("WORKING", False, "suspended, not eligible for trading for now"),
    "pending_review": StatusMeaning("WORKING", False, "under review by Alpaca"),
    "pending_cancel": StatusMeaning("WORKING", False, "a cancel is pending; fills may still arrive"),
    "pending_replace": StatusMeaning("WORKING", False, "a replace is pending; fills may still arrive"),
    "done_for_day": StatusMeaning("WORKING", False, "no more executions today; still open"),
    "calculated": StatusMeaning("WORKING", False, "done for the day, settlement being calculated"),
    "partially_filled": StatusMeaning("PARTIALLY_FILLED", False, "some quantity filled, the rest working"),
    "filled": StatusMeaning("FILLED", True, "completely filled"),
    "canceled": StatusMeaning("CANCELED", True, "canceled; the unfilled rest will not fill"),
    "expired": StatusMeaning("EXPIRED", True, "expired by its time in force"),
    "rejected": StatusMeaning("REJECTED", True, "rejected"),
    "replaced": StatusMeaning("REPLACED", True, "replaced by another order (see replaced_by)"),
}
TERMINAL_ALPACA_STATUSES: frozenset[str] = frozenset(s for s, m in ALPACA_STATUSES.items() if m.terminal)


class UnknownBrokerStatus(ValueError):
    """A status Alpaca sent that this table does not know (reason code UNKNOWN_BROKER_STATUS)."""


def meaning(status: str) -> StatusMeaning:
    try:
        return ALPACA_STATUSES[status]
    except KeyError:
        raise UnknownBrokerStatus(f"unknown Alpaca order status {status!r}") from None
