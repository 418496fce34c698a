"""Images pulled as the runs need them, from a real registry (Debian's `docker-registry` on 127.0.0.1) behind a
fault proxy that answers like Docker Hub: a prefetch window, a disk budget, rate limits waited out, a missing image
ending only its own runs `image_unavailable`, and a killed pipeline resumed without pulling twice or leaving
images behind. The rows are copies of the bundled tasks, each copy with an image of its own (the task's image
plus one distinct file), worked by the scripted `fixer`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from harness import exceptions as ex
from harness.agent.environment.pulls import (PullFailed, PullRefused, RateLimited, classify_pull_error, describe_emulation,
                                 get_pull_platform)
from harness.agent.environment.ratelimit import parse_quota, parse_retry_after, split_image
from harness.demo.models import make_demo_script
from harness.scripted.server import ScriptedServer
from harness.exceptions import ConfigError
from harness.pipeline.imageruns import apply_image_names, order_by_image
from harness.pipeline.launch import run_pipeline
from harness.pipeline.progress import Progress
from tests.pipeline.pipelinekit import (DATASET, FaultProxy, Poller, PullCounter, Registry, list_local, make_rows,
                                        push_variants, read_statuses, remove_local, write_pipeline)
from harness.fileio import read_jsonl

COPIES = 30
ENV = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}


@pytest.fixture(scope="module")
def registry(bundled_rows, docker_client, tmp_path_factory):
    """A registry holding COPIES distinct images `pm/task-<i>:v1`, image i built on bundled task i % 5."""
    bases = [row["image"] for _, row in sorted(bundled_rows.items()) if not row["instance_id"].endswith("published")]
    with Registry(tmp_path_factory.mktemp("registry")) as server:
        push_variants(docker_client, server.address, bases, COPIES)
        yield server, bases
        remove_local(docker_client, server.address)


@pytest.fixture
def proxy(registry, docker_client):
    with FaultProxy(registry[0].address) as front:
        yield front
        remove_local(docker_client, front.address)


class Sampler(Poller):
    """Polls the local images under a prefix while a pipeline runs; keeps the most held at once."""

    def __init__(self, client, prefix: str):
        super().__init__()
        self.client, self.prefix, self.most = client, prefix, 0

    def sample(self) -> None:
        self.most = max(self.most, len(list_local(self.client, self.prefix)))


@pytest.mark.docker
def test_thirty_instances_with_a_prefetch_of_two_and_a_budget_of_five_images(
        registry, proxy, bundled_rows, docker_client, tmp_path):
    _, bases = registry
    rows = make_rows(bundled_rows, bases, COPIES)
    one_image = max(docker_client.images.get(base).attrs["Size"] for base in bases) + 1_000_000
    images = {"name": proxy.address + "/pm/task-{variant}:v1", "prefetch": 2, "max_disk_gb": 5 * one_image / 1e9}
    with ScriptedServer(make_demo_script(rows)) as server, Sampler(docker_client, proxy.address) as sampler, \
            PullCounter(docker_client, proxy.address) as counter:
        code = run_pipeline(write_pipeline(tmp_path, server.api_base, rows, images), runs_dir=tmp_path / "runs",
                            progress=Progress(live=False))
    assert code == 0
    statuses = read_statuses(tmp_path / "runs" / "pulls")
    assert len(statuses) == COPIES and set(statuses.values()) == {ex.SUBMITTED}
    assert 1 <= sampler.most <= 5  # never more than the budget held at once
    assert dict(counter.pulls) == {f"{proxy.address}/pm/task-{i}:v1": 1 for i in range(COPIES)}  # none pulled twice
    assert list_local(docker_client, proxy.address) == []  # each removed once no planned run needed it
    assert json.loads((tmp_path / "runs" / "pulls" / "images.json").read_text()) == {"pulled": {}}
    log = (tmp_path / "runs" / "pulls" / "run.log").read_text().splitlines()
    first_run = next(n for n, line in enumerate(log) if "iteration 1 fixer" in line and "started" in line)
    fifth_pull = next(n for n, line in enumerate(log) if f"image {proxy.address}/pm/task-4:v1 pulled" in line)
    assert first_run < fifth_pull  # the first run started before the window let the fifth image be pulled


@pytest.mark.docker
def test_a_429_storm_delays_the_pipeline_and_a_missing_image_ends_only_its_own_runs(
        registry, proxy, bundled_rows, docker_client, tmp_path, capfd):
    _, bases = registry
    rows = make_rows(bundled_rows, bases, 6)
    rows[3]["variant"] = "missing"  # no such image in the registry
    proxy.faults.rate_limited, proxy.faults.slow_seconds = 8, 2.0
    images = {"name": proxy.address + "/pm/task-{variant}:v1", "prefetch": 1}
    lines = []
    with ScriptedServer(make_demo_script(rows)) as server:
        progress = Progress(live=False)
        progress.refresh = lambda line="": lines.append(line)
        code = run_pipeline(write_pipeline(tmp_path, server.api_base, rows, images), runs_dir=tmp_path / "runs",
                            progress=progress)
    err = capfd.readouterr().err
    assert code == 3
    assert "1 runs left to redo (1 image_unavailable)" in err
    assert err.count("the registry is rate-limiting pulls (limit 100 pulls per 21600 s, 0 left)") == 1
    assert proxy.faults.served["rate_limited"] == 8  # all eight 429s were met, and waited out
    statuses = read_statuses(tmp_path / "runs" / "pulls")
    missing = rows[3]["instance_id"]
    assert statuses.pop(missing) == ex.IMAGE_UNAVAILABLE
    assert set(statuses.values()) == {ex.SUBMITTED} and len(statuses) == 5
    detail = json.loads((tmp_path / "runs" / "pulls" / "iter_1" / "fixer" / f"{missing}.traj.json").read_text())
    assert "pm/task-missing:v1" in detail["info"]["exit_detail"] and "manifest unknown" in detail["info"]["exit_detail"]
    assert any("layers" in line and "pulling" in line for line in lines)  # pull progress in the live display
    assert list_local(docker_client, proxy.address) == []


@pytest.mark.docker
def test_a_killed_pipeline_resumes_without_pulling_again_or_leaving_images(
        registry, proxy, bundled_rows, docker_client, tmp_path):
    _, bases = registry
    rows = make_rows(bundled_rows, bases, 10)
    script = make_demo_script(rows)
    for conversations in script["models"].values():
        for conversation in conversations:
            conversation["replies"] = [{**reply, "delay": 0.5} for reply in conversation["replies"]]
    images = {"name": proxy.address + "/pm/task-{variant}:v1", "prefetch": 3}
    record = tmp_path / "runs" / "pulls" / "images.json"
    with ScriptedServer(script) as server, PullCounter(docker_client, proxy.address) as counter:
        config = write_pipeline(tmp_path, server.api_base, rows, images)
        command = [sys.executable, "-m", "harness.cli", "run", str(config), "--runs-dir", str(tmp_path / "runs")]
        process = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_until(lambda: count_pulled(record) >= 3, process)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        held = set(json.loads(record.read_text())["pulled"])  # an image on disk is in the record, even one whose
        assert set(list_local(docker_client, proxy.address)) <= held  # pull was under way at the kill
        present = set(list_local(docker_client, proxy.address))
        dropped = next(row for row in rows if images["name"].format(**row) in present)  # resumed without it: its
        config = write_pipeline(tmp_path, server.api_base, rows, images)  # image must go at start, unused
        resume = json.loads(config.read_text())
        resume["instances"] = {"ids": [row["instance_id"] for row in rows if row is not dropped]}
        config.write_text(json.dumps(resume))
        resumed = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    statuses = read_statuses(tmp_path / "runs" / "pulls")
    statuses.pop(dropped["instance_id"], None)
    assert len(statuses) == 9 and set(statuses.values()) == {ex.SUBMITTED}
    assert dict(counter.pulls) == {f"{proxy.address}/pm/task-{i}:v1": 1 for i in range(10)}  # held: not pulled again
    assert list_local(docker_client, proxy.address) == []
    assert json.loads(record.read_text()) == {"pulled": {}}


def count_pulled(record: Path) -> int:
    """Images the record lists as pulled to the end (a pull under way is listed with size 0)."""
    return record.is_file() and sum(1 for entry in json.loads(record.read_text())["pulled"].values() if entry["size"])


def wait_until(condition, process, seconds: float = 600) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, "the pipeline did not get there"
        time.sleep(0.05)


@pytest.mark.parametrize("message, kind", [
    ("toomanyrequests: You have reached your pull rate limit. You may increase the limit", RateLimited),
    ("received unexpected HTTP status: 503 Service Unavailable", PullFailed),
    ("500 Server Error: Internal Server Error (\"Get https://x/v2/: EOF\")", PullFailed),
    ("manifest for 127.0.0.1:5/pm/nothere:v1 not found: manifest unknown: manifest unknown", PullRefused),
    ("pull access denied for nosuch/image, repository does not exist or may require 'docker login'", PullRefused),
    ("unauthorized: authentication required", PullRefused),
    ("read tcp 127.0.0.1:4->127.0.0.1:5: read: connection reset by peer", PullFailed),
])
def test_pull_errors_are_told_apart_by_their_wording(message, kind):
    assert classify_pull_error(message) is kind


def test_rate_limit_headers_and_image_names_are_read_like_docker_hub_writes_them():
    assert parse_quota("100;w=21600") == (100, 21600)
    assert parse_quota("0") == (0, None)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert split_image("swebench/sweb.eval.x86_64.django_1776_django-11099:latest") == (
        "registry-1.docker.io", "swebench/sweb.eval.x86_64.django_1776_django-11099", "latest")
    assert split_image("python") == ("registry-1.docker.io", "library/python", "latest")
    assert split_image("127.0.0.1:5000/pm/task-1:v1") == ("127.0.0.1:5000", "pm/task-1", "v1")


def test_an_image_name_template_fills_from_the_row_and_a_wrong_field_is_one_line():
    rows = [row for row in read_jsonl(DATASET)][:2]
    named = apply_image_names([dict(row) for row in rows], "mirror.example:5000/sweb/{instance_id}:latest")
    assert [row["image"] for row in named] == [f"mirror.example:5000/sweb/{row['instance_id']}:latest" for row in rows]
    assert apply_image_names([dict(rows[0])], None)[0]["image"] == rows[0]["image"]
    with pytest.raises(ConfigError, match=r"config key images.name: \{instance\} is not a field") as caught:
        apply_image_names([dict(rows[0])], "sweb/{instance}")
    assert "\n" not in str(caught.value)


def test_jobs_of_one_image_run_next_to_each_other_in_first_appearance_order():
    from harness.pipeline.iterations import Job

    images = ["a", "b", "a", "c", "b", "a"]
    jobs = [Job(1, f"m{n}", {"image": image, "instance_id": str(n)}, []) for n, image in enumerate(images)]
    ordered = order_by_image(jobs)
    assert [job.row["image"] for job in ordered] == ["a", "a", "a", "b", "b", "c"]
    assert [job.label for job in ordered] == ["m0", "m2", "m5", "m1", "m4", "m3"]


def test_a_non_x86_host_is_told_its_slowdown_in_one_line_and_pulls_ask_for_amd64():
    assert get_pull_platform("x86_64") is None and get_pull_platform("aarch64") == "linux/amd64"
    assert describe_emulation("x86_64") is None
    line = describe_emulation("aarch64")
    assert "aarch64" in line and "emulation" in line and "slower" in line and "\n" not in line


@pytest.mark.docker
def test_images_list_pull_and_prune_by_hand(registry, proxy, bundled_rows, docker_client, tmp_path, capsys):
    from harness.cli import main

    rows = make_rows(bundled_rows, registry[1], 3)
    rows[2]["variant"] = "missing"
    config = write_pipeline(tmp_path, "http://127.0.0.1:9/v1", rows,
                            {"name": proxy.address + "/pm/task-{variant}:v1"})
    runs = ["--runs-dir", str(tmp_path / "runs")]
    assert main(["images", "list", str(config), *runs]) == 0
    assert "0 of 3 images present" in capsys.readouterr().out
    assert main(["images", "pull", str(config), *runs]) == 3
    out = capsys.readouterr().out
    assert "[3/3] " in out and "manifest unknown" in out and "1 of 3 images could not be pulled" in out
    assert main(["images", "list", str(config), *runs]) == 0
    out = capsys.readouterr().out
    assert "2 of 3 images present" in out and out.count("pulled by patchmix") == 2
    record = tmp_path / "runs" / "pulls" / "images.json"
    assert len(json.loads(record.read_text())["pulled"]) == 2
    assert main(["images", "prune", str(config), *runs]) == 0
    assert "2 images removed" in capsys.readouterr().out
    assert list_local(docker_client, proxy.address) == [] and json.loads(record.read_text()) == {"pulled": {}}
    assert main(["images", "list", str(tmp_path / "nothing.yaml"), *runs]) == 2
    assert "neither a pipeline config file nor a run folder" in capsys.readouterr().err


@pytest.mark.docker
def test_images_a_later_iteration_needs_are_kept_for_it_then_removed(registry, proxy, bundled_rows, docker_client,
                                                                   tmp_path):
    rows = make_rows(bundled_rows, registry[1], 4)
    config_path = write_pipeline(tmp_path, "", rows, {"name": proxy.address + "/pm/task-{variant}:v1", "prefetch": 1})
    with ScriptedServer(make_demo_script(rows)) as server, PullCounter(docker_client, proxy.address) as counter:
        config = json.loads(config_path.read_text())
        config["models"] = {label: {**config["models"]["fixer"], "name": f"openai/{label}", "api_base": server.api_base}
                            for label in ("fixer", "merger")}
        config["iterations"] = [{"models": ["fixer"]}, {"models": ["merger"], "draws_on": [1],
                                                         "instance_template": "instance_with_patches.j2"}]
        config_path.write_text(json.dumps(config))
        assert run_pipeline(config_path, runs_dir=tmp_path / "runs", progress=Progress(live=False)) == 0
    assert len(list((tmp_path / "runs" / "pulls").glob("iter_2/merger/*.traj.json"))) == 4
    assert dict(counter.pulls) == {f"{proxy.address}/pm/task-{i}:v1": 1 for i in range(4)}
    assert list_local(docker_client, proxy.address) == []


@pytest.mark.docker
def test_registry_faults_are_retried_and_a_fault_that_persists_gives_up_with_its_reason(registry, proxy, docker_client):
    from harness.pipeline.config import ImagesConfig
    from harness.pipeline.imagepull import Puller

    puller = Puller(ImagesConfig(pull_retries=2, pulls_per_minute=6000), threading.Event(), say=lambda line: None)
    proxy.faults.server_errors = 1000
    with pytest.raises(PullFailed, match=r"503 Service Unavailable \(after 2 tries\)"):
        puller.pull(proxy.address + "/pm/task-0:v1")
    proxy.faults.server_errors, proxy.faults.dropped, proxy.faults.slow_seconds = 1, 1, 1.0
    assert puller.pull(proxy.address + "/pm/task-1:v1") > 0  # a 503, a connection dropped mid-layer, slow bodies
    assert proxy.faults.served["dropped"] == 1 and proxy.faults.served["server_errors"] >= 1
    assert list_local(docker_client, proxy.address) == [proxy.address + "/pm/task-1:v1"]
