"""The patch of one run: exactly what changed in the container between the start of the run and its end.

The start is the snapshot (`harness.agent.environment.snapshot`: the work tree staged into a tree of its own
store, kept out of the agent's reach). At the end, `make_patch` stages the work tree the same way and diffs the
two trees (each step is one exec):

- setup commits and setup edits of the image are in both trees, so they never leak into a patch;
- commits made by the agent are in the end tree, so they are captured; nothing the agent does to the
  repository's objects (resets, `gc --prune=now`, deleting `.git/objects`) reaches the snapshot's;
- text whose diff is not UTF-8 (e.g. Latin-1) is carried byte-exact as a git binary patch (base85 of the zlib
  compressed contents, ASCII only), which `git apply` applies as it is and which survives JSON unchanged;
- every file left out is listed in `dropped` with a reason: `test_file` (touched by the task's test patch),
  `test_infrastructure` (a test file by its name or the task's test folders, `harness.agent.integrity.testfiles`, or a
  change to how tests run or are collected, `harness.agent.integrity.testconfig`), `binary`,
  `submodule` (a submodule or nested repository changed), `ignored` (a file under an ignored path that
  is new or was edited; caches such as `__pycache__` aside);
- a work tree that is no longer a git repository at the end (its `.git` deleted or broken by the agent's
  commands, `REPO_GONE`), or one git refuses to read (`core.bare` set, ...), ends the run `env_broken`, final,
  never a free redo.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import time
from dataclasses import dataclass, field

from harness.agent.environment.binarypatch import make_binary_section
from harness.agent.environment.snapshot import PRELUDE, REPO_GONE, SNAPSHOT_GONE, Snapshot
from harness.agent.integrity.testconfig import is_whole_test_config, read_test_config
from harness.agent.integrity.testfiles import is_test_path, list_test_dirs
from harness.exceptions import ENV_BROKEN, EnvironmentEnded, InfraError

EMPTY_BLOB = "0" * 40
GITLINK = "160000"
CACHE_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".hypothesis"}
MAX_IGNORED_LISTED = 100
MAX_SECONDS, MIN_SECONDS = 600.0, 10.0
"""Bounds of one patch script's time: the run's wall time left is used, but never less than the minimum."""
KILLED_CODES = (137, 143)
"""Exit codes of a script killed by a signal (SIGKILL: the memory limit; SIGTERM)."""

# The end of a run in one exec: the snapshot's findings, then the end tree, the raw and numstat diffs from the
# snapshot tree, the ignored files, the gitlinks; each section after the first starts with a marker field ("//"
# is in no path git prints).
END_STATE = r"""
[ -s "$store/start" ] || { echo "the snapshot $store was deleted" >&2; exit 12; }
cat "$store/start"
start=$(head -z -n 1 "$store/start" | tr -d '\0')
end=$(stage end-index)
printf '//end\0%s\0' "$end"
git diff-tree -r -z --no-renames --raw --full-index "$start" "$end"
printf -- '//numstat\0'
git diff-tree -r -z --no-renames --numstat "$start" "$end"
printf -- '//ignored\0'
list_ignored end-index
printf -- '//gitlinks\0'
list_gitlinks "$end"
"""
END_MARKERS = ["//start-gitlinks", "//end", "//numstat", "//ignored", "//gitlinks"]

# The diff from the snapshot tree $3 to that tree plus only the kept changes (index-info records on stdin).
KEPT_DIFF = r"""
kept=$(export GIT_INDEX_FILE="$store/kept-index"; git read-tree "$3"; git update-index -z --index-info; git write-tree)
git -c diff.noprefix=false -c diff.mnemonicPrefix=false -c diff.suppressBlankEmpty=false diff-tree -p -r \
  --no-renames --no-color --no-ext-diff --no-textconv --src-prefix=a/ --dst-prefix=b/ "$3" "$kept"
