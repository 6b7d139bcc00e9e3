"""Backup, snapshot and maintenance windows: parsing, and overlap checked against a minute-by-minute oracle."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from philosophy_infra.windows import DAY, DAYS, WEEK, overlap, parse_daily, parse_weekly


def daily(start: int, minutes: int) -> str:
    end = (start + minutes) % DAY
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def weekly(start: int, minutes: int) -> str:
    def stamp(m: int) -> str:
        return f"{DAYS[m // DAY].capitalize()}:{m % DAY // 60:02d}:{m % 60:02d}"

    return f"{stamp(start)}-{stamp((start + minutes) % WEEK)}"


def minutes_of_week(start: int, minutes: int, period: int) -> set[int]:
    """The oracle: every minute of the week the window covers, counted one by one."""
    return {(offset + start + m) % WEEK for offset in range(0, WEEK, period) for m in range(minutes)}


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("03:00-06:00", 180), ("03:00-05:00", 120), ("23:30-00:30", 60), ("00:00-23:59", 1439)],
)
def test_daily_window_length(text: str, minutes: int) -> None:
    assert parse_daily(text).minutes == minutes


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("Mon:00:00-Mon:03:00", 180),
        ("sun:05:00-sun:07:00", 120),
        ("Sun:23:00-Mon:01:00", 120),
        ("tue:10:00-fri:10:00", 4320),
    ],
)
def test_weekly_window_length(text: str, minutes: int) -> None:
    assert parse_weekly(text).minutes == minutes


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("3:00-6:00", "hh:mm-hh:mm"),
        ("03:00 - 06:00", "hh:mm-hh:mm"),
        ("24:00-01:00", "not a time of day"),
        ("03:60-04:00", "not a time of day"),
        ("03:00-03:00", "same time"),
    ],
)
def test_bad_daily_window_says_why(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_daily(text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Mon:00:00", "ddd:hh:mm-ddd:hh:mm"),
        ("Monday:00:00-Monday:03:00", "ddd:hh:mm-ddd:hh:mm"),
        ("Moo:00:00-Mon:03:00", "not a day"),
        ("Mon:25:00-Mon:26:00", "not a time of day"),
        ("Wed:01:00-wed:01:00", "same time"),
    ],
)
def test_bad_weekly_window_says_why(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_weekly(text)


def test_the_seed_windows_touch_but_do_not_overlap() -> None:
    # RDS: backups 03:00-06:00 daily, maintenance Monday 00:00-03:00.
    assert not overlap(parse_daily("03:00-06:00"), parse_weekly("Mon:00:00-Mon:03:00"))
    # ElastiCache: snapshots 03:00-05:00 daily, maintenance Sunday 05:00-07:00.
    assert not overlap(parse_daily("03:00-05:00"), parse_weekly("sun:05:00-sun:07:00"))


def test_a_daily_window_collides_with_maintenance_on_any_day() -> None:
    assert overlap(parse_daily("02:00-04:00"), parse_weekly("Thu:03:00-Thu:05:00"))
    # Past midnight on both sides: Sunday 23:30 to Monday 00:30 meets the daily 00:00-01:00.
    assert overlap(parse_daily("00:00-01:00"), parse_weekly("Sun:23:30-Mon:00:30"))
    assert overlap(parse_daily("23:00-01:00"), parse_weekly("Wed:00:30-Wed:02:00"))


@given(
    d_start=st.integers(0, DAY - 1),
    d_len=st.integers(1, DAY - 1),
    w_start=st.integers(0, WEEK - 1),
    w_len=st.integers(1, WEEK - 1),
)
def test_overlap_agrees_with_counting_minutes(d_start: int, d_len: int, w_start: int, w_len: int) -> None:
    backup, maintenance = parse_daily(daily(d_start, d_len)), parse_weekly(weekly(w_start, w_len))
    assert backup.minutes == d_len and maintenance.minutes == w_len
    expected = bool(minutes_of_week(d_start, d_len, DAY) & minutes_of_week(w_start, w_len, WEEK))
    assert overlap(backup, maintenance) is expected
    assert overlap(maintenance, backup) is expected
