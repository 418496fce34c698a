"""Weeks start on Monday (ISO 8601)."""

from datetime import timedelta

from daterange.core import iter_dates


def monday_of(day):
    return day - timedelta(days=day.weekday())


def week_starts(start, end):
    """The Monday of every week that has at least one day in the closed range."""
    # iter_dates stops before its end, so aim one week past the last Monday
    last = monday_of(end) + timedelta(days=7)
    return list(iter_dates(monday_of(start), last, step_days=7))
