"""The Ray executor: each agent run is a Ray task on a node that has Docker and the instance's image.

Nodes offer their Docker by a custom resource, `patchmix_container: N`, N being how many containers that node
may run at once (`ray start ... --resources '{"patchmix_container": 4}'`); each run takes one. At start the
executor asks every such node which images it holds and whether the model keys' variables are set there. A run
goes to any node when all have its image, else to the least busy node that has it; with `images.pull` (the
default) an image on no node is pulled by the least busy node when a run of it is given to it, within that
node's own `images.max_disk_gb` (`nodeimages`), and the image's later runs follow it there. With pulling off,
an image on no node refuses the start (one line).

The pipeline's process stays the only writer of the run folder: a node runs the agent with its trajectory in a
scratch folder and returns it whole; the ledger lines and costs of its model calls reach the pipeline's process
through one `Coordinator` actor, which also owns the per-provider slots. A run whose node dies (or whose worker
crashes) is redone on another node, its slots freed; its result is recorded once, by the attempt that finished.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid

from harness import exceptions as ex
from harness.agent.model.request import get_provider
from harness.agent.trajectory import Trajectory, now, write_trajectory
from harness.exceptions import ConfigError
from harness.pipeline.executors.coordinator import Coordinator, list_local_images, run_on_node

logger = logging.getLogger("patchmix")

CONTAINER_RESOURCE = "patchmix_container"
MAX_ATTEMPTS = 3
"""Attempts of one run when nodes die under it; after that it is recorded `infra_error` and redone on resume."""
POLL_SECONDS = 0.2
CALLBACKS = ("on_call", "on_cost")
PASSED_VARIABLES = ("LITELLM_LOCAL_MODEL_COST_MAP",)
"""Settings (never secrets) passed to the workers' environment; keys must be set where `ray start` ran."""


def get_node_failures():
    import ray.exceptions as rex  # lazy: Ray is an optional extra

    return (rex.WorkerCrashedError, rex.NodeDiedError, rex.ObjectLostError, rex.OwnerDiedError,
            rex.LocalRayletDiedError, rex.TaskUnschedulableError, rex.RaySystemError)


def has_image(tags: set[str], image: str) -> bool:
    return image in tags or (":" not in image.rsplit("/", 1)[-1] and f"{image}:latest" in tags)


