"""One container per agent run: the `bash` tool, file access for the editor, and the patch at the end.

Containers carry labels (`patchmix`, `patchmix.pid`, `patchmix.host`) so that those left behind by a crashed
process can be found and removed by `remove_leftover_containers` when the harness starts again.
Failures of the container or of docker raise `InfraError`; a command that fails is not an error.
"""

from __future__ import annotations

import os
import posixpath
import socket
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

import docker
import requests

from harness.agent.config import ContainerConfig
from harness.exceptions import InfraError
from harness.agent.execs import run_exec
from harness.agent.shell import PersistentShell, join_note

SHELL_ENVIRONMENT = {
    "PAGER": "cat",
    "GIT_PAGER": "cat",
    "MANPAGER": "cat",
    "PIP_PROGRESS_BAR": "off",
    "TQDM_DISABLE": "1",
}
"""Set in the agent's shell so that no tool waits for a terminal or floods the output with progress bars."""

KEEP_ALIVE = ["/bin/sh", "-c", "while :; do sleep 86400; done"]
"""The container's main process: it only keeps the container running (works without GNU `sleep infinity`)."""

# Fills a temporary index with the working tree ($1 repo, $2 index file, $3 base commit) and prints what
# changed against the base as `git diff --numstat -z`. The agent's own index is never touched.
STAGE_SCRIPT = r"""
set -e
cd "$1"
git() { command git -c safe.directory='*' "$@"; }
git cat-file -e "$3^{commit}" 2>/dev/null || { echo "base commit $3 is not in the repository at $1" >&2; exit 3; }
real=$(git rev-parse --git-path index)
if [ -f "$real" ]; then cp "$real" "$2"; fi
export GIT_INDEX_FILE=$2
git read-tree --reset HEAD
git add -A
git diff --cached --no-renames --numstat -z "$3"
"""

# Resets the paths listed on stdin (NUL-separated) to the base in the temporary index, prints the diff,
# and removes the temporary index.
DIFF_SCRIPT = r"""
set -e
cd "$1"
git() { command git -c safe.directory='*' -c diff.noprefix=false -c diff.mnemonicPrefix=false "$@"; }
export GIT_INDEX_FILE=$2 GIT_LITERAL_PATHSPECS=1
trap 'rm -f "$2"' EXIT
if [ "$4" = drop ]; then git reset -q "$3" --pathspec-from-file=- --pathspec-file-nul; fi
git diff --cached --no-renames --no-color --no-ext-diff --no-textconv --no-relative "$3"
"""


@dataclass
class CommandResult:
    output: str
    exit_code: int | None
    timed_out: bool
    elapsed: float


@dataclass
class PatchResult:
    patch: str
    dropped: list[dict] = field(default_factory=list)
    """Each `{"path": ..., "reason": "binary" | "test_file"}`."""


@contextmanager
def docker_errors(action: str):
    """Turns docker and connection failures into `InfraError`, naming what we were doing."""
    try:
        yield
    except docker.errors.ImageNotFound as error:
        raise InfraError(f"{action}: the image is not present locally; build or pull it first ({error})") from error
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as error:
        raise InfraError(f"{action}: {error}") from error


