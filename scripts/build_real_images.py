"""Build real SWE-bench Verified images here, from a repository mirror and PyPI (a development tool, not for users).

    python scripts/build_real_images.py --repo sympy/sympy --mirror /work/.mirror/sympy+sympy/repo \
        --out runs/real-images [--limit N] [--ids ID ...] [--validate]

Layers, each built only when missing:
    patchmix-real/debian:bullseye-py39   debootstrap bullseye (python 3.9, git), `docker import`; bookworm-py311
                                         from bookworm for specs on python 3.11 (flask)
    patchmix-real/env.<repo>:<spec hash> a venv /opt/testbed with the spec's pinned packages, activated from
                                         /root/.bashrc (one image per distinct spec: all sympy versions share one)
    swebench/sweb.eval.x86_64.<id>       the published name: /testbed at the base commit with the later history
                                         absent, then the spec's `pre_install` and `install` (`pip install -e .`)

The repository state is made on the host as SWE-bench's builder makes it, with the same outcome: only the base
commit and its ancestors are fetched from the mirror (`git fetch <mirror> <base_commit>`, so no later commit,
tag or object is present; the fetched pack holds only reachable objects, so `gc --prune=now` has nothing to
remove and is skipped), the tags that point into that history are kept, there is no remote; after the spec's
`pre_install` and `install`, the setup commit `git commit --allow-empty -am SWE-bench` as swebench makes it. The
specs (`python`, `packages`, `pip_packages`, `pre_install`, `install`, `test_cmd`) are swebench's own:
swebench 5.x no longer ships them, so they are read from the swebench 4.1.0 wheel, downloaded with pip; a spec
that installs `requirements.txt` (pylint) installs the repository's requirements file at the environment-setup
commit, read from the mirror as swebench reads it from GitHub.
Each row is written in swebench 5.x form (`image`, `eval_script` like swebench's own, `log_parser`,
`eval_type`) to `<out>/<repo>.jsonl`, so that the official harness grades it with no pull. `--validate` scores
gold and empty patches with the official harness and writes `<out>/<repo>-validation.json`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BASE_IMAGES = {"3.9": ("bullseye", "patchmix-real/debian:bullseye-py39"),
               "3.11": ("bookworm", "patchmix-real/debian:bookworm-py311")}
"""The Debian suite whose python3 is each spec python, and the base image made from it."""
BASE_PACKAGES = "python3,python3-venv,git,ca-certificates,patch,procps"
SPECS_WHEEL = "swebench==4.1.0"
SPECS_CACHE = Path.home() / ".cache" / "patchmix" / "swebench-4.1.0"
VERIFIED = Path("/work/shared/data/swe-bench-verified.jsonl")
ENV_DIR = "/opt/testbed"
HEREDOC = "EOF_114329324912"
RECIPE = "2"
"""Bump when the instance recipe changes: images of another recipe are rebuilt."""
NON_TEST_EXTS = (".json", ".png", "csv", ".txt", ".md", ".jpg", ".jpeg", ".pkl", ".yml", ".yaml", ".toml")
SUPPORTED_PYTHON = set(BASE_IMAGES)
"""Python versions a Debian suite gives here; other specs are left out, with the reason."""

ENV_DOCKERFILE = """\
FROM {base}
COPY host-ca.crt /tmp/host-ca.crt
{copy_requirements}RUN python3 -m venv {env} && {env}/bin/pip install --no-cache-dir --cert /tmp/host-ca.crt -U "pip<24" {setuptools} wheel \\
 {installs}&& rm /tmp/host-ca.crt && echo 'source {env}/bin/activate' >> /root/.bashrc{extra}
