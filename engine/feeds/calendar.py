"""Trading sessions from ``exchange-calendars`` as integer-nanosecond arrays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

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


def load_sessions(calendar: str, first: date, last: date) -> Sessions:
    """Sessions whose label lies in [first - 1 day, last + 1 day]."""
    import exchange_calendars as xc  # heavy import (pandas): only when a run needs it

    try:
        cal = xc.get_calendar(calendar, start=(first - timedelta(days=7)).isoformat(),
                              end=(last + timedelta(days=7)).isoformat())
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