"""


@dataclass
class Change:
    old_mode: str
    new_mode: str
    old_sha: str
    new_sha: str
    path: str
    binary: bool = False


@dataclass
class PatchResult:
    patch: str
    dropped: list[dict] = field(default_factory=list)
    """Each `{"path": ..., "reason": ...}`; the reasons are listed in the module docstring."""


class GitRunner:
    """Runs the scripts above (after `PRELUDE`) in the container through `exec(argv, stdin, timeout) -> ExecOutput`."""

    def __init__(self, exec_, workdir: str, store: str, container: str, deadline: float | None = None):
        self.exec_, self.workdir, self.store, self.container = exec_, workdir, store, container
        self.deadline = deadline
        """The end of the run's wall time: each script gets what is left of it (at least MIN_SECONDS)."""

    def get_timeout(self) -> float:
        if self.deadline is None:
            return MAX_SECONDS
        return min(MAX_SECONDS, max(MIN_SECONDS, self.deadline - time.monotonic()))

    def run(self, script: str, *args: str, stdin: bytes | None = None, action: str = "") -> bytes:
        result = self.exec_(["bash", "-c", PRELUDE + script, "patch", self.workdir, self.store, *args], stdin,
                            self.get_timeout())
        if result.exit_code == SNAPSHOT_GONE:
            raise EnvironmentEnded(ENV_BROKEN, f"the snapshot of the run's start, put back in {self.store}, is not "
                                   "seen there: the agent's commands altered the container's tools, so the patch "
                                   "cannot be measured")
        if result.exit_code == REPO_GONE:
            raise EnvironmentEnded(ENV_BROKEN, f"{self.workdir} is no longer a git repository (its .git was deleted "
                                   "or broken by the agent's commands), so the patch cannot be measured")
        if result.exit_code in KILLED_CODES:  # out of memory or killed: the machine's doing, redone on resume
            raise InfraError(f"cannot {action or 'run git'} in {self.workdir} of container {self.container} for "
                             f"the patch: git was killed (exit code {result.exit_code})")
        if result.exit_code != 0:
            # The repository was sound at start (its snapshot was made) and nothing but the agent's commands ran
            # since, in a container just restarted: a repository git now refuses is the agent's doing (e.g.
            # `core.bare` set, a broken index or config), final like the other breakages, never a free redo.
            message = " ".join(result.stderr.decode("utf-8", errors="replace").split())[:300]
            raise EnvironmentEnded(ENV_BROKEN, f"git cannot {action or 'run'} in {self.workdir} at the end of the "
                                   f"run (exit code {result.exit_code}: {message}): the agent's commands left the "
                                   "repository so, and the patch cannot be measured")
        return result.stdout

    def cat(self, sha: str) -> bytes:
        if sha == EMPTY_BLOB:
            return b""
        return self.run('git cat-file blob "$3"', sha, action=f"read blob {sha[:12]}")


def make_patch(exec_, workdir: str, container: str, snapshot: Snapshot, exclude_paths: set[str],
               keep_test_infrastructure: bool = False, deadline: float | None = None) -> PatchResult:
    """The diff from the snapshot to the work tree now, ready for `git apply`, and what was left out."""
    git = GitRunner(exec_, workdir, snapshot.store, container, deadline)
    output = git.run(END_STATE, action="stage and compare the work tree")
    check_fingerprint(output, snapshot)
    start, *rest = split_nul(output)
    sections = split_marked(rest, END_MARKERS)
    start_ignored = dict(read_records(sections[""]))
    start_gitlinks = dict(read_records(sections["//start-gitlinks"]))
    end, *raw = sections["//end"]
    changes = read_changes(raw, sections["//numstat"])
    excluded = {normalize_repo_path(path, workdir) for path in exclude_paths}
    test_dirs = None if keep_test_infrastructure else list_test_dirs(excluded)
    kept, dropped = [], []
    for change in changes:
        reason = classify(git, change, excluded, test_dirs)
        (dropped.append({"path": change.path, "reason": reason}) if reason else kept.append(change))
    dropped += find_submodule_edits(start_gitlinks, dict(read_records(sections["//gitlinks"])),
                                    {c.path for c in changes})
    dropped += find_ignored_changes(start_ignored, dict(read_records(sections["//ignored"])))
    patch = render_patch(git, start, kept) if kept else ""
    return PatchResult(patch, dropped)


def check_fingerprint(output: bytes, snapshot: Snapshot) -> None:
    """The snapshot's findings (the output up to the `//end` marker) must be those the host saw at start."""
    start = output[:output.find(b"\0//end\0") + 1]
    if snapshot.fingerprint and hashlib.sha1(start).hexdigest() != snapshot.fingerprint:
        raise EnvironmentEnded(ENV_BROKEN, f"the snapshot of the run's start, put back in {snapshot.store}, reads "
                               "otherwise than it was made: the agent's commands altered the container's tools, "
                               "so the patch cannot be measured")


def split_marked(fields: list[str], markers: list[str]) -> dict[str, list[str]]:
    """NUL-separated fields cut at marker fields into sections: "" before the first marker, then by marker."""
    sections, current = {"": [], **{marker: [] for marker in markers}}, ""
    for item in fields:
        if item in markers:
            current = item
            continue
        sections[current].append(item)
    return sections


def read_records(fields: list[str]) -> list[tuple[str, str]]:
    """(path, fingerprint) of each `fingerprint TAB path` record."""
    records = []
    for record in fields:
        fingerprint, path = record.split("\t", 1)
        records.append((path[2:] if path.startswith("./") else path, fingerprint))
    return records


