"""The Alpaca adapter: one code path (alpaca-py 0.44.0) for real Alpaca and the local venue.

The venue is reached by overriding the base URL (``Endpoint(trading_url="http://127.0.0.1:PORT",
data_url=...)``); everything else is identical. Wire facts: docs/design/alpaca-wire-contract.md.

Modules, one job each:
- ``status``: every Alpaca order status mapped to the engine's order lifecycle
- ``model``: the parsed broker data (Fixed8 ints, int ns UTC, raw status and bar text)
- ``parse``: Alpaca JSON (``raw_data=True`` dicts and lists) to ``model``, exactly
- ``build``: engine values to alpaca-py request objects, refused before any HTTP when inexact
- ``errors``: ``BrokerError`` and ``classify``, the one mapping of what alpaca-py raises
- ``transport``: under alpaca-py's session: timeout, token bucket, 429 lockout, call meter
- ``client``: ``AlpacaBroker``, ``Endpoint``, ``Credentials``, ``CallStats``; read retries

Error mapping (``errors.broker_error``; op = submit, cancel, cancel_all or read):

| what happened | category / kind | outcome unknown |
| --- | --- | --- |
| ``requests`` Timeout (connect or read) | TRANSIENT_NETWORK / timeout | yes |
| ConnectionError (refused, reset, dropped), ChunkedEncodingError, OSError | TRANSIENT_NETWORK / connection | yes |
| HTTP 5xx | TRANSIENT_NETWORK / http_5xx | yes |
| HTTP 429 (``retry_after`` from Retry-After; the bucket is locked out) | RATE_LIMIT / rate_limited | no |
| HTTP 401 | AUTH / unauthorized | no |
| HTTP 403 on submit (e.g. insufficient buying power) | ORDER_REJECTED / forbidden | no |
| HTTP 403 elsewhere | AUTH / forbidden | no |
| HTTP 404 (``order_by_client_id`` returns None instead) | BROKER_STATE / not_found | no |
| 422 on submit, message has "client_order_id must be unique" | BROKER_STATE / duplicate_client_order_id | no |
| other HTTP 400 / 422 on submit | ORDER_REJECTED / rejected | no |
| HTTP 422 on cancel | BROKER_STATE / not_cancelable | no |
| HTTP 400 on cancel, 400 / 422 on cancel_all or a read | PROGRAMMING_ERROR / bad_request | no |
| refused before any HTTP (non-UUID order id, inexact qty, bad timeframe) | PROGRAMMING_ERROR / bad_request | no |
| a 2xx (or 3xx: not followed) body that does not parse | PROVIDER_SCHEMA / unparseable | yes |
| any other status or exception (e.g. 405, 409, InvalidURL) | UNKNOWN / unexpected | no |

Reads are retried (at most ``read_retries`` times) after RATE_LIMIT and TRANSIENT_NETWORK
errors only; submit, cancel and cancel_all are never retried by the adapter.
"""
