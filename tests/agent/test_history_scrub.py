"""The start-up history scrub and the snapshot on every repository state git itself tolerates.

Each repository is set up the way SWE-bench's image builder sets up /testbed (clone `--single-branch`, reset to
the base commit, `git remote remove origin`, deletion of the tags after the base commit, `gc --prune=now`),
which leaves `refs/remotes/origin/HEAD` dangling, and then given one more state: packed refs, a detached HEAD,
a `.keep` pack, a promisor pack, an alternates file, a linked worktree, a ref to a pruned object, a symbolic ref to a later tag.
The scripts run with the real git, as they run in the container (`bash -c SCRIPT name ARGS`); the last test
starts a real container from an image built that way."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from harness.agent.config import ContainerConfig
from harness.agent.environment.docker_environment import Environment
from harness.agent.environment.snapshot import SNAPSHOT
from harness.agent.environment.prepare import SCRUB_HISTORY
from harness.tasks.baseimages import ensure_base_image

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
           "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": "/nonexistent"}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], env=GIT_ENV, capture_output=True, text=True)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def commit(repo: Path, name: str, text: str) -> str:
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", f"{name}: {text[:20]}")
    return git(repo, "rev-parse", "HEAD")


def make_upstream(root: Path) -> dict[str, str]:
    """An upstream with an old tag, the base commit, then the fix: a later commit, a later tag, a branch."""
    upstream = root / "upstream"
    upstream.mkdir()
    git(upstream, "init", "-q", "-b", "main")
    commit(upstream, "a.py", "one = 1\n")
    git(upstream, "tag", "-a", "v0.9", "-m", "old release")
    base = commit(upstream, "a.py", "one = 1\ntwo = 3  # the bug\n")
    fix = commit(upstream, "a.py", "one = 1\ntwo = 2  # THE-FIX\n")
    git(upstream, "tag", "v1.0")
    git(upstream, "checkout", "-q", "-b", "feature")
    later = commit(upstream, "b.py", "three = 3  # LATER-WORK\n")
    git(upstream, "checkout", "-q", "main")
    return {"upstream": str(upstream), "base": base, "fix": fix, "later": later}


def build_like_swebench(root: Path, upstream: dict[str, str]) -> Path:
    """/testbed as SWE-bench's builder leaves it."""
    repo = root / "testbed"
    subprocess.run(["git", "clone", "-q", "-o", "origin", "--single-branch", upstream["upstream"], str(repo)],
                   env=GIT_ENV, check=True)
    git(repo, "reset", "-q", "--hard", upstream["base"])
    git(repo, "remote", "remove", "origin")
    for tag in git(repo, "tag", "-l").split():
        if not is_ancestor(repo, tag, upstream["base"]):
            git(repo, "tag", "-d", tag)
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now", "--aggressive")
    return repo


def is_ancestor(repo: Path, ref: str, base: str) -> bool:
    return subprocess.run(["git", "-C", str(repo), "merge-base", "--is-ancestor", ref, base], env=GIT_ENV).returncode == 0


def add_packed_refs(repo, root, upstream):
    git(repo, "fetch", "-q", upstream["upstream"], "feature:refs/heads/feature", "v1.0:refs/tags/v1.0")
    git(repo, "pack-refs", "--all")


def detach_head(repo, root, upstream):
    git(repo, "fetch", "-q", upstream["upstream"], "feature:refs/remotes/upstream/feature")
    git(repo, "checkout", "-q", "--detach", upstream["base"])


def keep_a_pack(repo, root, upstream):
    git(repo, "fetch", "-q", upstream["upstream"], "feature:refs/heads/feature")
    git(repo, "repack", "-a", "-d", "-q")
    pack = next((repo / ".git/objects/pack").glob("pack-*.pack"))
    pack.with_suffix(".keep").write_text("kept by the image\n")


