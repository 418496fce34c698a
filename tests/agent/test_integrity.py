"""Results that mean what they say: exact patches, no answer key in reach, no gamed tests, scoring
cached per (instance, patch), secrets never written. Real containers, the scripted provider over HTTP, the
official harness; on a bundled task and on the published-style image (`harness/tasks/published.py`)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import time
from pathlib import Path

import pytest
import yaml

from harness.agent.config import ContainerConfig
from harness.agent.environment import docker_environment, prepare
from harness.agent.environment.container_options import KEPT_CAPABILITIES
from harness.agent.environment.docker_environment import Environment
from harness.agent.integrity.commandflags import flag_command
from harness.agent.integrity.testconfig import read_test_config
from harness.analysis.attempts import render_integrity, summarise_integrity
from harness.tasks.rows import write_rows
from harness.fileio import read_jsonl, write_jsonl_atomic
from harness.secrets import MASK, redact, watch_variable
from tests.agent.agentkit import FIX, SUBMIT, TASKS_DIR, UNITCONV, bash, observations

PUBLISHED = "patchmix__unitconv-published"
FORCE_PASS = '''
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome, report.longrepr = "passed", None
'''
CONFTEST = "import pytest\n" + FORCE_PASS
SITECUSTOMIZE = 'import os\nos.environ["PYTEST_PLUGINS"] = "sitecustomize"\nimport pytest\n' + FORCE_PASS
LATIN1_LINE = "Caf\xe9 cr\xe8me br\xfbl\xe9e\n".encode("latin-1")
LATIN1_NEW = "na\xefve r\xe9sum\xe9\n".encode("latin-1")


def create(path: str, text: str) -> dict:
    return {"tool_calls": [{"name": "str_replace_editor", "arguments": {"command": "create", "path": path,
                                                                        "file_text": text}}]}


@pytest.fixture(scope="module")
def published_row(docker_client):
    from harness.tasks.published import build_published_image

    return build_published_image(docker_client, Path(TASKS_DIR), log=lambda *args: None)


@pytest.fixture(scope="module")
def rows(bundled_rows, published_row):
    return {UNITCONV: bundled_rows[UNITCONV], PUBLISHED: published_row}


@pytest.fixture(scope="module")
def dataset(rows, tmp_path_factory):
    path = tmp_path_factory.mktemp("integrity-dataset") / "rows.jsonl"
    write_rows([rows[UNITCONV], rows[PUBLISHED]], path)
    return path


def score(predictions: list[dict], dataset: Path, tmp_path: Path, name: str) -> dict:
    from harness.scoring.official import EvaluationFailed, evaluate_predictions

    preds = tmp_path / f"{name}.jsonl"
    write_jsonl_atomic(preds, predictions)
    try:
        return evaluate_predictions(preds, dataset, f"integrity-{name}", tmp_path / "scratch", workers=2, timeout=300)
    except EvaluationFailed as error:
        # swebench's make_run_report lists every container on the host; one removed meanwhile by another process
        # (a 404) crashes it after the instances were graded. The same run id resumes from their stored reports.
        if "404 Client Error" not in str(error):
            raise
        return evaluate_predictions(preds, dataset, f"integrity-{name}", tmp_path / "scratch", workers=2, timeout=300)


# ---------------------------------------------------------------- exact patches


@pytest.mark.docker
@pytest.mark.parametrize("instance_id", [UNITCONV, PUBLISHED])
def test_a_run_that_edits_nothing_has_no_patch(rows, run_scripted, instance_id):
    row = rows[instance_id]
    prediction, traj, _ = run_scripted(row, [bash(f"git diff --stat {row['base_commit']} | tail -1"), SUBMIT])
    assert prediction["model_patch"] == "" and traj["info"]["patch_label"] is None
    assert traj["info"]["patch_dropped"] == []
    setup_edits = observations(traj)[0]
    print(f"\n{instance_id}: diff against the base commit in the image: {setup_edits.strip() or 'none'}")
    if instance_id == PUBLISHED:  # the setup commit edits a tracked file: a diff against the base would leak it
        assert "1 file changed" in setup_edits


@pytest.mark.docker
def test_a_fix_is_exactly_the_fix_and_an_agent_commit_is_captured(rows, run_scripted, dataset, tmp_path):
    predictions = []
    for instance_id in (UNITCONV, PUBLISHED):
        row = rows[instance_id]
        fixed, _, _ = run_scripted(row, [FIX, SUBMIT])
        assert fixed["model_patch"] == row["patch"], "the patch is the gold fix, byte for byte"
        committed, traj, _ = run_scripted(row, [FIX, bash("git -c user.name=m -c user.email=m@x commit -qam fix && "
                                                          "git log --oneline | head -1"), SUBMIT])
        assert "fix" in observations(traj)[1]
        assert committed["model_patch"] == row["patch"], "a commit made by the agent is in the patch"
        predictions.append(committed)
    report = score(predictions, dataset, tmp_path, "commits")
    assert report["resolved_ids"] == [UNITCONV, PUBLISHED]


@pytest.mark.docker
def test_latin1_edits_round_trip_byte_exact_and_the_harness_applies_them(rows, run_scripted, dataset, tmp_path,
                                                                         docker_client):
    new_file = bash("printf 'na\\357ve r\\351sum\\351\\n' > notes-latin1.txt")
    edit = bash("printf 'Caf\\351 cr\\350me br\\373l\\351e\\n' >> README.md")
    created, edited = [], []
    for instance_id in (UNITCONV, PUBLISHED):
        row = rows[instance_id]
        prediction, _, _ = run_scripted(row, [new_file, FIX, SUBMIT])
        assert prediction["model_patch"].isascii() and prediction["model_patch"].count("GIT binary patch") == 1
        created.append(prediction)
        prediction, traj, _ = run_scripted(row, [new_file, edit, FIX, SUBMIT])
        patch = prediction["model_patch"]
        assert patch.isascii() and patch.count("GIT binary patch") == 2 and traj["info"]["patch_dropped"] == []
        edited.append(prediction)
        with Environment(row["image"], ContainerConfig(), client=docker_client) as clean:
            original = clean.read_file("/testbed/README.md")
            clean.write_file("/tmp/model.patch", patch.encode())
            code, output = clean.run(["git", "-C", "/testbed", "apply", "--verbose", "/tmp/model.patch"])
            assert code == 0, output.decode()
            assert clean.read_file("/testbed/README.md") == original + LATIN1_LINE
            assert clean.read_file("/testbed/notes-latin1.txt") == LATIN1_NEW
    report = score(created, dataset, tmp_path, "latin1-new-file")
    assert report["resolved_ids"] == [UNITCONV, PUBLISHED], "the harness applied the binary patches and graded them"
    # The official harness crashes decoding the tree's non-UTF-8 `git diff` after applying such an edit; the
    # isolated scoring run (the default) decodes it with replacement and grades the instance.
    report = score(edited, dataset, tmp_path, "latin1-tracked-edit")
    assert report["resolved_ids"] == [UNITCONV, PUBLISHED] and report["error_ids"] == []


@pytest.mark.docker
def test_ignored_files_and_nested_repositories_are_listed_in_dropped(rows, run_scripted):
    steps = [bash("printf '*.log\\n' >> .git/info/exclude && echo note > build.log && "
                  "mkdir vendored && cd vendored && git init -q && echo x > f && git add f && "
                  "git -c user.name=m -c user.email=m@x commit -qm v"),
             FIX, SUBMIT]
    prediction, traj, _ = run_scripted(rows[UNITCONV], steps)
    assert prediction["model_patch"] == rows[UNITCONV]["patch"]
    assert sorted(traj["info"]["patch_dropped"], key=lambda d: d["path"]) == [
        {"path": "build.log", "reason": "ignored"}, {"path": "vendored", "reason": "submodule"}]


@pytest.mark.docker
def test_an_edit_to_an_ignored_file_that_existed_at_start_is_listed_in_dropped(rows, run_scripted):
    from harness.tasks.published import EGG_INFO

    steps = [bash(f"git status --short --ignored; echo 'Summary: edited' >> {EGG_INFO}/PKG-INFO"), FIX, SUBMIT]
    prediction, traj, _ = run_scripted(rows[PUBLISHED], steps)
    assert f"!! {EGG_INFO}/" in observations(traj)[0], "the image holds the ignored file before the run"
    assert prediction["model_patch"] == rows[PUBLISHED]["patch"]
    assert traj["info"]["patch_dropped"] == [{"path": f"{EGG_INFO}/PKG-INFO", "reason": "ignored"}]


PRUNE_SETUP_COMMIT = "git reset -q HEAD~1 && git reflog expire --expire=now --all && git gc -q --prune=now"
DELETE_OBJECTS = "rm -rf .git/objects/pack .git/objects/[0-9a-f][0-9a-f]"


@pytest.mark.docker
@pytest.mark.parametrize(("instance_id", "command"), [(PUBLISHED, PRUNE_SETUP_COMMIT), (PUBLISHED, DELETE_OBJECTS),
                                                      (UNITCONV, DELETE_OBJECTS)])
def test_the_snapshot_keeps_its_objects_whatever_the_agent_does_to_the_repository(rows, run_scripted, instance_id,
                                                                                  command):
    row = rows[instance_id]
    prediction, traj, _ = run_scripted(row, [FIX, bash(f"{command}; git cat-file -t HEAD"), SUBMIT])
    if command == PRUNE_SETUP_COMMIT:  # the setup commit, and the tree the snapshot was taken from, are gone
        assert observations(traj)[1].strip() == "commit"
    assert traj["info"]["exit_status"] == "submitted"
    assert prediction["model_patch"] == row["patch"] and traj["info"]["patch_dropped"] == []


# ---------------------------------------------------------------- nothing to look up


@pytest.mark.docker
def test_published_image_shell_python_history_and_flags(rows, run_scripted, docker_client):
    row = rows[PUBLISHED]
    with Environment(row["image"], ContainerConfig(), client=docker_client) as unscrubbed:
        code, output = unscrubbed.run(["git", "-C", "/testbed", "rev-parse", "upstream", "v1.1", "origin/main"])
    future = output.decode().split()[0]
    assert code == 0 and len(set(output.decode().split())) == 1, "the image holds the fix on a branch, tag, remote"
    steps = [bash("command -v python && python -c 'import tinyunits; print(\"dependency imported\")'"),
             bash("git log --all --format='%H %s'; echo TAGS; git tag; echo BRANCHES; git branch -a; echo REMOTES; "
                  f"git remote -v; echo REFLOG; git reflog | wc -l; git cat-file -e {future} && echo PRESENT || echo ABSENT; "
                  "git fsck --unreachable --no-reflogs 2>&1 | grep -c unreachable || true"),
             bash("command -v curl wget nc || echo no network tools"), SUBMIT]  # flagged; sends nothing
    prediction, traj, _ = run_scripted(row, steps)
    python, history = observations(traj)[:2]
    assert python.splitlines()[0] == "/opt/testbed/bin/python" and "dependency imported" in python
    environment = traj["info"]["environment"]
    assert environment["path"] == "/opt/testbed/bin/python" and environment["checked"] == ["tinyunits"]
    assert environment["missing"] == []
    log, rest = history.split("TAGS\n")
    assert [line.split(" ", 1)[1] for line in log.splitlines()] == ["SWE-bench", "base"]
    assert rest.split("BRANCHES\n")[0] == "" and "upstream" not in rest and "origin" not in rest
    assert "ABSENT" in rest and "PRESENT" not in rest and future not in history
    assert rest.rstrip().endswith("0"), "no unreachable object is left"
    flags = traj["info"]["flags"]
    assert flags["history"] == 1 and flags["network"] == 1 and prediction["model_patch"] == ""
    print(f"\nflags: {json.dumps(flags)[:300]}")


@pytest.mark.docker
def test_container_has_only_loopback_drops_capabilities_and_shell_options_agree(rows, docker_client):
    row = rows[PUBLISHED]
    with Environment(row["image"], ContainerConfig(), client=docker_client, base_commit=row["base_commit"]) as env:
        code, output = env.run(["cat", "/proc/net/dev"])
        interfaces = {line.split(":")[0].strip() for line in output.decode().splitlines()[2:]}
        host = docker_client.api.inspect_container(env.container.id)["HostConfig"]
        status = env.read_file("/proc/1/status").decode()
        listing = env.execute("ls -d !(README.md|tests)")
        after = env.execute("echo the shell is alive")
    assert code == 0 and interfaces == {"lo"}
    assert host["NetworkMode"] == "none" and host["CapDrop"] == ["ALL"]
    assert sorted(host["CapAdd"]) == sorted(f"CAP_{c}" for c in KEPT_CAPABILITIES) or \
        sorted(host["CapAdd"]) == sorted(KEPT_CAPABILITIES)
    assert "no-new-privileges" in host["SecurityOpt"] and host["NanoCpus"] == 2_000_000_000
    effective = int(next(line for line in status.splitlines() if line.startswith("CapEff:")).split()[1], 16)
    assert not effective & (1 << 13), "CAP_NET_RAW is dropped"
    assert "NoNewPrivs:\t1" in status
    assert listing.exit_code == 0 and "pyproject.toml" in listing.output and "README.md" not in listing.output
    assert after.output == "the shell is alive\n"
    print(f"\ninterfaces {sorted(interfaces)}, HostConfig NetworkMode={host['NetworkMode']} "
          f"CapAdd={host['CapAdd']} SecurityOpt={host['SecurityOpt']} NanoCpus={host['NanoCpus']}")
    with Environment(row["image"], ContainerConfig(network=True, cpus=0), client=docker_client) as opted:
        _, output = opted.run(["cat", "/proc/net/dev"])
        mode = docker_client.api.inspect_container(opted.container.id)["HostConfig"]["NetworkMode"]
    assert mode != "none" and "eth0" in output.decode(), "container.network opts in (no traffic is sent)"


@pytest.mark.docker
def test_a_shell_python_without_the_dependencies_is_an_infra_error(rows, run_scripted, docker_client):
    row = rows[PUBLISHED]
    image = "patchmix-test/published-no-activation:latest"
    dockerfile = f"FROM {row['image']}\nRUN sed -i '/opt\\/testbed/d' /root/.bashrc\n"
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=image, rm=True, forcerm=True)
    prediction, traj, server = run_scripted({**row, "image": image}, [SUBMIT])
    info = traj["info"]
    assert info["exit_status"] == "infra_error" and prediction["model_patch"] == ""
    assert "/opt/venv/bin/python" in info["exit_detail"] and "lacks tinyunits" in info["exit_detail"]
    assert "activate" in info["exit_detail"] and not server.requests, "no model call is wasted"
    print(f"\n{info['exit_detail']}")


def test_a_later_container_of_a_proven_image_is_not_probed_again(rows, docker_client, monkeypatch):
    """The image is read-only, so its python is probed once per process; the next container reuses the finding
    and still gets the shell options the syntax check assumes."""
    row = rows[PUBLISHED]
    monkeypatch.setattr(docker_environment, "PREPARED_IMAGES", {})
    probes = []
    make = prepare.make_prepare_command
    monkeypatch.setattr(prepare, "make_prepare_command", lambda *args, probe=True, **kwargs: (
        probes.append(probe), make(*args, probe=probe, **kwargs))[1])
    found = []
    for _ in range(2):
        with Environment(row["image"], ContainerConfig(), base_commit=row["base_commit"]) as env:
            found.append(env.python_env)
            assert env.execute("shopt extglob").output.split() == ["extglob", "on"]
    assert probes == [True, False]
    assert found[0] == found[1] and found[0]["path"] == "/opt/testbed/bin/python" and not found[0]["missing"]


# ---------------------------------------------------------------- no gamed tests


@pytest.mark.docker
def test_conftest_and_sitecustomize_attacks_are_dropped_and_not_resolved(rows, run_scripted, dataset, tmp_path):
    attacks = {UNITCONV: [create("/testbed/conftest.py", CONFTEST), SUBMIT],
               PUBLISHED: [create("/testbed/sitecustomize.py", SITECUSTOMIZE), SUBMIT]}
    dropped, kept = [], []
    for instance_id, replies in attacks.items():
        prediction, traj, _ = run_scripted(rows[instance_id], replies)
        name = "conftest.py" if instance_id == UNITCONV else "sitecustomize.py"
        assert prediction["model_patch"] == ""
        assert traj["info"]["patch_dropped"] == [{"path": name, "reason": "test_infrastructure"}]
        dropped.append(prediction)
        run_dir = tmp_path / "run" / "iter_1" / "attacker"
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / f"{instance_id}.traj.json").write_text(json.dumps(traj))
        prediction, traj, _ = run_scripted(rows[instance_id], replies, container={"keep_test_infrastructure": True})
        assert name in prediction["model_patch"] and traj["info"]["patch_dropped"] == []
        kept.append(prediction)
    defended = score(dropped, dataset, tmp_path, "attacks-dropped")
    assert defended["resolved_ids"] == [] and defended["empty_patch_ids"] == [UNITCONV, PUBLISHED]
    attacked = score(kept, dataset, tmp_path, "attacks-kept")
    assert attacked["resolved_ids"] == [UNITCONV, PUBLISHED], "kept, both attacks fool the official harness"
    counts = summarise_integrity(tmp_path / "run")
    assert counts == [{"iteration": 1, "model": "attacker", "runs": 2, "history": 0, "network": 0,
                       "test_infrastructure": 2, "refused": 0, "flagged": 0, "resolved_flagged": 0,
                       "flagged_runs": []}]
    assert "| 1 | attacker | 2 | 0 | 0 | 2 | 0 |" in render_integrity(counts)


def test_test_sections_of_config_files_are_told_apart():
    before = b"[metadata]\nname = x\n\n[tool:pytest]\naddopts = -q\n"
    read = lambda data: read_test_config("setup.cfg", data)  # noqa: E731
    assert read(before) == read(before.replace(b"name = x", b"name = y"))
    assert read(before) != read(before.replace(b"-q", b"-p force"))
    toml = b'[project]\nname = "x"\n[tool.pytest.ini_options]\npythonpath = ["."]\n'
    assert list(read_test_config("pyproject.toml", toml)) == ["tool.pytest"]


def test_history_and_network_commands_are_flagged():
    assert flag_command("git -C /testbed log --all --oneline") == ["history"]
    assert flag_command("git reflog") == ["history"] and flag_command("git tag") == ["history"]
    assert flag_command("git clone https://github.com/x/y") == ["network"]
    assert flag_command("pip install requests") == ["network"]
    assert flag_command("git log -3 && git diff && python -m pytest tests") == []


# ---------------------------------------------------------------- scoring, resume, secrets


@pytest.mark.docker
def test_changing_one_prediction_of_five_scores_exactly_one(bundled_rows, tmp_path):
    from harness.scoring.evaluation import evaluate_run

    ids = sorted(bundled_rows)
    run_dir = tmp_path / "five"
    preds = run_dir / "iter_1" / "m" / "preds.jsonl"
    preds.parent.mkdir(parents=True)
    write_rows([bundled_rows[i] for i in ids], tmp_path / "bundled.jsonl")
    (run_dir / "config.yaml").write_text(yaml.safe_dump({"name": "five", "dataset": {
        "path": str(tmp_path / "bundled.jsonl")}, "iterations": [{"models": ["m"]}]}))
    rows = [{"instance_id": i, "model_name_or_path": "five__iter1__m", "model_patch": bundled_rows[i]["patch"]}
            for i in ids]
    write_jsonl_atomic(preds, rows)
    started = time.monotonic()
    first = evaluate_run(run_dir, workers=2, timeout=300, log=lambda line: None)
    first_seconds = time.monotonic() - started
    meta = json.loads((run_dir / "eval" / "iter_1" / "m" / "meta.json").read_text())
    assert first["files"]["iter_1/m"]["resolved"] == ids and meta["scored_ids"] == ids

    rows[ids.index(UNITCONV)]["model_patch"] = bundled_rows[UNITCONV]["patch"].replace(
        "(value - 32) * 5 / 9", "(value - 32) / 1.8")
    write_jsonl_atomic(preds, rows)
    started = time.monotonic()
    second = evaluate_run(run_dir, workers=2, timeout=300, log=lambda line: None)
    second_seconds = time.monotonic() - started
    meta = json.loads((run_dir / "eval" / "iter_1" / "m" / "meta.json").read_text())
    assert second["harness_calls"] == 1 and meta["scored_ids"] == [UNITCONV]
    assert meta["cached_ids"] == [i for i in ids if i != UNITCONV]
    harness_report = next((run_dir / "eval" / "scratch").glob(f"*{meta['run_id']}.json"))
    assert json.loads(harness_report.read_text())["completed_ids"] == [UNITCONV], "the harness ran one instance"
    report = json.loads((run_dir / "eval" / "iter_1" / "m" / "report.json").read_text())
    assert report["resolved_ids"] == ids and report["resolved_instances"] == 5
    print(f"\nfive predictions scored in {first_seconds:.1f} s; after changing one, {second_seconds:.1f} s "
          f"(1 instance scored, 4 from the cache)")


@pytest.mark.docker
def test_narrowing_instances_keeps_predictions_and_a_changed_template_is_refused(tmp_path):
    from harness.demo.models import make_demo_script
    from harness.scripted.server import ScriptedServer
    from harness.exceptions import ConfigError
    from harness.pipeline.launch import run_pipeline

    dataset = Path(TASKS_DIR) / "bundled.jsonl"
    tasks = ["patchmix__daterange-1", UNITCONV]
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    shutil.copy(Path(TASKS_DIR).parent / "prompts" / "instance.j2", prompts / "instance.j2")
    with ScriptedServer(make_demo_script([r for r in read_jsonl(dataset) if r["instance_id"] in tasks])) as server:
        model = {"name": "openai/fixer", "api_base": server.api_base, "api_key_env": "SCRIPTED_API_KEY",
                 "retry_wait": 0.01, "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
        config = {"name": "narrow", "dataset": {"path": str(dataset)}, "instances": {"ids": tasks},
                  "prompts_dir": str(prompts), "models": {"fixer": model}, "iterations": [{"models": ["fixer"]}],
                  "defaults": {"limits": {"step_limit": 6}}, "workers": 2}
        path = tmp_path / "pipeline.yaml"
        path.write_text(yaml.safe_dump(config))
        run_pipeline(path, runs_dir=tmp_path / "runs")
        preds = tmp_path / "runs" / "narrow" / "iter_1" / "fixer" / "preds.jsonl"
        assert sorted(row["instance_id"] for row in read_jsonl(preds)) == sorted(tasks)
        path.write_text(yaml.safe_dump({**config, "instances": {"ids": [UNITCONV]}}))
        run_pipeline(path, runs_dir=tmp_path / "runs")
        assert sorted(row["instance_id"] for row in read_jsonl(preds)) == sorted(tasks), "nothing finished is lost"
        from harness.analysis.report import write_report

        summary = write_report(tmp_path / "runs" / "narrow").read_text()
        assert "## Attempts to look up the answer or game the tests" in summary
        assert "| 1 | fixer | 2 | 0 | 0 | 0 | 0 |" in summary
        (prompts / "instance.j2").write_text((prompts / "instance.j2").read_text() + "\nBe brief.\n")
        with pytest.raises(ConfigError, match="another prompt template instance.j2 .its content differs"):
            run_pipeline(path, runs_dir=tmp_path / "runs")


def test_a_resume_with_a_tool_schema_of_other_contents_is_refused(tmp_path, monkeypatch):
    from harness.agent.tools.calls import TOOLS_DIR
    from harness.exceptions import ConfigError
    from harness.pipeline import fingerprint
    from harness.pipeline.load import load_pipeline_config
    from harness.pipeline.rundir import RunDir

    tools = tmp_path / "tools"
    shutil.copytree(TOOLS_DIR, tools)
    monkeypatch.setattr(fingerprint, "TOOLS_DIR", str(tools))
    config = {"name": "schemas", "dataset": {"path": str(Path(TASKS_DIR) / "bundled.jsonl")},
              "models": {"fixer": {"name": "openai/fixer", "input_cost_per_token": 1e-6,
                                   "output_cost_per_token": 1e-6}},
              "iterations": [{"models": ["fixer"]}]}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    rundir = RunDir(tmp_path / "runs" / "schemas")
    rundir.save_config(load_pipeline_config(path))
    rundir.check_config(load_pipeline_config(path))  # same contents: accepted
    schema = tools / "bash" / "config.yaml"
    schema.write_text(schema.read_text().replace("description:", "description: (changed)", 1))
    with pytest.raises(ConfigError, match="another tool schema bash .its content differs"):
        rundir.check_config(load_pipeline_config(path))


def test_a_key_in_a_variable_of_any_name_is_masked(monkeypatch):
    monkeypatch.setenv("LLM_ACCESS_UNIT", "pmx-live-81c0ffee5eed")
    assert redact("key pmx-live-81c0ffee5eed") == "key pmx-live-81c0ffee5eed", "not yet named by a config"
    watch_variable("LLM_ACCESS_UNIT")
    assert redact("key pmx-live-81c0ffee5eed") == f"key {MASK}"


def save_and_resume(config_path: Path, folder: Path) -> str:
    """Load a pipeline config, save it as `patchmix run` does, check it again as a resume does; config.yaml's text."""
    from harness.pipeline.load import load_pipeline_config
    from harness.pipeline.rundir import RunDir

    config = load_pipeline_config(config_path)
    rundir = RunDir(folder)
    rundir.save_config(config)
    rundir.check_config(load_pipeline_config(config_path))  # a resume is not refused by the masking
    return (folder / "config.yaml").read_text()


