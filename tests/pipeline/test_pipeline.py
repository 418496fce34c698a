"""The mixture-of-models pipeline: three iterations, prompts built from earlier patches, resume, budget."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.demo.models import make_demo_script
from harness.exceptions import ConfigError
from harness.pipeline.launch import run_pipeline
from harness.pipeline.load import load_pipeline_config
from harness.pipeline.progress import Progress
from harness.scripted.server import ScriptedServer

from tests.pipeline.pipelinekit import TASKS, first_prompts, get_patches, load_rows, make_config, make_slow_script, write_config


@pytest.mark.docker
def test_three_iterations_pass_exactly_the_right_patches_forward(bundled_rows, tmp_path):
    with ScriptedServer(make_demo_script(load_rows())) as server:
        config = write_config(tmp_path / "p.yaml", make_config(server.api_base))
        assert run_pipeline(config, runs_dir=tmp_path / "runs", progress=Progress(live=False)) == 0
    run = tmp_path / "runs" / "t"
    infos = {p: json.loads(p.read_text())["info"] for p in run.glob("iter_*/*/*.traj.json")}
    assert len(infos) == 2 * 5
    statuses = {(p.parent.parent.name, p.parent.name): i["exit_status"] for p, i in infos.items()}
    assert statuses[("iter_1", "fixer")] == "submitted" and statuses[("iter_1", "tripper")] == "step_limit"
    patches = get_patches(run)
    iteration2, iteration3 = first_prompts(server, "merger")[:2], first_prompts(server, "merger")[2:]
    assert len(iteration2) == 2 and len(iteration3) == 2
    for prompt in iteration2:
        instance = next(i for i in TASKS if i.split("__")[1].split("-")[0] in prompt)
        for label in ("fixer", "breaker", "tripper"):
            assert patches[("iter_1", label, instance)].strip() in prompt
        assert prompt.count("<patch number=") == 3
        assert 'model="tripper" run_ended="step_limit" note="the run was cut off' in prompt
        assert "Other engineers worked on this issue" in prompt
    for prompt in iteration3:
        instance = next(i for i in TASKS if i.split("__")[1].split("-")[0] in prompt)
        assert prompt.count("<patch number=") == 1
        assert patches[("iter_2", "merger", instance)].strip() in prompt
        assert 'iteration="2" model="merger" run_ended="submitted"' in prompt
    hints = [row["hints_text"].strip() for row in load_rows()]
    assert not any(hint in json.dumps(server.requests) for hint in hints)


@pytest.mark.docker
def test_rerun_skips_finished_runs_and_redoes_infra_errors(bundled_rows, tmp_path):
    rows = load_rows()
    script = make_demo_script(rows)
    with ScriptedServer(script) as server:
        config = make_config(server.api_base, iterations=[{"models": ["fixer", "breaker"]}])
        path = write_config(tmp_path / "p.yaml", config)
        run_pipeline(path, runs_dir=tmp_path / "runs", progress=Progress(live=False))
        first = len(server.requests)
        traj = tmp_path / "runs" / "t" / "iter_1" / "breaker" / f"{TASKS[0]}.traj.json"
        data = json.loads(traj.read_text())
        data["info"]["exit_status"] = "infra_error"
        traj.write_text(json.dumps(data))
        run_pipeline(path, runs_dir=tmp_path / "runs", progress=Progress(live=False))
    redone = [r for r in server.requests[first:]]
    assert {r["model"] for r in redone} == {"breaker"}
    conversations = [r for r in redone if not any(m["role"] == "assistant" for m in r["body"]["messages"])]
    assert len(conversations) == 1  # exactly the one run was redone
    assert json.loads(traj.read_text())["info"]["exit_status"] == "submitted"


@pytest.mark.docker
def test_global_budget_stops_new_runs(bundled_rows, tmp_path):
    with ScriptedServer(make_demo_script(load_rows())) as server:
        config = make_config(server.api_base, iterations=[{"models": ["fixer", "breaker"]}], workers=1,
                             budget=0.0001)
        progress = Progress(live=False)
        run_pipeline(write_config(tmp_path / "p.yaml", config), runs_dir=tmp_path / "runs", progress=progress)
    trajs = list((tmp_path / "runs" / "t").glob("iter_*/*/*.traj.json"))
    assert len(trajs) == 1
    skipped = sum(n for c in progress.statuses.values() for s, n in c.items() if "budget" in s)
    assert skipped == 3


def run_cli(config: Path, runs: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(config), "--runs-dir", str(runs)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def count_finished(run_dir: Path) -> int:
    return sum(1 for p in run_dir.glob("iter_*/*/*.traj.json")
               if (json.loads(p.read_text())["info"].get("finished_at")))


def wait_for_finished(run_dir: Path, count: int, seconds: float = 300) -> None:
    """Wait (bounded) until `count` runs of a pipeline running in another process have finished."""
    deadline = time.monotonic() + seconds
    while count_finished(run_dir) < count and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.mark.docker
def test_sigkill_mid_iteration_then_resume_gives_the_same_predictions(bundled_rows, docker_client, tmp_path):
    script = make_slow_script(0.2)
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    with ScriptedServer(script) as server:
        whole = write_config(tmp_path / "whole.yaml", make_config(server.api_base, name="whole"))
        killed = write_config(tmp_path / "killed.yaml", make_config(server.api_base, name="killed"))
        assert run_cli(whole, tmp_path / "runs", env).wait(timeout=600) == 0
        process = run_cli(killed, tmp_path / "runs", env)
        wait_for_finished(tmp_path / "runs" / "killed", 3)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert count_finished(tmp_path / "runs" / "killed") < 10
        for path in (tmp_path / "runs" / "killed").rglob("*"):
            if path.suffix == ".json":
                json.loads(path.read_text())  # no corrupt file
        resumed = run_cli(killed, tmp_path / "runs", env)
        output = resumed.communicate(timeout=600)[0]
        assert resumed.returncode == 0, output
    assert re.search(r"iteration 1: \d+ runs to do, [3-5] already finished", output)
    assert get_patches(tmp_path / "runs" / "whole") == get_patches(tmp_path / "runs" / "killed")
    # Whatever containers the killed process left were removed when the resumed one started.
    assert not docker_client.containers.list(all=True, sparse=True, filters={"label": f"patchmix.pid={process.pid}"})


def test_changed_config_is_refused_and_runtime_settings_may_change(tmp_path):
    from harness.pipeline.rundir import RunDir

    path = write_config(tmp_path / "p.yaml", make_config("http://127.0.0.1:9/v1"))
    config = load_pipeline_config(path)
    rundir = RunDir(tmp_path / "runs" / "t")
    rundir.save_config(config)
    config.workers = 7
    rundir.check_config(config)
    config.models["fixer"].temperature = 0.5
    with pytest.raises(ConfigError, match=r"differs at models\.fixer\.temperature"):
        rundir.check_config(config)


@pytest.mark.parametrize("change, message", [
    (lambda c: c["iterations"][0]["models"].append("nobody"), r"iterations\[1\]\.models: unknown model 'nobody'"),
    (lambda c: c["iterations"][1].update(instance_template="nope.j2"), r"iterations\[2\]: no template 'nope.j2'"),
    (lambda c: c["iterations"][1].update(draws_on=[3]), r"iterations\[2\]\.draws_on: iteration 3 is not an earlier"),
    (lambda c: c["models"]["fixer"].update(temprature=1), r"config key models\.fixer\.temprature: Extra inputs"),
    (lambda c: c.update(wrokers=3), r"config key wrokers: Extra inputs"),
    (lambda c: c["dataset"].update(path="/nowhere/tasks.jsonl"), r"dataset\.path: the file /nowhere/tasks.jsonl"),
])
def test_bad_configs_fail_at_start_with_one_line_naming_the_key(tmp_path, change, message):
    config = make_config("http://127.0.0.1:9/v1")
    change(config)
    with pytest.raises(ConfigError, match=message) as caught:
        load_pipeline_config(write_config(tmp_path / "p.yaml", config))
    assert "\n" not in str(caught.value)


@pytest.mark.docker
def test_ctrl_c_removes_the_containers_and_keeps_finished_runs(bundled_rows, docker_client, tmp_path):
    script = make_slow_script(0.3)
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    with ScriptedServer(script) as server:
        config = write_config(tmp_path / "p.yaml", make_config(server.api_base, name="int"))
        process = run_cli(config, tmp_path / "runs", env)
        wait_for_finished(tmp_path / "runs" / "int", 2)
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=120)[0]
    assert process.returncode == 130, output
    assert "interrupted; finished work is saved" in output
    assert not docker_client.containers.list(all=True, sparse=True, filters={"label": f"patchmix.pid={process.pid}"})
    infos = [json.loads(p.read_text())["info"] for p in (tmp_path / "runs" / "int").glob("iter_*/*/*.traj.json")]
    assert sum(1 for info in infos if info.get("finished_at") and info["exit_status"] != "infra_error") >= 2


@pytest.mark.docker
def test_provider_concurrency_caps_calls_in_flight_and_iterations_run_in_separate_processes(bundled_rows, tmp_path):
    script = make_slow_script(0.3)
    with ScriptedServer(script) as server:
        config = make_config(server.api_base, workers=3, provider_concurrency={"openai": 1})
        path = write_config(tmp_path / "p.yaml", config)
        for iteration in (1, 2):  # iteration 2 reads iteration 1's patches from disk, in a later call
            run_pipeline(path, runs_dir=tmp_path / "runs", iteration=iteration, progress=Progress(live=False))
    assert server.max_in_flight == 1
    run = tmp_path / "runs" / "t"
    assert len(list(run.glob("iter_1/*/*.traj.json"))) == 6 and len(list(run.glob("iter_2/*/*.traj.json"))) == 2
    assert not (run / "iter_3").exists()
    assert all(p.count("<patch number=") == 3 for p in first_prompts(server, "merger"))


def make_finished_traj(run: Path, iteration: int, label: str, instance: str, status: str, patch: str) -> None:
    path = run / f"iter_{iteration}" / label / f"{instance}.traj.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    info = {"exit_status": status, "patch": patch, "finished_at": "2026-01-01T00:00:00+00:00",
            "patch_label": ("complete" if status == "submitted" else f"breaker:{status}") if patch else None}
    path.write_text(json.dumps({"info": info}))


def test_prompts_show_every_patch_unranked_leave_out_patchless_runs_and_cap_long_ones(tmp_path):
    from harness.pipeline.iterations import collect_candidates
    from harness.agent.prompts import render
    from harness.pipeline.rundir import RunDir

    config = load_pipeline_config(write_config(tmp_path / "p.yaml", make_config("http://127.0.0.1:9/v1",
                                                                                 max_patch_chars=100)))
    rundir, instance = RunDir(tmp_path / "run"), TASKS[0]
    assert collect_candidates(config, rundir, 2, instance) is None  # iteration 1 has not run: wait
    make_finished_traj(rundir.root, 1, "fixer", instance, "submitted", "diff --git a/x b/x\n+fixed\n")
    make_finished_traj(rundir.root, 1, "breaker", instance, "submitted", "")
    long_patch = "diff --git a/y b/y\n" + "+long\n" * 50
    make_finished_traj(rundir.root, 1, "tripper", instance, "step_limit", long_patch)
    candidates = collect_candidates(config, rundir, 2, instance)
    assert [(c["model"], c["exit_status"]) for c in candidates] == [("fixer", "submitted"), ("tripper", "step_limit")]
    variables = {"problem_statement": "It breaks.", "repo": "r", "workdir": "/testbed", "instance_id": instance}
    prompt = render("instance_with_patches.j2", {**variables, "candidates": candidates})
    assert "+fixed" in prompt and prompt.count("<patch number=") == 2
    assert f"[... {len(long_patch) - 100} more characters of this patch are not shown ...]" in prompt
    make_finished_traj(rundir.root, 2, "merger", instance, "step_limit", "")
    assert collect_candidates(config, rundir, 3, instance) == []
    prompt = render("instance_refine.j2", {**variables, "candidates": []})
    assert "No earlier patch exists for this issue" in prompt and "<patch" not in prompt
