"""The bundled SWE-bench Pro tasks: their rows in Pro's form and their images in Pro's layout.

    tasks/pro/sources/<name>/        repo/, issue.md, requirements.md, interface.md, gold.patch, test.patch,
                                     task.yaml (instance_id, repo, repo_language, image_namespace, fail_to_pass,
                                     pass_to_pass, selected_test_files_to_run), variants/*.patch (for tests)
    tasks/pro/run_scripts/<id>/      run_script.sh and parser.py, as in SWE-bench_Pro-os
    tasks/pro/dockerfiles/{base,instance}_dockerfile/<id>/Dockerfile     likewise
    tasks/pro/pro.jsonl              the rows, written by `build_pro_images`

As in Pro's images, the repository is at /app with HEAD at the base commit, and the gold commit (the fix and
its tests) is in the repository on a branch of its own, for the scoring's `git checkout <gold> -- <tests>`
(the agent's container drops it with the rest of the history that is not HEAD's). Each image is named by Pro's
rule in the local namespace `patchmix/sweap-images` and never pulled.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import yaml

from harness.tasks.baseimages import (BASE_IMAGE, COMMIT_LABEL, LABEL, PYTHON_IMAGE, build_from_context,
    connect_docker, ensure_base_image, ensure_python_image, image_exists, timed)
from harness.tasks.rows import commit_repo, list_patch_files, read_text, run_git, write_rows
from harness.exceptions import ConfigError, PatchmixError
from harness.pipeline.prorows import convert_pro_row
from harness.resources import get_bundled_dir

PRO_DIR = get_bundled_dir("tasks") / "pro"
ROWS_FILE = "pro.jsonl"
SCRIPTS_DIR = "run_scripts"
TASK_KEYS = ("instance_id", "repo", "repo_language", "image_namespace", "fail_to_pass", "pass_to_pass",
             "selected_test_files_to_run")
GOLD_LABEL = "patchmix.gold_commit"
GOLD_BRANCH = "gold"


def build_pro_images(pro_dir: str | Path = PRO_DIR, force: bool = False, log=print, client=None) -> list[dict]:
    """Build the Pro tasks' images that are missing (all again with `force`), write `<pro_dir>/pro.jsonl` and
    return its rows (in Pro's form)."""
    client = client or connect_docker()
    pro_dir = Path(pro_dir)
    timed(log, "base image", ensure_base_image, client, BASE_IMAGE, log)
    timed(log, "python image", ensure_python_image, client, PYTHON_IMAGE, log)
    rows = load_pro_task_rows(pro_dir)
    for row in rows:
        timed(log, f"image of {row['instance_id']}", build_pro_image, client, pro_dir, row, force, log)
    write_rows(rows, pro_dir / ROWS_FILE)
    log(f"wrote {len(rows)} rows to {pro_dir / ROWS_FILE}")
    return rows


def load_pro_task_rows(pro_dir: str | Path = PRO_DIR) -> list[dict]:
    """The Pro-form rows of every task under `<pro_dir>/sources/`, without Docker."""
    task_dirs = sorted(path.parent for path in Path(pro_dir).glob("sources/*/task.yaml"))
    if not task_dirs:
        raise ConfigError(f"no Pro task folders (with a task.yaml) under {Path(pro_dir) / 'sources'}")
    return sorted((make_pro_row(task_dir) for task_dir in task_dirs), key=lambda row: row["instance_id"])


def make_pro_row(task_dir: Path) -> dict:
    """One task's row in Pro's form: lists as Python-literal strings, `before_repo_set_cmd` as Pro writes it."""
    meta = yaml.safe_load(read_text(task_dir / "task.yaml")) or {}
    missing = [key for key in TASK_KEYS if key not in meta]
    if missing:
        raise ConfigError(f"{task_dir / 'task.yaml'} lacks {', '.join(missing)}; add them")
    with tempfile.TemporaryDirectory(prefix="patchmix-pro-") as tmp:
        base_commit, gold_commit = commit_base_and_gold(task_dir, Path(tmp) / "app")
    test_files = " ".join(path for path, _ in list_patch_files(read_text(task_dir / "test.patch")))
    return {
        "repo": meta["repo"],
        "instance_id": meta["instance_id"],
        "base_commit": base_commit,
        "patch": read_text(task_dir / "gold.patch"),
        "test_patch": read_text(task_dir / "test.patch"),
        "problem_statement": read_text(task_dir / "issue.md"),
        "requirements": read_text(task_dir / "requirements.md"),
        "interface": read_text(task_dir / "interface.md"),
        "repo_language": meta["repo_language"],
        "fail_to_pass": repr(list(meta["fail_to_pass"])),
        "pass_to_pass": repr(list(meta["pass_to_pass"])),
        "before_repo_set_cmd": (f"git reset --hard {base_commit}\ngit clean -fd \ngit checkout {base_commit} \n"
                                f"git checkout {gold_commit} -- {test_files}"),
        "selected_test_files_to_run": json.dumps(list(meta["selected_test_files_to_run"])),
        "image_namespace": meta["image_namespace"],
    }


def commit_base_and_gold(task_dir: Path, dest: Path) -> tuple[str, str]:
    """The task's repo committed at `dest` (main, at the base commit), with the gold patch and the test patch
    committed on the branch `gold`; (base sha, gold sha), both fixed by the sources."""
    base_commit = commit_repo(task_dir / "repo", dest)
    run_git(dest, "checkout", "--quiet", "-b", GOLD_BRANCH)
    for name in ("gold.patch", "test.patch"):
        run_git(dest, "apply", str((task_dir / name).resolve()))
    run_git(dest, "add", "--all")
    run_git(dest, "-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify", "-m", "gold")
    gold_commit = run_git(dest, "rev-parse", "HEAD").strip()
    run_git(dest, "checkout", "--quiet", "main")
    return base_commit, gold_commit


def build_pro_image(client, pro_dir: Path, row: dict, force: bool, log=print) -> None:
    """The task's base image, then its instance image (named by Pro's rule), from their Dockerfiles."""
    image = convert_pro_row(row)["image"]
    gold_commit = row["before_repo_set_cmd"].split("\n")[-1].split()[2]
    if not force and image_exists(client, image) and client.images.get(image).labels.get(GOLD_LABEL) == gold_commit:
        log(f"{image} exists")
        return
    base_file = pro_dir / "dockerfiles" / "base_dockerfile" / row["instance_id"] / "Dockerfile"
    instance_file = pro_dir / "dockerfiles" / "instance_dockerfile" / row["instance_id"] / "Dockerfile"
    base_image = read_from_image(instance_file)
    if force or not image_exists(client, base_image):
        log(f"building {base_image}")
        build_dockerfile(client, base_file, base_image, None, {})
    log(f"building {image}")
    task_dir = pro_dir / "sources" / row["repo"].split("/", 1)[1]
    labels = {LABEL: "1", COMMIT_LABEL: row["base_commit"], GOLD_LABEL: gold_commit,
              "patchmix.instance_id": row["instance_id"]}
    build_dockerfile(client, instance_file, image, task_dir, labels, nocache=force)


def read_from_image(dockerfile: Path) -> str:
    for line in read_text(dockerfile).splitlines():
        if line.strip().upper().startswith("FROM "):
            return line.split()[1]
    raise ConfigError(f"{dockerfile} has no FROM line; name the task's base image in it")


def build_dockerfile(client, dockerfile: Path, tag: str, task_dir: Path | None, labels: dict,
                     nocache: bool = False) -> None:
    """Build `dockerfile` with a context holding `app/` (the task's repo, base and gold commits) when a task is
    given."""
    with tempfile.TemporaryDirectory(prefix="patchmix-pro-image-") as tmp:
        (Path(tmp) / "Dockerfile").write_text(read_text(dockerfile))
        if task_dir is not None:
            base_commit, _ = commit_base_and_gold(task_dir, Path(tmp) / "app")
            if base_commit != labels.get(COMMIT_LABEL):
                raise PatchmixError(f"{task_dir} committed as {base_commit}, not {labels.get(COMMIT_LABEL)}")
        build_from_context(client, Path(tmp), tag, nocache=nocache, labels=labels or None)


def get_pro_scripts_dir(pro_dir: str | Path = PRO_DIR) -> Path:
    """The bundled tasks' folder of `run_scripts/<id>/`, which `dataset.pro_scripts_dir` names for them."""
    return Path(pro_dir) / SCRIPTS_DIR