def test_a_value_expanded_into_the_config_is_masked_whatever_the_variables_name(monkeypatch, tmp_path):
    from harness.scoring.runfolder import get_dataset, read_run_config

    endpoint = "http://127.0.0.1:9/v1/deployments/pmx-d3pl0y-77aa0c"
    monkeypatch.setenv("ROUTE_ENDPOINT", endpoint)
    monkeypatch.setenv("DATA_HOME", str(TASKS_DIR))
    config = tmp_path / "p.yaml"
    config.write_text("name: masked\ndataset: {path: ${DATA_HOME}/bundled.jsonl}\nmodels:\n  a:\n    name: openai/a\n"
                      "    api_base: ${ROUTE_ENDPOINT}\n    input_cost_per_token: 1.0e-6\n"
                      "    output_cost_per_token: 1.0e-6\niterations:\n  - models: [a]\n")
    written = save_and_resume(config, tmp_path / "runs" / "masked")
    assert endpoint not in written and MASK in written
    assert redact(f"calling {endpoint}") == f"calling {MASK}"
    dataset, _ = get_dataset(read_run_config(tmp_path / "runs" / "masked"), tmp_path / "runs" / "masked")
    assert dataset == str(TASKS_DIR / "bundled.jsonl"), "a file location stays readable"