class RayExecutor:
    kind = "ray"

    def __init__(self, config, provider_concurrency: dict[str, int]):
        import ray  # lazy: Ray is an optional extra

        self.ray = ray
        self.owns_connection = not ray.is_initialized()
        if self.owns_connection:
            env = {name: os.environ[name] for name in PASSED_VARIABLES if name in os.environ}
            ray.init(address=config.address or "auto", namespace="patchmix", log_to_driver=False,
                     runtime_env={"env_vars": env} if env else None)
        self.nodes = self.find_docker_nodes()
        self.images: dict[str, set[str]] = {}
        self.busy: dict[str, int] = {node: 0 for node in self.nodes}
        self.refs: dict[str, object] = {}
        self.lock = threading.Lock()
        self.coordinator = ray.remote(Coordinator).options(num_cpus=0, scheduling_strategy=self.pin_here()).remote(
            provider_concurrency)
        self.task = ray.remote(run_on_node)
        self.caps = dict(provider_concurrency)
        self.pulls = None
        """The pipeline's `images` settings when nodes pull the images of their runs (`use_images`)."""

    def use_images(self, images) -> None:
        """Nodes pull the images of the runs they are given, within `images.max_disk_gb` each."""
        self.pulls = images.model_dump() if images.pull else None

    def pin_here(self):
        """Keeps the coordinator on this process's node: it lives and dies with the pipeline, not with a worker."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy  # lazy: Ray is an optional extra

        return NodeAffinitySchedulingStrategy(self.ray.get_runtime_context().get_node_id(), soft=False)

    def find_docker_nodes(self) -> dict[str, float]:
        nodes = {node["NodeID"]: node["Resources"].get(CONTAINER_RESOURCE, 0) for node in self.ray.nodes()
                 if node["Alive"] and node["Resources"].get(CONTAINER_RESOURCE, 0) > 0}
        if not nodes:
            raise ConfigError(f"no node of the Ray cluster offers the resource {CONTAINER_RESOURCE}; start each "
                              f"machine that has Docker with `ray start ... --resources "
                              f"'{{\"{CONTAINER_RESOURCE}\": 4}}'` (4 containers at once)")
        return nodes

    def check_cluster(self, images: list[str], variables: list[str]) -> None:
        """Refuses to start if an image is on no node; names nodes where a key variable is unset."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy  # lazy: Ray is an optional extra

        task = self.ray.remote(num_cpus=0)(list_local_images)
        refs = [task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote(variables)
                for node in self.nodes]
        missing_variables = set()
        for node, tags, unset in self.ray.get(refs):
            self.images[node] = set(tags)
            missing_variables.update(unset)
        if missing_variables:
            raise ConfigError(f"the variable(s) {', '.join(sorted(missing_variables))} are not set on some Ray "
                              "node; set them in the environment where `ray start` runs on every machine")
        absent = [image for image in images if not any(has_image(t, image) for t in self.images.values())]
        if absent and not self.pulls:
            raise ConfigError(f"no node of the Ray cluster has the image {absent[0]} ({len(absent)} missing); "
                              "build the images on the nodes (`patchmix build-images`) or pull them there")

    def get_slots(self, workers: int) -> int:
        return max(1, int(sum(self.nodes.values())))

    def place(self, image: str):
        """(scheduling options, node chosen or None): any node when all have the image, else the least busy."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy  # lazy: Ray is an optional extra

        with self.lock:
            holders = [node for node in self.nodes if has_image(self.images.get(node, set()), image)]
            if not self.images or len(holders) == len(self.nodes):
                return {}, None
            node = min(holders or list(self.nodes), key=lambda n: self.busy.get(n, 0) / max(self.nodes[n], 1))
            self.busy[node] = self.busy.get(node, 0) + 1
            self.images.setdefault(node, set()).add(image)  # it pulls the image: the image's next runs follow it
        return {"scheduling_strategy": NodeAffinitySchedulingStrategy(node, soft=False)}, node

    def run_instance(self, row: dict, config, traj_path, model_name: str, extra_variables: dict | None = None,
                     header: dict | None = None, stop=None, **kwargs):
        """`run_instance` on a node of the cluster, redone elsewhere if its node dies; same result."""
        callbacks = {name: kwargs[name] for name in CALLBACKS if kwargs.get(name) is not None}
        provider = get_provider(config.model)
        job = {"row": row, "config": config, "file_name": traj_path.name, "model_name": model_name,
               "extra_variables": extra_variables or {}, "header": header or {}, "images": self.pulls}
        full_header = {"instance_id": row["instance_id"], "model_name_or_path": model_name, **(header or {}),
                       "config": config.model_dump()}
        for attempt in range(1, MAX_ATTEMPTS + 1):
            outcome = self.run_attempt(job, provider if provider in self.caps else None, callbacks, stop)
            if isinstance(outcome, tuple):
                prediction, trajectory = outcome
                write_trajectory(traj_path, trajectory)
                return prediction, trajectory["info"]
            if outcome == ex.INTERRUPTED:
                break
            logger.info("%s %s: its Ray node was lost mid-run (%s); redoing it (attempt %d of %d)",
                        model_name, row["instance_id"], outcome, attempt + 1, MAX_ATTEMPTS)
            self.nodes = self.find_docker_nodes()
        status = ex.INTERRUPTED if outcome == ex.INTERRUPTED else ex.INFRA_ERROR
        traj = Trajectory(traj_path, full_header)
        traj.save(exit_status=status, exit_detail=f"the run did not finish on the Ray cluster: {outcome}",
                  finished_at=now())
        return {"instance_id": row["instance_id"], "model_name_or_path": model_name, "model_patch": ""}, traj.info

    def run_attempt(self, job: dict, provider: str | None, callbacks: dict, stop):
        """(prediction, trajectory), or why the attempt failed: INTERRUPTED or the node failure's name."""
        holder = uuid.uuid4().hex
        options, node = self.place(job["row"]["image"])
        task = self.task.options(num_cpus=0, max_retries=0, resources={CONTAINER_RESOURCE: 1}, **options)
        ref = task.remote(job, self.coordinator, holder, provider, list(callbacks))
        with self.lock:
            self.refs[holder] = ref
        try:
            outcome = self.wait(ref, holder, callbacks, stop)
            logger.info("%s %s: attempt ran on Ray node %s", job["model_name"], job["row"]["instance_id"],
                        self.ray.get(self.coordinator.get_node.remote(holder)))
            return outcome
        finally:
            with self.lock:
                self.refs.pop(holder, None)
                if node is not None:
                    self.busy[node] -= 1
            self.ray.get(self.coordinator.forget.remote(holder))

    def wait(self, ref, holder: str, callbacks: dict, stop):
        from ray.exceptions import TaskCancelledError  # lazy: Ray is an optional extra

        cancelled = False
        while True:
            ready, _ = self.ray.wait([ref], timeout=POLL_SECONDS)
            self.deliver(holder, callbacks)
            if ready:
                break
            if stop is not None and stop.is_set() and not cancelled:
                self.ray.cancel(ref)  # a KeyboardInterrupt in the task: the run ends `interrupted`, its container goes
                cancelled = True
        try:
            result = self.ray.get(ref)
        except TaskCancelledError:
            return ex.INTERRUPTED
        except get_node_failures() as error:
            return type(error).__name__
        finally:
            self.deliver(holder, callbacks)
        return result

    def deliver(self, holder: str, callbacks: dict) -> None:
        """Hands the events a run pushed to the actor to the pipeline's own callbacks (ledger, budget)."""
        for name, args in self.ray.get(self.coordinator.take.remote(holder)):
            callbacks[name](*args)

    def get_most_held(self) -> dict[str, int]:
        return self.ray.get(self.coordinator.get_most_held.remote())

    def stop(self) -> None:
        with self.lock:
            refs = list(self.refs.values())
        for ref in refs:
            self.ray.cancel(ref)

    def close(self) -> None:
        self.ray.kill(self.coordinator)
        if self.owns_connection:
            self.ray.shutdown()
