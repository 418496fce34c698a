"""The bundled tasks in Go, Rust and JavaScript: their rows, their grading by the official harness with each
language's swebench log parser, an agent run on them through the pipeline, and the 300 real SWE-bench
Multilingual rows, which patchmix takes as they are and never holds to the Python start-up check."""

from __future__ import annotations

import gzip
import io
import json
import uuid
from pathlib import Path

import pytest
import yaml

from harness.agent.config import AgentConfig, ContainerConfig
from harness.agent.config import get_container_config
from harness.languages import get_python_parsers, is_python_row
from harness.tasks.langspecs import LANGUAGES
from harness.tasks.multilingual import MULTILINGUAL_DIR, MULTILINGUAL_ROWS, build_multilingual_images
from harness.demo.models import make_demo_script
from harness.scripted.server import ScriptedServer
from harness.tasks.rows import list_patch_files, load_task_rows
from harness.fileio import read_jsonl
from harness.pipeline.dataset import check_rows_evaluable, derive_image_name, get_image_name
from harness.scoring.official import OFFICIAL, EvaluationFailed, evaluate_predictions

ROOT = Path(__file__).resolve().parents[2]
TASKS_DIR = ROOT / "tasks"
ROWS = load_task_rows(TASKS_DIR / MULTILINGUAL_DIR)
REAL_ROWS = Path("/work/shared/data/multilingual/swe-bench-multilingual.jsonl.gz")
EXPECTED_PARSERS = {"patchmix__romanum-1": "parse_log_gotest", "patchmix__pagerange-1": "parse_log_cargo",
                    "patchmix__querystr-1": "parse_log_tap"}


@pytest.fixture(scope="session")
def multilingual_rows(docker_client):
    """The rows of the tasks in other languages, their toolchain and task images built if missing."""
    rows = build_multilingual_images(TASKS_DIR, log=lambda *args: None)
    return {row["instance_id"]: row for row in rows}


def read_real_rows() -> list[dict]:
    with gzip.open(REAL_ROWS, "rt") as handle:
        return [json.loads(line) for line in handle]


# ------------------------------------------------------------------------------------------------ the rows


def test_committed_rows_match_the_task_folders_and_each_language_has_its_parser():
    assert read_jsonl(TASKS_DIR / MULTILINGUAL_ROWS) == ROWS
    assert {row["instance_id"]: row["log_parser"] for row in ROWS} == EXPECTED_PARSERS
    from swebench.harness.log_parsers import PARSER_REGISTRY

    for row in ROWS:
        assert row["log_parser"] in PARSER_REGISTRY
        assert row["eval_type"] == "pass_and_fail" and row["image"] == derive_image_name(row["instance_id"], "patchmix")
        assert not any(path in row["patch"] for path, _ in list_patch_files(row["test_patch"]))
    check_rows_evaluable(ROWS)
    bundled = {row["instance_id"] for row in read_jsonl(TASKS_DIR / "bundled.jsonl")}
    assert not bundled & set(EXPECTED_PARSERS), "the Python demo's dataset stays as it was"


def test_eval_scripts_run_the_languages_tests_between_the_markers_as_multilingual_rows_do():
    commands = {"patchmix__romanum-1": "(go test -v ./roman) | cat",
                "patchmix__pagerange-1": "(cargo test --offline --test selection) | cat",
                "patchmix__querystr-1": "(mocha -R tap test/parse.test.js) | cat"}
    for row in ROWS:
        lines = row["eval_script"].splitlines()
        start = lines.index(": '>>>>> Start Test Output'")
        assert lines[start + 1] == commands[row["instance_id"]] and lines[start + 2] == ": '>>>>> End Test Output'"
        assert lines[:3] == ["#!/bin/bash", "set -uxo pipefail", "cd /testbed"]


def test_an_unknown_language_is_one_line_naming_the_known_ones(tmp_path):
    import shutil

    from harness.exceptions import ConfigError

    task_dir = tmp_path / "romanum"
    shutil.copytree(TASKS_DIR / MULTILINGUAL_DIR / "romanum", task_dir)
    meta = yaml.safe_load((task_dir / "task.yaml").read_text())
    (task_dir / "task.yaml").write_text(yaml.safe_dump({**meta, "language": "cobol"}))
    with pytest.raises(ConfigError, match="unknown language 'cobol'; use one of go, javascript, python, rust") as caught:
        load_task_rows(tmp_path)
    assert "\n" not in str(caught.value) and str(task_dir / "task.yaml") in str(caught.value)


# --------------------------------------------------------------------------------------- the Python check


def test_python_parsers_are_exactly_swebenchs():
    from swebench.harness.log_parsers import python

    assert get_python_parsers() == {name for name in dir(python) if name.startswith("parse_log_")}