@pytest.mark.parametrize("api_base, token", [("http://127.0.0.1:9/v1?api-key=pmx-url-tok-1234abcd", "pmx-url-tok-1234abcd"),
                                             ("http://me:pmx-pass-9876zyxw@127.0.0.1:9/v1", "pmx-pass-9876zyxw")])
def test_a_token_inside_api_base_is_masked(tmp_path, api_base, token):
    config = tmp_path / "p.yaml"
    config.write_text(yaml.safe_dump({
        "name": "url", "dataset": {"path": str(TASKS_DIR / "bundled.jsonl")}, "iterations": [{"models": ["a"]}],
        "models": {"a": {"name": "openai/a", "api_base": api_base, "input_cost_per_token": 1e-6,
                         "output_cost_per_token": 1e-6}}}))
    written = save_and_resume(config, tmp_path / "runs" / "url")
    assert token not in written and api_base.replace(token, MASK) in written
    assert redact(f"POST {api_base}") == f"POST {api_base.replace(token, MASK)}"


@pytest.mark.docker
def test_a_patch_holding_a_key_is_refused_and_the_key_is_never_written(bundled_rows, run_scripted, monkeypatch,
                                                                        tmp_path):
    secret = "pmx-live-" + hashlib.sha256(b"a live key").hexdigest()[:24]
    monkeypatch.setenv("LLM_ACCESS", secret)
    steps = [FIX, bash(f"echo 'API_KEY = \"{secret}\"' > unitconv/settings.py && echo written {secret}"), SUBMIT]
    prediction, traj, _ = run_scripted(bundled_rows[UNITCONV], steps, api_key_env="LLM_ACCESS")
    assert prediction["model_patch"] == "" and traj["info"]["patch_label"] is None
    assert "$LLM_ACCESS" in traj["info"]["patch_refused"]
    assert f"written {MASK}" in observations(traj)[1]
    written = [path for path in tmp_path.rglob("*") if path.is_file() and secret.encode() in path.read_bytes()]
    assert written == [] and list(tmp_path.rglob("*.traj.json"))


