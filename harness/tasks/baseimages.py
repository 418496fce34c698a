"""The bottom of the bundled tasks' image chain, and the Docker helpers every image builder here uses.

    patchmix/debian:bookworm   debootstrap --variant=minbase, then `docker import` (needs root)
    patchmix/python:bookworm   python3, git, patch and pytest in /opt/venv

Each is built only when missing. The images built on them (the tasks', the toolchains', the published-style
and Pro ones) live in `images`, `toolchains`, `published` and `proimages`, which all import this module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import docker

from harness.exceptions import PatchmixError

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


def timed(log, what: str, func, *args):
    started = time.monotonic()
    result = func(*args)
    log(f"{what}: {time.monotonic() - started:.1f} s")
    return result


def connect_docker():
    try:
        client = docker.from_env(timeout=1800)
        client.ping()
    except docker.errors.DockerException as error:
        raise PatchmixError(
            f"no Docker engine answers ({error}); start one, e.g. `dockerd > /tmp/dockerd.log 2>&1 &`"
        ) from error
    return client


def image_exists(client, name: str) -> bool:
    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


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
        # and a label would pass to the build containers of every image built on it (see images.TASK_DOCKERFILE)
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


def build_from_context(client, context: Path, tag: str, nocache: bool, labels: dict | None = None) -> None:
    try:
        client.images.build(path=str(context), tag=tag, rm=True, forcerm=True, nocache=nocache, labels=labels)
    except docker.errors.BuildError as error:
        tail = "\n".join(str(chunk.get("stream") or chunk.get("error") or "").rstrip() for chunk in error.build_log)
        tail = "\n".join(tail.splitlines()[-20:])
        raise PatchmixError(f"building {tag} failed: {error.msg}\n{tail}") from error
