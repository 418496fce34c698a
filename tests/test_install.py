"""Installing patchmix as a user would: the wheel from a clean clone works from any directory, and the way
scripts/setup.sh gets a Python environment works with Debian's own python3 (no pip, or one that refuses)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEBIAN_PYTHON_IMAGE = "patchmix/python:bookworm"  # the Debian base with Debian's python3 and python3-venv

pytestmark = pytest.mark.docker


def run(command: list[str], cwd: Path, env: dict | None = None, timeout: float = 600) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def build_wheel(tmp_path: Path) -> Path:
    """The wheel of a clean clone of this repository's HEAD (nothing uncommitted, nothing ignored)."""
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", "--no-hardlinks", str(REPO), str(clone)], tmp_path)
    out = tmp_path / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), "."], clone)
    wheels = list(out.glob("patchmix-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def make_user_env(tmp_path: Path, wheel: Path) -> Path:
    """A fresh virtual environment outside the repository with the wheel installed in it. Its dependencies are
    the ones this test runs with (a .pth line to their site-packages), so that the test needs no download."""
    env_dir = tmp_path / "user-venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check", str(wheel)], tmp_path)
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path).strip())
    (site / "zz-patchmix-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env_dir


def test_the_wheel_runs_the_demo_from_any_directory(tmp_path, bundled_rows):
    wheel = build_wheel(tmp_path)
    env_dir = make_user_env(tmp_path, wheel)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PATH": f"{env_dir / 'bin'}:{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    where = run([str(env_dir / "bin" / "python"), "-c", "import harness; print(harness.__file__)"], elsewhere, env)
    assert where.startswith(str(env_dir)), f"harness was imported from {where}, not from the installed wheel"

    run([str(env_dir / "bin" / "patchmix"), "demo", "--runs-dir", str(elsewhere / "runs")], elsewhere, env, timeout=900)

    summary = json.loads((elsewhere / "runs" / "demo" / "report" / "summary.json").read_text())
    assert summary["instances"] == len(bundled_rows)
    assert summary["evaluated"] == "all"
    assert [entry["iteration"] for entry in summary["iterations"]] == [1, 2, 3]
    assert sum(1 for _ in (elsewhere / "runs" / "demo").glob("iter_*/*/*.traj.json")) == 5 * 5


def put_file(container, path: str, data: bytes, mode: int = 0o755) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(path.lstrip("/"))
        info.size, info.mode = len(data), mode
        tar.addfile(info, io.BytesIO(data))
    assert container.put_archive("/", buffer.getvalue())


def make_tiny_wheel() -> bytes:
    """A pure-Python wheel of a package `hello` with `X = 42`, so that pip installs something with no index."""
    files = {
        "hello/__init__.py": "X = 42\n",
        "hello-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: hello\nVersion: 1.0\n",
        "hello-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: patchmix-test\nRoot-Is-Purelib: true\n"
                                     "Tag: py3-none-any\n",
    }
    files["hello-1.0.dist-info/RECORD"] = "".join(f"{name},,\n" for name in files) + "hello-1.0.dist-info/RECORD,,\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def exec_in(container, script: str) -> tuple[int, str]:
    code, output = container.exec_run(["bash", "-c", script], environment={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    return code, output.decode("utf-8", "replace")


def test_setup_gets_a_working_pip_with_debians_own_python(docker_client, bundled_rows):
    container = docker_client.containers.run(
        DEBIAN_PYTHON_IMAGE, ["sleep", "600"], detach=True, network_disabled=True, labels={"patchmix": "1"})
    try:
        put_file(container, "/opt/setup/python-env.sh", (REPO / "scripts" / "python-env.sh").read_bytes())

        code, output = exec_in(container, "command -v python3 && python3 -m pip --version")
        assert output.startswith("/usr/bin/python3")
        assert code != 0 and ("No module named pip" in output or "externally-managed" in output), output

        code, output = exec_in(container, "bash /opt/setup/python-env.sh /tmp/env")
        assert code == 0, output
        assert "python environment ready: /tmp/env" in output

        code, output = exec_in(container, "/tmp/env/bin/python -c 'import sys; print(sys.base_prefix)'; "
                                          "/tmp/env/bin/python -m pip --version")
        assert code == 0, output
        assert output.splitlines()[0] == "/usr" and "pip " in output

        # The environment's pip installs a package, offline: a tiny wheel made here.
        put_file(container, "/tmp/hello-1.0-py3-none-any.whl", make_tiny_wheel(), 0o644)
        code, output = exec_in(container, "/tmp/env/bin/python -m pip install -q --no-index "
                                          "/tmp/hello-1.0-py3-none-any.whl && /tmp/env/bin/python -c "
                                          "'import hello; print(hello.X)'")
        assert code == 0 and output.strip().endswith("42"), output

        code, output = exec_in(container, "bash /opt/setup/python-env.sh /tmp/env")  # again: kept as it is
        assert code == 0 and "/tmp/env" in output
    finally:
        container.remove(force=True)