STOPSIGNAL SIGKILL
"""
TOX_PTH = ('import os, site, sys; os.environ.get("VIRTUAL_ENV") == "{env}" and sys.prefix != "{env}" and '
           'site.addsitedir("{env}/lib/python{python}/site-packages")')
"""For specs that run their tests with `tox --current-env`: tox-current-env links the environment's python into
.tox/, which for a conda environment (the published images) is that environment, but for a venv is the bare
system python (a venv is found next to the path it is started by). While the testbed venv is activated, this
`.pth` of the system python adds the venv's packages, so the linked python is the testbed environment too."""
RESOLVED_BEFORE = "2024-06-01T00:00:00Z"
"""For tox specs (sphinx), whose `install` leaves every dependency but a few unpinned: the dependencies are first
resolved among the releases uploaded before this date (pip's `--uploaded-prior-to`, with a recent pip run from
a throwaway venv against the testbed environment), as the published images resolved them when they were built
(SWE-bench Verified: mid-2024); the spec's own `install` then finds them satisfied. Without it, today's Pygments
renders highlighted HTML differently and PASS_TO_PASS tests of the published images fail."""
DATED_INSTALL = ("python3 -m venv /tmp/newpip && /tmp/newpip/bin/pip install -q --cert /tmp/host-ca.crt 'pip>=25.3' "
                 "&& {installs} && rm -rf /tmp/newpip && ")
DATED_PIP = ("/tmp/newpip/bin/pip --python {env}/bin/python install -q --cert /tmp/host-ca.crt "
             "--uploaded-prior-to {date} ")
"""An editable install whose build backend has no PEP 660 hook (setuptools < 64, pinned by pylint 2.15's
pyproject.toml) fails with a recent pip: the dated resolution then installs the project as a wheel, which the
spec's own `pip install -e .` (pip < 24, which falls back to `setup.py develop`) replaces."""
DATED_SETUPTOOLS = "'setuptools<=70.0.0'"
"""The environment's setuptools for requirements specs: the newest of RESOLVED_BEFORE. From setuptools 80,
`setup.py develop` (what pip < 24 runs for `pip install -e .` without a pyproject.toml: pylint 2.x) installs through
an import finder instead of adding /testbed to sys.path, and pylint's checkers, loaded by file path, are then not
found when the tests run from the `pytest` script."""
REQUIREMENTS_EXCLUDED = ("-e .", "#", ".[test")
"""Lines swebench leaves out of a repository's requirements file (editable self-installs, comments)."""
PIP_CONF = "[global]\ncert = /etc/ssl/certs/patchmix-host-ca.crt\n"
"""For the environments built for tox and requirements specs (sphinx, pylint, flask): the eval script's
`pip install -e .[test]` builds in an isolated environment fetched from PyPI (and installs what a patch adds to
the dependencies), which here is reached through a proxy whose CA only the host trusts."""

INSTANCE_DOCKERFILE = """\
FROM {env_image}
COPY testbed /testbed
COPY host-ca.crt /tmp/host-ca.crt
WORKDIR /testbed
RUN . {env}/bin/activate && export PIP_CERT=/tmp/host-ca.crt && {pre_install}{dated}{install} && rm /tmp/host-ca.crt \
 && git config --global user.email setup@swebench.config && git config --global user.name SWE-bench \
 && git commit --allow-empty -qam SWE-bench
LABEL patchmix.real={recipe} patchmix.base_commit={base_commit} patchmix.env={env_image}
STOPSIGNAL SIGKILL
"""


# ------------------------------------------------------------------------------------------------ specs


def load_constants() -> dict:
    """swebench 4.1.0's harness/constants/python.py (specs, requirements paths), downloaded once with pip."""
    module = SPECS_CACHE / "swebench" / "harness" / "constants" / "python.py"
    if not module.is_file():
        download_specs()
    namespace: dict = {}
    exec(compile(module.read_text(), str(module), "exec"), namespace)  # noqa: S102 - swebench's own constants
    return namespace


