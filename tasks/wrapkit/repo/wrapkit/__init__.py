"""Word wrapping."""

from wrapkit.wrap import fill, wrap

__all__ = ["fill", "wrap"]