def test_the_python_check_applies_to_python_rows_only():
    python_rows = read_jsonl(TASKS_DIR / "bundled.jsonl")
    checked = ContainerConfig()
    assert checked.check_python
    for row in python_rows + [{"instance_id": "astropy__astropy-12907"}, {"repo_language": "python"}]:
        assert is_python_row(row) and get_container_config(row, checked).check_python, row["instance_id"] \
            if "instance_id" in row else row
    for row in ROWS + [{"repo_language": "go", "log_parser": "parse_log_pytest"}, {"repo_language": "js"}]:
        assert not is_python_row(row)
        assert get_container_config(row, checked).check_python is False
    assert get_container_config(ROWS[0], ContainerConfig(check_python=False)).check_python is False


def test_every_real_multilingual_row_is_evaluable_named_and_not_python():
    rows = read_real_rows()
    assert len(rows) == 300
    check_rows_evaluable(rows)  # raises on a row the harness cannot evaluate
    for row in rows:
        assert get_image_name(row) == row["image"] == derive_image_name(row["instance_id"])
        assert not is_python_row(row), row["instance_id"]
        assert get_container_config(row, ContainerConfig()).check_python is False
    assert len({row["log_parser"] for row in rows}) == 19


@pytest.mark.docker
def test_an_image_whose_python_lacks_the_declared_dependencies_stops_a_python_row_only(
        bundled_rows, docker_client, run_scripted):
    """The published-style image's shell python lacks what its pyproject.toml declares: a Python row ends
    `infra_error` before any model call; the same image under a JavaScript row runs (the check is not its)."""
    from harness.tasks.published import build_published_image

    row = build_published_image(docker_client, TASKS_DIR, log=lambda *args: None)
    image = f"patchmix-test/multilingual-python-check:{uuid.uuid4().hex[:8]}"
    dockerfile = f"FROM {row['image']}\nRUN sed -i '/opt\\/testbed/d' /root/.bashrc\n"
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=image, rm=True, forcerm=True)
    submit = {"tool_calls": [{"name": "submit", "arguments": {}}]}
    try:
        _, traj, server = run_scripted({**row, "image": image}, [submit])
        assert traj["info"]["exit_status"] == "infra_error" and "lacks tinyunits" in traj["info"]["exit_detail"]
        assert not server.requests
        _, traj, server = run_scripted({**row, "image": image, "log_parser": "parse_log_tap"}, [submit])
        assert traj["info"]["exit_status"] == "submitted", traj["info"].get("exit_detail")
        assert len(server.requests) == 1
    finally:
        docker_client.images.remove(image)


# ------------------------------------------------------------------------------- the official harness


def write_predictions(path: Path, rows: list[dict], patch_of) -> Path:
    path.write_text("".join(json.dumps({"instance_id": row["instance_id"], "model_name_or_path": path.stem,
                                        "model_patch": patch_of(row)}) + "\n" for row in rows))
    return path


def evaluate_official(rows: list[dict], dataset: Path, run_id: str, scratch: Path, patch_of) -> dict:
    """The official harness's report on these patches. Its final report lists every container of the engine and
    inspects each, which fails when another user's container goes meanwhile (a shared engine); a second call
    resumes from the instances' stored reports, as `patchmix evaluate` does."""
    predictions = write_predictions(scratch.parent / f"{run_id}.jsonl", rows, patch_of)
    for attempt in range(3):
        try:
            return evaluate_predictions(predictions, dataset, run_id, scratch, workers=2, timeout=600,
                                        containers=OFFICIAL)
        except EvaluationFailed as error:
            if attempt == 2 or "Client Error: Not Found for url" not in str(error):
                raise


def read_tests_status(scratch: Path, run_id: str, instance_id: str) -> dict:
    path = scratch / "logs" / "run_evaluation" / run_id / run_id / instance_id / "report.json"
    return json.loads(path.read_text())[instance_id]["tests_status"]


def make_readme_patch(row: dict) -> str:
    """A harmless change that fixes nothing: one line added to the README."""
    lines = (TASKS_DIR / MULTILINGUAL_DIR / row["repo"].split("/")[1] / "repo" / "README.md").read_text().splitlines()
    return ("diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n"
            f"@@ -1,{len(lines)} +1,{len(lines) + 1} @@\n" + "".join(f" {line}\n" for line in lines)
            + "+Not a fix.\n")


@pytest.mark.docker
def test_the_official_harness_resolves_the_gold_patches_and_nothing_else(multilingual_rows, tmp_path):
    rows = sorted(multilingual_rows.values(), key=lambda row: row["instance_id"])
    dataset = tmp_path / "rows.jsonl"
    dataset.write_text("".join(json.dumps(row) + "\n" for row in rows))
    ids = [row["instance_id"] for row in rows]
    gold = evaluate_official(rows, dataset, "gold", tmp_path / "scratch", lambda row: row["patch"])
    assert sorted(gold["resolved_ids"]) == ids and not gold["error_ids"]
    for row in rows:  # graded by the row's own parser: its test names, as the language's runner prints them
        status = read_tests_status(tmp_path / "scratch", "gold", row["instance_id"])
        assert status["FAIL_TO_PASS"]["success"] == json.loads(row["FAIL_TO_PASS"])
        assert status["PASS_TO_PASS"]["success"] == json.loads(row["PASS_TO_PASS"])
    noop = evaluate_official(rows, dataset, "noop", tmp_path / "scratch", make_readme_patch)
    assert noop["resolved_ids"] == [] and sorted(noop["unresolved_ids"]) == ids and not noop["error_ids"]
    for row in rows:  # the tests ran and the ones the fix is for failed, the others passed
        status = read_tests_status(tmp_path / "scratch", "noop", row["instance_id"])
        assert status["FAIL_TO_PASS"]["failure"] == json.loads(row["FAIL_TO_PASS"])
        assert status["PASS_TO_PASS"]["success"] == json.loads(row["PASS_TO_PASS"])
    empty = evaluate_official(rows, dataset, "empty", tmp_path / "scratch", lambda row: "")
    assert empty["resolved_ids"] == [] and sorted(empty["empty_patch_ids"]) == ids


