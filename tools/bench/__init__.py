"""Benchmarks: ``python -m tools.bench.<name>`` (see docs/benchmarks.md).

Every figure is the median of at least five repetitions (min and max are reported too),
timed with ``time.perf_counter``; results are printed as a table and written to
``bench-out/<name>.json``.
"""
