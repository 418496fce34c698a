"""Images on a Ray cluster (a real local cluster of two node processes, two container slots each): a node pulls
the images of the runs it is given from the local registry, within its own disk budget, and the later runs of an
image follow it to that node."""

from __future__ import annotations

import json
import re

import pytest

from harness import exceptions as ex
from harness.demo.models import make_demo_script
from harness.scripted.server import ScriptedServer
from harness.pipeline.executors.nodeimages import RECORDS
from harness.pipeline.launch import run_pipeline
from harness.pipeline.progress import Progress
from tests.pipeline.pipelinekit import (Poller, Registry, list_local, make_rows, push_variants, remove_local,
                                        run_local_cluster, write_pipeline)

RAN_ON = re.compile(r" (\S+): attempt ran on Ray node (\w+)")


@pytest.fixture(scope="module")
def cluster(bundled_rows):
    with run_local_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def registry(bundled_rows, docker_client, tmp_path_factory):
    bases = [row["image"] for _, row in sorted(bundled_rows.items()) if not row["instance_id"].endswith("published")]
    with Registry(tmp_path_factory.mktemp("registry")) as server:
        push_variants(docker_client, server.address, bases, 8)
        yield server, bases
        remove_local(docker_client, server.address)


class RecordSampler(Poller):
    """The most images each node's record lists at once, read while the pipeline runs."""

    every = 0.1

    def __init__(self, node_ids: list[str]):
        super().__init__()
        self.node_ids, self.most = node_ids, {node: 0 for node in node_ids}

    def sample(self) -> None:
        for node in self.node_ids:
            path = RECORDS / f"{node}.json"
            try:
                self.most[node] = max(self.most[node], len(json.loads(path.read_text())))
            except (OSError, ValueError):
                continue


@pytest.mark.docker
def test_nodes_pull_their_runs_images_within_their_budget_and_runs_follow_images(
        cluster, registry, bundled_rows, docker_client, tmp_path):
    import ray

    server, bases = registry
    rows = make_rows(bundled_rows, bases, 8)
    one_image = max(docker_client.images.get(base).attrs["Size"] for base in bases) + 1_000_000
    images = {"name": server.address + "/pm/task-{variant}:v1", "max_disk_gb": 3 * one_image / 1e9}
    nodes = [node["NodeID"] for node in ray.nodes() if node["Alive"]]
    try:
        with ScriptedServer(make_demo_script(rows)) as scripted, RecordSampler(nodes) as sampler:
            path = write_pipeline(tmp_path, scripted.api_base, rows, images)
            config = json.loads(path.read_text())
            config["models"]["breaker"] = {**config["models"]["fixer"], "name": "openai/breaker"}
            config["iterations"] = [{"models": ["fixer", "breaker"]}]
            path.write_text(json.dumps(config))
            code = run_pipeline(path, runs_dir=tmp_path / "runs", progress=Progress(live=False), executor="ray")
        assert code == 0
        infos = [json.loads(p.read_text())["info"] for p in (tmp_path / "runs" / "pulls").glob("iter_1/*/*.traj.json")]
        assert len(infos) == 16 and {info["exit_status"] for info in infos} == {ex.SUBMITTED}
        ran = RAN_ON.findall((tmp_path / "runs" / "pulls" / "run.log").read_text())
        by_instance = {}
        for instance, node in ran:
            by_instance.setdefault(instance, set()).add(node)
        assert len(by_instance) == 8 and all(len(held) == 1 for held in by_instance.values())  # runs follow images
        assert len({node for held in by_instance.values() for node in held}) == 2  # no node needed every image
        assert all(1 <= most <= 3 for most in sampler.most.values()), sampler.most  # each node within its budget
    finally:
        for node in nodes:
            for suffix in (".json", ".lock"):
                (RECORDS / f"{node}{suffix}").unlink(missing_ok=True)
        remove_local(docker_client, server.address)
    assert list_local(docker_client, server.address) == []