# ------------------------------------------------------------------------------- an agent run, end to end


@pytest.mark.docker
def test_the_scripted_fixer_resolves_every_language_through_the_pipeline(multilingual_rows, tmp_path):
    from harness.pipeline.launch import run_pipeline
    from harness.scoring.evaluation import evaluate_run

    demo = yaml.safe_load((ROOT / "scripts" / "demo" / "multilingual.yaml").read_text())
    assert demo["dataset"]["path"] == f"../../tasks/{MULTILINGUAL_ROWS}"
    rows = list(multilingual_rows.values())
    with ScriptedServer(make_demo_script(rows)) as server:
        model = {"name": "openai/fixer", "api_base": server.api_base, "api_key_env": "SCRIPTED_API_KEY",
                 "retry_wait": 0.01, "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
        config = {**demo, "name": "ml", "dataset": {"path": str(TASKS_DIR / MULTILINGUAL_ROWS)},
                  "models": {"fixer": model}, "iterations": [{"models": ["fixer"]}], "select": None}
        config = {key: value for key, value in config.items() if value is not None}
        path = tmp_path / "ml.yaml"
        path.write_text(yaml.safe_dump(config))
        assert run_pipeline(path, runs_dir=tmp_path / "runs") == 0
    run_dir = tmp_path / "runs" / "ml"
    for row in rows:
        info = json.loads((run_dir / "iter_1" / "fixer" / f"{row['instance_id']}.traj.json").read_text())["info"]
        assert info["exit_status"] == "submitted", info.get("exit_detail")
    patches = {pred["instance_id"]: pred["model_patch"] for pred in read_jsonl(run_dir / "iter_1" / "fixer" / "preds.jsonl")}
    assert set(patches) == set(multilingual_rows) and all(patches.values())
    summary = evaluate_run(run_dir, workers=2, timeout=600, log=lambda *args: None)  # retries a failed harness
    entry = summary["files"]["iter_1/fixer"]
    assert sorted(entry["resolved"]) == sorted(multilingual_rows) and not entry.get("errors")


@pytest.mark.docker
def test_the_select_stage_asks_no_python_reproduction_in_another_language(multilingual_rows, tmp_path):
    """The reproduction agent writes a Python script that `python` runs: in a Go repository it is not asked, and
    the regression signal still runs in the row's container."""
    import numpy as np

    from harness.select.picks import Checks, check_picks
    from harness.select.pool import Candidate
    from harness.select.selector import Pick
    from tests.conftest import make_scripted_model

    row = multilingual_rows["patchmix__romanum-1"]
    candidates = [Candidate(row["instance_id"], "gold", row["patch"]),
                  Candidate(row["instance_id"], "readme", make_readme_patch(row))]
    combiner_pick = Pick(row["instance_id"], candidates[1], candidates, np.zeros((2, 3)), np.array([2.0, 1.0]))
    script = {"models": {"reproducer": [{"match": "", "replies": [{"tool_calls": [{"name": "submit",
                                                                                   "arguments": {}}]}]}]}}
    with ScriptedServer(script) as server:
        reproducer = AgentConfig(model=make_scripted_model(server, "reproducer"))
        checked, costs = check_picks([combiner_pick], Checks(str(TASKS_DIR / MULTILINGUAL_ROWS), True, reproducer),
                                     tmp_path)
    assert not server.requests and costs["reproduce"] == 0 and not (tmp_path / "reproduce").exists()
    assert [pick.instance_id for pick in checked] == [row["instance_id"]]


def test_every_language_has_a_toolchain_image_from_debian():
    for name, language in LANGUAGES.items():
        assert language.image.startswith("patchmix/") and language.image.endswith(":bookworm")
        if name != "python":
            dockerfile = language.make_toolchain_dockerfile("patchmix/debian:bookworm")
            assert "apt-get install" in dockerfile and "STOPSIGNAL SIGKILL" in dockerfile


def test_the_cli_builds_and_demos_the_other_languages_on_request():
    from harness.cli import make_parser

    parser = make_parser()
    assert parser.parse_args(["demo", "--multilingual"]).multilingual
    assert not parser.parse_args(["demo"]).multilingual
    assert parser.parse_args(["build-images", "--python-only"]).python_only
    assert not parser.parse_args(["build-images"]).python_only
