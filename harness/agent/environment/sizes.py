"""Sizes written as docker writes them (`512m`, `10g`), for the container's limits."""

from __future__ import annotations

import re

SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)b?\s*$", re.IGNORECASE)
UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}


def parse_size(text: str) -> int:
    """Bytes of a size written as docker writes them (`512m`, `10g`, `1.5G`, `2048`)."""
    match = SIZE.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a size; write it as docker does, e.g. 10g or 512m")
    return int(float(match.group(1)) * UNITS[match.group(2).lower()])


def format_size(size: int) -> str:
    return f"{size / 1024 ** 3:.1f} GB" if size >= 1024 ** 3 else f"{size / 1024 ** 2:.0f} MB"
