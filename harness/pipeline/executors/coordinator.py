"""The cluster-wide side of the Ray executor: one actor that owns the provider slots and carries every run's
events (model-call ledger lines, costs) back to the pipeline's process, and the code a node runs for one run.

Nothing here imports Ray at module level (it is an optional extra): the actor and the task are plain Python,
wrapped by `raycluster`. A run on a node reaches the actor through proxies with the same interfaces as the local
objects they stand for: `RemoteLimiter` for a `threading.Semaphore` (acquire with a timeout, release),
`Forwarder` for the `on_call` and `on_cost` callbacks.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import docker

from harness import exceptions as ex
from harness.agent.attempt import run_instance
from harness.agent.trajectory import Trajectory, now, read_trajectory
from harness.pipeline.config import ImagesConfig
from harness.pipeline.executors.nodeimages import ensure_image, release_image


class Coordinator:
    """Held by one Ray actor for the whole pipeline: provider slots by holder, and events waiting for the driver.

    A holder is one attempt of one run; when its node dies, `forget` frees whatever it held, so a dead node
    never keeps a provider slot."""

    def __init__(self, caps: dict[str, int]):
        self.caps = dict(caps)
        self.held: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.most_held: dict[str, int] = defaultdict(int)
        self.events: dict[str, list] = defaultdict(list)
        self.nodes: dict[str, str] = {}
        self.changed = asyncio.Condition()

    def count(self, provider: str) -> int:
        return sum(self.held[provider].values())

    async def acquire(self, provider: str, holder: str, timeout: float) -> bool:
        """Takes one of `provider`'s slots for `holder`; False if none came free within `timeout` seconds."""
        cap = self.caps.get(provider, 0)
        async with self.changed:
            try:
                await asyncio.wait_for(self.changed.wait_for(lambda: cap <= 0 or self.count(provider) < cap), timeout)
            except asyncio.TimeoutError:
                return False
            self.held[provider][holder] += 1
            self.most_held[provider] = max(self.most_held[provider], self.count(provider))
            return True

    async def release(self, provider: str, holder: str) -> None:
        async with self.changed:
            if self.held[provider].get(holder, 0) > 0:
                self.held[provider][holder] -= 1
            self.changed.notify_all()

    async def forget(self, holder: str) -> None:
        """Frees every slot `holder` held (its node died, or it was cancelled)."""
        async with self.changed:
            for slots in self.held.values():
                slots.pop(holder, None)
            self.changed.notify_all()

    async def push(self, holder: str, name: str, args: tuple) -> None:
        self.events[holder].append((name, args))

    async def take(self, holder: str) -> list:
        """The events `holder` pushed since the last take, in order."""
        return self.events.pop(holder, [])

    async def started(self, holder: str, node_id: str) -> None:
        self.nodes[holder] = node_id

    async def get_node(self, holder: str) -> str | None:
        return self.nodes.get(holder)

    async def get_most_held(self) -> dict[str, int]:
        """The most slots of each provider ever held at once (what the cap allowed, for checks)."""
        return dict(self.most_held)


class RemoteLimiter:
    """A provider's slot on the coordinator, with the interface of `threading.Semaphore` the model seam uses."""

    def __init__(self, coordinator, provider: str, holder: str):
        self.coordinator, self.provider, self.holder = coordinator, provider, holder

    def acquire(self, timeout: float | None = None) -> bool:
        import ray  # lazy: Ray is an optional extra, imported only on a cluster's nodes

        return ray.get(self.coordinator.acquire.remote(self.provider, self.holder, 3600.0 if timeout is None else timeout))

    def release(self) -> None:
        import ray  # lazy: Ray is an optional extra, imported only on a cluster's nodes

        ray.get(self.coordinator.release.remote(self.provider, self.holder))

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


class Forwarder:
    """A callback (`on_call`, `on_cost`) whose calls reach the pipeline's process, in order, through the actor."""

    def __init__(self, coordinator, holder: str, name: str):
        self.coordinator, self.holder, self.name = coordinator, holder, name

    def __call__(self, *args) -> None:
        import ray  # lazy: Ray is an optional extra, imported only on a cluster's nodes

        ray.get(self.coordinator.push.remote(self.holder, self.name, args))


def run_on_node(job: dict, coordinator, holder: str, provider: str | None, callbacks: list[str]):
    """One agent run on this node; the trajectory is written to a scratch folder and returned whole, so that
    only the pipeline's process writes the run folder. Returns (prediction, trajectory dict)."""
    import ray  # lazy: Ray is an optional extra, imported only on a cluster's nodes

    node_id = ray.get_runtime_context().get_node_id()
    ray.get(coordinator.started.remote(holder, node_id))
    limiter = RemoteLimiter(coordinator, provider, holder) if provider else None
    forwards = {name: Forwarder(coordinator, holder, name) for name in callbacks}
    with tempfile.TemporaryDirectory(prefix="patchmix-ray-") as scratch, hold_image(job, node_id) as unavailable:
        path = Path(scratch) / job["file_name"]
        if unavailable:
            return record_unavailable_here(job, path, unavailable), read_trajectory(path)
        prediction, _ = run_instance(job["row"], job["config"], path, job["model_name"],
                                     extra_variables=job["extra_variables"], header=job["header"],
                                     limiter=limiter, **forwards)
        return prediction, read_trajectory(path)


@contextmanager
def hold_image(job: dict, node_id: str):
    """The run's image on this node (pulled if absent, when the job carries `images`): yields None, or why the
    image cannot be had; the node's images are trimmed to its budget afterwards."""
    if not job.get("images"):
        yield None
        return
    config, name = ImagesConfig(**job["images"]), job["row"]["image"]
    reason = ensure_image(name, config, node_id)
    try:
        yield reason
    finally:
        if reason is None:
            release_image(name, config, node_id)


def record_unavailable_here(job: dict, path: Path, reason: str) -> dict:
    header = {"instance_id": job["row"]["instance_id"], "model_name_or_path": job["model_name"], **job["header"]}
    Trajectory(path, header).save(exit_status=ex.IMAGE_UNAVAILABLE, cost=0.0, steps=0, tokens_in=0, tokens_out=0,
                                  exit_detail=reason, patch="", patch_label=None, patch_dropped=[], finished_at=now())
    return {"instance_id": job["row"]["instance_id"], "model_name_or_path": job["model_name"], "model_patch": ""}


def list_local_images(variables: list[str]) -> tuple[str, list[str], list[str]]:
    """(this node's id, the tags of its Docker images, which of `variables` are unset here); run on each node
    at start. Only whether a variable is set leaves the node, never its value."""
    import ray  # lazy: Ray is an optional extra, imported only on a cluster's nodes

    client = docker.from_env()
    tags = [tag for image in client.images.list() for tag in image.tags]
    unset = [name for name in variables if not os.environ.get(name)]
    return ray.get_runtime_context().get_node_id(), tags, unset
