"""How a patchmix container is made: docker's `containers.create` arguments (`make_container_options`), shared by
the agent's containers (`harness.agent.environment.docker_environment`) and the scoring run's
(`harness.scoring.sandbox`).

Containers carry labels (`patchmix`, `patchmix.pid`, `patchmix.host`) so that those left behind by a crashed
process can be found and removed (`harness.agent.environment.removal`).
"""

from __future__ import annotations

import os
import socket

from harness.agent.config import ContainerConfig

KEEP_ALIVE = ["/bin/sh", "-c", "while :; do sleep 86400; done"]
"""The container's main process: it only keeps the container running (works without GNU `sleep infinity`)."""

KEPT_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "NET_BIND_SERVICE"]
"""What an agent needs of root: own and chmod files, kill its processes, switch users for a test. Docker's other
defaults (NET_RAW, MKNOD, SETPCAP, SETFCAP, SYS_CHROOT, AUDIT_WRITE) are dropped."""


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