def read_changes(raw: list[str], numstat: list[str]) -> list[Change]:
    """The changed files from `diff-tree --raw -z` fields (a header then a path, in turn) and `--numstat -z`."""
    binary = {path for path, is_binary in parse_numstat(numstat) if is_binary}
    changes = []
    for header, path in zip(raw[0::2], raw[1::2]):
        old_mode, new_mode, old_sha, new_sha, _status = header.lstrip(":").split(" ")
        changes.append(Change(old_mode, new_mode, old_sha, new_sha, path, path in binary))
    return changes


def classify(git: GitRunner, change: Change, excluded: set[str], test_dirs: set[str] | None) -> str | None:
    """Why a changed file stays out of the patch, or None when it goes in (`test_dirs` None: test
    infrastructure is kept)."""
    if GITLINK in (change.old_mode, change.new_mode):
        return "submodule"
    if change.path in excluded:
        return "test_file"
    if test_dirs is not None and is_test_infrastructure(git, change, test_dirs):
        return "test_infrastructure"
    if change.binary:
        return "binary"
    return None


def is_test_infrastructure(git: GitRunner, change: Change, test_dirs: set[str]) -> bool:
    """A test file (by name, or under the task's test folders), a file that configures tests as a whole, or a
    config file whose test sections changed (read with pytest's and tox's own rules)."""
    created = change.old_mode == "000000"
    if is_test_path(change.path, test_dirs, created) or is_whole_test_config(change.path):
        return True
    if read_test_config(change.path, b"") is None:
        return False
    return read_test_config(change.path, git.cat(change.old_sha)) != read_test_config(change.path,
                                                                                       git.cat(change.new_sha))


def find_submodule_edits(start: dict[str, str], now: dict[str, str], listed: set[str]) -> list[dict]:
    """Submodules and nested repositories whose own work tree changed: their edits cannot be in the patch."""
    return [{"path": path, "reason": "submodule"} for path, state in sorted(now.items())
            if path not in listed and start.get(path) != state]


def find_ignored_changes(start: dict[str, str], now: dict[str, str]) -> list[dict]:
    """Files under ignored paths that are new or were edited (caches such as __pycache__ aside), at most
    MAX_IGNORED_LISTED of them."""
    changed = sorted(path for path, fingerprint in now.items()
                     if start.get(path) != fingerprint and not is_cache(path))
    dropped = [{"path": path, "reason": "ignored"} for path in changed[:MAX_IGNORED_LISTED]]
    if len(changed) > MAX_IGNORED_LISTED:
        dropped.append({"path": f"... and {len(changed) - MAX_IGNORED_LISTED} more files under ignored paths",
                        "reason": "ignored"})
    return dropped


def is_cache(path: str) -> bool:
    parts = path.split("/")
    return bool(CACHE_PARTS & set(parts[:-1])) or parts[-1].endswith((".pyc", ".pyo"))


def render_patch(git: GitRunner, start: str, kept: list[Change]) -> str:
    """The unified diff of the kept changes; a file whose diff is not UTF-8 becomes a git binary patch."""
    records = b"".join(f"{c.new_mode} {c.new_sha}\t".encode() + c.path.encode("utf-8", "surrogateescape") + b"\0"
                       if c.new_mode != "000000" else b"0 " + EMPTY_BLOB.encode() + b"\t"
                       + c.path.encode("utf-8", "surrogateescape") + b"\0" for c in kept)
    raw = git.run(KEPT_DIFF, start, stdin=records, action="diff the work tree")
    sections = split_sections(raw)
    if len(sections) != len(kept):
        raise InfraError(f"git printed {len(sections)} file diffs for {len(kept)} changed files; cannot make the "
                         "patch exactly, so none is made")
    texts = []
    for change, section in zip(kept, sections):
        try:
            texts.append(section.decode("utf-8"))
        except UnicodeDecodeError:
            texts.append(make_binary_section(section, change, git.cat(change.old_sha), git.cat(change.new_sha)))
    patch = "".join(texts)
    return patch if patch.endswith("\n") else patch + "\n"


def split_sections(raw: bytes) -> list[bytes]:
    """The per-file parts of a `git diff` output, each starting with `diff --git `."""
    starts = [match.start() for match in re.finditer(rb"(?m)^diff --git ", raw)]
    return [raw[start:end] for start, end in zip(starts, starts[1:] + [len(raw)])]


def parse_numstat(records: list[str]) -> list[tuple[str, bool]]:
    """(path, is_binary) for each record of `git diff --numstat -z --no-renames`."""
    entries = []
    for record in records:
        added, _deleted, path = record.split("\t", 2)
        entries.append((path, added == "-"))
    return entries


def split_nul(output: bytes) -> list[str]:
    return [item.decode("utf-8", errors="surrogateescape") for item in output.split(b"\0") if item]


def normalize_repo_path(path: str, workdir: str) -> str:
    """A path relative to the repository root, whether given relative or absolute under `workdir`."""
    path = posixpath.normpath(path)
    root = posixpath.normpath(workdir)
    if path.startswith(root + "/"):
        path = path[len(root) + 1:]
    return path
