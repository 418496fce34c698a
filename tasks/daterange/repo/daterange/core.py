"""Date iteration. Ranges are closed: `start` and `end` are both part of the range."""

from datetime import timedelta


def iter_dates(start, end, step_days=1):
    """Yield `start`, `start + step`, ... up to and including `end`."""
    if step_days < 1:
        raise ValueError("step_days must be at least 1")
    step = timedelta(days=step_days)
    current = start
    while current < end:
        yield current
        current += step


def count_days(start, end):
    """Number of days in the closed range; 0 when `end` is before `start`."""
    return max((end - start).days + 1, 0)
