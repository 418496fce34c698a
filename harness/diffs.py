"""Patch normalisation: what a unified diff changes, independent of how it is written.

Two patches that make the same fix usually differ in formatting, comments, docstrings, the names of new local
variables or an equivalent spelling of one expression. ``get_change_key`` maps a patch to a key that ignores
those differences, so that ``group_patches`` puts such patches together. Only the patch text is read (no source
tree): each changed block of Python is parsed on its own (whole block, else line by line), rewritten to a
canonical form (docstrings and comments dropped, new local names numbered, ``not a == b`` -> ``a != b``,
``x == None`` -> ``x is None``, ``x += 1`` -> ``x = x + 1``, ``if not c: A else: B`` -> ``if c: B else: A``) and
printed back with ``ast.unparse``; what does not parse is compared token by token, comments dropped (the
canonical spelling itself is `harness.canonical`'s).

Test files, documentation, and new scratch files at the top of the repository (``reproduce_bug.py``,
``debug.py``) are not part of the change: agents leave them behind, and they do not change what the fix does.

Leaf module: the standard library and the leaf `harness.canonical`.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from harness.canonical import canonical_block, drop_docstring_lines, normalise_python, strip_comment

EMPTY_KEY = ""
DOC_SUFFIXES = (".rst", ".md", ".txt", ".cfg", ".toml", ".ini", ".in", ".yml", ".yaml", ".json")
TEST_PATH_RE = re.compile(r"(^|/)(tests?|testing)/|(^|/)test_[^/]*\.py$|_tests?\.py$|(^|/)conftest\.py$")
HEADER_RE = re.compile(r"^diff --git a/(\S+) b/(\S+)")
SCRATCH_RE = re.compile(r"^(repro|reproduce|test|debug|scratch|check|verify|demo|example|run|tmp|temp)", re.I)
HUNK_RE = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
GROW_LINES = 8
MERGE_GAP = 2
DEFINED_NAME_RE = re.compile(r"\b([A-Za-z_]\w*)\s*(?:=(?!=)|\bin\b)")


@dataclass
class FileChange:
    """One file of a diff: its path, whether the diff creates it, and its removed and added lines per hunk."""
    path: str
    is_new: bool = False
    malformed: bool = False  # a hunk's lines do not match its header's counts: `git apply` would refuse it
    hunks: list[Hunk] = field(default_factory=list)


@dataclass
class Hunk:
    """One hunk: its lines in order, each as (kind, text), kind being " " (context), "-" or "+"."""
    lines: list[tuple[str, str]] = field(default_factory=list)

    def get(self, kinds: str) -> list[str]:
        """The text of the lines of the given kinds: "-" removed, "+" added, " -" before, " +" after."""
        return [text for kind, text in self.lines if kind in kinds]


def parse_patch(patch: str) -> list[FileChange]:
    """Split a unified diff (git's, or plain ``---``/``+++`` headers) into files and hunks; other text: no file.

    Hunk lines are counted from each ``@@ -a,b +c,d @@`` header, so a removed line that reads ``-- x`` is
    content, not a header. A hunk whose lines do not match its counts marks the file ``malformed``.
    """
    files: list[FileChange] = []
    old_left = new_left = 0
    new_next = False
    for line in (patch or "").splitlines():
        if old_left > 0 or new_left > 0:
            if line[:1] in (" ", "-", "+", ""):
                kind = line[:1] or " "
                files[-1].hunks[-1].lines.append((kind, line[1:]))
                old_left -= kind in " -"
                new_left -= kind in " +"
                continue
            if not line.startswith("\\"):
                files[-1].malformed = True
                old_left = new_left = 0
        header = HEADER_RE.match(line)
        counts = HUNK_RE.match(line)
        if header:
            files.append(FileChange(path=header.group(2)))
        elif line.startswith("--- "):
            new_next = line[4:].strip() == "/dev/null"
        elif line.startswith("+++ "):
            path = re.sub(r"^b/", "", line[4:].split("\t")[0].strip())
            if not files or files[-1].hunks or files[-1].path != path:
                files.append(FileChange(path=path))
            files[-1].is_new = files[-1].is_new or new_next
        elif files and line.startswith("new file mode"):
            files[-1].is_new = True
        elif files and counts:
            files[-1].hunks.append(Hunk())
            old_left, new_left = int(counts.group(1) or 1), int(counts.group(2) or 1)
    if files and (old_left > 0 or new_left > 0):
        files[-1].malformed = True
    return files


def is_test_path(path: str) -> bool:
    """True for a test file or test folder of the repository (``tests/``, ``test_x.py``, ``conftest.py``)."""
    return bool(TEST_PATH_RE.search(path))


def is_source_change(change: FileChange) -> bool:
    """True when the file belongs to the fix: not a test, not documentation, not a new top-level scratch file."""
    if is_test_path(change.path) or change.path.lower().endswith(DOC_SUFFIXES):
        return False
    return not (change.is_new and "/" not in change.path and SCRATCH_RE.match(change.path))


def source_changes(patch: str) -> list[FileChange]:
    """The files of a patch that make the fix (see ``is_source_change``)."""
    return [change for change in parse_patch(patch) if is_source_change(change)]


def get_change_key(patch: str) -> str:
    """A short key equal for patches that make the same source change; ``"empty"`` when nothing is changed.

    The key is a 16-character hex digest, or ``""`` for an empty patch or one that changes no source line (only
    whitespace, comments, tests, documentation or scratch files). Keys compare within one instance.
    """
    text = normalise_patch(patch)
    if not text and (patch or "").strip() and not parse_patch(patch):
        text = "raw:" + " ".join(patch.split())  # not a diff: the text itself
    return hashlib.sha1(text.encode()).hexdigest()[:16] if text else EMPTY_KEY


def group_patches(patches: list[str]) -> list[list[int]]:
    """Indices of ``patches`` grouped by change key, largest group first (ties: first appearance)."""
    groups: dict[str, list[int]] = {}
    for index, patch in enumerate(patches):
        groups.setdefault(get_change_key(patch), []).append(index)
    return sorted(groups.values(), key=lambda members: (-len(members), members[0]))


def normalise_patch(patch: str) -> str:
    """The canonical text of a patch's source change (what ``get_change_key`` hashes); ``""`` when none.

    Readable, so a report can show why two patches were grouped."""
    parts = []
    for change in sorted(source_changes(patch), key=lambda item: item.path):
        body = "\n".join(normalise_hunk(change.path, hunk) for hunk in change.hunks)
        if body.strip("\n|"):
            parts.append(f"## {change.path}\n{body}")
    return "\n".join(parts)


def normalise_hunk(path: str, hunk: Hunk) -> str:
    """A hunk's changes, each as ``before | after``: the changed lines of each side, for Python grown into
    the context until they parse and then canonicalised; changes that normalise to nothing are left out."""
    before, after = hunk.get(" -"), hunk.get(" +")
    known = defined_names(before)
    parts = []
    for (b_start, b_end), (a_start, a_end) in get_change_spans(hunk):
        if not path.endswith(".py"):
            parts.append(f"{before[b_start:b_end]}|{after[a_start:a_end]}".replace(" ", ""))
            continue
        new_names = (n for n in defined_names(after[a_start:a_end]) if n not in known)
        renames = {name: f"_v{i}" for i, name in enumerate(new_names)}
        part = normalise_region(before, b_start, b_end, {}) + "|" + normalise_region(after, a_start, a_end, renames)
        if part != "|":
            parts.append(part)
    return "\n".join(parts)


def get_change_spans(hunk: Hunk) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Each run of changed lines of a hunk as ((start, end) in the before side, (start, end) in the after side).

    Runs at most ``MERGE_GAP`` context lines apart are one span: how a diff tool aligns a rewrite (two runs
    around an unchanged line, or one run and a removal) must not change the key."""
    spans: list[list[int]] = []
    b_index = a_index = 0
    for kind, _ in hunk.lines:
        if kind != " ":
            if spans and b_index - spans[-1][1] <= MERGE_GAP and a_index - spans[-1][3] <= MERGE_GAP:
                spans[-1][1], spans[-1][3] = b_index + (kind == "-"), a_index + (kind == "+")
            else:
                spans.append([b_index, b_index + (kind == "-"), a_index, a_index + (kind == "+")])
        b_index += kind in " -"
        a_index += kind in " +"
    return [((b0, b1), (a0, a1)) for b0, b1, a0, a1 in spans]


def normalise_region(lines: list[str], start: int, end: int, renames: dict[str, str]) -> str:
    """Canonical text of ``lines[start:end]``: the smallest window around it (grown by up to
    ``GROW_LINES`` lines, below first) that parses; else the region line by line."""
    if not any(strip_comment(line.strip()) for line in drop_docstring_lines(lines[start:end])):
        return ""
    for grow in range(GROW_LINES + 1):
        low, high = max(0, start - grow // 2), min(len(lines), end + (grow + 1) // 2)
        parsed = canonical_block(tuple(drop_docstring_lines(lines[low:high])), tuple(sorted(renames.items())))
        if parsed is not None:
            return parsed
    return normalise_python(lines[start:end], renames)


def defined_names(lines: list[str]) -> list[str]:
    """Names assigned or bound in ``lines`` (``x = ``, ``for x in``), in order of first appearance."""
    names: list[str] = []
    for line in lines:
        for name in DEFINED_NAME_RE.findall(line.split("#")[0]):
            if name not in names and name not in ("in", "not", "self", "cls"):
                names.append(name)
    return names
