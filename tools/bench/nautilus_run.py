"""The engine's benchmark run in NautilusTrader: the same bars and the same strategy, NT's own way.

    .venv-nt/bin/python -m tools.bench.nautilus_run BARS.csv

Runs in NautilusTrader's own virtualenv (``make .venv-nt/.installed``: ``nautilus_trader==1.221.0``
needs pandas < 3, the engine pins pandas 3.0.6, so the two cannot share one environment). One
process, like ``engine run``: imports, CSV read (pandas) into NT ``Bar`` objects (``BarDataWrangler``),
a ``BacktestEngine`` with one simulated venue (cash account, netting, 1,000,000 USD), the bars
added and run, then a JSON line: bars, signals, orders, fills, NT's own run time, peak RSS.

The strategy is ``sma_cross`` of the engine: simple moving averages of the last 10 and 30 closes
(NT's ``SimpleMovingAverage``); a change of sign of fast - slow (0 keeps the previous sign, no
signal until both are warm and the first sign is known) is a signal: above, a market buy of 100
shares unless already long or an order is working; below, flatten (long only). Logging is at
ERROR so the run prints nothing per bar (``engine run`` prints its summary only).
"""

from __future__ import annotations

import json
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

T_START = time.perf_counter()

import pandas as pd  # noqa: E402
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig  # noqa: E402
from nautilus_trader.config import LoggingConfig, StrategyConfig  # noqa: E402
from nautilus_trader.indicators import SimpleMovingAverage  # noqa: E402
from nautilus_trader.model.currencies import USD  # noqa: E402
from nautilus_trader.model.data import Bar, BarType  # noqa: E402
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide, TimeInForce  # noqa: E402
from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue  # noqa: E402
from nautilus_trader.model.instruments import Equity  # noqa: E402
from nautilus_trader.model.objects import Money, Price, Quantity  # noqa: E402
from nautilus_trader.persistence.wranglers import BarDataWrangler  # noqa: E402
from nautilus_trader.trading.strategy import Strategy  # noqa: E402

VENUE = "XNAS"


class SmaCrossConfig(StrategyConfig, frozen=True):  # type: ignore[misc,call-arg]
    instrument_id: InstrumentId
    bar_type: BarType
    trade_size: Decimal = Decimal(100)
    fast: int = 10
    slow: int = 30


class SmaCross(Strategy):  # type: ignore[misc]
    """SMA fast/slow cross, long only, market orders (the engine's ``sma_cross``)."""

    def __init__(self, config: SmaCrossConfig) -> None:
        super().__init__(config)
        self.fast = SimpleMovingAverage(config.fast)
        self.slow = SimpleMovingAverage(config.slow)
        self.relation = 0
        self.signals = 0

    def on_start(self) -> None:
        self.instrument = self.cache.instrument(self.config.instrument_id)
        self.register_indicator_for_bars(self.config.bar_type, self.fast)
        self.register_indicator_for_bars(self.config.bar_type, self.slow)
        self.subscribe_bars(self.config.bar_type)

    def on_bar(self, bar: Bar) -> None:
        if not self.slow.initialized:
            return
        diff = self.fast.value - self.slow.value
        relation = (diff > 0) - (diff < 0)
        previous = self.relation
        if relation:
            self.relation = relation
        if previous == 0 or relation in (0, previous):
            return
        self.signals += 1
        iid = self.config.instrument_id
        if self.cache.orders_open_count(instrument_id=iid) or self.cache.orders_inflight_count(instrument_id=iid):
            return
        if relation > 0:
            if self.portfolio.is_flat(iid):
                order = self.order_factory.market(
                    instrument_id=iid,
                    order_side=OrderSide.BUY,
                    quantity=self.instrument.make_qty(self.config.trade_size),
                    time_in_force=TimeInForce.GTC,
                )
                self.submit_order(order)
        elif self.portfolio.is_net_long(iid):
            self.close_all_positions(iid)


def load_bars(path: str, bar_type: BarType, instrument: Equity) -> list[Bar]:
    df = pd.read_csv(path)
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True, format="ISO8601")
    df = df.set_index("timestamp")[["open", "high", "low", "close", "volume"]].astype("float64")
    return list(BarDataWrangler(bar_type, instrument).process(df))


def main(argv: list[str]) -> dict[str, Any]:
    csv = argv[0]
    symbol = pd.read_csv(csv, nrows=1)["symbol"].iloc[0]
    iid = InstrumentId(Symbol(symbol), Venue(VENUE))
    instrument = Equity(
        instrument_id=iid,
        raw_symbol=Symbol(symbol),
        currency=USD,
        price_precision=2,
        price_increment=Price.from_str("0.01"),
        lot_size=Quantity.from_int(1),
        ts_event=0,
        ts_init=0,
    )
    bar_type = BarType.from_str(f"{iid}-1-MINUTE-LAST-EXTERNAL")
    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR")))
    engine.add_venue(
        venue=Venue(VENUE),
        oms_type=OmsType.NETTING,
        account_type=AccountType.CASH,
        base_currency=USD,
        starting_balances=[Money(1_000_000, USD)],
    )
    engine.add_instrument(instrument)
    bars = load_bars(csv, bar_type, instrument)
    engine.add_data(bars)
    strategy = SmaCross(SmaCrossConfig(instrument_id=iid, bar_type=bar_type))
    engine.add_strategy(strategy)
    t0 = time.perf_counter()
    engine.run()
    run_s = time.perf_counter() - t0
    orders = engine.cache.orders()
    result = {
        "bars": len(bars),
        "signals": strategy.signals,
        "orders": len(orders),
        "filled": sum(1 for o in orders if o.is_closed and o.filled_qty > 0),
        "run_s": run_s,
    }
    engine.dispose()
    return result


if __name__ == "__main__":
    out = main(sys.argv[1:])
    out["in_process_s"] = time.perf_counter() - T_START
    out["peak_rss_mb"] = int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0]) / 1024
    print(json.dumps(out))
