"""What happens in a container between its start and the agent's first step: one command sent to the agent's
shell (`make_prepare_command`: one round trip, no exec of its own), whose steps each end with a STEP_MARKER line
carrying their exit code.

1. `SCRUB_HISTORY`: the repository keeps only the history of HEAD (the base commit and the image's own setup
   commits on top of it) and the tags of commits the base commit descends from. Every other branch, tag,
   remote, stash, reflog entry, `*_HEAD` file and linked worktree goes, and so do the objects only they
   reached (`git repack -a -d` with `.keep` marks and alternates dissolved, `git prune`): a later fix cannot be
   looked up with `git log --all`, `git show <sha>` or `git fsck`. Refs are listed from the files by name and
   deleted as files, so a ref git cannot resolve (the dangling `refs/remotes/origin/HEAD` that SWE-bench's
   image builder leaves after `git remote remove origin`, a ref to a pruned object) is deleted, never fatal.
2. `harness.agent.environment.snapshot.SNAPSHOT`: the work tree as it is now, which the patch is measured from.
3. `PYTHON_PROBE`, run in the agent's own shell (so after `~/.bashrc`): which `python` the agent gets, and
   whether it has the distributions the repository declares (`[project] dependencies` of pyproject.toml,
   `install_requires` of setup.cfg). One that lacks them is the wrong environment: `check_python_env` makes that
   an `InfraError` that says so, instead of every test failing on an import in the agent's hands.

`run_prepare_command` sends it and checks what each step says.
"""

from __future__ import annotations

import json
import shlex

from harness.agent.config import ContainerConfig
from harness.agent.environment.removal import docker_errors
from harness.agent.environment.shell import PersistentShell
from harness.agent.environment.sizes import parse_size
from harness.agent.environment.snapshot import NOT_A_WORK_TREE, SNAPSHOT, Snapshot
from harness.exceptions import InfraError

PREPARE_TIMEOUT = 600
"""Seconds the history scrub, the snapshot and the python probe may take together at a container's start."""
STEP_MARKER = "__PATCHMIX_STEP__ "
CLEAN_GIT_ENVIRONMENT = ("unset GIT_DIR GIT_WORK_TREE GIT_COMMON_DIR GIT_INDEX_FILE GIT_OBJECT_DIRECTORY "
                         "GIT_ALTERNATE_OBJECT_DIRECTORIES GIT_NAMESPACE")

SCRUB_HISTORY = r"""
set -e
cd "$1"
git() { command git -c safe.directory='*' "$@"; }
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 LC_ALL=C
base=$2
git cat-file -e "$base^{commit}" 2>/dev/null || { echo "base commit $base is not in the repository at $1" >&2; exit 3; }
head=$(git rev-parse -q --verify 'HEAD^{commit}' || true)
if [ -z "$head" ] || ! git merge-base --is-ancestor "$base" "$head"; then
  echo "HEAD (${head:-none}) of $1 does not descend from the base commit $base; the image is not the task's" >&2
  exit 4
fi
current=$(git symbolic-ref -q HEAD || true)
common=$(cd "$(git rev-parse --git-common-dir)" && pwd -P)
own=$(cd "$(git rev-parse --git-dir)" && pwd -P)
work=$(pwd -P)
tmp=$(mktemp -d)
# Other checkouts of this repository (linked worktrees) hold later files, and their HEADs keep later commits.
for entry in "$common"/worktrees/*; do
  [ -d "$entry" ] && [ "$(cd "$entry" && pwd -P)" != "$own" ] || continue
  checkout=$(dirname "$(cat "$entry/gitdir" 2>/dev/null || echo /nonexistent/.git)")
  if [ -f "$checkout/.git" ] && [ "$checkout" != "$work" ]; then rm -rf "$checkout"; fi
  rm -rf "$entry"
done
for remote in $(git remote); do git config --remove-section "remote.$remote" 2>/dev/null || true; done
# Every ref by its name, read from the files and never resolved: a ref that is broken, dangling, symbolic or
# points to a missing object is listed like any other (git's own ref walks stop or skip on such refs).
{ (cd "$common" && find refs -type f -o -type l) 2>/dev/null || true
  if [ -f "$common/packed-refs" ]; then grep -v '^[#^]' "$common/packed-refs" | cut -d' ' -f2 || true; fi
} | sort -u > "$tmp/refs"
# Kept: the current branch, and the tags whose commit the base commit descends from.
git rev-list "$base" | sort > "$tmp/reachable"
grep '^refs/tags/' "$tmp/refs" | sed 's/.*/&^{commit} &/' | git cat-file --batch-check='%(objectname) %(rest)' \
  | { grep -v ' missing$' || true; } | sort > "$tmp/tags"
{ join -o 1.2 "$tmp/tags" "$tmp/reachable"; [ -z "$current" ] || echo "$current"; } | sort -u > "$tmp/keep"
comm -23 "$tmp/refs" "$tmp/keep" | while IFS= read -r ref; do rm -f "$common/$ref"; done
if [ -f "$common/packed-refs" ]; then
  awk 'NR == FNR { keep[$0] = 1; next } /^#/ { print; next } /^\^/ { if (kept) print; next }
       { kept = ($2 in keep); if (kept) print }' "$tmp/keep" "$common/packed-refs" > "$tmp/packed-refs"
  cat "$tmp/packed-refs" > "$common/packed-refs"
fi
find "$common/refs" -mindepth 1 -type d -empty -delete
mkdir -p "$common/refs/heads" "$common/refs/tags"
for dir in "$own" "$common"; do
  rm -rf "$dir/FETCH_HEAD" "$dir/ORIG_HEAD" "$dir/MERGE_HEAD" "$dir/CHERRY_PICK_HEAD" "$dir/REVERT_HEAD" \
    "$dir/BISECT_HEAD" "$dir/AUTO_MERGE" "$dir/rebase-merge" "$dir/rebase-apply" "$dir/sequencer" "$dir/logs"
done
rm -rf "$tmp"
# Objects only the deleted refs reached go. Kept packs are repacked too, and objects borrowed from alternates
# are copied in, so that the alternates (which may hold anything) can be cut off. Promisor packs (a clone of a
# partial clone) lose their mark: `repack -a` keeps every object of a promisor pack, reachable or not. A
# repository that really lacks objects then fails here, never starts with its later history.
rm -f "$common"/objects/pack/*.keep "$common"/objects/pack/*.promisor
git config --unset-all extensions.partialclone 2>/dev/null || true
git repack -a -d -q
rm -f "$common/objects/info/alternates" "$common/objects/info/http-alternates"
git prune --expire=now
rm -f "$common/objects/info/commit-graph"
rm -rf "$common/objects/info/commit-graphs"
"""

