"""The bundled tasks' rows in SWE-bench 5.x format, made from their folders without Docker.

A task is a folder `tasks/<name>/` holding `repo/` (sources at the base commit, tests included), `issue.md`,
`gold.patch`, `test.patch` and `task.yaml` (instance_id, repo, version, created_at, hints_text,
FAIL_TO_PASS, PASS_TO_PASS, and `language` when not python: see `harness.tasks.langspecs`). The repo is committed with a fixed identity and fixed dates, so the same sources
always give the same base_commit, whether computed here for a row or inside an image. Each row's eval script
resets the test files, applies the test patch and runs the tests between the harness's output markers, graded
by the language's swebench log parser.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import tempfile
from pathlib import Path

import yaml

from harness.tasks.langspecs import Language, get_language
from harness.pipeline.dataset import derive_image_name
from harness.scoring.official import get_test_output_markers
from harness.exceptions import ConfigError, PatchmixError
from harness.fileio import write_text_atomic

IMAGE_NAMESPACE = "patchmix"
ROWS_FILE = "bundled.jsonl"
TASK_KEYS = ("instance_id", "repo", "version", "created_at", "hints_text", "FAIL_TO_PASS", "PASS_TO_PASS")
IGNORED_NAMES = {"__pycache__", ".pytest_cache", ".git"}
TEST_DIR_NAMES = {"test", "tests", "testing"}

# The identity and dates of every base commit: they are part of the sha, so they must never vary.
GIT_COMMIT_ENV = {
    "GIT_AUTHOR_NAME": "patchmix",
    "GIT_AUTHOR_EMAIL": "tasks@patchmix.invalid",
    "GIT_AUTHOR_DATE": "2025-01-01T00:00:00+0000",
    "GIT_COMMITTER_NAME": "patchmix",
    "GIT_COMMITTER_EMAIL": "tasks@patchmix.invalid",
    "GIT_COMMITTER_DATE": "2025-01-01T00:00:00+0000",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


# ------------------------------------------------------------------------------------------- task rows


def load_task_rows(tasks_dir: str | Path) -> list[dict]:
    """The rows of every task folder under `tasks_dir`, sorted by instance_id, without building anything."""
    task_dirs = list_task_dirs(tasks_dir)
    if not task_dirs:
        raise ConfigError(f"no task folders (with a task.yaml) under {tasks_dir}")
    return sorted((make_task_row(task_dir) for task_dir in task_dirs), key=lambda row: row["instance_id"])


def list_task_dirs(tasks_dir: str | Path) -> list[Path]:
    return sorted(path.parent for path in Path(tasks_dir).glob("*/task.yaml"))


def make_task_row(task_dir: Path) -> dict:
    meta = read_task_meta(task_dir)
    language = get_task_language(task_dir, meta)
    patch, test_patch = read_text(task_dir / "gold.patch"), read_text(task_dir / "test.patch")
    check_task(task_dir, meta, patch, test_patch, language)
    with tempfile.TemporaryDirectory(prefix="patchmix-task-") as tmp:
        base_commit = commit_repo(task_dir / "repo", Path(tmp) / "testbed")
    return {
        "instance_id": meta["instance_id"],
        "repo": meta["repo"],
        "version": str(meta["version"]),
        "base_commit": base_commit,
        "environment_setup_commit": base_commit,
        "created_at": str(meta["created_at"]),
        "problem_statement": read_text(task_dir / "issue.md"),
        "hints_text": meta["hints_text"],
        "patch": patch,
        "test_patch": test_patch,
        "FAIL_TO_PASS": json.dumps(meta["FAIL_TO_PASS"]),
        "PASS_TO_PASS": json.dumps(meta["PASS_TO_PASS"]),
        "image": derive_image_name(meta["instance_id"], IMAGE_NAMESPACE),
        "eval_script": make_eval_script(base_commit, test_patch, language),
        "log_parser": language.log_parser,
        "eval_type": "pass_and_fail",
    }


def read_task_meta(task_dir: Path) -> dict:
    meta = yaml.safe_load(read_text(task_dir / "task.yaml")) or {}
    missing = [key for key in TASK_KEYS if key not in meta]
    if missing:
        raise ConfigError(f"{task_dir / 'task.yaml'} lacks {', '.join(missing)}; add them")
    return meta


def get_task_language(task_dir: Path, meta: dict) -> Language:
    return get_language(meta.get("language"), str(task_dir / "task.yaml"))


def read_text(path: Path) -> str:
    if not path.is_file():
        raise ConfigError(f"task file {path} is missing; every task needs repo/, issue.md, gold.patch, test.patch, task.yaml")
    return path.read_text()


def check_task(task_dir: Path, meta: dict, patch: str, test_patch: str, language: Language = get_language(None)) -> None:
    """Refuse a task the harness would grade wrongly: gold touching tests, or expected tests never run."""
    touched_tests = [path for path, _ in list_patch_files(patch) if is_test_path(path)]
    if touched_tests:
        raise ConfigError(f"{task_dir}/gold.patch touches test files {touched_tests}; move them to test.patch")
    if not meta["FAIL_TO_PASS"] or not meta["PASS_TO_PASS"]:
        raise ConfigError(f"{task_dir}/task.yaml needs non-empty FAIL_TO_PASS and PASS_TO_PASS")
    if not language.names_carry_files:
        return  # `TestX`, `suite title`: nothing in the name says which file runs it
    run_files = {path for path, _ in list_patch_files(test_patch)}
    never_run = [test for test in meta["FAIL_TO_PASS"] + meta["PASS_TO_PASS"] if test.split("::")[0] not in run_files]
    if never_run:
        raise ConfigError(
            f"{task_dir}: tests {never_run} are in files test.patch does not touch, so the eval script never "
            "runs them; change test.patch or the test lists"
        )


def list_patch_files(patch: str) -> list[tuple[str, bool]]:
    """(path, created) for each file of a git diff, in order."""
    files = []
    for line in patch.splitlines():
        if line.startswith("diff --git "):
            files.append([line.rsplit(" b/", 1)[-1], False])
        elif line.startswith("new file mode") and files:
            files[-1][1] = True
    return [(path, created) for path, created in files]


def is_test_path(path: str) -> bool:
    parts = Path(path).parts
    return bool(TEST_DIR_NAMES & set(parts[:-1])) or parts[-1].startswith("test_") or parts[-1] == "conftest.py"


# ------------------------------------------------------------------------------------- the eval script


def make_eval_script(base_commit: str, test_patch: str, language: Language = get_language(None)) -> str:
    """The script the harness copies to /eval.sh: reset the test files, apply the test patch, run the
    language's tests on the patched test files between the start and end markers, reset the test files again.
    Python's markers are echoed; the other languages' are `: '<marker>'` lines, which `set -x` traces, as in
    SWE-bench Multilingual's rows."""
    start, end = get_test_output_markers()
    files = list_patch_files(test_patch)
    reset = make_reset_commands(base_commit, files)
    delimiter = make_heredoc_delimiter(test_patch)
    lines = [
        "#!/bin/bash",
        "set -uxo pipefail",
        "cd /testbed",
        "git status",
        f"git -c core.fileMode=false diff {base_commit}",
        *reset,
        f"git apply --verbose - <<'{delimiter}'",
        test_patch.rstrip("\n"),
        delimiter,
        make_marker_line(start, language),
        language.make_test_command([path for path, _ in files]),
        make_marker_line(end, language),
        *reset,
    ]
    return "\n".join(lines) + "\n"


