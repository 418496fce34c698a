"""Flagged patches in selection: a candidate the integrity scan flags (`harness.agent.integrity.scan`) is never picked
over an unflagged one that the selector scores within CLOSE_MARGIN of it, nor, by the rules, over any unflagged
one. Candidates from anywhere (predictions files, pools) are scanned from their patch text; a run's own carry
the scan made when the run ended (with the row's eval script).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from harness.agent.integrity.scan import scan_patch

CLOSE_MARGIN = 1.0
"""In the combiner's score units (log-odds): within this of the best, a clean candidate wins over a flagged one."""


@lru_cache(maxsize=200_000)
def list_flag_reasons(patch: str) -> tuple[str, ...]:
    """`path: reason` of each integrity flag of a patch, once per pair; () for a clean patch."""
    return tuple(dict.fromkeys(f"{flag['path']}: {flag['reason']}" for flag in scan_patch(patch)))


def choose_index(scores: np.ndarray, flagged: list[bool], margin: float = CLOSE_MARGIN) -> int:
    """The best-scoring candidate, unless it is flagged and a clean one scores within `margin` of it: then the
    best of those clean ones."""
    best = int(np.argmax(scores))
    if not flagged[best]:
        return best
    close = [i for i, score in enumerate(scores) if not flagged[i] and score >= scores[best] - margin]
    return max(close, key=lambda i: scores[i]) if close else best


def prefer_clean(candidates: list, is_flagged) -> list:
    """The unflagged candidates when there is any, else all of them (order kept)."""
    clean = [c for c in candidates if not is_flagged(c)]
    return clean or candidates
