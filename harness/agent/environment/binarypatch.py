"""Git's binary patch format, written here so that any bytes travel through a text patch (and JSON) unchanged.

A file's section is its `diff --git` header lines, a full `index <old>..<new>` line, then `GIT binary patch` and
two `literal` hunks (the new contents, then the old ones for the reverse): zlib-compressed bytes in lines of up
to 52 bytes, each line a length character (A-Z for 1-26, a-z for 27-52) and base85 (git's alphabet, which is
Python's `b85encode`'s) of the bytes padded to a multiple of 4. `git apply` applies it byte-exact.
"""

from __future__ import annotations

import base64
import zlib


def make_binary_section(section: bytes, change, old: bytes, new: bytes) -> str:
    """The section's header lines (diff --git, modes), a full index line and a git binary patch both ways."""
    header = []
    for line in section.split(b"\n"):
        if line.startswith((b"---", b"+++", b"@@", b"index ", b"Binary files")):
            break
        header.append(line.decode("ascii"))  # core.quotePath=true: paths are quoted ASCII
    mode = f" {change.new_mode}" if change.old_mode == change.new_mode else ""
    header.append(f"index {change.old_sha}..{change.new_sha}{mode}")
    lines = [*header, "GIT binary patch", *encode_literal(new), "", *encode_literal(old), "", ""]
    return "\n".join(lines)


def encode_literal(data: bytes) -> list[str]:
    """A `literal` hunk of git's binary patch format: zlib-compressed data in base85 lines of 52 bytes."""
    compressed = zlib.compress(data)
    lines = [f"literal {len(data)}"]
    for start in range(0, len(compressed), 52):
        chunk = compressed[start:start + 52]
        size = chr(ord("A") + len(chunk) - 1) if len(chunk) <= 26 else chr(ord("a") + len(chunk) - 27)
        lines.append(size + base64.b85encode(chunk, pad=True).decode("ascii"))
    return lines