def make_marker_line(marker: str, language: Language) -> str:
    return f"echo '{marker}'" if language.name == "python" else f": '{marker}'"


def make_reset_commands(base_commit: str, files: list[tuple[str, bool]]) -> list[str]:
    existing = " ".join(shlex.quote(path) for path, created in files if not created)
    created = " ".join(shlex.quote(path) for path, created in files if created)
    commands = [f"git checkout {base_commit} -- {existing}"] if existing else []
    return commands + ([f"rm -f {created}"] if created else [])


def make_heredoc_delimiter(content: str) -> str:
    delimiter = "EOF_" + hashlib.sha256(content.encode()).hexdigest()[:12]
    if delimiter in content:
        raise ConfigError("the test patch contains its own heredoc delimiter; change one byte of it")
    return delimiter


# --------------------------------------------------------------------------------- deterministic commit


def commit_repo(source: Path, dest: Path) -> str:
    """Copy `source` to `dest` (files 0644, caches skipped), commit it deterministically, return the sha."""
    if not source.is_dir():
        raise ConfigError(f"task sources {source} are missing; a task keeps its base sources in repo/")
    copy_sources(source, dest)
    run_git(dest, "init", "--quiet", "--initial-branch=main")
    run_git(dest, "add", "--all")
    run_git(dest, "-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify", "-m", "base")
    return run_git(dest, "rev-parse", "HEAD").strip()


def copy_sources(source: Path, dest: Path) -> None:
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if IGNORED_NAMES & set(relative.parts) or path.suffix == ".pyc" or not path.is_file():
            continue
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
        target.chmod(0o644)


def run_git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_COMMIT_ENV}
    done = subprocess.run(
        ["git", "-c", "core.autocrlf=false", *args], cwd=repo, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise PatchmixError(f"`git {' '.join(args)}` failed in {repo}: {done.stderr.strip()}")
    return done.stdout


def write_rows(rows: list[dict], path: Path) -> None:
    """Write rows as JSON lines with sorted keys (so the file is stable under git), atomically."""
    write_text_atomic(path, "".join(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n" for row in rows))
