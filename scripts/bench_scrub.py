"""The start of a run on a django-sized repository: what the history scrub, the snapshot and the patch cost.

    python scripts/bench_scrub.py [--files 6800] [--commits 33000] [--tags 300] [--rounds 3] [--json out.json]

Builds (once, cached by its shape) an image whose /testbed is a synthetic repository shaped like django's in
SWE-bench: as many files and commits, tags along the history, the base commit 90% of the way and the rest of
the history (a branch, a remote-tracking ref, the later tags) after it, then a setup commit on top. Times, per
round, a container's start-to-ready with the scrub (as patchmix runs) and without it (no base commit given),
and the patch of a one-line edit at the end. Prints a table and writes the figures as JSON. Needs Docker and
the base images (scripts/setup.sh).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import docker

from harness.agent.config import ContainerConfig
from harness.agent.environment.docker_environment import Environment
from harness.tasks.baseimages import PYTHON_IMAGE, build_from_context, image_exists

WORDS = ("self value return import from class def none true false if else for while with as try except raise "
         "request response model field query queryset manager admin form widget template context view url").split()
DOCKERFILE = f"FROM {PYTHON_IMAGE}\nCOPY testbed /testbed\nWORKDIR /testbed\nSTOPSIGNAL SIGKILL\n"


def make_text(rng: random.Random, lines: int) -> str:
    return "".join(" ".join(rng.choice(WORDS) for _ in range(8)) + "\n" for _ in range(lines))


def write_history(repo: Path, files: int, commits: int, tags: int) -> str:
    """A repository made with `git fast-import`; returns the base commit."""
    rng = random.Random(7)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    base_mark = int(commits * 0.9)
    tag_every = max(1, commits // tags)
    stream = []
    contents = {f"pkg{i % 40}/module_{i}.py": make_text(rng, 80) for i in range(files)}
    paths = list(contents)
    for mark in range(1, commits + 1):
        if mark == 1:
            changed = paths
        else:
            changed = [rng.choice(paths) for _ in range(2)]
            for path in changed:
                lines = contents[path].splitlines(keepends=True)
                lines[rng.randrange(len(lines))] = make_text(rng, 1)
                contents[path] = "".join(lines)
        stream.append(f"commit refs/heads/{'main' if mark <= base_mark else 'upstream'}\nmark :{mark}\n"
                      f"committer Dev <dev@example.com> {1_500_000_000 + mark * 600} +0000\n")
        message = f"Change {mark}\n"
        stream.append(f"data {len(message)}\n{message}")
        if mark > 1:
            stream.append(f"from :{mark - 1}\n")
        for path in changed:
            data = contents[path].encode()
            stream.append(f"M 100644 inline {path}\ndata {len(data)}\n{contents[path]}\n")
        if mark % tag_every == 0:
            stream.append(f"reset refs/tags/v{mark}\nfrom :{mark}\n\n")
    stream.append(f"reset refs/remotes/origin/main\nfrom :{commits}\n\n")
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input="".join(stream).encode(), check=True)
    base = subprocess.run(["git", "-C", str(repo), "rev-parse", "main"], capture_output=True, text=True,
                          check=True).stdout.strip()
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "-f", "main"], check=True)
    setup = repo / paths[0]
    setup.write_text(setup.read_text() + "# pinned by the environment setup\n")
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=s", "-c", "user.email=s@x", "commit", "-q", "-am",
                    "SWE-bench"], check=True)
    subprocess.run(["git", "-C", str(repo), "gc", "-q"], check=True)
    return base


def ensure_image(client, files: int, commits: int, tags: int) -> tuple[str, str, str]:
    """(image, base commit, a tracked file) of the benchmark's repository, building it when missing."""
    name = f"patchmix-bench/scrub:f{files}-c{commits}-t{tags}"
    if image_exists(client, name):
        labels = client.images.get(name).labels
        return name, labels["patchmix.base_commit"], labels["patchmix.file"]
    with tempfile.TemporaryDirectory(prefix="patchmix-bench-scrub-") as tmp:
        started = time.monotonic()
        base = write_history(Path(tmp) / "testbed", files, commits, tags)
        (Path(tmp) / "Dockerfile").write_text(DOCKERFILE)
        size = subprocess.run(["du", "-sh", str(Path(tmp) / "testbed" / ".git")], capture_output=True,
                              text=True).stdout.split()[0]
        print(f"made the repository in {time.monotonic() - started:.0f} s (.git {size}); building {name}")
        labels = {"patchmix.base_commit": base, "patchmix.file": "pkg1/module_1.py"}
        build_from_context(client, Path(tmp), name, nocache=False, labels=labels)
    return name, base, "pkg1/module_1.py"


def time_start(client, image: str, base: str | None, edit: str) -> dict:
    started = time.perf_counter()
    with Environment(image, ContainerConfig(), client=client, base_commit=base) as env:
        ready = time.perf_counter() - started
        env.execute(f"echo '# an edit' >> {edit}")
        started = time.perf_counter()
        result = env.make_patch()
        patch = time.perf_counter() - started
        added = [line for line in result.patch.splitlines() if line.startswith("+") and not line.startswith("+++")]
        assert added == ["+# an edit"], "the patch is the one-line edit"
        _, tags = env.run(["git", "-C", "/testbed", "tag"])
    return {"ready": ready, "patch": patch, "tags_left": len(tags.split())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=6800)
    parser.add_argument("--commits", type=int, default=33000)
    parser.add_argument("--tags", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", default="bench_scrub.json")
    args = parser.parse_args()
    client = docker.from_env(timeout=600)
    image, base, edit = ensure_image(client, args.files, args.commits, args.tags)
    rows = {"scrubbed": [], "not scrubbed": []}
    for _ in range(args.rounds):
        rows["scrubbed"].append(time_start(client, image, base, edit))
        rows["not scrubbed"].append(time_start(client, image, None, edit))
    print(f"\n{args.files} files, {args.commits} commits, {args.tags} tags; {args.rounds} rounds, medians")
    print(f"{'start':<14}{'ready (s)':>10}{'patch (s)':>10}{'tags left':>10}")
    summary = {}
    for label, runs in rows.items():
        summary[label] = {key: statistics.median(run[key] for run in runs) for key in ("ready", "patch", "tags_left")}
        print(f"{label:<14}{summary[label]['ready']:>10.2f}{summary[label]['patch']:>10.2f}"
              f"{summary[label]['tags_left']:>10.0f}")
    Path(args.json).write_text(json.dumps({"image": image, "files": args.files, "commits": args.commits,
                                           "tags": args.tags, "medians": summary, "raw": rows}, indent=2))
    print(f"figures in {args.json}")


if __name__ == "__main__":
    main()
