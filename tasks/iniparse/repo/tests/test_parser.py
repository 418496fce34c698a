import pytest

from iniparse import ParseError, parse


def test_sections_and_keys():
    config = parse("[server]\nhost = example.org\nport = 8080\n")
    assert config["server"] == {"host": "example.org", "port": "8080"}


def test_keys_before_any_section_go_to_default():
    assert parse("debug = yes\n")["DEFAULT"] == {"debug": "yes"}


def test_comments_are_ignored():
    config = parse("; header\n[a]\n# note\nx = 1 ; inline\n")
    assert config["a"] == {"x": "1"}


def test_line_without_equals_is_an_error():
    with pytest.raises(ParseError, match="line 2"):
        parse("[a]\njust words\n")
