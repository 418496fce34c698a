"""The snapshot of a run's start, kept out of the agent's reach for the whole run.

The agent is root in its container (with DAC_OVERRIDE), so nothing stored in the container is safe from it. The
snapshot (`harness.agent.environment.snapshot.SNAPSHOT`, one pack and its findings; 5.3 MB for sympy, whose
repository holds 85 MB of objects) is made by the start-up command, before the agent's first command, and at once:

- `take_out`: copied out to the host (in memory up to MEMORY_LIMIT, else in a temporary file) and deleted from
  the container, so that nothing the agent runs can read, mine or delete it;
- `restart_container` (at the end of the run): the container is killed and started again, so every process in
  it dies with its PID 1 (`kill -9 -1`, daemons, `nohup`, orphans: nothing the agent left running can race
  the collection or watch for the snapshot), while its files stay as the agent left them; a container the agent
  stopped in the background (PID 1 killed after its last command) is started again the same way;
- `put_back`: the snapshot is put back under a fresh random name at the root (`/` cannot be a symlink the agent
  planted, unlike any folder below it), for the patch scripts.

What it costs (medians of 5 on a loaded 2-core machine): a container's start, 0.39 -> 0.77 s on a bundled task and
2.3 -> 4.3 s on sympy-13091 (the pack, 0.7 s, and the take-out, 0.4 s); the collection, 0.17 -> 0.77 s and
0.21 -> 0.74 s (the restart is 0.5 s of it).
"""

from __future__ import annotations

import posixpath
import tempfile
import uuid

import docker

from harness.exceptions import InfraError

MEMORY_LIMIT = 16 << 20
"""Bytes of a snapshot kept in memory; a larger one spills to a temporary file of the host."""
STORE_PREFIX = "/.patchmix-"


def make_store_path() -> str:
    """A fresh random path at the container's root."""
    return f"{STORE_PREFIX}{uuid.uuid4().hex}"


def take_out(api, container_id: str, store: str, exec_) -> tempfile.SpooledTemporaryFile:
    """The tar of `store` as the host keeps it; `store` is deleted from the container (`exec_(argv)` runs a
    command there and returns its ExecOutput)."""
    archive = tempfile.SpooledTemporaryFile(max_size=MEMORY_LIMIT)
    try:
        stream, _ = api.get_archive(container_id, store)
        for chunk in stream:
            archive.write(chunk)
        removed = exec_(["rm", "-rf", "--", store])
        if removed.exit_code != 0 or exec_(["test", "-e", store]).exit_code == 0:
            raise InfraError(f"cannot delete the snapshot {store} from container {container_id[:12]}: "
                             f"{removed.combined.decode('utf-8', 'replace').strip()}")
    except BaseException:
        archive.close()
        raise
    return archive


def restart_container(api, container_id: str, timeout: float) -> None:
    """Kills every process of the container (its PID 1, and with it its PID namespace), then starts it again."""
    try:
        api.kill(container_id)
    except docker.errors.APIError as error:
        if error.status_code != 409:  # 409: not running (the agent stopped it); started again below
            raise
    api.wait(container_id, timeout=timeout)
    api.start(container_id)


def put_back(api, container_id: str, archive, store: str, exec_) -> str:
    """Puts the snapshot taken from `store` back into the container under a fresh random folder; returns the
    path of the store there."""
    parent = make_store_path()
    made = exec_(["mkdir", "-m", "700", "--", parent])
    if made.exit_code != 0:
        raise InfraError(f"cannot make {parent} in container {container_id[:12]} to put the snapshot back: "
                         f"{made.combined.decode('utf-8', 'replace').strip()}")
    archive.seek(0)
    if not api.put_archive(container_id, parent, archive):  # streamed from memory or from the file
        raise InfraError(f"docker refused to put the snapshot back into {parent} of container {container_id[:12]}")
    return posixpath.join(parent, posixpath.basename(store))
