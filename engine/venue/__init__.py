"""Local paper venue (issue 3, part 5): an HTTP server on 127.0.0.1 speaking the subset of
Alpaca's trading REST API that alpaca-py's ``TradingClient`` uses, with its own durable state.

Served: orders (submit, get by id / client order id, list, cancel one, cancel all), account,
clock, positions and historical bars (``StockHistoricalDataClient``). With a bar file the venue
owns the market clock (bar replay, stepped or real-time) and fills with ``engine.broker.fills``.
Fault injection and the ``engine venue`` CLI come later. Wire facts:
docs/design/alpaca-wire-contract.md.

Modules, one job each:
- ``errors``: the ``VenueError`` carrying HTTP status, Alpaca-style code and message
- ``clock``: the clock reading (injected, or from the session calendar at the replay time)
- ``replay``: the bar replay (``BarReplay``) and its real-time driver (``ReplayDriver``)
- ``ledger``: fills, positions, cash and the replay position in the venue database
- ``market``: stepping the replay: fills, day-order expiry, marked positions
- ``marketdata``: the ``/v2/stocks/bars`` endpoint (filtering, no look-ahead, pagination)
- ``store``: the venue's own SQLite database (orders, an append-only order log, transactions)
- ``wire``: JSON in and out (request decoding, Order / Account / Clock bodies)
- ``app``: routing and endpoint logic, independent of the socket layer
- ``server``: the ``http.server`` handler and a start/stop wrapper
"""
