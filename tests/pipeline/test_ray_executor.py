"""The Ray executor against a real local Ray cluster started by the test: a head and a second node process,
each offering two container slots. The demo pipeline gives the same run folder as the local executor; a node
killed mid-iteration has its runs redone, none recorded twice; the provider cap and the budget hold across
nodes."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path

import pytest

from harness.agent.environment.removal import remove_leftover_containers
from harness.demo.models import make_demo_script
from harness.scripted.server import ScriptedServer
from harness.fileio import read_jsonl
from harness.pipeline.launch import run_pipeline
from harness.pipeline.progress import Progress
from tests.pipeline.pipelinekit import (SLOTS, get_patches, load_rows, make_config, make_slow_script,
                                        run_local_cluster, write_config)

NODE_LINE = re.compile(r"attempt ran on Ray node (\w+)")


@pytest.fixture(scope="module")
def cluster(bundled_rows):
    with run_local_cluster() as cluster:
        yield cluster
    wait_for_no_leftovers()


def wait_for_no_leftovers(seconds: float = 60) -> None:
    """Containers whose Ray worker died with its node are removed once that worker is gone."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        remove_leftover_containers()
        if not [c for c in docker_list() if not pid_alive(c)]:
            return
        time.sleep(1)


def docker_list():
    import docker

    return docker.from_env().containers.list(all=True, sparse=True, filters={"label": "patchmix"})


def pid_alive(container) -> bool:
    pid = (container.attrs.get("Labels") or {}).get("patchmix.pid", "")
    return pid.isdigit() and os.path.exists(f"/proc/{pid}")


def ensure_second_node(cluster):
    if len(cluster.worker_nodes) < 1:
        cluster.add_node(num_cpus=1, resources=SLOTS, node_ip_address="127.0.0.1")
        cluster.wait_for_nodes()
    return next(iter(cluster.worker_nodes))


def run(config: dict, tmp_path: Path, executor: str) -> Path:
    path = write_config(tmp_path / f"{config['name']}.yaml", config)
    run_pipeline(path, runs_dir=tmp_path / "runs", progress=Progress(live=False), executor=executor)
    return tmp_path / "runs" / config["name"]


def list_files(run_dir: Path) -> set[str]:
    return {str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file() and p.name != "run.log"}


def read_infos(run_dir: Path) -> dict:
    return {str(p.relative_to(run_dir)): json.loads(p.read_text())["info"] for p in run_dir.glob("iter_*/*/*.traj.json")}


def ran_on(run_dir: Path) -> set[str]:
    return set(NODE_LINE.findall((run_dir / "run.log").read_text()))


@pytest.mark.docker
def test_demo_pipeline_on_two_nodes_matches_the_local_executor(cluster, tmp_path):
    with ScriptedServer(make_demo_script(load_rows())) as server:
        local = run(make_config(server.api_base, name="local"), tmp_path, "local")
        on_ray = run(make_config(server.api_base, name="ray", workers=1), tmp_path, "ray")
    assert get_patches(local) and get_patches(local) == get_patches(on_ray)
    assert list_files(local) == list_files(on_ray)  # the same files, no scratch or step log left behind
    keys = ("exit_status", "patch", "patch_label", "steps", "tokens_in", "tokens_out", "cost")
    local_infos, ray_infos = read_infos(local), read_infos(on_ray)
    assert {k: {f: i.get(f) for f in keys} for k, i in local_infos.items()} == \
           {k: {f: i.get(f) for f in keys} for k, i in ray_infos.items()}
    assert len(ran_on(on_ray)) == 2  # both nodes worked, though the config asks for one local worker


