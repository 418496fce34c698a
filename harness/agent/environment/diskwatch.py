"""The disk allowance of an agent's container (`container.disk_limit`).

Docker sets no size on a container's writable layer on most hosts (overlay2 on ext4), so an agent that writes
without end (`dd if=/dev/zero of=big`) would fill the host's disk and stop every other run. `DiskWatch` measures
the layer (`SizeRw`, the engine's own count) every few seconds while the container lives; over the allowance it
calls `on_over` with the size, and the environment kills the container and ends the run `disk_limit`.
"""

from __future__ import annotations

import threading

import docker
import requests

class DiskWatch:
    """Measures a container's writable layer every `every` seconds until stopped or over `limit` bytes."""

    def __init__(self, api, container_id: str, limit: int, every: float, on_over):
        self.api, self.container_id, self.limit, self.every, self.on_over = api, container_id, limit, every, on_over
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True, name=f"disk-{container_id[:12]}")

    def start(self) -> DiskWatch:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()

    def watch(self) -> None:
        while not self.stopped.wait(self.every):
            size = self.measure()
            if size is not None and size > self.limit:
                self.on_over(size)
                return

    def measure(self) -> int | None:
        """The writable layer's bytes; None when the engine cannot say (the container is being removed)."""
        try:
            url = self.api._url("/containers/{0}/json", self.container_id)  # docker-py's inspect has no `size`
            return self.api._result(self.api._get(url, params={"size": 1}), True).get("SizeRw")
        except (docker.errors.DockerException, requests.exceptions.RequestException, ValueError):
            return None