def mark_a_promisor_pack(repo, root, upstream):
    """A repository cloned from a partial clone: its packs are promisor packs, whose objects `git repack -a -d`
    keeps, reachable or not (a clone of a partial-clone mirror, e.g. one brought in by `fetch`, is such)."""
    git(repo, "fetch", "-q", upstream["upstream"], "feature:refs/heads/feature", "v1.0:refs/tags/v1.0")
    git(repo, "repack", "-a", "-d", "-q")
    pack = next((repo / ".git/objects/pack").glob("pack-*.pack"))
    pack.with_suffix(".promisor").write_text("")


def borrow_from_alternates(repo, root, upstream):
    objects = Path(upstream["upstream"]) / ".git/objects"
    (repo / ".git/objects/info/alternates").write_text(f"{objects}\n")
    git(repo, "update-ref", "refs/heads/feature", upstream["later"])


def link_a_worktree(repo, root, upstream):
    git(repo, "fetch", "-q", upstream["upstream"], "feature:refs/heads/feature")
    git(repo, "worktree", "add", "-q", str(root / "elsewhere"), "feature")


def point_a_ref_at_a_pruned_object(repo, root, upstream):
    (repo / ".git/refs/remotes/origin").mkdir(parents=True, exist_ok=True)
    (repo / ".git/refs/remotes/origin/stale").write_text(upstream["later"] + "\n")
    (repo / ".git/refs/tags/v2.0").write_text(upstream["fix"] + "\n")


def point_a_symref_at_a_later_tag(repo, root, upstream):
    git(repo, "fetch", "-q", upstream["upstream"], "v1.0:refs/tags/v1.0")
    git(repo, "symbolic-ref", "refs/remotes/mirror/HEAD", "refs/tags/v1.0")


STATES = {"as_built": None, "packed_refs": add_packed_refs, "detached_head": detach_head,
          "keep_pack": keep_a_pack, "promisor_pack": mark_a_promisor_pack, "alternates": borrow_from_alternates, "linked_worktree": link_a_worktree,
          "ref_to_pruned_object": point_a_ref_at_a_pruned_object, "symref_to_later_tag": point_a_symref_at_a_later_tag}


def run_script(script: str, name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script, name, *args], env=GIT_ENV, capture_output=True, text=True)


@pytest.mark.parametrize("state", list(STATES))
def test_the_scrub_and_the_snapshot_hold_on_every_repository_state(tmp_path, state):
    upstream = make_upstream(tmp_path)
    repo = build_like_swebench(tmp_path, upstream)
    assert (repo / ".git/refs/remotes/origin/HEAD").exists(), "SWE-bench's builder leaves origin/HEAD dangling"
    if STATES[state]:
        STATES[state](repo, tmp_path, upstream)
    scrub = run_script(SCRUB_HISTORY, "scrub", str(repo), upstream["base"])
    assert scrub.returncode == 0, scrub.stdout + scrub.stderr
    listing = subprocess.run(["git", "-C", str(repo), "for-each-ref", "--format=%(refname)"], env=GIT_ENV,
                             capture_output=True, text=True)
    assert listing.returncode == 0 and listing.stderr == "", "no broken ref is left"
    assert set(listing.stdout.split()) <= {"refs/heads/main", "refs/tags/v0.9"}
    assert "refs/tags/v0.9" in listing.stdout.split(), "a tag the base commit descends from stays"
    for future in (upstream["fix"], upstream["later"]):
        assert subprocess.run(["git", "-C", str(repo), "cat-file", "-e", future], env=GIT_ENV).returncode != 0
    log = git(repo, "log", "--all", "--format=%H %s")
    assert "THE-FIX" not in log and "LATER-WORK" not in log and upstream["base"] in log
    assert git(repo, "rev-parse", "HEAD") == upstream["base"]
    assert not (tmp_path / "elsewhere").exists(), "a linked worktree's checkout holds later files"
    assert git(repo, "fsck", "--no-dangling") == ""
    snapshot = run_script(SNAPSHOT, "snapshot", str(repo), str(tmp_path / "store"))
    assert snapshot.returncode == 0, snapshot.stdout + snapshot.stderr
    assert (tmp_path / "store/start").read_bytes().startswith(git(repo, "rev-parse", "HEAD^{tree}").encode())


