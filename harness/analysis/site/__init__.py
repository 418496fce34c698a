"""The run browser: a static site under `report/site/` that opens from disk, with no server and no network."""

from harness.analysis.site.build import write_site

__all__ = ["write_site"]
