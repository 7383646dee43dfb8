"""Shell-side networking helpers for broker adapters (rate limiting, retry timing)."""
