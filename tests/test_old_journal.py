"""A journal written by the previous release (issue 4's code, before the fill simulator and the cost
gate: ``SignalGenerated.v2``, ``DecisionMade.v2``, ``OrderFilled.v1``) still verifies, decodes through
the upcasters, and feeds every projection; replaying it with today's code diverges, as any code
change does. ``tests/data/journal_issue4.jsonl`` holds its 33 records (topic and payload bytes) from
the README's 14-bar example run at commit af9498c (run id run-4790ea411d31cbd2)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from engine.cli import main
from engine.journal import JournalWriter, read_events
from engine.journal.chain import GENESIS, link, wrap
from journal_schema.codec import decode_topic
from journal_schema.events import DecisionMade, OrderFilled, SignalGenerated
from projections import build
from projections.costs import build_costs
from projections.tca import load_tca

DATA = Path(__file__).parent / "data" / "journal_issue4.jsonl"


@pytest.fixture(scope="module")
def old_journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("old") / "old.db"
    JournalWriter(path).close()  # the schema of today's writer; the records are the old ones, chained
    prev = GENESIS
    with sqlite3.connect(path) as db:
        for line in DATA.read_text().splitlines():
            row = json.loads(line)
            payload = row["payload"].encode()
            prev = link(prev, row["seq"], row["topic"].encode(), payload)
            db.execute(
                "INSERT INTO journal_events (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
                ("journal", row["seq"], row["topic"], wrap(prev, payload)),
            )
    return path


def test_the_old_topics_are_there() -> None:
    topics = {json.loads(line)["topic"] for line in DATA.read_text().splitlines()}
    assert {"SignalGenerated.v2", "DecisionMade.v2", "OrderFilled.v1"} <= topics


def test_it_verifies(old_journal: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(old_journal)]) == 0
    assert capsys.readouterr().out.startswith("ok: 33 records")


def test_old_records_decode_into_todays_types_with_the_new_fields_empty() -> None:
    rows = [json.loads(line) for line in DATA.read_text().splitlines()]
    events = [decode_topic(r["topic"], r["payload"].encode()) for r in rows]
    fills = [e for e in events if isinstance(e, OrderFilled)]
    assert len(fills) == 2 and all(f.bid is None and f.ask is None for f in fills)
    assert all(s.edge_cbp is None for s in events if isinstance(s, SignalGenerated))
    decisions = [d for d in events if isinstance(d, DecisionMade) and d.context is not None]
    assert decisions and all(d.context.expected_cost_cbp is None for d in decisions)  # type: ignore[union-attr]


def test_every_projection_reads_it(old_journal: Path) -> None:
    snap = build(old_journal)
    assert [o.status for o in snap.orders] == ["FILLED", "FILLED"]
    tca = load_tca(old_journal)
    assert tca.orders["n_fills"].to_list() == [1, 1]  # the v1 fills are not skipped by the type filter
    assert tca.orders["spread_paid_bps"].null_count() == 2  # no quotes then
    assert sum(1 for _ in read_events(old_journal, (OrderFilled,))) == 2
    assert all(s.samples == 0 for s in build_costs(old_journal).book.symbols.values())


def test_replaying_it_with_todays_code_diverges_with_a_clear_report(
    old_journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", "--from", str(old_journal)]) == 1
    assert "DIVERGED at seq" in capsys.readouterr().out
