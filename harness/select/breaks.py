"""Which broken tests count against a candidate: a test that most of an instance's applying candidates break
(three or more of them) is taken as behaviour the issue asks to change, not as a regression; the others count."""

from __future__ import annotations

from collections import Counter

MIN_FOR_MAJORITY = 3


def find_common_breaks(broken_by_candidate: list[list[str]]) -> set[str]:
    """The tests broken by more than half of the candidates given (those whose patch applied), when at least
    MIN_FOR_MAJORITY were given."""
    if len(broken_by_candidate) < MIN_FOR_MAJORITY:
        return set()
    counts = Counter(test for broken in broken_by_candidate for test in set(broken))
    return {test for test, count in counts.items() if count > len(broken_by_candidate) / 2}
