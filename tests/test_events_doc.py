"""docs/events.md is generated from the catalogue and must be up to date."""

from pathlib import Path

from journal_schema.catalogue import ALL_TYPES, TOPICS
from journal_schema.reasons import HALT_REASONS
from tools import gen_events_doc

DOC = Path(__file__).resolve().parent.parent / "docs" / "events.md"


def test_docs_events_md_is_up_to_date():
    assert DOC.read_text(encoding="utf-8") == gen_events_doc.render(), (
        "docs/events.md is out of date: run python -m tools.gen_events_doc"
    )


def test_every_event_type_has_a_section_with_role_version_topic():
    text = gen_events_doc.render()
    for t in ALL_TYPES:
        assert f"\n### {t.__name__}\n" in text
        assert f"Version: {t.VERSION}. Topic: `{TOPICS[t]}`." in text
    assert "Role: input. Version: 2. Topic: `OrderFilled.v2`." in text
    assert "Role: derived. Version: 1. Topic: `TradingHalted.v1`." in text


def test_field_units_and_reason_comments():
    text = gen_events_doc.render()
    assert "| `fill_price` | int (Fixed8) | 1e-8 units |" in text
    assert "| `limit_price` | int (Fixed8) or null | 1e-8 units |" in text
    assert "| `ts` | int (Nanos) | ns since epoch UTC |" in text
    assert "| `close_ts` | int (Nanos) | ns since epoch UTC |" in text
    assert "| `reason` | HaltReason | reason code, see [HaltReason](#haltreason) |" in text
    assert "| `OVERFILL` | cumulative fills exceed the order quantity |" in text
    assert "| `NON_POSITIVE_PRICE` | a price <= 0 |" in text
    for code in HALT_REASONS:
        assert f"| `{code}` | " in text


def test_check_mode_passes_on_the_committed_file():
    assert gen_events_doc.main(["--check"]) == 0
