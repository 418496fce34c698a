"""durkit: durations written the way people write them."""

from durkit.parse import parse_duration

__all__ = ["parse_duration"]
