"""slugify(): lower-case, ASCII, words joined by a separator."""

from slugkit.text import collapse_separators, truncate_at_separator


def slugify(text, separator="-", max_length=0):
    slug = collapse_separators(text.lower(), separator)
    return truncate_at_separator(slug, max_length, separator)
