"""Docker's failures as the harness reports them (`docker_errors`: an `InfraError` that names what we were
doing), and the removal of patchmix containers: one at the end of its run (`remove_container`), those a crashed
process left behind (`remove_leftover_containers`, when the harness starts again) and this process's own (on
Ctrl-C, `remove_own_containers`), found by the labels `harness.agent.environment.container_options` sets.
"""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager

import docker
import requests

from harness.exceptions import InfraError


@contextmanager
def docker_errors(action: str):
    """Turns docker and connection failures into `InfraError`, naming what we were doing."""
    try:
        yield
    except docker.errors.ImageNotFound as error:
        raise InfraError(f"{action}: the image is not present locally; build or pull it first ({error})") from error
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as error:
        raise InfraError(f"{action}: {error}") from error


def remove_container(container) -> None:
    """Removes one container and its volumes; one already gone, or being removed by another remover, is fine."""
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
