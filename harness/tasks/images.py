"""The Docker images the bundled tasks run in.

Images form a chain, each built only when missing:
    patchmix/debian:bookworm   debootstrap --variant=minbase, then `docker import` (needs root)
    patchmix/python:bookworm   python3, git, patch and pytest in /opt/venv
    one image per task         the task's repo committed at /testbed, HEAD = the row's base_commit

The rows themselves are made by `taskrows`; this module only builds and checks images.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path


from harness.exceptions import PatchmixError

from harness.tasks.langspecs import Language
from harness.tasks.rows import (ROWS_FILE, commit_repo, get_task_language, list_task_dirs, load_task_rows,
    read_task_meta, write_rows)
BASE_IMAGE = "patchmix/debian:bookworm"
PYTHON_IMAGE = "patchmix/python:bookworm"
DEBIAN_SUITE = "bookworm"
PYTEST_VERSION = "8.3.4"
LABEL = "patchmix"
COMMIT_LABEL = "patchmix.base_commit"

PYTHON_DOCKERFILE = f"""\
FROM {{base}}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends \\
    python3 python3-venv git ca-certificates patch procps && rm -rf /var/lib/apt/lists/*
COPY host-ca.crt /tmp/host-ca.crt
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir --cert /tmp/host-ca.crt \\
    pytest=={PYTEST_VERSION} && rm /tmp/host-ca.crt
ENV PATH=/opt/venv/bin:$PATH
STOPSIGNAL SIGKILL
"""

# Only task images carry the `patchmix` label, given at build time: containers inherit their image's labels,
# so a labelled base would label the builder's transient containers, which look like leaked ones.
TASK_DOCKERFILE = """\
FROM {base}
COPY testbed /testbed
WORKDIR /testbed
STOPSIGNAL SIGKILL
"""


# ---------------------------------------------------------------------------------------------- entry point


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
    from harness.tasks.published import build_published_image  # it builds on this module's images

    timed(log, "published-style image", build_published_image, client, tasks_dir, force, log)
    return rows


def timed(log, what: str, func, *args):
    started = time.monotonic()
    result = func(*args)
    log(f"{what}: {time.monotonic() - started:.1f} s")
    return result


def connect_docker():
    import docker

    try:
        client = docker.from_env(timeout=1800)
        client.ping()
    except docker.errors.DockerException as error:
        raise PatchmixError(
            f"no Docker engine answers ({error}); start one, e.g. `dockerd > /tmp/dockerd.log 2>&1 &`"
        ) from error
    return client


def image_exists(client, name: str) -> bool:
    import docker

    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


# ------------------------------------------------------------------------------------------------ images


def ensure_base_image(client, name: str, log=print, suite: str = DEBIAN_SUITE, include: tuple[str, ...] = ()) -> None:
    """Make the Debian image (of `suite`, with the packages `include`) with debootstrap and `docker import`,
    unless it exists."""
    if image_exists(client, name):
        log(f"{name} exists")
        return
    require_debootstrap()
    log(f"building {name} with debootstrap (about a minute)")
    with tempfile.TemporaryDirectory(prefix="patchmix-rootfs-") as tmp:
        rootfs, tarball = Path(tmp) / "rootfs", Path(tmp) / "rootfs.tar"
        packages = [f"--include={','.join(include)}"] if include else []
        run_command(["debootstrap", "--variant=minbase", *packages, suite, str(rootfs)])
        run_command(["tar", "-C", str(rootfs), "-cf", str(tarball), "."])
        repository, tag = name.rsplit(":", 1)
        # no label and no STOPSIGNAL here: `docker import` refuses STOPSIGNAL (the images built on it set it),
        # and a label would pass to the build containers of every image built on it (see TASK_DOCKERFILE)
        client.api.import_image_from_file(str(tarball), repository=repository, tag=tag)


def require_debootstrap() -> None:
    if shutil.which("debootstrap") is None:
        raise PatchmixError("debootstrap is not installed; run `apt-get install -y debootstrap`, then retry")
    if os.geteuid() != 0:
        raise PatchmixError(f"debootstrap needs root to build {BASE_IMAGE}; rerun as root")


def run_command(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
        raise PatchmixError(f"`{' '.join(command)}` failed with code {done.returncode}:\n{tail}")


def ensure_python_image(client, name: str, log=print, base: str = BASE_IMAGE) -> None:
    """Build the Python image from the Debian one, unless it exists. pip in a container here needs the
    host's CA bundle, so it is copied in for the install and removed in the same step."""
    if image_exists(client, name):
        log(f"{name} exists")
        return
    log(f"building {name}")
    with tempfile.TemporaryDirectory(prefix="patchmix-python-") as tmp:
        shutil.copyfile(find_host_ca_bundle(), Path(tmp) / "host-ca.crt")
        (Path(tmp) / "Dockerfile").write_text(PYTHON_DOCKERFILE.format(base=base))
        build_from_context(client, Path(tmp), name, nocache=False)


def find_host_ca_bundle() -> str:
    for candidate in (os.environ.get("PIP_CERT"), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return candidate
    raise PatchmixError("no CA bundle found for pip in the image; set PIP_CERT to your CA bundle file")


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


def build_from_context(client, context: Path, tag: str, nocache: bool, labels: dict | None = None) -> None:
    import docker

    try:
        client.images.build(path=str(context), tag=tag, rm=True, forcerm=True, nocache=nocache, labels=labels)
    except docker.errors.BuildError as error:
        tail = "\n".join(str(chunk.get("stream") or chunk.get("error") or "").rstrip() for chunk in error.build_log)
        tail = "\n".join(tail.splitlines()[-20:])
        raise PatchmixError(f"building {tag} failed: {error.msg}\n{tail}") from error
