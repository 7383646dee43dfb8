"""The Alpaca adapter (alpaca-py): order status mapping today; the client arrives with issue 3.

See docs/design/alpaca-wire-contract.md for what alpaca-py sends and parses."""
