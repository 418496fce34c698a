"""The snapshot of a run's start: what the patch is measured from, and the git environment its scripts share.

At container start, `SNAPSHOT` stages the whole work tree (`git add -A` semantics: tracked files as they are,
untracked files that are not ignored) into a temporary index, writes it as a tree object and packs every object
of that tree (and of HEAD's commit and tree) into one pack of its own store, so the store needs nothing of the
repository. The store never stays in the agent's reach: `harness.agent.environment.vault` takes it out of the
container before the agent's first command and puts it back, under a fresh name, only once every process of the
agent is gone. `PRELUDE` is the start of every script here and of the patch's (`harness.agent.environment.patch`),
which stage the work tree at the end the same way and diff the two trees.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.agent.environment.vault import make_store_path

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