PROBE_MARKER = "__PATCHMIX_PYTHON__ "

# Python 3.5-compatible on purpose: the images' environments can be old. Prints one JSON line after the marker.
PROBE_CODE = r"""
import json, os, re, sys
def declared():
    found, sources = [], []
    if os.path.isfile("pyproject.toml"):
        text = open("pyproject.toml").read()
        project = re.search(r"(?ms)^\[project\][ \t]*$(.*?)(?=^\[|\Z)", text)
        deps = project and re.search(r"(?ms)^dependencies\s*=\s*\[(.*?)\]", project.group(1))
        if deps:
            strings = re.findall(r"\"([^\"]*)\"|'([^']*)'", deps.group(1))  # a marker quotes inside the other quote
            found += [double or single for double, single in strings]; sources.append("pyproject.toml")
    if os.path.isfile("setup.cfg"):
        try:
            import configparser
            parser = configparser.ConfigParser()
            parser.read("setup.cfg")
            value = parser.get("options", "install_requires", fallback="")
        except Exception:
            value = ""
        lines = [line.strip() for line in value.splitlines() if line.strip() and not line.strip().startswith("#")]
        if lines:
            found += lines; sources.append("setup.cfg")
    names = []
    for requirement in found:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        if match and ";" not in requirement:
            names.append(match.group(1))
    return names, sources
def installed(name):
    variants = [name, name.replace("-", "_"), name.replace("_", "-"), name.replace(".", "-"), name.lower()]
    known = None
    try:
        from importlib import metadata
        known = False
        for variant in variants:
            try:
                metadata.version(variant)
                return True
            except Exception:
                pass
    except ImportError:
        pass
    try:
        import pkg_resources
        pkg_resources.get_distribution(name)
        return True
    except ImportError:
        return known
    except Exception:
        return False
names, sources = declared()
states = dict((name, installed(name)) for name in names)
print(MARKER + json.dumps({"executable": sys.executable, "version": "%d.%d.%d" % sys.version_info[:3],
    "declared_in": sources, "checked": names, "missing": [n for n in names if states[n] is False]}))
""".replace("MARKER", repr(PROBE_MARKER))

# The command sent to the agent's shell: the shell options the syntax check assumes, then the probe with
# whichever of `python` and `python3` the shell finds first.
SHELL_OPTIONS = "shopt -s extglob"
PROBE_COMMAND = f"""\
{SHELL_OPTIONS}
__patchmix_py=$(command -v python || command -v python3 || true)
echo "{PROBE_MARKER}path $__patchmix_py"
if [ -n "$__patchmix_py" ]; then "$__patchmix_py" -B - <<'__PATCHMIX_PROBE__'
{PROBE_CODE}
__PATCHMIX_PROBE__
fi
unset __patchmix_py
"""


