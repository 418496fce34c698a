"""Static checks of one patch, read from its text alone: is there a change, would it apply, does it touch tests
or leave scratch files, how big and how spread it is, and what it changes (the grouping key and the tokens of
its normalised lines, for agreement). Computed once per candidate; no source tree, no execution.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from harness import diffs

TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class PatchProfile:
    """What the static signals know about one patch."""

    key: str  # diffs.get_change_key: "" when the patch changes no source line
    malformed: bool  # a hunk does not match its header's counts: `git apply` refuses it
    touches_tests: bool
    leaves_scratch: bool  # a new top-level file that is not part of the change (reproduce.py, debug.py)
    files: frozenset[str]  # source files changed
    lines: int  # source lines added or removed
    tokens: frozenset[str]  # tokens of the changed source lines, for similarity

    @property
    def empty(self) -> bool:
        return not self.key

    @property
    def log_lines(self) -> float:
        return math.log1p(self.lines)


def profile_patch(patch: str) -> PatchProfile:
    """The static profile of a patch."""
    changes = diffs.parse_patch(patch)
    source = [change for change in changes if diffs.is_source_change(change)]
    changed = [text for change in source for hunk in change.hunks for text in hunk.get("-+")]
    return PatchProfile(
        key=diffs.get_change_key(patch),
        malformed=any(change.malformed for change in changes),
        touches_tests=any(diffs.is_test_path(change.path) for change in changes),
        leaves_scratch=any(change.is_new and not diffs.is_source_change(change) and "/" not in change.path
                           for change in changes),
        files=frozenset(change.path for change in source),
        lines=len(changed),
        tokens=frozenset(token for text in changed for token in TOKEN.findall(text)),
    )
