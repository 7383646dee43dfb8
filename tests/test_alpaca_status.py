import pytest
from alpaca.trading.enums import OrderStatus

from engine.alpaca.status import ALPACA_STATUSES, TERMINAL_ALPACA_STATUSES, UnknownBrokerStatus, meaning
from engine.core.orders import TERMINAL_STATUSES

ISSUE_3_LIST = {
    "new",
    "accepted",
    "pending_new",
    "accepted_for_bidding",
    "partially_filled",
    "filled",
    "done_for_day",
    "canceled",
    "expired",
    "replaced",
    "pending_cancel",
    "pending_replace",
    "stopped",
    "rejected",
    "suspended",
    "calculated",
    "held",
}


def test_every_status_alpaca_py_knows_is_mapped_and_nothing_else():
    assert set(ALPACA_STATUSES) == {s.value for s in OrderStatus}
    assert set(ALPACA_STATUSES) >= ISSUE_3_LIST  # plus pending_review, which alpaca-py 0.44 has


def test_terminal_statuses_agree_with_the_engine_order_fold():
    lifecycle_of_terminal = {ALPACA_STATUSES[s].lifecycle for s in TERMINAL_ALPACA_STATUSES}
    assert lifecycle_of_terminal - {"REPLACED"} <= TERMINAL_STATUSES
    assert {"filled", "canceled", "expired", "rejected", "replaced"} == TERMINAL_ALPACA_STATUSES
    assert all(not m.terminal for m in ALPACA_STATUSES.values() if m.lifecycle in ("WORKING", "PARTIALLY_FILLED"))


def test_unknown_status_is_an_error_not_a_guess():
    assert meaning("partially_filled").lifecycle == "PARTIALLY_FILLED"
    with pytest.raises(UnknownBrokerStatus, match="'weird'"):
        meaning("weird")
