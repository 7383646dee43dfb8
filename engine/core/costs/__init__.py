"""Execution costs: the volatility estimate shared with the fill simulator, the calibrated cost
model (a fold over bars and fills) and the cost gate of decisions (docs/execution.md)."""
