"""Calendar-date ranges."""

from daterange.core import count_days, iter_dates
from daterange.weeks import week_starts

__all__ = ["count_days", "iter_dates", "week_starts"]
