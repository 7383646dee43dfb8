from datetime import date

import numpy as np
import pytest

from engine.feeds.calendar import CalendarError, load_sessions


def test_xnys_sessions_with_holidays_and_early_close(tmp_path, monkeypatch):
    monkeypatch.setenv("ENGINE_CACHE_DIR", str(tmp_path))
    s = load_sessions("XNYS", date(2024, 7, 1), date(2024, 7, 8))
    # July 4th closed; labels within [first - 1 day, last + 1 day]
    assert s.labels == ["2024-07-01", "2024-07-02", "2024-07-03", "2024-07-05", "2024-07-08", "2024-07-09"]
    i = s.labels.index("2024-07-03")
    assert (s.closes[i] - s.opens[i]) // 60_000_000_000 == 210  # early close at 13:00 ET
    ts = np.array([s.opens[i], s.opens[i] + 1, s.closes[i], s.closes[i] + 1], dtype=np.int64)
    assert s.locate(ts).tolist() == [-1, i, i, -1]


def test_cache_gives_identical_sessions_and_recovers_from_corruption(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ENGINE_CACHE_DIR", str(tmp_path))
    cold = load_sessions("XNYS", date(2020, 1, 1), date(2020, 3, 1))
    (cached,) = (tmp_path / "sessions").iterdir()
    warm = load_sessions("XNYS", date(2020, 1, 1), date(2020, 3, 1))
    assert (warm.labels, warm.calendar) == (cold.labels, cold.calendar) and len(cold.labels) > 30
    assert np.array_equal(warm.opens, cold.opens) and np.array_equal(warm.closes, cold.closes)
    cached.write_bytes(b"not a zip")
    again = load_sessions("XNYS", date(2020, 1, 1), date(2020, 3, 1))
    assert again.labels == cold.labels
    assert "rebuilding unreadable calendar cache" in capsys.readouterr().err


def test_24_7_calendar_is_one_config_line(tmp_path, monkeypatch):
    monkeypatch.setenv("ENGINE_CACHE_DIR", str(tmp_path))
    s = load_sessions("24/7", date(2024, 1, 6), date(2024, 1, 7))  # a weekend
    assert s.labels == ["2024-01-05", "2024-01-06", "2024-01-07", "2024-01-08"]


def test_unknown_calendar_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ENGINE_CACHE_DIR", str(tmp_path))
    with pytest.raises(CalendarError, match="calendar 'NOPE'"):
        load_sessions("NOPE", date(2024, 1, 1), date(2024, 1, 2))