@pytest.mark.docker
def test_killing_a_node_mid_iteration_redoes_its_runs_once(cluster, tmp_path):
    second = ensure_second_node(cluster)
    raylet = second.all_processes["raylet"][0].process.pid
    with ScriptedServer(make_slow_script(0.5)) as server:
        config = make_config(server.api_base, name="killed", iterations=[{"models": ["fixer", "breaker", "tripper"]}])
        result = {}
        thread = threading.Thread(target=lambda: result.update(dir=run(config, tmp_path, "ray")))
        thread.start()
        wait_for_container_under(raylet)
        cluster.remove_node(second, allow_graceful=False)
        thread.join(timeout=600)
    run_dir = result["dir"]
    log = (run_dir / "run.log").read_text()
    assert "was lost mid-run" in log and "redoing it" in log
    finished = re.findall(r"iteration 1 (\w+) (\S+): \w+ after", log)
    assert sorted(finished) == sorted(set(finished)) and len(finished) == 6  # each run recorded once
    for label in ("fixer", "breaker", "tripper"):
        ids = [row["instance_id"] for row in read_jsonl(run_dir / "iter_1" / label / "preds.jsonl")]
        assert sorted(ids) == sorted(r["instance_id"] for r in load_rows())
    assert all(info["finished_at"] and info["exit_status"] != "infra_error" for info in read_infos(run_dir).values())
    with ScriptedServer(make_demo_script(load_rows())) as server:
        local = run(make_config(server.api_base, name="whole", iterations=config["iterations"]), tmp_path, "local")
    assert get_patches(local) == get_patches(run_dir)
    wait_for_no_leftovers()


def wait_for_container_under(raylet_pid: int, seconds: float = 300) -> None:
    """Until a patchmix container was started by a worker of the node whose raylet is `raylet_pid`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        owners = {int((c.attrs.get("Labels") or {}).get("patchmix.pid", "0")) for c in docker_list()}
        if any(get_parent(pid) == raylet_pid for pid in owners if pid):
            return
        time.sleep(0.2)
    raise AssertionError("no run started on the second node")


def get_parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


@pytest.mark.docker
def test_provider_cap_and_budget_hold_across_nodes(cluster, tmp_path):
    ensure_second_node(cluster)
    with ScriptedServer(make_slow_script(0.3)) as server:
        capped = run(make_config(server.api_base, name="capped", iterations=[{"models": ["fixer", "breaker"]}],
                                 provider_concurrency={"openai": 1}), tmp_path, "ray")
        assert server.max_in_flight == 1
    assert len(ran_on(capped)) == 2  # the runs were spread over both nodes, the cap held across them
    with ScriptedServer(make_slow_script(0.3)) as server:
        spent = run(make_config(server.api_base, name="spent", budget=0.0001,
                                iterations=[{"models": ["fixer", "breaker", "tripper"]}]), tmp_path, "ray")
    infos = read_infos(spent)
    assert 1 <= len(infos) <= 4  # no run started once the first cost, from either node, spent the budget
    assert "budget" in (spent / "run.log").read_text()
    ledger = read_jsonl(spent / "ledger.jsonl")
    ended = [e for e in ledger if e.get("event") == "end"]
    assert len(ended) == sum(info.get("steps") or 0 for info in infos.values())  # every node's calls reached it
    assert abs(sum(e.get("cost") or 0 for e in ended) - sum(i.get("cost") or 0 for i in infos.values())) < 1e-9


@pytest.mark.docker
def test_evaluate_on_the_cluster_gives_the_local_verdicts(cluster, tmp_path):
    import shutil

    from harness.scoring.evaluation import evaluate_run

    with ScriptedServer(make_demo_script(load_rows())) as server:
        run_dir = run(make_config(server.api_base, name="scored", iterations=[{"models": ["fixer", "breaker"]}]),
                      tmp_path, "local")
    copy = tmp_path / "runs" / "scored-copy"
    shutil.copytree(run_dir, copy)
    local = evaluate_run(run_dir, workers=2, log=lambda *a: None)
    on_ray = evaluate_run(copy, workers=2, log=lambda *a: None, executor="ray")
    for key in ("iter_1/fixer", "iter_1/breaker"):
        mine = json.loads((copy / "eval" / key / "report.json").read_text())
        theirs = json.loads((run_dir / "eval" / key / "report.json").read_text())
        assert sorted(mine["resolved_ids"]) == sorted(theirs["resolved_ids"])
        assert sorted(mine["unresolved_ids"]) == sorted(theirs["unresolved_ids"])
    assert local["harness_calls"] == on_ray["harness_calls"] == 2
    assert list((copy / "eval" / "scratch" / "logs" / "run_evaluation").iterdir())  # the nodes' logs came back