def read_requirements(row: dict, mirror: Path, paths: list[str]) -> str:
    """The requirements file swebench installs for `packages: requirements.txt`, read from the mirror at the
    environment-setup commit instead of GitHub: the first of the repository's paths that exists, its `-r` includes
    first, without editable self-installs and comments, the yanked `types-pkg_resources` as `types-setuptools`."""
    commit = row.get("environment_setup_commit") or row["base_commit"]
    for path in paths:
        done = subprocess.run(["git", "-C", str(mirror), "show", f"{commit}:{path}"], capture_output=True, text=True)
        if done.returncode == 0:
            break
    else:
        raise RuntimeError(f"none of {paths} exists at {commit} in {mirror}; is the mirror up to date?")
    folder = path.rpartition("/")[0]
    own, included = [], []
    for line in done.stdout.split("\n"):
        if line.strip().startswith("-r"):
            name = "/".join(filter(None, [folder, line.strip()[2:].strip()]))
            text = run(["git", "-C", str(mirror), "show", f"{commit}:{name}"])
            included += [extra for extra in text.split("\n") if not extra.strip().startswith(REQUIREMENTS_EXCLUDED)]
        elif not line.strip().startswith(REQUIREMENTS_EXCLUDED):
            own.append(line)
    text = "\n".join(included + ["\n".join(own)])
    return re.sub(r"^types-pkg_resources([<>=!~]=?.*|$)", "types-setuptools", text, flags=re.MULTILINE)