def test_the_snapshot_keeps_objects_borrowed_from_alternates_without_a_scrub(tmp_path):
    upstream = make_upstream(tmp_path)
    repo = tmp_path / "shared"
    subprocess.run(["git", "clone", "-q", "--shared", upstream["upstream"], str(repo)], env=GIT_ENV, check=True)
    store = tmp_path / "store"
    assert run_script(SNAPSHOT, "snapshot", str(repo), str(store)).returncode == 0
    (repo / ".git/objects/info/alternates").unlink()  # what an agent could do; the snapshot must not care
    tree = (store / "start").read_bytes().split(b"\0")[0].decode()
    shown = subprocess.run(["git", "-C", str(repo), "ls-tree", "-r", tree], capture_output=True, text=True,
                           env={**GIT_ENV, "GIT_OBJECT_DIRECTORY": str(store / "objects")})
    assert shown.returncode == 0 and "a.py" in shown.stdout, shown.stderr


@pytest.mark.docker
def test_a_container_of_an_image_built_like_swebench_starts_and_is_scrubbed(tmp_path, docker_client):
    """The regression itself: /testbed made by SWE-bench's builder steps inside a real image whose git is of the
    generation the published images have (Debian bullseye's 2.30; Ubuntu 22.04's 2.34). With that git, the
    scrub that walked refs through git stopped at `fatal: bad object refs/remotes/origin/HEAD`."""
    upstream = make_upstream(tmp_path)
    image = "patchmix/test-swebench-built:latest"
    ensure_base_image(docker_client, OLD_GIT_BASE, log=lambda *args: None, suite="bullseye", include=("git",))
    build_image(docker_client, Path(upstream["upstream"]), upstream["base"], image)
    try:
        with Environment(image, ContainerConfig(check_python=False), client=docker_client,
                         base_commit=upstream["base"]) as env:
            code, output = env.run(["git", "-C", "/testbed", "log", "--all", "--format=%s"])
            refs = env.run(["git", "-C", "/testbed", "for-each-ref", "--format=%(refname)"])[1].decode()
            # the snapshot (taken out of the container at start) comes back for an exact patch on this repository
            env.execute("sed -i 's/two = 3  # the bug/two = 2/' /testbed/a.py")
            patch = env.make_patch().patch
        assert "-two = 3  # the bug\n+two = 2\n" in patch and patch.count("diff --git") == 1, patch
        assert code == 0 and "THE-FIX" not in output.decode() and "LATER-WORK" not in output.decode()
        assert "origin" not in refs and "refs/heads/main" in refs
    finally:
        docker_client.images.remove(image, force=True)


OLD_GIT_BASE = "patchmix/debian:bullseye-git"
DOCKERFILE = """\
FROM patchmix/debian:bullseye-git
COPY upstream /upstream
RUN git config --global user.email t@example.com && git config --global user.name t \\
 && git clone -o origin --single-branch /upstream /testbed && cd /testbed && git reset --hard {base} \\
 && git remote remove origin \\
 && for tag in $(git tag -l); do git merge-base --is-ancestor "$tag" {base} || git tag -d "$tag"; done \\
 && git reflog expire --expire=now --all && git gc --prune=now --aggressive && rm -rf /upstream \\
 && test -e .git/refs/remotes/origin/HEAD
WORKDIR /testbed
STOPSIGNAL SIGKILL
"""


def build_image(client, upstream: Path, base: str, image: str) -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        data = DOCKERFILE.format(base=base).encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        tar.add(upstream, arcname="upstream")
    archive.seek(0)
    client.images.build(fileobj=archive, custom_context=True, tag=image, rm=True, forcerm=True)
