from datetime import date

from daterange import week_starts


def test_week_starts_of_a_fortnight():
    assert week_starts(date(2024, 1, 3), date(2024, 1, 10)) == [date(2024, 1, 1), date(2024, 1, 8)]


def test_week_starts_of_a_single_day():
    assert week_starts(date(2024, 1, 7), date(2024, 1, 7)) == [date(2024, 1, 1)]
