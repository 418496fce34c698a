"""What an agent cannot do to its run: fill the host's disk, or outlast the run's wall time (preparation, the last
command and the summary call included); rerolling it by breaking its own environment is in
test_snapshot_reach.py. Real containers, the scripted provider over HTTP."""

from __future__ import annotations

import pytest

from harness.agent.config import AgentConfig, ContainerConfig, LimitsConfig
from harness.agent.attempt import run_instance
from harness.scripted.server import ScriptedServer
from harness.pipeline.rundir import is_finished_info

from tests.conftest import make_scripted_model
from tests.agent.agentkit import FIX, SUBMIT, UNITCONV, bash, observations
from tests.pipeline.pipelinekit import build_image


# ---------------------------------------------------------------- disk


@pytest.mark.docker
def test_a_container_over_its_disk_allowance_is_removed_and_the_run_ends_disk_limit(bundled_rows, run_scripted,
                                                                                   docker_client):
    fill = bash("for i in $(seq 1 40); do head -c 10m /dev/zero > /tmp/fill$i; done; sleep 60")
    prediction, traj, _ = run_scripted(bundled_rows[UNITCONV], [FIX, fill, SUBMIT],
                                       container={"disk_limit": "60m", "disk_check_seconds": 0.5,
                                                  "command_timeout": 120})
    info = traj["info"]
    assert info["exit_status"] == "disk_limit", info.get("exit_detail")
    assert "container.disk_limit (60m)" in info["exit_detail"] and prediction["model_patch"] == ""
    name = info["exit_detail"].split("the container ")[-1].split()[0]
    assert is_finished_info(info) and name.startswith("patchmix-")
    assert docker_client.containers.list(all=True, filters={"name": name}) == []


@pytest.mark.docker
def test_no_file_the_agent_writes_grows_past_the_disk_allowance(bundled_rows, run_scripted):
    big = bash("head -c 30m /dev/zero > /tmp/big; echo exit=$?; stat -c %s /tmp/big")
    _, traj, _ = run_scripted(bundled_rows[UNITCONV], [big, FIX, SUBMIT], container={"disk_limit": "20m"})
    output = observations(traj)[0]
    assert "exit=0" not in output and str(20 * 1024 * 1024) in output
    assert traj["info"]["exit_status"] == "submitted"


def test_a_disk_limit_that_is_no_size_is_refused_in_one_line():
    with pytest.raises(ValueError, match="'ten gigs' is not a size; write it as docker does, e.g. 10g or 512m"):
        ContainerConfig(disk_limit="ten gigs")


# ---------------------------------------------------------------- wall time, everything included


@pytest.mark.docker
def test_a_command_is_cut_when_the_runs_wall_time_runs_out(bundled_rows, run_scripted):
    _, traj, _ = run_scripted(bundled_rows[UNITCONV], [bash("sleep 90 && echo slept"), SUBMIT],
                              limits={"wall_time_limit": 15}, container={"command_timeout": 120})
    assert traj["info"]["exit_status"] == "time_limit"
    assert "wall-time limit ran out" in observations(traj)[0] and "slept" not in observations(traj)[0]


@pytest.mark.docker
def test_the_summary_call_is_bounded_by_the_runs_wall_time(bundled_rows, tmp_path):
    never = {"error": {"never": True, "times": 10}}
    script = {"models": {"agent": [{"match": "", "replies": [FIX, SUBMIT, never]}]}}
    with ScriptedServer(script) as server:
        config = AgentConfig(model=make_scripted_model(server, request_timeout=300),
                             limits=LimitsConfig(wall_time_limit=20), summary_template="summary.j2",
                             container=ContainerConfig(command_timeout=20))
        _, info = run_instance(bundled_rows[UNITCONV], config, tmp_path / "t.traj.json", "scripted-agent")
    assert info["exit_status"] == "submitted" and info["patch_label"] == "complete"
    assert info["summary"] is None and "wall_time_limit" in info["summary_error"]


SLOW_SHELL = """\
FROM {image}
RUN echo 'sleep 8' >> /root/.bashrc
STOPSIGNAL SIGKILL
"""


@pytest.mark.docker
def test_the_containers_preparation_counts_toward_the_wall_time(bundled_rows, run_scripted, docker_client):
    row = dict(bundled_rows[UNITCONV])
    image = "patchmix-test/unitconv-slow-shell:latest"
    build_image(docker_client, SLOW_SHELL.format(image=row["image"]), image)
    try:
        _, traj, server = run_scripted({**row, "image": image}, [FIX, SUBMIT], limits={"wall_time_limit": 6},
                                       container={"check_python": False})
    finally:
        docker_client.images.remove(image, force=True)
    assert traj["info"]["exit_status"] == "time_limit", "the shell took longer to start than the run may last"
    assert server.requests == []
