"""Where a candidate's code runs while it is scored, and the flag that chooses it: light names that the command line
builds its parsers from without importing the official harness (`official.py` uses them)."""

from __future__ import annotations

ISOLATED, OFFICIAL = "isolated", "official"
"""Where the candidate's code runs while it is scored: patchmix's hardened containers (no network, capabilities
dropped, limits), or the harness's own (default network, SYS_ADMIN added), for those who must match it exactly."""
OFFICIAL_CONTAINERS_FLAG = "--official-containers"