class Environment:
    """A container from `image`, its persistent shell, and one-off execs for tools."""

    def __init__(self, image: str, config: ContainerConfig, labels: dict[str, str] | None = None, client=None):
        self.image = image
        self.config = config
        self.labels = labels or {}
        self.client = client
        self.container = None
        self.shell: PersistentShell | None = None

    @property
    def name(self) -> str:
        return self.container.name if self.container is not None else ""

    def start(self) -> None:
        if self.container is not None:
            raise RuntimeError("this Environment was already started; create a new one for another run")
        with docker_errors(f"cannot create a container from {self.image}"):
            self.client = self.client or docker.from_env(timeout=max(60, int(self.config.start_timeout)))
            self.container = self.client.containers.create(**self._container_options())
        try:
            self._start_container_and_shell()
        except BaseException:
            self.close()
            raise

    def _container_options(self) -> dict:
        labels = {"patchmix": "1", "patchmix.pid": str(os.getpid()), "patchmix.host": socket.gethostname(),
                  **self.labels}
        return dict(image=self.image, entrypoint=KEEP_ALIVE, command=[], labels=labels, detach=True,
                    name=f"patchmix-{uuid.uuid4().hex[:12]}", working_dir=self.config.workdir, init=True,
                    mem_limit=self.config.mem_limit, pids_limit=self.config.pids_limit)

    def _start_container_and_shell(self) -> None:
        with docker_errors(f"cannot start container {self.name} from {self.image}"):
            self.container.start()
            self.shell = PersistentShell(self.client.api, self.container.id, self.config.workdir, SHELL_ENVIRONMENT)
            self.shell.open(timeout=self.config.start_timeout)

    def execute(self, command: str, timeout: float | None = None) -> CommandResult:
        """The `bash` tool: runs `command` in the persistent shell, stderr merged, output capped."""
        shell = self._require_shell()
        timeout = self.config.command_timeout if timeout is None else timeout
        started = time.monotonic()
        with docker_errors(f"the bash tool failed in container {self.name}"):
            result = shell.run(command, timeout, self.config.max_output_chars)  # checks the syntax first
        if result.syntax_error:
            output = join_note(result.output, "[The command was not run: fix its syntax and try again.]")
            return CommandResult(output, 2, False, time.monotonic() - started)
        return CommandResult(result.output, result.exit_code, result.timed_out, time.monotonic() - started)

    def run(self, argv: list[str], stdin: bytes | None = None, timeout: float = 60) -> tuple[int, bytes]:
        """Runs `argv` once, outside the agent's shell; returns the exit code and stdout+stderr as they came.

        The command is killed after `timeout` seconds (exit code 137).
        """
        result = self._exec(argv, stdin, timeout)
        return result.exit_code, result.combined

    def _exec(self, argv: list[str], stdin: bytes | None = None, timeout: float = 60):
        self._require_shell()
        argv = ["timeout", "-s", "KILL", f"{timeout:.3f}", *argv]
        with docker_errors(f"cannot run {argv[4:6]} in container {self.name}"):
            return run_exec(self.client.api, self.container.id, argv, stdin, timeout + 15)

    def read_file(self, path: str) -> bytes:
        result = self._exec(["cat", "--", path])
        if result.exit_code != 0:
            raise OSError(f"cannot read {path} in the container: {decode(result.stderr)}")
        return result.stdout

    def write_file(self, path: str, data: bytes) -> None:
        """Writes `data` to `path`, creating parent directories; an existing file keeps its mode."""
        script = 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1"'
        result = self._exec(["bash", "-c", script, "write-file", path], stdin=data)
        if result.exit_code != 0:
            raise OSError(f"cannot write {path} in the container: {decode(result.stderr)}")

    def make_patch(self, base_commit: str, exclude_paths: set[str]) -> PatchResult:
        """The diff of the work tree (new files included) against `base_commit`, ready for `git apply`.

        Binary files and `exclude_paths` (repository-relative, e.g. the task's test files) are left out and
        listed in `dropped`. Works from a temporary index, whatever the agent did to its index or HEAD.
        """
        index = f"/tmp/patchmix-index-{uuid.uuid4().hex}"
        stage = self._exec(["bash", "-c", STAGE_SCRIPT, "stage", self.config.workdir, index, base_commit],
                           timeout=600)
        self._check_git(stage, "stage the work tree")
        excluded = {normalize_repo_path(path, self.config.workdir) for path in exclude_paths}
        dropped = find_dropped(parse_numstat(stage.stdout), excluded)
        listing = b"".join(item["path"].encode("utf-8", "surrogateescape") + b"\0" for item in dropped)
        mode = "drop" if dropped else "keep"
        diff = self._exec(["bash", "-c", DIFF_SCRIPT, "diff", self.config.workdir, index, base_commit, mode],
                          stdin=listing, timeout=600)
        self._check_git(diff, "diff the work tree")
        patch = decode(diff.stdout)
        if patch and not patch.endswith("\n"):
            patch += "\n"
        return PatchResult(patch, dropped)

    def _check_git(self, result, action: str) -> None:
        if result.exit_code != 0:
            raise InfraError(f"cannot {action} in {self.config.workdir} of container {self.name} to make the "
                             f"patch (git exit code {result.exit_code}): {decode(result.stderr).strip()}")

    def _require_shell(self) -> PersistentShell:
        if self.shell is None or self.container is None:
            raise RuntimeError("the Environment is not running: call start() first (or use it as a context manager)")
        return self.shell

    def close(self) -> None:
        """Stops the shell and removes the container; safe to call more than once."""
        if self.shell is not None:
            self.shell.close()
            self.shell = None
        container, self.container = self.container, None
        if container is None:
            return
        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            return  # already gone
        except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
            raise InfraError(f"cannot remove container {container.name}: {error}; remove it with "
                             f"`docker rm -f {container.name}`") from error

    def __enter__(self) -> Environment:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def parse_numstat(output: bytes) -> list[tuple[str, bool]]:
    """(path, is_binary) for each record of `git diff --numstat -z --no-renames`."""
    entries = []
    for record in output.split(b"\0"):
        if not record:
            continue
        added, _deleted, path = record.split(b"\t", 2)
        entries.append((path.decode("utf-8", errors="surrogateescape"), added == b"-"))
    return entries


def find_dropped(entries: list[tuple[str, bool]], excluded: set[str]) -> list[dict]:
    dropped = []
    for path, binary in entries:
        if path in excluded:
            dropped.append({"path": path, "reason": "test_file"})
        elif binary:
            dropped.append({"path": path, "reason": "binary"})
    return dropped


def normalize_repo_path(path: str, workdir: str) -> str:
    """A path relative to the repository root, whether given relative or absolute under `workdir`."""
    path = posixpath.normpath(path)
    root = posixpath.normpath(workdir)
    if path.startswith(root + "/"):
        path = path[len(root) + 1:]
    return path


def decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def remove_leftover_containers(client=None) -> list[str]:
    """Removes containers labelled patchmix that were started on this host by a process that no longer runs."""
    return remove_containers(lambda pid: not is_process_alive(pid), client)


def remove_own_containers(client=None) -> list[str]:
    """Removes the containers this process started (on Ctrl-C, so that runs in other threads stop at once)."""
    return remove_containers(lambda pid: pid == os.getpid(), client)


def remove_containers(select, client=None) -> list[str]:
    """Removes this host's patchmix containers whose owner pid passes `select`; returns their names."""
    with docker_errors("cannot list patchmix containers"):
        client = client or docker.from_env()
        filters = {"label": ["patchmix", f"patchmix.host={socket.gethostname()}"]}
        containers = client.containers.list(all=True, sparse=True, filters=filters)  # sparse: no racy inspect
    removed = []
    for container in containers:
        pid = (container.attrs.get("Labels") or {}).get("patchmix.pid", "")
        if not pid.isdigit() or not select(int(pid)):
            continue
        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            continue  # its owner removed it meanwhile
        except docker.errors.APIError as error:
            raise InfraError(f"cannot remove patchmix container {container.id[:12]}: {error}") from error
        removed.append((container.attrs.get("Names") or [container.id[:12]])[0].lstrip("/"))
    return removed


def is_process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by another user
    return True
