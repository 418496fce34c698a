"""URL slugs from free text."""

from slugkit.slug import slugify

__all__ = ["slugify"]
