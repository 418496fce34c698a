"""The run folder under faults: SIGKILLs with resumes (same predictions, a ledger that matches what the provider
billed), a second process on the same folder, a full disk, broken configs and missing images."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.demo.models import make_demo_script
from harness.scripted.server import ScriptedServer
from harness.exceptions import ConfigError
from harness.pipeline.launch import run_pipeline
from harness.pipeline.lock import FolderBusy, RunLock
from harness.pipeline.progress import Progress

import tests.pipeline.pipelinekit as pipelinekit
from tests.pipeline.pipelinekit import get_patches, load_rows, make_slow_script, write_config

ENV = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}


def make_config(api_base: str, name: str, **overrides) -> dict:
    """The shared three-iteration config at 4 workers, with no image pulls."""
    return pipelinekit.make_config(api_base, name, **{"workers": 4, "images": {"pull": False}, **overrides})


def run_cli(config: Path, runs: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(config), "--runs-dir", str(runs)],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until_working(run_dir: Path, process: subprocess.Popen, seconds: float = 180) -> None:
    """Until this process has taken the folder's lock (it is past its imports and checks)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if json.loads((run_dir / ".lock").read_text())["pid"] == process.pid:
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)


def read_ledger(path: Path) -> tuple[dict, dict]:
    starts, ends = {}, {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        (starts if record["event"] == "start" else ends)[record["call"]] = record
    return starts, ends


@pytest.mark.docker
def test_ten_sigkills_at_four_workers_then_resume_same_predictions_and_ledger_matches_the_bill(
        bundled_rows, docker_client, tmp_path):
    rng = random.Random(8)
    with ScriptedServer(make_slow_script(0.2)) as server:
        whole = write_config(tmp_path / "whole.yaml", make_config(server.api_base, "whole"))
        assert run_pipeline(whole, runs_dir=tmp_path / "runs", progress=Progress(live=False)) == 0
    with ScriptedServer(make_slow_script(0.2)) as server:
        killed = write_config(tmp_path / "killed.yaml", make_config(server.api_base, "killed"))
        run_dir = tmp_path / "runs" / "killed"
        moments = []
        for _ in range(10):
            process = run_cli(killed, tmp_path / "runs")
            wait_until_working(run_dir, process)
            moments.append(round(rng.uniform(0.0, 4.0), 2))
            time.sleep(moments[-1])
            process.send_signal(signal.SIGKILL)
            process.wait()
        final = run_cli(killed, tmp_path / "runs")
        out, err = final.communicate(timeout=900)
        assert final.returncode == 0, out + err
        bills = list(server.bills)
    assert get_patches(tmp_path / "runs" / "whole") == get_patches(run_dir)
    starts, ends = read_ledger(run_dir / "ledger.jsonl")
    billed = {bill["call"]: bill for bill in bills}
    assert set(billed) <= set(starts)  # every call the provider billed is in the ledger
    server_dollars = sum(b["prompt_tokens"] * 1e-6 + b["completion_tokens"] * 2e-6 for b in bills)
    ended = {call: end for call, end in ends.items() if "error" not in end}
    lost = [call for call in billed if call not in ends]  # killed between the answer and its ledger line
    ledger_dollars = sum(end["cost"] for end in ended.values())
    unknown = sum(starts[call]["estimate"] for call in starts if call not in ends)
    print(f"\nkill moments (s after the lock was taken): {moments}")
    print(f"server billed {len(bills)} calls ${server_dollars:.6f}; ledger: {len(ended)} calls ended "
          f"${ledger_dollars:.6f}, {len(starts) - len(ends)} open (estimate ${unknown:.6f}), "
          f"{len(lost)} billed but cut off before their ledger line")
    assert set(ended) == set(billed) - set(lost)
    for call, end in ended.items():
        assert (end["tokens_in"], end["tokens_out"]) == (billed[call]["prompt_tokens"], billed[call]["completion_tokens"])
    lost_dollars = sum(billed[c]["prompt_tokens"] * 1e-6 + billed[c]["completion_tokens"] * 2e-6 for c in lost)
    assert ledger_dollars + lost_dollars == pytest.approx(server_dollars, abs=1e-12)
    # A SIGKILL can cut each worker's call between the server's answer and its ledger line, never more; each
    # such call still has its start line and estimate (billed <= starts, above), so the budget counted it.
    assert len(lost) <= len(moments) * 4


@pytest.mark.docker
def test_the_budget_is_read_from_the_ledger_across_resumes(bundled_rows, tmp_path):
    with ScriptedServer(make_demo_script(load_rows())) as server:
        config = make_config(server.api_base, "budget", iterations=[{"models": ["fixer", "breaker"]}], workers=1,
                             budget=0.0001)
        path = write_config(tmp_path / "p.yaml", config)
        assert run_pipeline(path, runs_dir=tmp_path / "runs", progress=Progress(live=False)) == 3
        seen = len(server.requests)
        assert run_pipeline(path, runs_dir=tmp_path / "runs", progress=Progress(live=False)) == 3
        assert len(server.requests) == seen  # the resume sees the money spent and starts nothing
    starts, ends = read_ledger(tmp_path / "runs" / "budget" / "ledger.jsonl")
    assert len(starts) == len(ends) == seen


def test_a_second_run_on_the_same_folder_is_refused_naming_the_holder(tmp_path):
    config = write_config(tmp_path / "p.yaml", make_config("http://127.0.0.1:9/v1", "busy"))
    with RunLock(tmp_path / "runs" / "busy"):
        process = run_cli(config, tmp_path / "runs")
        _, err = process.communicate(timeout=300)
    assert process.returncode == 2
    assert f"in use by patchmix pid {os.getpid()} on host {os.uname().nodename}" in err
    assert len(err.strip().splitlines()) == 1


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folder = tmp_path / "runs" / "stale"
    folder.mkdir(parents=True)
    (folder / ".lock").write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename, "since": "then"}))
    with RunLock(folder):
        assert json.loads((folder / ".lock").read_text())["pid"] == os.getpid()
        with pytest.raises(FolderBusy, match=f"pid {os.getpid()}"):
            RunLock(folder).acquire()
    assert not (folder / ".lock").exists()