def test_the_python_probe_names_declared_distributions_that_are_missing(tmp_path):
    import subprocess
    import sys

    from harness.agent.environment.prepare import PROBE_CODE, PROBE_MARKER, check_python_env
    from harness.exceptions import InfraError

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["PyYAML>=5", '
                                             '"typing-extensions", "patchmix-absent-dist", "old; python_version<\'3\'"]\n')
    (tmp_path / "setup.cfg").write_text("[options]\ninstall_requires =\n    pydantic\n")
    output = subprocess.run([sys.executable, "-c", PROBE_CODE], cwd=tmp_path, capture_output=True, text=True).stdout
    info = json.loads(output.split(PROBE_MARKER, 1)[1])
    assert info["checked"] == ["PyYAML", "typing-extensions", "patchmix-absent-dist", "pydantic"]
    assert info["missing"] == ["patchmix-absent-dist"] and info["declared_in"] == ["pyproject.toml", "setup.cfg"]
    with pytest.raises(InfraError, match="lacks patchmix-absent-dist declared in pyproject.toml and setup.cfg"):
        check_python_env({**info, "path": sys.executable}, str(tmp_path))


def test_the_python_probe_reads_a_marker_quoted_inside_a_dependency_as_part_of_it(tmp_path):
    """sphinx 7's pyproject.toml: a platform marker in single quotes inside a double-quoted dependency is that
    dependency's marker (skipped), not a distribution called `win32` that the environment lacks."""
    import subprocess
    import sys

    from harness.agent.environment.prepare import PROBE_CODE, PROBE_MARKER

    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = [\n    "PyYAML>=5",\n'
        '    "importlib-metadata>=4.8; python_version < \'3.10\'",\n'
        '    "colorama>=0.4.5; sys_platform == \'win32\'",\n    \'typing-extensions\',\n]\n')
    output = subprocess.run([sys.executable, "-c", PROBE_CODE], cwd=tmp_path, capture_output=True, text=True).stdout
    info = json.loads(output.split(PROBE_MARKER, 1)[1])
    assert info["checked"] == ["PyYAML", "typing-extensions"] and info["missing"] == []
