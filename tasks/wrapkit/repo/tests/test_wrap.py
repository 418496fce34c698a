import pytest

from wrapkit import fill, wrap


def test_short_text_stays_on_one_line():
    assert wrap("hello world", 40) == ["hello world"]


def test_long_word_gets_its_own_line():
    assert wrap("a supercalifragilistic b", 5) == ["a", "supercalifragilistic", "b"]


def test_whitespace_is_collapsed():
    assert wrap("  one \n two\tthree  ", 40) == ["one two three"]


def test_fill_joins_lines():
    assert fill("the quick brown fox", 10) == "the quick\nbrown fox"


def test_zero_width_is_refused():
    with pytest.raises(ValueError):
        wrap("x", 0)