def hold_the_lock_briefly(folder: str, start, results) -> None:
    """One of several processes started together on a folder with a stale lock: takes it or is refused."""
    start.wait()
    try:
        with RunLock(Path(folder)):
            results.put("held")
            time.sleep(0.5)
    except FolderBusy:
        results.put("busy")


def test_of_processes_started_together_on_a_stale_lock_exactly_one_takes_it(tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("fork")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = json.dumps({"pid": dead.pid, "host": os.uname().nodename, "since": "then"})
    for round_ in range(12):
        folder = tmp_path / f"stale{round_}"
        folder.mkdir()
        (folder / ".lock").write_text(stale)
        start, results = context.Barrier(6), context.Queue()
        workers = [context.Process(target=hold_the_lock_briefly, args=(str(folder), start, results))
                   for _ in range(6)]
        for worker in workers:
            worker.start()
        outcomes = sorted(results.get(timeout=60) for _ in workers)
        for worker in workers:
            worker.join(timeout=60)
        assert outcomes == ["busy"] * 5 + ["held"], f"round {round_}: {outcomes}"
        assert not (folder / ".lock").exists()


def run_command(*args: str, env: dict | None = None, **options) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "harness.cli", *args], env=env or ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **options)


def test_an_evaluation_of_a_folder_in_use_is_refused_naming_the_holder(tmp_path):
    folder = tmp_path / "runs" / "busy"
    folder.mkdir(parents=True)
    write_config(folder / "config.yaml", make_config("http://127.0.0.1:9/v1", "busy"))
    with RunLock(folder):
        _, err = run_command("evaluate", str(folder)).communicate(timeout=300)
    assert f"in use by patchmix pid {os.getpid()} on host {os.uname().nodename}" in err
    assert len(err.strip().splitlines()) == 1


