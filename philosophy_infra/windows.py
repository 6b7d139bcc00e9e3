"""Backup, snapshot and maintenance windows as RDS and ElastiCache write them, and whether two of them collide.

A daily window is `hh:mm-hh:mm` (UTC) and recurs every day; a weekly window is `ddd:hh:mm-ddd:hh:mm`. Either
may wrap past midnight or past Sunday. Both services refuse a backup or snapshot window that overlaps the
maintenance window, so the config rejects it first, with the key and both windows in the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DAY = 24 * 60
WEEK = 7 * DAY
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_DAILY = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_WEEKLY = re.compile(r"^([A-Za-z]{3}):(\d{2}):(\d{2})-([A-Za-z]{3}):(\d{2}):(\d{2})$")


@dataclass(frozen=True)
class Window:
    """A recurring window: minutes from the start of its period (a day or a week), end exclusive."""

    start: int
    end: int
    period: int

    @property
    def minutes(self) -> int:
        return (self.end - self.start) % self.period

    def segments(self) -> list[tuple[int, int]]:
        """The window's occurrences within one week, as half-open [start, end) minute ranges."""
        found: list[tuple[int, int]] = []
        for offset in range(0, WEEK, self.period):
            start, end = offset + self.start, offset + self.start + self.minutes
            if end <= WEEK:
                found.append((start, end))
            else:  # runs past Sunday midnight into Monday
                found += [(start, WEEK), (0, end - WEEK)]
        return found


def _minute_of_day(hours: str, minutes: str) -> int:
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        raise ValueError(f"{hours}:{minutes} is not a time of day (00:00-23:59)")
    return h * 60 + m


def parse_daily(text: str) -> Window:
    """`hh:mm-hh:mm` in UTC, e.g. `03:00-06:00`; ValueError naming the problem otherwise."""
    match = _DAILY.fullmatch(text)
    if not match:
        raise ValueError("must be hh:mm-hh:mm in UTC, e.g. 03:00-06:00")
    window = Window(_minute_of_day(*match.group(1, 2)), _minute_of_day(*match.group(3, 4)), DAY)
    if window.minutes == 0:
        raise ValueError("start and end are the same time")
    return window


def parse_weekly(text: str) -> Window:
    """`ddd:hh:mm-ddd:hh:mm` in UTC, e.g. `Mon:00:00-Mon:03:00`; ValueError naming the problem otherwise."""
    match = _WEEKLY.fullmatch(text)
    if not match:
        raise ValueError("must be ddd:hh:mm-ddd:hh:mm in UTC, e.g. Mon:00:00-Mon:03:00")
    start_day, end_day = match.group(1).lower(), match.group(4).lower()
    for day in (start_day, end_day):
        if day not in DAYS:
            raise ValueError(f"{day!r} is not a day; use one of {', '.join(DAYS)}")
    start = DAYS.index(start_day) * DAY + _minute_of_day(*match.group(2, 3))
    end = DAYS.index(end_day) * DAY + _minute_of_day(*match.group(5, 6))
    window = Window(start, end, WEEK)
    if window.minutes == 0:
        raise ValueError("start and end are the same time")
    return window


def overlap(a: Window, b: Window) -> bool:
    """Whether the two windows share any minute in some week. Windows that only touch do not overlap."""
    return any(s1 < e2 and s2 < e1 for s1, e1 in a.segments() for s2, e2 in b.segments())
