"""Character-level helpers."""

import re

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def collapse_separators(text, separator):
    """Replace every run of characters outside [a-z0-9] with one separator, trimmed at both ends."""
    return _NOT_WORD.sub(separator, text).strip(separator)


def truncate_at_separator(slug, max_length, separator):
    if max_length <= 0 or len(slug) <= max_length:
        return slug
    cut = slug[: max_length + 1].rfind(separator)
    return slug[:cut] if cut > 0 else slug[:max_length]
