"""Working days in England and Wales, for the Victims' Code deadlines.

A working day is Monday to Friday except England and Wales bank holidays, taken from the
maintained `holidays` package rather than a hand-written list. "Within n working days" of a
moment means by the end (local midnight, Europe/London) of the n-th working day after the day the
clock started; the local deadline is converted to UTC with zoneinfo, so clock changes are handled
by the time-zone database, not by arithmetic.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")
CALENDAR_ID = f"england-and-wales/holidays-{getattr(holidays, '__version__', 'unknown')}"
"""Named on every alert whose deadline counts working days, so an audit can reproduce it."""


@lru_cache(maxsize=256)
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=[year]).keys())


def is_working_day(day: date) -> bool:
    """Monday to Friday and not an England and Wales bank holiday."""
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


@lru_cache(maxsize=65536)
def _end_of_nth_working_day(start_day: date, days: int) -> date:
    day = start_day
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return day


def add_working_days(start: datetime, days: int) -> datetime:
    """The UTC instant at which `days` working days after `start` have run out.

    The day the clock starts does not count (a report at 09:00 on Monday has until the end of
    Wednesday for 2 working days), matching how a "2 working days" service standard is read.
    """
    if start.tzinfo is None:
        msg = "start must be timezone-aware"
        raise ValueError(msg)
    local_day = start.astimezone(LONDON).date()
    last = _end_of_nth_working_day(local_day, days)
    local_end = datetime.combine(last + timedelta(days=1), time(0, 0), tzinfo=LONDON)
    return local_end.astimezone(UTC)
