"""A task image shaped like the published SWE-bench ones, to test the harness against what real images do.

Made from the bundled `unitconv` task, with what sets the published images apart from the bundled ones:
- the repository (at /testbed) declares a dependency, `tinyunits`, and imports it;
- a setup commit sits on top of the base commit and edits a tracked file (it pins the dependency in
  pyproject.toml), as `git commit --allow-empty -am SWE-bench` does after an environment setup;
- the history after the base commit is still there: a branch `upstream` and a remote-tracking ref holding
  the fix, a tag `v1.1` on it, reflog entries;
- the Python environment that has the dependency (/opt/testbed, a venv with pytest and `tinyunits`, the
  repository installed in it through a .pth file) is activated only by /root/.bashrc; the default PATH leads
  to another python (/opt/venv) that has pytest but not the dependency; like a conda environment, the
  python has no sitecustomize of its own (Debian's is removed), so one in the repository would be loaded;
- files under ignored paths exist before any run, as an editable install leaves them (`unitconv.egg-info/`,
  ignored through `.git/info/exclude`).

Its row (`tasks/published.jsonl`, instance `patchmix__unitconv-published`) has an eval script that activates
the environment first, as the published ones do, so the official harness scores it like any other.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from harness.tasks.baseimages import (COMMIT_LABEL, LABEL, PYTEST_VERSION, PYTHON_IMAGE, build_from_context,
    find_host_ca_bundle, image_exists)
from harness.tasks.rows import (IMAGE_NAMESPACE, commit_repo, copy_sources, make_eval_script, make_task_row,
    run_git, write_rows)
from harness.pipeline.dataset import derive_image_name

SOURCE_TASK = "unitconv"
INSTANCE_ID = "patchmix__unitconv-published"
ROWS_FILE = "published.jsonl"
RECIPE = "3"
"""Bump when the image recipe changes, so that existing images are rebuilt."""
RECIPE_LABEL = "patchmix.recipe"
ENV_DIR = "/opt/testbed"
FUTURE_TAG = "v1.1"
UPSTREAM_URL = "https://github.com/patchmix/unitconv.git"
EGG_INFO = "unitconv.egg-info"
SETUP_PIN = 'dependencies = ["tinyunits==1.0"]'

TINYUNITS = '''"""Reference points of temperature scales (a stand-in for a repository's dependency)."""

FREEZING_F = 32.0
'''
TINYUNITS_METADATA = "Metadata-Version: 2.1\nName: tinyunits\nVersion: 1.0\n"

DOCKERFILE = """\
FROM {base}
COPY host-ca.crt /tmp/host-ca.crt
COPY tinyunits.py METADATA /tmp/tinyunits/
RUN python3 -m venv {env} && {env}/bin/pip install --no-cache-dir --cert /tmp/host-ca.crt pytest=={pytest} \\
 && site=$({env}/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \\
 && cp /tmp/tinyunits/tinyunits.py "$site/" && mkdir "$site/tinyunits-1.0.dist-info" \\
 && cp /tmp/tinyunits/METADATA "$site/tinyunits-1.0.dist-info/" && echo /testbed > "$site/testbed.pth" \\
 && rm -rf /tmp/host-ca.crt /tmp/tinyunits /usr/lib/python3*/sitecustomize.py \\
 && echo 'source {env}/bin/activate' >> /root/.bashrc
COPY testbed /testbed
WORKDIR /testbed
STOPSIGNAL SIGKILL
"""


def get_image_name() -> str:
    return derive_image_name(INSTANCE_ID, IMAGE_NAMESPACE)


def make_sources(task_dir: Path, dest: Path) -> None:
    """The task's sources at the base commit, with the dependency declared and imported."""
    copy_sources(task_dir / "repo", dest)
    pyproject = dest / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "1.0.0"\n',
                                                       'version = "1.0.0"\ndependencies = ["tinyunits"]\n'))
    init = dest / "unitconv" / "__init__.py"
    init.write_text(init.read_text() + "\nimport tinyunits  # noqa: E402,F401  (the environment's dependency)\n")


def make_row(tasks_dir: Path) -> dict:
    """The row of the published-style task: the source task's, with its own id, image, commit and eval script."""
    task_dir = Path(tasks_dir) / SOURCE_TASK
    row = make_task_row(task_dir)
    with tempfile.TemporaryDirectory(prefix="patchmix-published-") as tmp:
        make_sources(task_dir, Path(tmp) / "src")
        base_commit = commit_repo(Path(tmp) / "src", Path(tmp) / "testbed")
    script = make_eval_script(base_commit, row["test_patch"])
    script = script.replace("cd /testbed\n", f"cd /testbed\nsource {ENV_DIR}/bin/activate\n", 1)
    return {**row, "instance_id": INSTANCE_ID, "base_commit": base_commit, "environment_setup_commit": base_commit,
            "image": get_image_name(), "eval_script": script}


def make_testbed(task_dir: Path, row: dict, dest: Path) -> None:
    """/testbed as the image holds it: base commit, the fix on a later branch and tag, then the setup commit."""
    with tempfile.TemporaryDirectory(prefix="patchmix-published-src-") as tmp:
        make_sources(task_dir, Path(tmp) / "src")
        base_commit = commit_repo(Path(tmp) / "src", dest)
    if base_commit != row["base_commit"]:
        raise RuntimeError(f"the published-style repo committed as {base_commit}, not {row['base_commit']}")
    (dest / "gold.patch").write_text(row["patch"])
    run_git(dest, "checkout", "-q", "-b", "upstream")
    run_git(dest, "apply", "gold.patch")
    (dest / "gold.patch").unlink()
    run_git(dest, "-c", "commit.gpgsign=false", "commit", "-q", "-am", "Fix the Fahrenheit conversion (#12)")
    run_git(dest, "tag", FUTURE_TAG)
    run_git(dest, "remote", "add", "origin", UPSTREAM_URL)
    run_git(dest, "update-ref", "refs/remotes/origin/main", "upstream")
    run_git(dest, "checkout", "-q", "main")
    pyproject = dest / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('dependencies = ["tinyunits"]', SETUP_PIN))
    run_git(dest, "-c", "commit.gpgsign=false", "commit", "-q", "--allow-empty", "-am", "SWE-bench")
    (dest / ".git" / "info").mkdir(exist_ok=True)
    with open(dest / ".git" / "info" / "exclude", "a") as exclude:
        exclude.write("*.egg-info/\n")
    (dest / EGG_INFO).mkdir()
    (dest / EGG_INFO / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: unitconv\nVersion: 1.0.0\n")


def build_published_image(client, tasks_dir: Path, force: bool = False, log=print) -> dict:
    """Build the published-style image unless current; write `<tasks_dir>/published.jsonl`; return its row."""
    tasks_dir = Path(tasks_dir)
    row = make_row(tasks_dir)
    name = row["image"]
    labels = {LABEL: "1", COMMIT_LABEL: row["base_commit"], RECIPE_LABEL: RECIPE, "patchmix.instance_id": INSTANCE_ID}
    current = image_exists(client, name) and client.images.get(name).labels.get(RECIPE_LABEL) == RECIPE and \
        client.images.get(name).labels.get(COMMIT_LABEL) == row["base_commit"]
    if current and not force:
        log(f"{name} exists")
    else:
        log(f"building {name}")
        with tempfile.TemporaryDirectory(prefix="patchmix-published-image-") as tmp:
            context = Path(tmp)
            make_testbed(tasks_dir / SOURCE_TASK, row, context / "testbed")
            shutil.copyfile(find_host_ca_bundle(), context / "host-ca.crt")
            (context / "tinyunits.py").write_text(TINYUNITS)
            (context / "METADATA").write_text(TINYUNITS_METADATA)
            (context / "Dockerfile").write_text(DOCKERFILE.format(base=PYTHON_IMAGE, env=ENV_DIR,
                                                                  pytest=PYTEST_VERSION))
            build_from_context(client, context, name, nocache=force, labels=labels)
    write_rows([row], tasks_dir / ROWS_FILE)
    return row
