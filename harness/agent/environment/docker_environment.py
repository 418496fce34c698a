"""One container per agent run: the `bash` tool, file access for the editor, and the patch at the end.

Containers carry labels (`patchmix`, `patchmix.pid`, `patchmix.host`) so that those left behind by a crashed
process can be found and removed by `remove_leftover_containers` when the harness starts again.
Failures of the container or of docker raise `InfraError`; a command that fails is not an error.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, replace

import docker
import requests

from harness.agent.config import ContainerConfig
from harness.agent.environment.diskwatch import DiskWatch
from harness.agent.environment.execs import run_exec
from harness.agent.environment.patch import NOT_A_WORK_TREE, PatchResult, Snapshot, make_patch
from harness.agent.environment.prepare import check_python_env, make_prepare_command, read_probe, read_steps
from harness.agent.environment.shell import PersistentShell, join_note
from harness.agent.environment.vault import put_back, restart_container, take_out
from harness.agent.environment.sizes import format_size, parse_size
from harness.exceptions import DISK_LIMIT, ENV_BROKEN, EnvironmentEnded, InfraError

SHELL_ENVIRONMENT = {
    "PAGER": "cat",
    "GIT_PAGER": "cat",
    "MANPAGER": "cat",
    "PIP_PROGRESS_BAR": "off",
    "TQDM_DISABLE": "1",
}
"""Set in the agent's shell so that no tool waits for a terminal or floods the output with progress bars."""

PREPARE_TIMEOUT = 600
"""Seconds the history scrub, the snapshot and the python probe may take together at a container's start."""
PREPARED_IMAGES: dict[str, dict] = {}
"""Images a container of this process was started and prepared from (its shell's python passed the check), with
what the python probe found: a later container of the same image is not probed again (the image is read-only)."""

KEEP_ALIVE = ["/bin/sh", "-c", "while :; do sleep 86400; done"]
"""The container's main process: it only keeps the container running (works without GNU `sleep infinity`)."""

KEPT_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "NET_BIND_SERVICE"]
"""What an agent needs of root: own and chmod files, kill its processes, switch users for a test. Docker's other
defaults (NET_RAW, MKNOD, SETPCAP, SETFCAP, SYS_CHROOT, AUDIT_WRITE) are dropped."""

@dataclass
class CommandResult:
    output: str
    exit_code: int | None
    timed_out: bool
    elapsed: float


@contextmanager
def docker_errors(action: str):
    """Turns docker and connection failures into `InfraError`, naming what we were doing."""
    try:
        yield
    except docker.errors.ImageNotFound as error:
        raise InfraError(f"{action}: the image is not present locally; build or pull it first ({error})") from error
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as error:
        raise InfraError(f"{action}: {error}") from error


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
        """The snapshot's store as the host keeps it (`harness.agent.environment.vault`): never in the container during the run."""
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
                                      f"container.disk_limit ({self.config.disk_limit}); the container {self.name} was removed")
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
        workdir, snapshot = self.config.workdir, Snapshot()
        probed = PREPARED_IMAGES.get(self.image)
        file_limit = parse_size(self.config.disk_limit) if self.config.disk_limit else None
        command = make_prepare_command(workdir, self.base_commit, snapshot.store, probe=probed is None,
                                       file_limit=file_limit)
        with docker_errors(f"cannot prepare container {self.name}"):
            result = self.shell.run(command, PREPARE_TIMEOUT, 200_000)
        steps = read_steps(result.output)
        if result.timed_out or "snapshot" not in steps:
            raise InfraError(f"preparing {workdir} in container {self.name} did not finish within "
                             f"{PREPARE_TIMEOUT} s: {result.output[-500:]}")
        code, output = steps.get("scrub", (0, ""))
        if code != 0:
            raise InfraError(f"cannot prepare the repository in {workdir} of {self.image}: {output}")
        code, output = steps["snapshot"]
        if code not in (0, NOT_A_WORK_TREE):
            raise InfraError(f"cannot snapshot {workdir} in container {self.name} (exit code {code}): {output}")
        snapshot.read_fingerprint(output)
        if code == 0:
            with docker_errors(f"cannot take the snapshot out of container {self.name}"):
                self.snapshot_archive = take_out(self.client.api, self.container.id, snapshot.store, self._exec)
        self.snapshot = snapshot if code == 0 else None
        self.python_env = dict(probed) if probed is not None else read_probe(result.output)
        if self.config.check_python:
            check_python_env(self.python_env, workdir)
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
        fresh name (`harness.agent.environment.vault`); returns its path in the container. The shell is opened again only by
        a later `execute`, after the collection: its ~/.bashrc is the agent's to edit, and could start a process."""
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
        if container is None:
            return
        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            return  # already gone
        except docker.errors.APIError as error:
            if is_removal_under_way(error):
                return  # another remover (Ctrl-C's cleanup, a next start) got there first
            raise InfraError(f"cannot remove container {container.name}: {error}; remove it with "
                             f"`docker rm -f {container.name}`") from error
        except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
            raise InfraError(f"cannot remove container {container.name}: {error}; remove it with "
                             f"`docker rm -f {container.name}`") from error

    def __enter__(self) -> Environment:
        if self.container is None and self._starting is None:
            self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def make_container_options(image: str, config: ContainerConfig, labels: dict[str, str], name: str) -> dict:
    """docker's `containers.create` arguments of a patchmix container: labelled (so leftovers are found), no
    network unless `config.network`, capabilities dropped, no-new-privileges, memory, pids and CPU limits. The
    agent's containers and the scoring run's (`harness.scoring.isolated`) are made with them."""
    labels = {"patchmix": "1", "patchmix.pid": str(os.getpid()), "patchmix.host": socket.gethostname(), **labels}
    return dict(image=image, entrypoint=KEEP_ALIVE, command=[], labels=labels, detach=True, name=name,
                working_dir=config.workdir, init=True, mem_limit=config.mem_limit, pids_limit=config.pids_limit,
                network_mode=None if config.network else "none",
                cap_drop=["ALL"], cap_add=KEPT_CAPABILITIES, security_opt=["no-new-privileges"],
                nano_cpus=int(config.cpus * 1e9) if config.cpus > 0 else None)


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
            if is_removal_under_way(error):
                continue  # its owner (or the engine, for a killed one) is removing it right now
            raise InfraError(f"cannot remove patchmix container {container.id[:12]}: {error}") from error
        removed.append((container.attrs.get("Names") or [container.id[:12]])[0].lstrip("/"))
    return removed


def is_removal_under_way(error: docker.errors.APIError) -> bool:
    """Docker answers 409 "removal of container ... is already in progress" when two removers meet."""
    return error.status_code == 409 and "already in progress" in str(error)


def is_process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by another user
    return True
