"""Deterministic ids derived from content (sha256 of canonical JSON). Never uuid4.

The client order id scheme is versioned: ``CID1-`` + 32 hex digits (128 bits) of
sha256 over [scheme, strategy, symbol, side, session, horizon, signal_id, qty]. The
same decision always yields the same id (so a resubmission after a crash is recognised
by the broker); 37 characters fit Alpaca's 128-character limit.
"""

from __future__ import annotations

import hashlib

from journal_schema.codec import canonical_json

CID_SCHEME = "CID1"


def content_id(prefix: str, *parts: object, length: int = 24) -> str:
    digest = hashlib.sha256(canonical_json(list(parts))).hexdigest()
    return f"{prefix}-{digest[:length]}"


def client_order_id(
    *, strategy: str, symbol: str, side: str, session: str, horizon: str, signal_id: str, qty: int
) -> str:
    return content_id(CID_SCHEME, CID_SCHEME, strategy, symbol, side, session, horizon, signal_id, qty, length=32)
