"""Read INI-style text into nested dictionaries."""

from iniparse.parser import ParseError, parse

__all__ = ["ParseError", "parse"]
