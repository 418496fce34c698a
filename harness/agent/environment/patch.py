"""The patch of one run: exactly what changed in the container between the start of the run and its end.

At container start, `SNAPSHOT` stages the whole work tree (`git add -A` semantics: tracked files as they are,
untracked files that are not ignored) into a temporary index, writes it as a tree object and packs every object
of that tree (and of HEAD's commit and tree) into one pack of its own store, so the store needs nothing of the
repository. The store never stays in the agent's reach: `harness.agent.environment.vault` takes it out of the container
before the agent's first command and puts it back, under a fresh name, only once every process of the agent is
gone. At the end, `make_patch` stages the work tree the same way and diffs the two trees (each step is one exec):

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
from harness.agent.integrity.testconfig import is_whole_test_config, read_test_config
from harness.agent.integrity.testfiles import is_test_path, list_test_dirs
from harness.agent.environment.vault import make_store_path
from harness.exceptions import ENV_BROKEN, EnvironmentEnded, InfraError

EMPTY_BLOB = "0" * 40
GITLINK = "160000"
CACHE_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".hypothesis"}
MAX_IGNORED_LISTED = 100
MAX_SECONDS, MIN_SECONDS = 600.0, 10.0
"""Bounds of one patch script's time: the run's wall time left is used, but never less than the minimum."""

# Shared by every script: git without the user's global config, with our own index and object store, and the
# steps the scripts are made of (each a function in a subshell, so its environment stays its own).
# $1 repo, $2 store dir.
PRELUDE = r"""
set -e
shopt -s inherit_errexit 2>/dev/null || true  # a failure inside $(...) stops the script too
cd "$1" 2>/dev/null || exit 13
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 GIT_LITERAL_PATHSPECS=1
# No command the repository's config names runs: no fsmonitor, no filter driver (whose commands the agent could
# set to start processes or delete files while the patch is collected). Content is hashed as it is on disk.
no_commands=(-c core.fsmonitor=)
while read -r key _; do
  name=${key#filter.}; name=${name%.*}
  no_commands+=(-c "filter.$name.clean=" -c "filter.$name.smudge=" -c "filter.$name.process=" \
                -c "filter.$name.required=false")
done < <(command git -c safe.directory='*' config --get-regexp '^filter\.' 2>/dev/null || true)
git() { command git -c safe.directory='*' -c core.autocrlf=false -c core.safecrlf=false -c core.quotePath=true \
  "${no_commands[@]}" "$@"; }
git rev-parse --git-dir >/dev/null 2>&1 || exit 13
store=$2
repo_objects=$(cd "$(git rev-parse --git-path objects)" && pwd)
mkdir -p "$store/objects/pack"
export GIT_OBJECT_DIRECTORY="$store/objects" GIT_ALTERNATE_OBJECT_DIRECTORIES="$repo_objects"

# Stages the work tree into the index file $1 of the store and prints the tree's id. The agent's index is copied
# (for its file stat data, so unchanged files are not hashed again) and reset to HEAD; the agent's own is never
# written. Stat data is compared by size and modification time only: a container's files keep the image's
# times but not its inodes or change times, which would have every file hashed again at every start.
stage() (
  real=$(unset GIT_INDEX_FILE; git rev-parse --git-path index)
  export GIT_INDEX_FILE="$store/$1"
  if [ -f "$real" ]; then cp "$real" "$GIT_INDEX_FILE"; else rm -f "$GIT_INDEX_FILE"; fi
  if ! git rev-parse -q --verify HEAD^{commit} >/dev/null; then git read-tree --empty
  elif ! git read-tree --reset HEAD 2>/dev/null; then rm -f "$GIT_INDEX_FILE"; git read-tree --reset HEAD; fi
  git -c core.checkStat=minimal -c core.trustctime=false add -A
  git write-tree
)

# The object directories that $1 borrows from (its info/alternates, relative paths resolved), one a line.
list_alternates() (
  [ -f "$1/info/alternates" ] || exit 0
  grep -v '^#' "$1/info/alternates" | while IFS= read -r path; do
    case $path in /*) ;; *) path="$1/$path" ;; esac
    [ -d "$path" ] && (cd "$path" && pwd)
  done || true
)

# One record per untracked ignored file of index $1: size, modification and change times, inode, TAB, path.
list_ignored() (
  GIT_INDEX_FILE="$store/$1" git ls-files -z --others --ignored --exclude-standard | sed -z 's|^|./|' \
    | xargs -0 -r sh -c 'find "$@" -maxdepth 0 -printf "%s %T@ %C@ %i\t%p\0"' find 2>/dev/null || true
)

# One record per gitlink of tree $1: a fingerprint of the nested repository's HEAD, status and diff, TAB, path.
list_gitlinks() (
  git ls-tree -r -z "$1" | { grep -z '^160000 ' || true; } | while IFS= read -r -d '' record; do
    path=${record#*$'\t'}
    state=$( { git -C "$path" rev-parse HEAD; git -C "$path" status --porcelain -uall; git -C "$path" diff HEAD; } \
             2>&1 | sha1sum | cut -c1-40)
    printf '%s\t%s\0' "$state" "$path"
  done
)
"""

NOT_A_WORK_TREE = 10
SNAPSHOT_GONE = 12
REPO_GONE = 13
KILLED_CODES = (137, 143)
"""Exit codes of a script killed by a signal (SIGKILL: the memory limit; SIGTERM)."""
SNAPSHOT_LINE = "__PATCHMIX_SNAPSHOT__ "
"""The snapshot step prints the sha1 of its findings after this; the host checks them again at the end (the
store comes back from the host, so a mismatch means the restore failed, never the agent)."""
# Run in the agent's shell before the first step (no exec of its own); its findings stay in "$store/start":
# the tree's id, the ignored files' records, then the gitlinks' after a marker field. Every object the end
# needs of the start (the tree with its subtrees and blobs, HEAD's commit and tree, for the staging's
# `read-tree HEAD`) goes into one pack of the store (`--window=0`: stored deltas are reused, none searched for;
# 5.3 MB for sympy, in 0.7 s), so the store stands alone once it is out of the container.
SNAPSHOT = r"""
git -c safe.directory='*' -C "$1" rev-parse --is-inside-work-tree >/dev/null 2>&1 || exit 10
""" + PRELUDE + r"""
tree=$(stage start-index)
{ printf '%s\0' "$tree"; list_ignored start-index; printf -- '//start-gitlinks\0'; list_gitlinks "$tree"; } \
  > "$store/start.tmp"
mv "$store/start.tmp" "$store/start"
head=$(git rev-parse -q --verify HEAD^{commit} || true)
set -o pipefail
git rev-list --objects --no-walk $head "$tree" | git pack-objects -q --window=0 "$store/objects/pack/pack" >/dev/null
rm -rf "$store/start-index" "$store"/objects/[0-9a-f][0-9a-f]
echo "__PATCHMIX_SNAPSHOT__ $(sha1sum < "$store/start" | cut -c1-40)"
"""

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
class Snapshot:
    """Where the snapshot of a run's start is made in its container (see SNAPSHOT; taken out and put back by
    `harness.agent.environment.vault`), and the sha1 of its findings as the host read it at start."""
    store: str = field(default_factory=make_store_path)
    fingerprint: str | None = None

    def read_fingerprint(self, output: str) -> None:
        for line in output.splitlines():
            if line.startswith(SNAPSHOT_LINE):
                self.fingerprint = line[len(SNAPSHOT_LINE):].strip()


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
    """Runs the scripts above in the container through `exec(argv, stdin, timeout) -> ExecOutput`."""

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
