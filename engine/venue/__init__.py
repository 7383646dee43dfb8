"""Local paper venue (issue 3, part 5): an HTTP server on 127.0.0.1 speaking the subset of
Alpaca's trading REST API that alpaca-py's ``TradingClient`` uses, with its own durable state.

Served: orders (submit, get by id / client order id, list, cancel one, cancel all), account,
clock, positions and historical bars (``StockHistoricalDataClient``). With a bar file the venue
owns the market clock (bar replay, stepped or real-time) and fills, partially and bar by bar, with
the paper broker's execution simulator (``engine.broker.fills.FillSimulator``);
its database remembers the bar file it was made with. A seeded ``FaultPlan`` injects rate
limits, 5xx answers, timeouts and answers lost after an accepted submit into ``/v2/*``
requests, each logged in ``fault_log``. Admin endpoints under ``/venue/`` (status, fault plan,
step, order log, fills, positions) need no auth. ``engine venue`` (engine/cli/venue_cmd.py)
serves it from the command line. Wire facts: docs/design/alpaca-wire-contract.md; operating
it: docs/venue.md.

Modules, one job each:
- ``errors``: the ``VenueError`` carrying HTTP status, Alpaca-style code and message;
  ``VenueConfigError`` for a venue that cannot start as configured
- ``clock``: the clock reading (injected, or from the session calendar at the replay time)
- ``replay``: the bar replay (``BarReplay``) and its real-time driver (``ReplayDriver``)
- ``ledger``: fills, positions, cash, the replay position and the bar file's fingerprint
- ``market``: stepping the replay: slices from the simulator, day-order expiry, marked positions
- ``marketdata``: the ``/v2/stocks/bars`` endpoint (``t`` stamping, filtering, no look-ahead,
  pagination)
- ``faults``: the ``FaultPlan``, its validation and the seeded per-request draw (``FaultInjector``)
- ``faultlog``: the ``fault_log`` table
- ``store``: the venue's own SQLite database (orders, an append-only order log, transactions)
- ``wire``: JSON in and out (request decoding, Order / Account / Clock bodies)
- ``messages``: the ``Request`` / ``Response`` / ``Outcome`` values
- ``admin``: the ``/venue/*`` admin endpoints
- ``app``: routing, fault injection and endpoint logic, independent of the socket layer
- ``server``: the ``http.server`` handler (withheld answers, holds) and a start/stop wrapper
"""