def read_probe(output: str) -> dict:
    """The probe's findings: {path, executable, version, declared_in, checked, missing}."""
    info = {"path": None}
    for line in output.splitlines():
        if line.startswith(PROBE_MARKER + "path "):
            info["path"] = line[len(PROBE_MARKER) + 5:].strip() or None
        elif line.startswith(PROBE_MARKER + "{"):
            info.update(json.loads(line[len(PROBE_MARKER):]))
    return info


def check_python_env(info: dict, workdir: str) -> None:
    """Raise InfraError when the agent's shell has no python, or one without the repository's dependencies."""
    checked = info.get("checked") or []
    if info.get("path") is None:
        if checked:
            raise InfraError(f"the agent's shell finds no `python` or `python3`, but the repository at {workdir} "
                             f"declares dependencies ({', '.join(checked)}); make ~/.bashrc activate the "
                             "environment the tests use, or set container.check_python: false")
        return
    if info.get("missing"):
        raise InfraError(
            f"the agent's shell runs {info['path']} (Python {info.get('version')}), which lacks "
            f"{', '.join(info['missing'])} declared in {' and '.join(info.get('declared_in') or [])} of {workdir}: "
            "it is not the environment the tests use. Make ~/.bashrc (or PATH in the image) activate that "
            "environment, or set container.check_python: false to run anyway")


def make_prepare_command(workdir: str, base_commit: str | None, store: str, probe: bool = True,
                         file_limit: int | None = None) -> str:
    """The command for the agent's shell before its first step: the history scrub (when `base_commit` is given),
    the snapshot into `store`, then the python probe (left out with `probe` false, when the image's python is
    known already; the shell options are set either way), then the cap on the size of any file the agent's
    commands write (`file_limit` bytes, `ulimit -f`). The first two run as scripts of their own, with the git
    variables the shell's ~/.bashrc may set removed; the probe runs in the shell itself."""
    steps = []
    if base_commit:
        steps.append(make_step("scrub", SCRUB_HISTORY, workdir, base_commit))
    steps.append(make_step("snapshot", SNAPSHOT, workdir, store))
    limit = f"ulimit -f {max(1, file_limit // 1024)}\n" if file_limit else ""  # no file of the agent's grows past it
    return "\n".join(steps) + "\n" + (PROBE_COMMAND if probe else SHELL_OPTIONS + "\n") + limit


def make_step(name: str, script: str, *args: str) -> str:
    delimiter = f"__PATCHMIX_{name.upper()}_SCRIPT__"
    quoted = " ".join(shlex.quote(arg) for arg in args)
    return (f"( {CLEAN_GIT_ENVIRONMENT}; bash -c \"$(cat <<'{delimiter}'\n{script.strip()}\n{delimiter}\n)\" "
            f"{name} {quoted} ) 2>&1; echo \"{STEP_MARKER}{name} $?\"")


def read_steps(output: str) -> dict[str, tuple[int, str]]:
    """Each step's exit code and output, by name."""
    steps, lines = {}, []
    for line in output.splitlines():
        if line.startswith(STEP_MARKER):
            name, code = line[len(STEP_MARKER):].rsplit(" ", 1)
            steps[name] = (int(code), "\n".join(lines).strip())
            lines = []
        elif not line.startswith(PROBE_MARKER):
            lines.append(line)
    return steps


def run_prepare_command(shell: PersistentShell, config: ContainerConfig, snapshot: Snapshot, base_commit: str | None,
                        probe: bool, name: str, image: str) -> tuple[bool, str]:
    """Sends the prepare command to the agent's shell in container `name` and checks its steps: `InfraError` when
    it did not finish within PREPARE_TIMEOUT, or the scrub or the snapshot failed. Returns whether the snapshot was
    made (not when the work dir is no git work tree; its fingerprint is read into `snapshot`) and the output, where
    the probe's findings are (`read_probe`)."""
    workdir = config.workdir
    file_limit = parse_size(config.disk_limit) if config.disk_limit else None
    command = make_prepare_command(workdir, base_commit, snapshot.store, probe=probe, file_limit=file_limit)
    with docker_errors(f"cannot prepare container {name}"):
        result = shell.run(command, PREPARE_TIMEOUT, 200_000)
    steps = read_steps(result.output)
    if result.timed_out or "snapshot" not in steps:
        raise InfraError(f"preparing {workdir} in container {name} did not finish within "
                         f"{PREPARE_TIMEOUT} s: {result.output[-500:]}")
    code, output = steps.get("scrub", (0, ""))
    if code != 0:
        raise InfraError(f"cannot prepare the repository in {workdir} of {image}: {output}")
    code, output = steps["snapshot"]
    if code not in (0, NOT_A_WORK_TREE):
        raise InfraError(f"cannot snapshot {workdir} in container {name} (exit code {code}): {output}")
    snapshot.read_fingerprint(output)
    return code == 0, result.output
