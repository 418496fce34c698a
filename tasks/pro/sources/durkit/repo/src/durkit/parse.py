"""Durations written like `1h30m`, as a number of seconds."""

import re

UNITS = {"h": 3600, "m": 60}
PART = re.compile(r"(\d+)([hm])")


def parse_duration(text: str) -> int:
    """The seconds in `text`, e.g. "1h30m" -> 5400; ValueError for text that is not a duration."""
    text = text.strip()
    if not text or PART.sub("", text):
        raise ValueError(f"not a duration: {text!r}")
    return sum(int(number) * UNITS[unit] for number, unit in PART.findall(text))
