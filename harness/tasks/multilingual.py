"""The bundled tasks in other languages than Python (Go, Rust, JavaScript): their folders live in
`tasks/multilingual/`, their rows in `tasks/multilingual.jsonl` (a dataset of its own, beside the Python demo's
`bundled.jsonl`), and their images build on the toolchain images of `harness.tasks.toolchains`."""

from __future__ import annotations

from pathlib import Path

from harness.tasks.baseimages import (BASE_IMAGE, PYTHON_IMAGE, connect_docker, ensure_base_image,
    ensure_python_image, timed)
from harness.tasks.images import build_task_images
from harness.tasks.langspecs import get_language
from harness.tasks.rows import list_task_dirs, load_task_rows, read_task_meta, write_rows
from harness.tasks.toolchains import ensure_toolchain_image

MULTILINGUAL_DIR = "multilingual"
MULTILINGUAL_ROWS = "multilingual.jsonl"


def build_multilingual_images(tasks_dir: str | Path, force: bool = False, log=print) -> list[dict]:
    """Build the missing toolchain and task images of `<tasks_dir>/multilingual/` (task images again when
    `force`), write `<tasks_dir>/multilingual.jsonl` and return its rows."""
    client = connect_docker()
    tasks_dir = Path(tasks_dir)
    source = tasks_dir / MULTILINGUAL_DIR
    timed(log, "base image", ensure_base_image, client, BASE_IMAGE, log)
    for name in list_languages(source):
        if name == "python":
            timed(log, "python image", ensure_python_image, client, PYTHON_IMAGE, log)
        else:
            timed(log, f"{name} toolchain image", ensure_toolchain_image, client, get_language(name), log)
    rows = load_task_rows(source)
    timed(log, "multilingual task images", build_task_images, client, source, rows, force, log)
    write_rows(rows, tasks_dir / MULTILINGUAL_ROWS)
    log(f"wrote {len(rows)} rows to {tasks_dir / MULTILINGUAL_ROWS}")
    return rows


def list_languages(source: Path) -> list[str]:
    """The languages of the task folders under `source`, each once, sorted."""
    return sorted({read_task_meta(task_dir).get("language") or "python" for task_dir in list_task_dirs(source)})
