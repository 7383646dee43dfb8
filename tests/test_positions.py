from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.positions import PositionBook

S = 100_000_000


def test_realized_and_unrealized_exact_example():
    book = PositionBook()
    book.apply_fill("X", 100 * S, 10 * S, 0)
    book.apply_fill("X", -40 * S, 12 * S, 0)
    book.mark("X", 11 * S)
    p = book.get("X")
    assert p.qty == 60 * S
    assert p.realized == 80 * S
    assert p.unrealized() == 60 * S
    assert p.avg_price == 10 * S


def test_flip_from_long_to_short():
    book = PositionBook()
    book.apply_fill("X", 10 * S, 100 * S, 0)
    book.apply_fill("X", -15 * S, 90 * S, 0)  # close 10 at a 10 loss each, open 5 short at 90
    p = book.get("X")
    assert (p.qty, p.realized, p.avg_price) == (-5 * S, -100 * S, 90 * S)
    book.mark("X", 80 * S)
    assert p.unrealized() == 50 * S


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-50, 50).filter(bool), st.integers(1, 500)), min_size=1, max_size=40),
    st.integers(1, 500),
)
def test_pnl_equals_cash_flows(fills, mark):
    """realized + unrealized == cash flow + position value (whole shares, whole-dollar prices)."""
    book = PositionBook()
    cash = 0
    for q, px in fills:
        book.apply_fill("X", q * S, px * S, 0)
        cash -= q * px
    book.mark("X", mark * S)
    p = book.get("X")
    qty = sum(q for q, _ in fills)
    assert p.qty == qty * S
    total = p.realized + p.unrealized()
    # average-cost rounding is half-even per closing fill: at most one 1e-8 unit each
    assert abs(total - (cash + qty * mark) * S) <= len(fills)