def download_specs() -> None:
    with tempfile.TemporaryDirectory(prefix="swebench-wheel-") as tmp:
        run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", SPECS_WHEEL, "-d", tmp])
        wheel = next(Path(tmp).glob("swebench-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(SPECS_CACHE)


def get_spec(specs: dict, row: dict) -> dict:
    try:
        return specs[row["repo"]][row["version"]]
    except KeyError:
        raise SystemExit(f"swebench has no spec for {row['repo']} {row['version']}; pick another instance") from None


def list_pip_packages(spec: dict) -> list[str]:
    """The spec's packages for pip: conda `packages` named as plain words, then the pinned `pip_packages`."""
    words = spec.get("packages") or ""
    conda = [] if words in ("", "requirements.txt", "environment.yml") else words.split()
    pinned = list(spec.get("pip_packages", []))
    pinned_names = {re.split(r"[=<>!\[]", name)[0].lower() for name in pinned}
    return [name for name in conda if name.lower() not in pinned_names] + pinned


def check_buildable(spec: dict) -> str | None:
    """Why this spec cannot be built here, or None."""
    if spec["python"] not in SUPPORTED_PYTHON:
        return f"needs python {spec['python']} (this builder has {', '.join(sorted(SUPPORTED_PYTHON))})"
    if spec.get("packages") == "environment.yml":
        return "installs from environment.yml (not supported by this builder yet)"
    return None


# ------------------------------------------------------------------------------------------------ rows


def get_test_directives(row: dict) -> list[str]:
    files = re.findall(r"diff --git a/.* b/(.*)", row["test_patch"])
    return [name for name in files if not name.endswith(NON_TEST_EXTS)]


def make_eval_script(row: dict, spec: dict) -> str:
    """Like swebench's own eval scripts: activate, reset the test files, apply the test patch, run the tests."""
    base, files = row["base_commit"], " ".join(re.findall(r"diff --git a/.* b/(.*)", row["test_patch"]))
    test_command = " ".join([spec["test_cmd"], *get_test_directives(row)])
    lines = ["#!/bin/bash", "set -uxo pipefail", f"source {ENV_DIR}/bin/activate", "cd /testbed",
             "git config --global --add safe.directory /testbed", "cd /testbed", "git status", "git show",
             f"git -c core.fileMode=false diff {base}", f"source {ENV_DIR}/bin/activate", spec["install"],
             f"git checkout {base} {files}", f"git apply -v - <<'{HEREDOC}'\n{row['test_patch']}\n{HEREDOC}",
             ": '>>>>> Start Test Output'", test_command, ": '>>>>> End Test Output'", f"git checkout {base} {files}"]
    return "\n".join(lines) + "\n"


def get_image_name(instance_id: str) -> str:
    return f"swebench/sweb.eval.x86_64.{instance_id.replace('__', '_1776_')}:latest"


def make_row(row: dict, spec: dict) -> dict:
    return {**row, "image": get_image_name(row["instance_id"]), "eval_script": make_eval_script(row, spec),
            "log_parser": get_log_parser(row["repo"]), "eval_type": "pass_and_fail"}


def get_log_parser(repo: str) -> str:
    """The name of swebench 5.x's parser for the repository's test output."""
    from swebench.harness.log_parsers.python import MAP_REPO_TO_PARSER_PY

    return MAP_REPO_TO_PARSER_PY[repo].__name__


# ------------------------------------------------------------------------------------------------ images


def run(command: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise RuntimeError(f"`{' '.join(command[:6])}` failed with code {done.returncode}:\n{tail}")
    return done.stdout


def image_exists(name: str, recipe: str | None = None, env_image: str | None = None) -> bool:
    """Whether the image is here (and, given `recipe`, built by this recipe of the builder; given `env_image`, on
    that environment, when the image names the one it was built on)."""
    labels = '{{index .Config.Labels "patchmix.real"}} {{index .Config.Labels "patchmix.env"}}'
    done = subprocess.run(["docker", "image", "inspect", "-f", labels, name], capture_output=True, text=True)
    found_recipe, _, found_env = done.stdout.strip().partition(" ")
    found_env = found_env.strip().replace("<no value>", "")
    return done.returncode == 0 and (recipe is None or found_recipe == recipe) and \
        (env_image is None or not found_env or found_env == env_image)


def ensure_base_image(python: str) -> str:
    suite, name = BASE_IMAGES[python]
    if image_exists(name):
        return name
    with tempfile.TemporaryDirectory(prefix="patchmix-real-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        run(["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", suite, str(rootfs)])
        run(["sh", "-c", f"tar -C {rootfs} -c . | docker import - {name}"])
    return name


def make_dated_install(spec: dict) -> str:
    """The date-bounded resolution of the spec's install for tox and requirements specs (RESOLVED_BEFORE), else
    nothing."""
    prefix = "python -m pip install "
    if not (uses_tox(spec) or "requirements" in spec) or not spec["install"].startswith(prefix):
        return ""
    args = spec["install"][len(prefix):].replace(".[", "'.[").replace("]", "]'")
    pip = DATED_PIP.format(env=ENV_DIR, date=RESOLVED_BEFORE)
    installs = f"( {pip}{args} || {pip}{args.replace('-e ', '', 1)} )" if args.startswith("-e ") else pip + args
    return DATED_INSTALL.format(installs=installs)


def uses_tox(spec: dict) -> bool:
    return spec["test_cmd"].startswith("tox")


def get_env_image(row: dict, spec: dict) -> tuple[str, list[str]]:
    packages = list_pip_packages(spec)
    variant = [spec["python"], packages] + (["tox-pth", "pip-conf"] if uses_tox(spec) else []) + \
        ([spec["requirements"], "dated", "pip-conf", DATED_SETUPTOOLS] if "requirements" in spec else [])
    digest = hashlib.sha256(json.dumps(variant).encode()).hexdigest()[:10]
    return f"patchmix-real/env.{row['repo'].replace('/', '__')}:{digest}", packages


def ensure_env_image(row: dict, spec: dict) -> str:
    name, packages = get_env_image(row, spec)
    if image_exists(name):
        return name
    with tempfile.TemporaryDirectory(prefix="patchmix-real-env-") as tmp:
        shutil.copyfile("/etc/ssl/certs/ca-certificates.crt", Path(tmp) / "host-ca.crt")
        commands, copy_requirements = [], ""
        if "requirements" in spec:  # resolved as of RESOLVED_BEFORE, as for the instance's install
            (Path(tmp) / "requirements.txt").write_text(spec["requirements"] + "\n")
            copy_requirements = "COPY requirements.txt /tmp/requirements.txt\n"
            pip = DATED_PIP.format(env=ENV_DIR, date=RESOLVED_BEFORE)
            dated = DATED_INSTALL.format(installs=f"{pip}-r /tmp/requirements.txt")
            commands.append(dated.rstrip().removesuffix("&&").rstrip())
        if packages:  # then the spec's pinned packages, as swebench installs them after the requirements
            quoted = " ".join(f"'{name}'" for name in packages)
            commands.append(f"{ENV_DIR}/bin/pip install --no-cache-dir --cert /tmp/host-ca.crt {quoted}")
        installs = "".join(f"&& {command} " for command in commands)
        extra = ""
        if uses_tox(spec):
            (Path(tmp) / "testbed.pth").write_text(TOX_PTH.format(env=ENV_DIR, python=spec["python"]) + "\n")
            extra += "\nCOPY testbed.pth /usr/lib/python3/dist-packages/zz_patchmix_testbed.pth"
        if uses_tox(spec) or "requirements" in spec:
            (Path(tmp) / "pip.conf").write_text(PIP_CONF)
            extra += "\nCOPY pip.conf /etc/pip.conf\nCOPY host-ca.crt /etc/ssl/certs/patchmix-host-ca.crt"
        dockerfile = ENV_DOCKERFILE.format(
            base=ensure_base_image(spec["python"]), env=ENV_DIR, installs=installs, extra=extra,
            setuptools=DATED_SETUPTOOLS if "requirements" in spec else "setuptools",
            copy_requirements=copy_requirements)
        (Path(tmp) / "Dockerfile").write_text(dockerfile)
        run(["docker", "build", "-q", "-t", name, tmp])
    return name


def make_testbed(mirror: Path, base_commit: str, dest: Path) -> None:
    """The repository at the base commit with nothing after it: only the commit's history is fetched."""
    run(["git", "init", "-q", str(dest)])
    run(["git", "-C", str(dest), "fetch", "-q", "--no-tags", str(mirror), f"{base_commit}:refs/heads/main"])
    tags = run(["git", "-C", str(mirror), "tag", "--merged", base_commit]).split()
    if tags:
        refspecs = [f"refs/tags/{tag}:refs/tags/{tag}" for tag in tags]
        run(["git", "-C", str(dest), "fetch", "-q", "--no-tags", str(mirror), *refspecs])
    run(["git", "-C", str(dest), "checkout", "-q", "main"])
    run(["git", "-C", str(dest), "reflog", "expire", "--expire=now", "--all"])


def build_instance_image(row: dict, spec: dict, env_image: str, mirror: Path) -> str:
    name = get_image_name(row["instance_id"])
    recipe = RECIPE + ("-dated" if make_dated_install(spec) else "")
    if image_exists(name, recipe, env_image):
        return name
    with tempfile.TemporaryDirectory(prefix="patchmix-real-inst-") as tmp:
        make_testbed(mirror, row["base_commit"], Path(tmp) / "testbed")
        shutil.copyfile("/etc/ssl/certs/ca-certificates.crt", Path(tmp) / "host-ca.crt")
        (Path(tmp) / "Dockerfile").write_text(INSTANCE_DOCKERFILE.format(
            env_image=env_image, env=ENV_DIR, recipe=recipe, install=spec["install"], base_commit=row["base_commit"],
            pre_install="".join(f"( {command} ) && " for command in spec.get("pre_install", [])),
            dated=make_dated_install(spec)))
        run(["docker", "build", "-q", "-t", name, tmp])
    return name


# ------------------------------------------------------------------------------------------------ validation


def validate(rows: list[dict], dataset: Path, out: Path) -> dict:
    """Gold must resolve and an empty (no-op) patch must not, through the official harness in its own containers
    (they have a network, as the published images' eval runs have: sphinx's eval script reinstalls the
    repository with `pip install -e .[test]`, whose build environment comes from PyPI)."""
    from harness.analysis.replay import score_twice
    from harness.scoring.official import OFFICIAL

    verdicts = {}
    for kind in ("gold", "noop"):
        preds = [{"instance_id": r["instance_id"], "model_name_or_path": kind,
                  "model_patch": r["patch"] if kind == "gold" else make_noop_patch(r)} for r in rows]
        path = out / f"{kind}-preds.jsonl"
        path.write_text("".join(json.dumps(p) + "\n" for p in preds))
        report = score_twice(path, str(dataset), f"real-{kind}-{len(rows)}", out / "scratch",
                             [r["instance_id"] for r in rows], containers=OFFICIAL)
        verdicts[kind] = report
    return summarise_validation(rows, verdicts)


def make_noop_patch(row: dict) -> str:
    """A patch that changes nothing the tests see: a new empty file at the repository's root."""
    return "diff --git a/NOOP.txt b/NOOP.txt\nnew file mode 100644\nindex 0000000..e69de29\n"


def summarise_validation(rows: list[dict], verdicts: dict) -> dict:
    gold = set(verdicts["gold"].get("resolved_ids", []))
    noop = set(verdicts["noop"].get("resolved_ids", []))
    ids = [r["instance_id"] for r in rows]
    valid = [i for i in ids if i in gold and i not in noop]
    return {"checked": len(ids), "valid": valid, "gold_not_resolved": [i for i in ids if i not in gold],
            "noop_resolved": sorted(noop), "errors": sorted(set(verdicts["gold"].get("error_ids", [])))}


# ------------------------------------------------------------------------------------------------ main


def select_rows(repo: str, ids: list[str] | None, limit: int | None) -> list[dict]:
    rows = [json.loads(line) for line in VERIFIED.read_text().splitlines()]
    rows = [r for r in rows if r["repo"] == repo and (not ids or r["instance_id"] in ids)]
    return rows[:limit] if limit else rows


def build_all(rows: list[dict], constants: dict, mirror: Path, log) -> tuple[list[dict], dict]:
    built, left_out = [], {}
    for row in rows:
        spec = get_spec(constants["MAP_REPO_VERSION_TO_SPECS_PY"], row)
        reason = check_buildable(spec)
        if reason:
            left_out[row["instance_id"]] = reason
            continue
        try:
            if spec.get("packages") == "requirements.txt":
                paths = constants["MAP_REPO_TO_REQS_PATHS"][row["repo"]]
                spec = {**spec, "requirements": read_requirements(row, mirror, paths)}
            build_instance_image(row, spec, ensure_env_image(row, spec), mirror)
        except RuntimeError as error:
            left_out[row["instance_id"]] = f"build failed: {error}"
            log(f"{row['instance_id']}: build failed: {error}")
            continue
        built.append(make_row(row, spec))
        log(f"{row['instance_id']}: {built[-1]['image']}")
    return built, left_out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", default="sympy/sympy")
    parser.add_argument("--mirror", required=True, help="a git mirror of the repository (e.g. from `fetch`)")
    parser.add_argument("--out", default="runs/real-images")
    parser.add_argument("--ids", nargs="+")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--validate", action="store_true", help="score gold and no-op with the official harness")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = lambda text: print(text, flush=True)  # noqa: E731
    rows, left_out = build_all(select_rows(args.repo, args.ids, args.limit), load_constants(), Path(args.mirror), log)
    dataset = out / f"{args.repo.replace('/', '__')}.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (out / f"{args.repo.replace('/', '__')}-left-out.json").write_text(json.dumps(left_out, indent=1))
    log(f"{len(rows)} images built, {len(left_out)} left out; rows in {dataset}")
    if args.validate and rows:
        summary = validate(rows, dataset, out)
        (out / f"{args.repo.replace('/', '__')}-validation.json").write_text(json.dumps(summary, indent=1))
        log(f"validated: {len(summary['valid'])} of {summary['checked']} (gold resolves, no-op does not)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
