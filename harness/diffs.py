"""What a patch changes, as a key: two patches that make the same change have the same key.

A minimal version (issue 14) of the normalisation the selection stage groups candidates with: per file, the
added and removed lines, with whitespace runs collapsed and blank lines, whole-line comments, context lines
and hunk positions ignored. Unparsable text is keyed by its stripped self; an empty patch has the empty key.
"""

from __future__ import annotations

import json
import re

from unidiff import PatchSet
from unidiff.errors import UnidiffParseError

COMMENT = re.compile(r"^\s*(#|//)")


def get_changed_lines(patched) -> list[str]:
    """The +/- lines of one file's diff that change behaviour, whitespace-normalised."""
    lines = []
    for hunk in patched:
        for line in hunk:
            text = " ".join(line.value.split())
            if line.line_type in "+-" and text and not COMMENT.match(text):
                lines.append(f"{line.line_type}{text}")
    return lines


def get_change_key(patch: str) -> str:
    """A key of what `patch` changes, insensitive to whitespace, comments, context and positions."""
    if not (patch or "").strip():
        return ""
    try:
        files = PatchSet(patch)
    except UnidiffParseError:
        files = None
    if not files:
        return "raw:" + " ".join(patch.split())
    changes = sorted((patched.path, get_changed_lines(patched)) for patched in files)
    return json.dumps([change for change in changes if change[1]], separators=(",", ":"))
