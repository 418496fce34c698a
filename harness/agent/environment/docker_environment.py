"""One container per agent run: the `bash` tool, file access for the editor, and the patch at the end.

The container is made with `harness.agent.environment.container_options` (labelled, so that one a crashed process
left behind is removed by `harness.agent.environment.removal` when the harness starts again), prepared by
`harness.agent.environment.prepare`, and its patch made by `harness.agent.environment.patch`.
Failures of the container or of docker raise `InfraError`; a command that fails is not an error.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, replace

import docker
import requests

from harness.agent.config import ContainerConfig
from harness.agent.environment.container_options import make_container_options
from harness.agent.environment.diskwatch import DiskWatch
from harness.agent.environment.execs import run_exec
from harness.agent.environment.patch import PatchResult, make_patch
from harness.agent.environment.prepare import check_python_env, read_probe, run_prepare_command
from harness.agent.environment.removal import docker_errors, remove_container
from harness.agent.environment.shell import SHELL_ENVIRONMENT, PersistentShell, join_note
from harness.agent.environment.sizes import format_size, parse_size
from harness.agent.environment.snapshot import Snapshot
from harness.agent.environment.vault import put_back, restart_container, take_out
from harness.exceptions import DISK_LIMIT, ENV_BROKEN, EnvironmentEnded, InfraError

PREPARED_IMAGES: dict[str, dict] = {}
"""Images a container of this process was started and prepared from (its shell's python passed the check), with
what the python probe found: a later container of the same image is not probed again (the image is read-only)."""


@dataclass
class CommandResult:
    output: str
    exit_code: int | None
    timed_out: bool
    elapsed: float


def was_prepared(image: str) -> bool:
    """Whether a container of `image` was started and prepared in this process (so a fault of the image itself,
    such as a shell python without the repository's dependencies, is already ruled out)."""
    return image in PREPARED_IMAGES


class Environment:
    """A container from `image`, its persistent shell, and one-off execs for tools."""

    def __init__(self, image: str, config: ContainerConfig, labels: dict[str, str] | None = None, client=None,
                 base_commit: str | None = None):
        self.image = image
        self.config = config
        self.labels = labels or {}
        self.client = client
        self.own_client = client is None
        """A client this Environment made is closed with it (else every run would leave its sockets open)."""
        self.base_commit = base_commit
        """When given, the history after it is removed at start (see `harness.agent.environment.prepare`)."""
        self.container = None
        self.shell: PersistentShell | None = None
        self.snapshot: Snapshot | None = None
        self.snapshot_archive = None
        """The snapshot's store as the host keeps it (`harness.agent.environment.vault`): never in the container
        during the run."""
        self.python_env: dict = {}
        """Which `python` the agent's shell runs and which declared dependencies it lacks (`prepare`)."""
        self._starting: threading.Thread | None = None
        self._start_error: BaseException | None = None
        self.disk_watch: DiskWatch | None = None
        self.ended: EnvironmentEnded | None = None
        """Set once the container was ended for what the agent did in it (over its disk allowance)."""

    @property
    def name(self) -> str:
        return self.container.name if self.container is not None else ""

    def start(self, background: bool = False) -> Environment:
        """Creates the container, then starts it and its shell and prepares it (`prepare`). With `background`,
        all after the creation (which finds a missing image at once, before any money is spent) happens in a
        thread while the caller goes on, e.g. with the model's first call; every use of the container waits for
        it, and a failure to start is raised there. Only an image prepared before in this process starts in the
        background (see `was_prepared`): the first container of an image is checked before any call is paid."""
        if self.container is not None or self._starting is not None:
            raise RuntimeError("this Environment was already started; create a new one for another run")
        with docker_errors(f"cannot create a container from {self.image}"):
            self.client = self.client or docker.from_env(timeout=max(60, int(self.config.start_timeout)))
            self.container = self.client.containers.create(**self._container_options())
        if not (background and was_prepared(self.image)):
            self._start_created()
            return self
        self._starting = threading.Thread(target=self._start_in_background, daemon=True,
                                          name=f"start-{self.container.name}")
        self._starting.start()
        return self

    def _start_in_background(self) -> None:
        try:
            self._start_created()
        except BaseException as error:  # noqa: BLE001 - raised in the thread that uses the container
            self._start_error = error

    def wait_started(self) -> None:
        """Returns once a start under way has ended; raises its error, if it failed."""
        starting = self._starting
        if starting is not None and starting is not threading.current_thread():
            starting.join()
        if self._start_error is not None:
            error = self._start_error
            if isinstance(error, InfraError):
                raise error
            raise InfraError(f"the container from {self.image} did not start: {error!r}") from error

    def _start_created(self) -> None:
        try:
            self._start_container_and_shell()
        except BaseException:
            if self._starting is None:
                self.close()
            else:
                self._remove_container()  # close() is for the thread that owns this Environment
            raise

    def _container_options(self) -> dict:
        return make_container_options(self.image, self.config, self.labels, f"patchmix-{uuid.uuid4().hex[:12]}")

    def _start_container_and_shell(self) -> None:
        with docker_errors(f"cannot start container {self.name} from {self.image}"):
            self.container.start()
            self.shell = PersistentShell(self.client.api, self.container.id, self.config.workdir, SHELL_ENVIRONMENT)
            self.shell.open(timeout=self.config.start_timeout)
        self.prepare()
        if self.config.disk_limit:
            self.disk_watch = DiskWatch(self.client.api, self.container.id, parse_size(self.config.disk_limit),
                                        self.config.disk_check_seconds, self._end_over_disk_limit).start()

    def _end_over_disk_limit(self, size: int) -> None:
        """The disk watch's call: the container is killed at once (its removal follows when the run ends)."""
        self.ended = EnvironmentEnded(DISK_LIMIT, f"the container's writable layer grew to {format_size(size)}, over "
                                      f"container.disk_limit ({self.config.disk_limit}); the container {self.name} "
                                      "was removed")
        try:
            self.client.api.kill(self.container.id)
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            pass  # stopped or being removed already

    def raise_if_ended(self) -> None:
        """Raise the reason the container was ended for, if it was (a command that returned meanwhile is void)."""
        if self.ended is not None:
            raise self.ended

    def explain(self, error: InfraError) -> InfraError:
        """Why a tool call failed on the container: ended over its disk allowance; stopped while it ran, which
        only the agent's own commands do (PID 1 killed: `ENV_BROKEN`); or `error` itself (removed from outside,
        the engine failed)."""
        if self.ended is not None:
            return self.ended
        try:
            state = self.client.api.inspect_container(self.container.id)["State"]
        except (docker.errors.DockerException, requests.exceptions.RequestException, AttributeError, TypeError):
            return error  # gone: removed by the pipeline (Ctrl-C) or from outside
        if state.get("Running") or state.get("Status") in ("removing", "dead"):
            return error
        return EnvironmentEnded(ENV_BROKEN, f"the container stopped during the agent's command (exit code "
                                f"{state.get('ExitCode')}, out of memory: {bool(state.get('OOMKilled'))}): the "
                                "agent's own commands broke its environment")

    def prepare(self) -> None:
        """Before the first step, in one command of the agent's shell: the history after the base commit goes,
        the work tree is snapshot (the patch is measured from it; the snapshot is then taken out of the container,
        `harness.agent.environment.vault`), and the shell's python is checked."""
        snapshot, probed = Snapshot(), PREPARED_IMAGES.get(self.image)
        made, output = run_prepare_command(self.shell, self.config, snapshot, self.base_commit, probed is None,
                                           self.name, self.image)
        if made:
            with docker_errors(f"cannot take the snapshot out of container {self.name}"):
                self.snapshot_archive = take_out(self.client.api, self.container.id, snapshot.store, self._exec)
        self.snapshot = snapshot if made else None
        self.python_env = dict(probed) if probed is not None else read_probe(output)
        if self.config.check_python:
            check_python_env(self.python_env, self.config.workdir)
        PREPARED_IMAGES[self.image] = self.python_env

    def execute(self, command: str, timeout: float | None = None) -> CommandResult:
        """The `bash` tool: runs `command` in the persistent shell, stderr merged, output capped."""
        shell = self._require_shell()
        timeout = self.config.command_timeout if timeout is None else timeout
        started = time.monotonic()
        with docker_errors(f"the bash tool failed in container {self.name}"):
            if shell.stream is None:  # closed by the restart that ends the agent's processes (`make_patch`)
                shell.open(timeout=self.config.start_timeout)
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

    def make_patch(self, exclude_paths: set[str] = frozenset(), deadline: float | None = None) -> PatchResult:
        """The diff from the snapshot taken at start to the work tree now (new files and the agent's commits
        included), ready for `git apply`; what was left out is in `dropped` (see `harness.agent.environment.patch`)."""
        self.wait_started()
        if self.snapshot is None:
            raise InfraError(f"{self.config.workdir} in container {self.name} was not a git work tree at start, "
                             "so there is no patch to make; the image must hold the repository there")
        with docker_errors(f"cannot make the patch in container {self.name}"):
            store = self.restart_and_put_back()
            return make_patch(self._exec, self.config.workdir, self.name, replace(self.snapshot, store=store),
                              exclude_paths, self.config.keep_test_infrastructure, deadline)

    def restart_and_put_back(self) -> str:
        """Every process of the agent ends (the container is restarted), then the snapshot is put back under a
        fresh name (`harness.agent.environment.vault`); returns its path in the container. The shell is opened
        again only by a later `execute`, after the collection: its ~/.bashrc is the agent's to edit, and could
        start a process."""
        self.shell.close()
        restart_container(self.client.api, self.container.id, self.config.start_timeout)
        return put_back(self.client.api, self.container.id, self.snapshot_archive, self.snapshot.store, self._exec)

    def _require_shell(self) -> PersistentShell:
        self.wait_started()
        if self.shell is None or self.container is None:
            raise RuntimeError("the Environment is not running: call start() first (or use it as a context manager)")
        return self.shell

    def close(self) -> None:
        """Stops the shell and removes the container; safe to call more than once."""
        try:
            if self._starting is not None and self._starting is not threading.current_thread():
                self._starting.join()  # a start under way ends first, else its container would outlive this
            self._remove_container()
        finally:
            if self.own_client and self.client is not None:
                self.client.close()

    def _remove_container(self) -> None:
        if self.snapshot_archive is not None:
            self.snapshot_archive.close()
        if self.disk_watch is not None:
            self.disk_watch.stop()
        if self.shell is not None:
            self.shell.close()
            self.shell = None
        container, self.container = self.container, None
        if container is not None:
            remove_container(container)

    def __enter__(self) -> Environment:
        if self.container is None and self._starting is None:
            self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")