def test_evaluating_a_folder_that_does_not_exist_creates_nothing(tmp_path):
    process = run_command("evaluate", str(tmp_path / "runs" / "typo"))
    _, err = process.communicate(timeout=300)
    assert process.returncode == 2 and "is not a run folder" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_an_engine_that_does_not_answer_while_leftover_containers_are_removed_is_one_line(tmp_path):
    env = {**ENV, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    process = run_command("run-one", "--dataset", str(pipelinekit.DATASET),
                          "--instance", "patchmix__unitconv-1", "--model", "openai/a",
                          "--output", str(tmp_path / "out"), env=env)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 2 and "Docker engine" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def serve_silently(path: str):
    """A socket where an engine should be: it accepts connections and never answers."""
    import socket

    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(8)
    return server


@pytest.mark.parametrize("inherited", ["default", "ignored"])
def test_ctrl_c_while_the_engine_hangs_exits_130_in_one_line_even_when_started_with_sigint_ignored(
        tmp_path, inherited):
    """`nohup patchmix run ... &` in a script starts it with SIGINT ignored; Ctrl-C must still stop it."""
    server = serve_silently(str(tmp_path / "engine.sock"))
    config = write_config(tmp_path / "p.yaml", make_config("http://127.0.0.1:9/v1", "hang"))
    env = {**ENV, "DOCKER_HOST": f"unix://{tmp_path}/engine.sock"}
    ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if inherited == "ignored" else None
    try:
        process = run_command("run", str(config), "--runs-dir", str(tmp_path / "runs"), env=env, preexec_fn=ignore)
        deadline = time.monotonic() + 120
        while not (tmp_path / "runs" / "hang" / ".lock").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # past the lock: waiting for the engine
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        server.close()
    assert process.returncode == 130, err
    assert err.strip().splitlines() == ["patchmix: interrupted; finished work is saved, rerun the same command "
                                        "to resume"]


def test_yaml_syntax_error_is_one_line_with_line_and_column(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nmodels:\n  a: {name: openai/a\n")
    with pytest.raises(ConfigError, match=r"p\.yaml is not valid YAML: line 4, column 1: expected ',' or '}'") as caught:
        run_pipeline(path, runs_dir=tmp_path / "runs")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("damage, message", [
    (lambda config: config.unlink(), "holds results but no config.yaml"),
    (lambda config: config.write_text("name: [unclosed\n"), r"config.yaml is corrupt \(line 2, column 1"),
])
def test_a_missing_or_corrupt_run_folder_config_next_to_results_is_refused(tmp_path, damage, message):
    path = write_config(tmp_path / "p.yaml", make_config("http://127.0.0.1:9/v1", "old"))
    folder = tmp_path / "runs" / "old"
    traj = folder / "iter_1" / "fixer" / "patchmix__unitconv-1.traj.json"
    traj.parent.mkdir(parents=True)
    traj.write_text(json.dumps({"info": {"exit_status": "submitted", "finished_at": "then", "patch": "p"}}))
    (folder / "config.yaml").write_text("name: old\n")
    damage(folder / "config.yaml")
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    with pytest.raises(ConfigError, match=message) as caught:
        run_pipeline(path, runs_dir=tmp_path / "runs")
    assert "\n" not in str(caught.value)
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_missing_images_end_their_runs_image_unavailable_and_the_end_line_counts_them(docker_client, tmp_path,
                                                                                       capsys):
    rows = load_rows()
    for index, row in enumerate(rows):
        row["image"] = f"patchmix-missing/image-{index}:nope"
    dataset = tmp_path / "rows.jsonl"
    dataset.write_text("".join(json.dumps(row) + "\n" for row in rows))
    path = write_config(tmp_path / "p.yaml", make_config("http://127.0.0.1:9/v1", "images",
                                                         dataset={"path": str(dataset)}))
    assert run_pipeline(path, runs_dir=tmp_path / "runs") == 3
    assert "10 runs left to redo (6 image_unavailable, 4 not started)" in capsys.readouterr().err
    infos = [json.loads(p.read_text())["info"] for p in (tmp_path / "runs" / "images").glob("iter_1/*/*.traj.json")]
    assert len(infos) == 6 and {info["exit_status"] for info in infos} == {"image_unavailable"}
    assert all("is not present locally and pulling is off (images.pull)" in info["exit_detail"] for info in infos)
    assert not list((tmp_path / "runs" / "images").glob("iter_2/*/*.traj.json"))


@pytest.mark.docker
def test_a_read_only_or_full_disk_gives_one_line_and_loses_nothing_written(bundled_rows, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(runs)], check=True)
    try:
        with ScriptedServer(make_demo_script(load_rows())) as server:
            config = write_config(tmp_path / "p.yaml", make_config(server.api_base, "full", workers=2))
            first = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(config), "--runs-dir", str(runs),
                                    "--iteration", "1"], env=ENV, capture_output=True, text=True, timeout=600)
            assert first.returncode == 0, first.stderr
            before = {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()}
            subprocess.run(["mount", "-o", "remount,ro", str(runs)], check=True)
            readonly = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(config), "--runs-dir",
                                       str(runs)], env=ENV, capture_output=True, text=True, timeout=600)
            subprocess.run(["mount", "-o", "remount,rw", str(runs)], check=True)
            assert readonly.returncode == 4 and "Read-only file system" in readonly.stderr, readonly.stderr
            assert len(readonly.stderr.strip().splitlines()) == 1
            assert {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()} == before
            free = os.statvfs(runs).f_bavail * os.statvfs(runs).f_frsize
            (runs / "filler").write_bytes(b"\0" * (free - 24 * 1024))
            second = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(config), "--runs-dir", str(runs)],
                                    env=ENV, capture_output=True, text=True, timeout=600)
        assert second.returncode == 4, second.stderr
        errors = [line for line in second.stderr.splitlines() if line.startswith("patchmix:")]
        assert len(errors) == 1 and "No space left on device" in errors[0] and "Traceback" not in second.stderr
        for path, data in before.items():
            if path.name not in ("config.yaml", "ledger.jsonl", "run.log"):
                assert path.read_bytes() == data, path  # every trajectory and predictions file is as it was
            assert path.exists()
        assert (runs / "full" / "ledger.jsonl").read_bytes().startswith(before[runs / "full" / "ledger.jsonl"])
        assert not list(runs.rglob("*.tmp"))
        for path in runs.rglob("*.json"):
            json.loads(path.read_text())
    finally:
        subprocess.run(["umount", str(runs)], check=True)
