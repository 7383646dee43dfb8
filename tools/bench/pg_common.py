"""Helpers shared by the Postgres benchmarks (``bench_pg`` and ``pg_lag``): connections, journal
addresses, fresh table names and dropping what a benchmark made."""

from __future__ import annotations

import os
from typing import Any

import psycopg
from psycopg import sql

Row = tuple[str, int, str, bytes]


def connect(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True, connect_timeout=3)


def journal_url(url: str, table_name: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}table={table_name}"


_counter = iter(range(1, 10**9))


def fresh_name(kind: str) -> str:
    return f"bench_pg_{kind}_{os.getpid()}_{next(_counter)}"


def drop(url: str, name: str) -> None:
    """Drop a journal (or raw) table with what the migrations and the worker made next to it."""
    with connect(url) as conn:
        tables = [
            name,
            *(
                f"{name}_{suffix}"
                for suffix in (
                    "migrations",
                    "settings",
                    "inbox",
                    "proj_orders",
                    "proj_positions",
                    "proj_tca",
                    "proj_position",
                )
            ),
        ]
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.SQL(", ").join(map(sql.Identifier, tables))))
        conn.execute(sql.SQL("DROP FUNCTION IF EXISTS {}() CASCADE").format(sql.Identifier(f"{name}_append_only")))


def server_info(url: str) -> dict[str, Any]:
    with connect(url) as conn:
        info: dict[str, Any] = {}
        for setting in ("server_version", "synchronous_commit", "fsync", "wal_level", "shared_buffers"):
            row = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(setting))).fetchone()
            info[setting] = row[0] if row else None
        return info
