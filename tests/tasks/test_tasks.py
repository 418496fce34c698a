"""The bundled tasks: well formed, reproducible, and buggy exactly where they claim to be."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.scoring.official import get_test_output_markers
from harness.exceptions import ConfigError
from harness.tasks.rows import (
    commit_repo,
    is_test_path,
    list_patch_files,
    list_task_dirs,
    load_task_rows,
)

TASKS_DIR = Path(__file__).resolve().parents[2] / "tasks"
ROWS = load_task_rows(TASKS_DIR)
ROW_COLUMNS = {
    "instance_id", "repo", "version", "base_commit", "problem_statement", "patch", "test_patch", "FAIL_TO_PASS",
    "PASS_TO_PASS", "image", "eval_script", "log_parser", "eval_type", "hints_text", "created_at",
    "environment_setup_commit",
}


def by_id(instance_id: str) -> dict:
    return next(row for row in ROWS if row["instance_id"] == instance_id)


def test_there_are_enough_tasks_with_the_promised_shapes():
    assert len(ROWS) >= 4
    assert any(len(list_patch_files(row["patch"])) >= 2 for row in ROWS), "one gold fix must touch two files"
    for row in ROWS:
        assert set(row) == ROW_COLUMNS
        assert row["instance_id"].startswith("patchmix__") and row["repo"].startswith("patchmix/")
        assert json.loads(row["FAIL_TO_PASS"]) and json.loads(row["PASS_TO_PASS"])
        assert row["hints_text"].strip() and row["problem_statement"].strip()
        assert not any(is_test_path(path) for path, _ in list_patch_files(row["patch"]))
        assert all(is_test_path(path) for path, _ in list_patch_files(row["test_patch"]))


def test_some_issue_names_no_source_file():
    """At least one issue describes only the symptom, leaving the agent to find the code."""
    def names_a_changed_file(row):
        return any(Path(path).name in row["problem_statement"] for path, _ in list_patch_files(row["patch"]))

    assert any(not names_a_changed_file(row) for row in ROWS)


def test_committed_jsonl_matches_the_task_folders():
    lines = (TASKS_DIR / "bundled.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == ROWS


def test_base_commit_is_deterministic(tmp_path):
    task_dir = list_task_dirs(TASKS_DIR)[0]
    first = commit_repo(task_dir / "repo", tmp_path / "one")
    second = commit_repo(task_dir / "repo", tmp_path / "two")
    assert first == second


def test_base_commits_are_distinct_and_change_with_the_sources(tmp_path):
    assert len({row["base_commit"] for row in ROWS}) == len(ROWS)
    source = tmp_path / "source"
    shutil.copytree(list_task_dirs(TASKS_DIR)[0] / "repo", source)
    before = commit_repo(source, tmp_path / "one")
    (source / "README.md").write_text("changed\n")
    assert commit_repo(source, tmp_path / "two") != before


def test_eval_script_has_the_shape_the_harness_expects():
    start, end = get_test_output_markers()
    for row in ROWS:
        lines = row["eval_script"].splitlines()
        assert lines[:2] == ["#!/bin/bash", "set -uxo pipefail"]
        assert f"echo '{start}'" in lines and f"echo '{end}'" in lines
        files = " ".join(path for path, _ in list_patch_files(row["test_patch"]))
        assert lines[lines.index(f"echo '{end}'") - 1].endswith(files)
        assert lines[-1] == f"git checkout {row['base_commit']} -- {files}"


def run_pytest(repo: Path, files: list[str]) -> dict[str, str]:
    command = [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", *files]
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True)
    statuses = {}
    for line in done.stdout.splitlines():
        word, _, rest = line.partition(" ")
        if word in ("PASSED", "FAILED", "ERROR"):
            statuses[rest.split(" - ")[0]] = word
    return statuses


def git_apply(repo: Path, patch: str) -> None:
    subprocess.run(["git", "apply", "-"], cwd=repo, input=patch, text=True, check=True)


@pytest.mark.parametrize("instance_id", [row["instance_id"] for row in ROWS])
def test_fail_to_pass_fails_before_the_fix_and_everything_passes_after(instance_id, tmp_path):
    row = by_id(instance_id)
    task_dir = next(d for d in list_task_dirs(TASKS_DIR) if f"__{d.name}-" in instance_id)
    repo = tmp_path / "testbed"
    commit_repo(task_dir / "repo", repo)
    git_apply(repo, row["test_patch"])
    files = [path for path, _ in list_patch_files(row["test_patch"])]
    before = run_pytest(repo, files)
    assert all(before.get(test) == "FAILED" for test in json.loads(row["FAIL_TO_PASS"])), before
    assert all(before.get(test) == "PASSED" for test in json.loads(row["PASS_TO_PASS"])), before
    git_apply(repo, row["patch"])
    after = run_pytest(repo, files)
    expected = json.loads(row["FAIL_TO_PASS"]) + json.loads(row["PASS_TO_PASS"])
    assert sorted(after) == sorted(expected) and set(after.values()) == {"PASSED"}, after


@pytest.mark.docker
def test_images_hold_the_base_commit_and_stop_at_once(docker_client, bundled_rows):
    """conftest's `bundled_rows` builds the images with `build_images` when they are missing."""
    for row in bundled_rows.values():
        image = docker_client.images.get(row["image"])
        assert image.attrs["Config"]["StopSignal"] == "SIGKILL"
        assert image.labels["patchmix"] == "1"
        out = docker_client.containers.run(
            row["image"], ["bash", "-c", "git rev-parse HEAD && git status --porcelain && pwd"], remove=True
        ).decode()
        assert out.split() == [row["base_commit"], "/testbed"]


def test_a_gold_patch_touching_tests_is_refused(tmp_path):
    task_dir = tmp_path / "broken"
    shutil.copytree(list_task_dirs(TASKS_DIR)[0], task_dir)
    (task_dir / "gold.patch").write_text((task_dir / "gold.patch").read_text() + (task_dir / "test.patch").read_text())
    with pytest.raises(ConfigError, match="gold.patch touches test files"):
        load_task_rows(tmp_path)


def test_expected_tests_outside_the_test_patch_are_refused(tmp_path):
    task_dir = tmp_path / "broken"
    shutil.copytree(list_task_dirs(TASKS_DIR)[0], task_dir)
    meta = yaml.safe_load((task_dir / "task.yaml").read_text())
    meta["PASS_TO_PASS"].append("tests/test_elsewhere.py::test_x")
    (task_dir / "task.yaml").write_text(yaml.safe_dump(meta))
    with pytest.raises(ConfigError, match="test_elsewhere.py::test_x"):
        load_task_rows(tmp_path)
