"""The Docker images the bundled tasks run in: one image per task, the task's repo committed at /testbed,
HEAD = the row's base commit, on its language's toolchain image (for Python, `baseimages.PYTHON_IMAGE`).
Each is built only when missing; `build_images` builds the whole chain, the published-style image included.

The rows themselves are made by `rows`; this module only builds and checks images.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from harness.exceptions import PatchmixError
from harness.tasks.baseimages import (BASE_IMAGE, COMMIT_LABEL, LABEL, PYTHON_IMAGE, build_from_context,
    connect_docker, ensure_base_image, ensure_python_image, image_exists, timed)
from harness.tasks.langspecs import Language
from harness.tasks.published import build_published_image
from harness.tasks.rows import (ROWS_FILE, commit_repo, get_task_language, list_task_dirs, load_task_rows,
    read_task_meta, write_rows)

# Only task images carry the `patchmix` label, given at build time: containers inherit their image's labels,
# so a labelled base would label the builder's transient containers, which look like leaked ones.
TASK_DOCKERFILE = """\
FROM {base}
COPY testbed /testbed
WORKDIR /testbed
STOPSIGNAL SIGKILL
"""


def build_images(tasks_dir: str | Path, force: bool = False, log=print) -> list[dict]:
    """Build whatever images are missing (task images again when `force`), write `<tasks_dir>/bundled.jsonl`
    and return its rows. The Debian and Python images are built only when missing, even with `force`."""
    client = connect_docker()
    tasks_dir = Path(tasks_dir)
    timed(log, "base image", ensure_base_image, client, BASE_IMAGE, log)
    timed(log, "python image", ensure_python_image, client, PYTHON_IMAGE, log)
    rows = load_task_rows(tasks_dir)
    timed(log, "task images", build_task_images, client, tasks_dir, rows, force, log)
    write_rows(rows, tasks_dir / ROWS_FILE)
    log(f"wrote {len(rows)} rows to {tasks_dir / ROWS_FILE}")
    timed(log, "published-style image", build_published_image, client, tasks_dir, force, log)
    return rows


def build_task_images(client, tasks_dir: Path, rows: list[dict], force: bool, log=print) -> None:
    tasks_by_id = {read_task_meta(task_dir)["instance_id"]: task_dir for task_dir in list_task_dirs(tasks_dir)}
    for row in rows:
        if not force and is_image_current(client, row):
            log(f"{row['image']} exists")
            continue
        log(f"building {row['image']}")
        build_task_image(client, tasks_by_id[row["instance_id"]], row, nocache=force)


def is_image_current(client, row: dict) -> bool:
    """The task image exists and holds this row's base commit (an edited task gets a new commit)."""
    if not image_exists(client, row["image"]):
        return False
    return client.images.get(row["image"]).labels.get(COMMIT_LABEL) == row["base_commit"]


def build_task_image(client, task_dir: Path, row: dict, nocache: bool = False) -> None:
    with tempfile.TemporaryDirectory(prefix="patchmix-image-") as tmp:
        base_commit = commit_repo(task_dir / "repo", Path(tmp) / "testbed")
        if base_commit != row["base_commit"]:
            raise PatchmixError(f"{task_dir} committed as {base_commit}, not {row['base_commit']}; is git's config odd?")
        language = get_task_language(task_dir, read_task_meta(task_dir))
        (Path(tmp) / "Dockerfile").write_text(make_task_dockerfile(language))
        labels = {LABEL: "1", COMMIT_LABEL: base_commit, "patchmix.instance_id": row["instance_id"]}
        build_from_context(client, Path(tmp), row["image"], nocache=nocache, labels=labels)


def make_task_dockerfile(language: Language) -> str:
    """The task image on its language's toolchain image; the language's warm step (a build at /testbed) fills
    the build caches, so that the tests compile only what changed, with no network."""
    dockerfile = TASK_DOCKERFILE.format(base=language.image)
    if not language.warm:
        return dockerfile
    return dockerfile.replace("STOPSIGNAL", f"RUN {language.warm}\nSTOPSIGNAL")
