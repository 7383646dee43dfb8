"""Local paper venue (issue 3, part 5): an HTTP server on 127.0.0.1 speaking the subset of
Alpaca's trading REST API that alpaca-py's ``TradingClient`` uses, with its own durable state.

This slice serves orders (submit, get by id / client order id, list, cancel one, cancel all),
the account and the clock. Fills, the bar-replay market clock, positions, bars and fault
injection come later. Wire facts: docs/design/alpaca-wire-contract.md.

Modules, one job each:
- ``errors``: the ``VenueError`` carrying HTTP status, Alpaca-style code and message
- ``clock``: the injected clock (``ClockReading``)
- ``store``: the venue's own SQLite database (orders and an append-only order log)
- ``wire``: JSON in and out (request decoding, Order / Account / Clock bodies)
- ``app``: routing and endpoint logic, independent of the socket layer
- ``server``: the ``http.server`` handler and a start/stop wrapper
"""
