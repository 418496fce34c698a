"""Podman as the agent's container engine, through its Docker-compatible socket (`DOCKER_HOST`): a bundled task
run end to end with the scripted fixer in a container Podman starts (Debian's `podman`, runc), its integrity
checks made, its container removed; the patch is then scored on Docker, RESOLVED. Podman's containers are not
Docker's: the fixture's teardown fails on any patchmix container left in Podman and removes it."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import time

import docker
import pytest

from harness import exceptions as ex
from harness.demo.models import make_demo_script
from harness.scripted.server import ScriptedServer
from harness.pipeline.launch import run_pipeline
from harness.pipeline.progress import Progress
from harness.scoring.evaluation import evaluate_run
from tests.pipeline.pipelinekit import Poller, read_statuses, write_pipeline
from tests.scoring.scoringkit import Log

TASK = "patchmix__unitconv-1"
PODMAN_NPROC = 32768
"""The process limit Podman's service gives itself (at most the host's): a container may not ask for more."""


def write_podman_conf(folder) -> str:
    """containers.conf for the service: runc (crun refuses this host's hybrid cgroups) and ulimits within the
    host's hard limits (Podman's defaults ask for more, which the runtime may not set)."""
    nproc = min(PODMAN_NPROC, resource.getrlimit(resource.RLIMIT_NPROC)[1])
    nofile = min(1048576, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    path = folder / "containers.conf"
    path.write_text(f'[containers]\ndefault_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
                    '[engine]\nruntime = "runc"\n')
    return str(path)


def list_patchmix(client) -> list[str]:
    containers = client.containers.list(all=True, sparse=True, filters={"label": f"patchmix.pid={os.getpid()}"})
    return [(c.attrs.get("Names") or [c.id[:12]])[0].lstrip("/") for c in containers]


@pytest.fixture(scope="module")
def podman(bundled_rows, docker_client, tmp_path_factory):
    """(socket URL, client) of a Podman service of our own, holding the task's image (loaded from Docker's)."""
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed; run scripts/setup.sh (it installs Debian's podman)")
    folder = tmp_path_factory.mktemp("podman")
    url = f"unix://{folder}/podman.sock"
    env = {**os.environ, "CONTAINERS_CONF": write_podman_conf(folder)}
    env.pop("DOCKER_HOST", None)
    with open(folder / "service.log", "w") as log:
        service = subprocess.Popen(["podman", "system", "service", "--time=0", url], env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    client = None
    try:
        client = connect(url, service, folder)
        image = bundled_rows[TASK]["image"]
        loaded = load_image(docker_client, client, image)
        yield url, client
        left = list_patchmix(client)
        for name in left:
            client.containers.get(name).remove(force=True)
        if loaded:
            client.images.remove(image, force=True)
        assert left == [], f"patchmix containers left in Podman: {left}"
    finally:
        if client is not None:
            client.close()
        service.terminate()
        service.wait(timeout=60)


def connect(url: str, service, folder, seconds: float = 60.0):
    """A client of the service once it answers."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            client = docker.DockerClient(base_url=url, timeout=300)
            client.ping()
            return client
        except (docker.errors.DockerException, OSError) as error:
            if service.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"podman system service did not answer ({error}): {(folder / 'service.log').read_text()}")
            time.sleep(0.2)


def load_image(docker_client, podman_client, image: str) -> bool:
    """The image copied from Docker's store into Podman's (`docker save | podman load`); False if it was there."""
    try:
        podman_client.images.get(image)
        return False
    except docker.errors.ImageNotFound:
        pass
    save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
    load = subprocess.run(["podman", "load"], stdin=save.stdout, capture_output=True, text=True)
    save.stdout.close()
    assert save.wait() == 0 and load.returncode == 0, load.stderr
    return True


class Containers(Poller):
    """The names of this process's patchmix containers seen in an engine while a pipeline runs."""

    def __init__(self, client):
        super().__init__()
        self.client, self.seen, self.hosts = client, set(), {}

    def sample(self) -> None:
        for name in set(list_patchmix(self.client)) - self.seen:
            self.seen.add(name)
            try:
                self.hosts[name] = self.client.api.inspect_container(name)["HostConfig"]
            except docker.errors.NotFound:
                continue  # removed meanwhile


@pytest.mark.docker
def test_a_task_runs_end_to_end_in_a_podman_container_and_scores_resolved(
        podman, bundled_rows, docker_client, tmp_path, monkeypatch):
    url, podman_client = podman
    rows = [bundled_rows[TASK]]
    with ScriptedServer(make_demo_script(rows)) as server, Containers(podman_client) as in_podman, \
            Containers(docker_client) as in_docker:
        monkeypatch.setenv("DOCKER_HOST", url)
        code = run_pipeline(write_pipeline(tmp_path, server.api_base, rows, {}, name="podman"),
                            runs_dir=tmp_path / "runs", progress=Progress(live=False))
        monkeypatch.delenv("DOCKER_HOST")
    assert code == 0
    assert len(in_podman.seen) == 1 and in_docker.seen == set()  # the agent's container was Podman's
    for host in in_podman.hosts.values():  # made as on Docker: no network, limits, no new privileges
        assert host["NetworkMode"] == "none" and host["PidsLimit"] == 1024 and host["Memory"] > 0
        assert "no-new-privileges" in host["SecurityOpt"]
    assert list_patchmix(podman_client) == []  # and it was removed
    run_dir = tmp_path / "runs" / "podman"
    assert read_statuses(run_dir) == {TASK: ex.SUBMITTED}
    info = json.loads((run_dir / "iter_1" / "fixer" / f"{TASK}.traj.json").read_text())["info"]
    assert info["integrity"] == [] and info["patch_label"] == "complete"
    assert info["environment"]["executable"] == "/opt/venv/bin/python"  # found by probing inside the container
    entry = evaluate_run(run_dir, workers=1, timeout=300, log=Log())["files"]["iter_1/fixer"]
    assert entry["resolved"] == [TASK] and entry["infra_errors"] == []  # scored on Docker
