"""Real faults in a real pipeline: the scripted provider over HTTP plays each provider error class, the runs work in
real containers, and every other run of the same pipeline finishes normally."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from harness.scripted.server import ScriptedServer
from harness.fileio import read_jsonl
from harness.pipeline.launch import run_pipeline
from harness.pipeline.progress import Progress

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "tasks" / "bundled.jsonl"
TASK = "patchmix__unitconv-1"
PRICE = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
EDIT = {"tool_calls": [{"name": "bash", "arguments": {"command": "echo salvaged >> NOTES.txt"}}]}
SUBMIT = {"tool_calls": [{"name": "submit", "arguments": {}}]}
ENV = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}

# model label -> (its replies, the exit status its run must end with, whether a patch must be salvaged)
FAULTS = {
    "fixer": ([EDIT, SUBMIT], "submitted", True),
    "fireworks_overflow": ([EDIT, {"error": {"preset": "fireworks_overflow", "times": 100}}], "context_limit", True),
    "openrouter_overflow": ([EDIT, {"error": {"preset": "openrouter_overflow", "times": 100}}], "context_limit", True),
    "bad_key": ([{"error": {"preset": "bad_key", "times": 100}}], "model_unavailable", False),
    "unknown_model": ([{"error": {"preset": "unknown_model", "times": 100}}], "model_unavailable", False),
    "unprocessable": ([EDIT, {"error": {"preset": "unprocessable", "times": 100}}], "provider_error", True),
    "content_filter": ([EDIT, {"error": {"preset": "content_filter", "times": 100}}], "provider_error", True),
    "empty_choices": ([EDIT, {"empty_choices": True}], "provider_error", True),
    "cloudflare_520": ([{**EDIT, "error": {"preset": "cloudflare_520", "times": 2}}, SUBMIT], "submitted", True),
    "overloaded_529": ([{**EDIT, "error": {"preset": "anthropic_overloaded", "times": 2}}, SUBMIT], "submitted", True),
    "rate_limit_burst": ([{**EDIT, "error": {"preset": "rate_limited", "headers": {"Retry-After": "1"}, "times": 3}},
                          SUBMIT], "submitted", True),
    "cut_off": ([{**EDIT, "finish_reason": "length"}, EDIT, SUBMIT], "submitted", True),
    "reasoner": ([{**EDIT, "reasoning_content": "First I look at the notes."}, SUBMIT], "submitted", True),
    "never_answers": ([EDIT, {"error": {"never": True, "times": 100}}], "time_limit", True),
}


def make_config(api_base: str, name: str, labels, ids=(TASK,), **overrides) -> dict:
    model = {"api_base": api_base, "api_key_env": "SCRIPTED_API_KEY", "retry_wait": 0.01, "retries": 3, **PRICE}
    config = {
        "name": name, "dataset": {"path": str(DATASET)}, "instances": {"ids": list(ids)},
        "defaults": {"limits": {"step_limit": 8, "wall_time_limit": 20}, "container": {"command_timeout": 30}},
        "models": {label: {"name": f"openai/{label}", **model} for label in labels},
        "iterations": [{"models": list(labels)}], "workers": 4, "images": {"pull": False},
    }
    config.update(overrides)
    return config


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def make_script(replies_by_label: dict) -> dict:
    return {"models": {label: [{"match": "", "replies": replies}] for label, replies in replies_by_label.items()}}


def read_trajs(run: Path) -> dict:
    return {(p.parent.parent.name, p.parent.name, p.name.split(".traj")[0]): json.loads(p.read_text())
            for p in run.glob("iter_*/*/*.traj.json")}


def test_every_provider_error_class_ends_its_own_run_and_the_others_finish(bundled_rows, tmp_path, capsys):
    script = make_script({label: replies for label, (replies, _, _) in FAULTS.items()})
    with ScriptedServer(script) as server:
        path = write_config(tmp_path / "p.yaml", make_config(server.api_base, "faults", list(FAULTS)))
        started = time.monotonic()
        code = run_pipeline(path, runs_dir=tmp_path / "runs", progress=Progress(live=False))
        took = time.monotonic() - started
    trajs = read_trajs(tmp_path / "runs" / "faults")
    observed = {}
    for label, (_, status, salvaged) in FAULTS.items():
        traj = trajs[("iter_1", label, TASK)]
        info = traj["info"]
        observed[label] = {"exit_status": info["exit_status"], "seconds": info.get("wall_seconds"),
                           "attempts": [step["attempts"] for step in traj["steps"]]}
        assert info["exit_status"] == status, (label, info.get("exit_detail"))
        assert info.get("finished_at"), label
        assert bool(info.get("patch")) == salvaged and (not salvaged or "NOTES.txt" in info["patch"]), label
    with capsys.disabled():
        print("\nobserved:", json.dumps(observed))
    assert code == 3  # the two model_unavailable runs are left to redo
    err = capsys.readouterr().err
    assert "model bad_key starts no new run" in err and "SCRIPTED_API_KEY" in err
    assert "2 runs left to redo (2 model_unavailable)" in err
    assert observed["cloudflare_520"]["attempts"][0] == 3 and observed["overloaded_529"]["attempts"][0] == 3
    assert observed["rate_limit_burst"]["attempts"][0] == 4
    # wall_time_limit counts from the container's start, the patch's collection included
    never = trajs[("iter_1", "never_answers", TASK)]["info"]
    assert "wall_time_limit while waiting for the model" in never["exit_detail"]
    # the loop leaves the last tenth of the wall time to the patch's collection: it ends after 18 of the 20 s
    assert 17 <= observed["never_answers"]["seconds"] < 35 and took < 150
    assert "Traceback" in trajs[("iter_1", "unprocessable", TASK)]["info"]["exit_detail"]
    cut = trajs[("iter_1", "cut_off", TASK)]
    assert cut["steps"][0].get("cut_off") and "cut off at the output-token limit" in json.dumps(cut["messages"])
    reasoner_second = [r["body"] for r in server.requests if r["model"] == "reasoner"][-1]
    sent_back = [m for m in reasoner_second["messages"] if m["role"] == "assistant"]
    assert sent_back[0].get("reasoning_content") == "First I look at the notes."


def test_a_model_with_a_refused_key_starts_no_new_run_and_the_others_go_on(bundled_rows, tmp_path, capsys):
    ids = ["patchmix__unitconv-1", "patchmix__daterange-1"]
    script = make_script({"fixer": [EDIT, SUBMIT], "bad_key": [{"error": {"preset": "bad_key", "times": 100}}]})
    with ScriptedServer(script) as server:
        config = make_config(server.api_base, "keys", ["bad_key", "fixer"], ids=ids, workers=1)
        code = run_pipeline(write_config(tmp_path / "p.yaml", config), runs_dir=tmp_path / "runs",
                            progress=Progress(live=False))
    assert code == 3
    assert sum(1 for r in server.requests if r["model"] == "bad_key") == 1
    statuses = {key: t["info"]["exit_status"] for key, t in read_trajs(tmp_path / "runs" / "keys").items()}
    assert sorted(statuses.values()) == ["model_unavailable", "submitted", "submitted"]
    err = capsys.readouterr().err
    assert err.count("model bad_key starts no new run") == 1
    assert "2 runs left to redo (1 model_unavailable, 1 not started)" in err


def test_a_bug_in_the_harness_ends_only_that_run_as_harness_error(bundled_rows, tmp_path):
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "broken.j2").write_text("{{ problem_statement }} {{ 1 // 0 }}")
    script = make_script({"fixer": [EDIT, SUBMIT]})
    with ScriptedServer(script) as server:
        config = make_config(server.api_base, "bug", ["fixer"], prompts_dir=str(prompts),
                             iterations=[{"models": ["fixer"]}, {"models": ["fixer"], "instance_template": "broken.j2"}])
        code = run_pipeline(write_config(tmp_path / "p.yaml", config), runs_dir=tmp_path / "runs",
                            progress=Progress(live=False))
    trajs = read_trajs(tmp_path / "runs" / "bug")
    assert code == 0  # harness_error is the run's own end, not left to redo
    assert trajs[("iter_1", "fixer", TASK)]["info"]["exit_status"] == "submitted"
    info = trajs[("iter_2", "fixer", TASK)]["info"]
    assert info["exit_status"] == "harness_error" and "ZeroDivisionError" in info["exit_detail"]
    assert "Traceback" in info["exit_detail"]


def run_cli(config: Path, runs: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(config), "--runs-dir", str(runs)],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_while_the_provider_never_answers_exits_within_5_s_with_no_container_left(
        bundled_rows, docker_client, tmp_path, signum):
    script = make_script({"never_answers": [EDIT, {"error": {"never": True, "times": 100}}]})
    with ScriptedServer(script) as server:
        config = make_config(server.api_base, "ctrlc", ["never_answers"],
                             defaults={"limits": {"wall_time_limit": 600}})
        process = run_cli(write_config(tmp_path / "p.yaml", config), tmp_path / "runs")
        deadline = time.monotonic() + 120
        while len(server.requests) < 2 and time.monotonic() < deadline:  # the second call hangs
            time.sleep(0.1)
        time.sleep(0.5)
        process.send_signal(signum)
        sent = time.monotonic()
        _, err = process.communicate(timeout=60)
        took = time.monotonic() - sent
    print(f"\n{signal.Signals(signum).name} to exit: {took:.2f} s")
    assert process.returncode == 130, err
    assert took < 5
    assert not docker_client.containers.list(all=True, sparse=True, filters={"label": f"patchmix.pid={process.pid}"})
    info = read_trajs(tmp_path / "runs" / "ctrlc")[("iter_1", "never_answers", TASK)]["info"]
    assert info["exit_status"] == "interrupted"


def test_container_removed_while_submit_is_answered_is_redone_on_resume_with_its_patch(
        bundled_rows, docker_client, tmp_path):
    fired = []

    def remove_containers(model, step, reply):
        if reply is SUBMIT and not fired:
            fired.append(step)
            for container in docker_client.containers.list(
                    all=True, filters={"label": [f"patchmix.pid={os.getpid()}", f"patchmix.instance={TASK}"]}):
                container.remove(force=True)

    script = make_script({"fixer": [EDIT, SUBMIT]})
    with ScriptedServer(script, on_reply=remove_containers) as server:
        path = write_config(tmp_path / "p.yaml", make_config(server.api_base, "gone", ["fixer"]))
        assert run_pipeline(path, runs_dir=tmp_path / "runs", progress=Progress(live=False)) == 3
        traj_path = tmp_path / "runs" / "gone" / "iter_1" / "fixer" / f"{TASK}.traj.json"
        first = json.loads(traj_path.read_text())["info"]
        assert fired and first["exit_status"] == "infra_error" and first["ended_before"] == "submitted"
        assert read_jsonl(tmp_path / "runs" / "gone" / "iter_1" / "fixer" / "preds.jsonl") == []
        assert run_pipeline(path, runs_dir=tmp_path / "runs", progress=Progress(live=False)) == 0
    info = json.loads(traj_path.read_text())["info"]
    assert info["exit_status"] == "submitted" and "NOTES.txt" in info["patch"]
    preds = read_jsonl(tmp_path / "runs" / "gone" / "iter_1" / "fixer" / "preds.jsonl")
    assert preds[0]["model_patch"] == info["patch"]


def pin_a_file_in_the_upper_layer(container) -> Path:
    """A file in the container's writable layer that the engine cannot delete (the immutable attribute of the
    host's ext4): Docker's own removal of that container then fails, as it does on a busy or failing disk."""
    container.reload()
    pin = Path(container.attrs["GraphDriver"]["Data"]["UpperDir"]) / "patchmix-pin"
    pin.write_text("pinned by the test\n")
    subprocess.run(["chattr", "+i", str(pin)], check=True)
    return pin


def test_a_failed_container_removal_after_collection_keeps_the_run_and_its_patch(
        bundled_rows, docker_client, tmp_path):
    pinned = []

    def pin_container(model, step, reply):
        if reply is SUBMIT and not pinned:
            [container] = docker_client.containers.list(
                all=True, filters={"label": [f"patchmix.pid={os.getpid()}", f"patchmix.instance={TASK}"]})
            pinned.append((container.id, pin_a_file_in_the_upper_layer(container)))

    script = make_script({"fixer": [EDIT, SUBMIT]})
    try:
        with ScriptedServer(script, on_reply=pin_container) as server:
            path = write_config(tmp_path / "p.yaml", make_config(server.api_base, "stuck", ["fixer"]))
            assert run_pipeline(path, runs_dir=tmp_path / "runs", progress=Progress(live=False)) == 0
            billed = len(server.bills)
            [(container_id, pin)] = pinned
            assert docker_client.containers.get(container_id)  # the engine could not remove it
            info = json.loads((tmp_path / "runs" / "stuck" / "iter_1" / "fixer" / f"{TASK}.traj.json")
                              .read_text())["info"]
            assert info["exit_status"] == "submitted" and "NOTES.txt" in info["patch"]
            assert "cannot remove container" in info["container_error"] and "docker rm -f" in info["container_error"]
            preds = read_jsonl(tmp_path / "runs" / "stuck" / "iter_1" / "fixer" / "preds.jsonl")
            assert preds[0]["model_patch"] == info["patch"]
            assert run_pipeline(path, runs_dir=tmp_path / "runs", progress=Progress(live=False)) == 0
            assert len(server.bills) == billed == 2  # the resume kept the run: no model call was made again
    finally:
        for container_id, pin in pinned:
            subprocess.run(["chattr", "-i", str(pin)], check=False)
            pin.unlink(missing_ok=True)
            subprocess.run(["docker", "rm", "-f", container_id], check=False, capture_output=True)
