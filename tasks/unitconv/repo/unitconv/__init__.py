"""Unit conversions: `convert(value, from_unit, to_unit)`."""

from unitconv.convert import convert, UnknownUnit

__all__ = ["convert", "UnknownUnit"]
