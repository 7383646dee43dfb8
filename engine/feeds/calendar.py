"""Trading sessions from ``exchange-calendars`` as integer-nanosecond arrays."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import metadata
from pathlib import Path

import numpy as np
import numpy.typing as npt


class CalendarError(ValueError):
    pass


@dataclass(frozen=True)
class Sessions:
    """Sessions of one calendar: ``labels[i]`` opens at ``opens[i]`` and closes at ``closes[i]``
    (ns UTC). A bar stamped ``ts`` belongs to session ``i`` when ``opens[i] < ts <= closes[i]``."""

    calendar: str
    labels: list[str]
    opens: npt.NDArray[np.int64]
    closes: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.labels)

    def locate(self, ts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Session index of each timestamp, or -1 when it falls outside every session."""
        idx = np.searchsorted(self.closes, ts, side="left")
        inside = idx < len(self.closes)
        safe = np.where(inside, idx, 0)
        inside &= self.opens[safe] < ts
        return np.where(inside, idx, -1).astype(np.int64)

    def close_of(self, day: date) -> int | None:
        """Close time of the session labelled ``day``, or None when it is not a session."""
        i = int(np.searchsorted(self._label_days, np.datetime64(day, "D")))
        if i < len(self.labels) and self.labels[i] == day.isoformat():
            return int(self.closes[i])
        return None

    @property
    def _label_days(self) -> npt.NDArray[np.datetime64]:
        return np.array(self.labels, dtype="datetime64[D]")


def cache_dir() -> Path:
    """``$ENGINE_CACHE_DIR``, else ``$XDG_CACHE_HOME/engine``, else ``~/.cache/engine``."""
    if env := os.environ.get("ENGINE_CACHE_DIR"):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "engine"


def load_sessions(calendar: str, first: date, last: date) -> Sessions:
    """Sessions whose label lies in [first - 1 day, last + 1 day].

    exchange-calendars costs ~0.7 s per process (pandas import, holiday rules), so the
    result is cached on disk keyed by the library version, calendar and date range: the
    same key always gives the same sessions. A cache file that cannot be read is rebuilt.
    """
    key = hashlib.sha256(f"v1|{metadata.version('exchange-calendars')}|{calendar}|{first}|{last}".encode()).hexdigest()[
        :32
    ]
    path = cache_dir() / "sessions" / f"{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            return Sessions(str(z["calendar"]), [str(x) for x in z["labels"]], z["opens"], z["closes"])
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        print(f"engine: rebuilding unreadable calendar cache {path}: {exc}", file=sys.stderr)
    sessions = _compute_sessions(calendar, first, last)
    _store(path, sessions)
    return sessions


def _store(path: Path, s: Sessions) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
            np.savez(f, calendar=np.array(s.calendar), labels=np.array(s.labels), opens=s.opens, closes=s.closes)
        os.replace(f.name, path)  # atomic: readers see the old file or the whole new one
    except OSError as exc:
        print(f"engine: calendar cache not written ({exc}); runs stay correct, only slower", file=sys.stderr)


def _compute_sessions(calendar: str, first: date, last: date) -> Sessions:
    import exchange_calendars as xc  # heavy import (pandas): only on a cache miss

    try:
        cal = xc.get_calendar(
            calendar, start=(first - timedelta(days=7)).isoformat(), end=(last + timedelta(days=7)).isoformat()
        )
    except (xc.errors.InvalidCalendarName, ValueError) as exc:
        raise CalendarError(f"calendar {calendar!r}: {exc}") from None
    sched = cal.schedule
    lo, hi = np.datetime64(first - timedelta(days=1), "D"), np.datetime64(last + timedelta(days=1), "D")
    days = sched.index.values.astype("datetime64[D]")
    keep = (days >= lo) & (days <= hi)
    opens = sched["open"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype(np.int64)[keep]
    closes = sched["close"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype(np.int64)[keep]
    labels = [str(d) for d in days[keep]]
    return Sessions(calendar, labels, opens, closes)
