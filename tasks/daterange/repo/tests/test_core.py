from datetime import date

import pytest

from daterange import count_days, iter_dates


def test_count_days_is_inclusive():
    assert count_days(date(2024, 2, 27), date(2024, 3, 1)) == 4


def test_count_days_of_reversed_range_is_zero():
    assert count_days(date(2024, 3, 1), date(2024, 2, 1)) == 0


def test_step_must_be_positive():
    with pytest.raises(ValueError):
        list(iter_dates(date(2024, 1, 1), date(2024, 1, 5), step_days=0))
