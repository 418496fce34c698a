"""The start of a run on a django-sized repository: what the history scrub, the snapshot and the patch cost.

    python scripts/bench_scrub.py [--files 6800] [--commits 33000] [--tags 300] [--rounds 3] [--json out.json]

Builds (once, cached by its shape) an image whose /testbed is a synthetic repository shaped like django's in
SWE-bench: as many files and commits, tags along the history, the base commit 90% of the way and the rest of
the history (a branch, a remote-tracking ref, the later tags) after it, then a setup commit on top. Times, per
round, a container's start-to-ready with the scrub (as patchmix runs) and without it (no base commit given),
and the patch of a one-line edit at the end. Prints a table and writes the figures as JSON. Needs Docker and
the base images (scripts/setup.sh).

    python scripts/bench_scrub.py --rows ROWS.jsonl --instance ID [--mirror MIRROR.git] [--rounds 3]

On a real image of `scripts/build_real_images.py` instead: start-to-ready with and without the scrub, the patch
of a one-line edit, then each step alone in a plain container (`time_steps`: the scrub and the snapshot, seconds
and bytes: .git before and after, the snapshot's store). With `--mirror`, the same steps on the host on a full
clone of the repository reset to the base commit with its remote removed (the layout of the published images
built before SWE-bench pruned later tags: every later commit still reachable from a tag), the scrub's worst case.
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
import uuid

from harness.agent.config import ContainerConfig
from harness.agent.environment.container_options import KEEP_ALIVE
from harness.agent.environment.docker_environment import Environment
from harness.agent.environment.prepare import SCRUB_HISTORY
from harness.agent.environment.snapshot import SNAPSHOT
from harness.pipeline.dataset import load_rows, select_rows
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


SIZES = r"""
cd "$1"; printf '%s %s %s\n' "$(du -sb .git | cut -f1)" "$(git -c safe.directory='*' rev-list --all | wc -l)" \
  "$(git -c safe.directory='*' tag | wc -l)"
"""
"""Bytes of .git, commits reachable from any ref, tags: one line."""


def read_row(rows: str, instance_id: str) -> dict:
    """The instance's row, read as patchmix reads a dataset (a wrong id is refused in one line)."""
    return select_rows(load_rows(rows), ids=[instance_id])[0]


def time_steps(run, workdir: str, base: str, store: str) -> dict:
    """The scrub and the snapshot, each alone, with `run(argv) -> (code, output)` in the repository's place."""
    def step(script: str, *args: str) -> tuple[float, str]:
        started = time.perf_counter()
        code, output = run(["bash", "-c", script, "step", *args])
        if code != 0:
            raise RuntimeError(f"a step failed with code {code}: {output[-500:]}")
        return time.perf_counter() - started, output

    def sizes() -> dict:
        git_bytes, commits, tags = step(SIZES, workdir)[1].split()[-3:]
        return {"git_bytes": int(git_bytes), "commits": int(commits), "tags": int(tags)}

    before = sizes()
    scrub, _ = step(SCRUB_HISTORY, workdir, base)
    after = sizes()
    snapshot, _ = step(SNAPSHOT, workdir, store)
    store_bytes = int(run(["du", "-sb", store])[1].split()[0])
    return {"before": before, "after_scrub": after, "scrub_seconds": scrub, "snapshot_seconds": snapshot,
            "snapshot_store_bytes": store_bytes}


def time_steps_in_container(client, image: str, base: str) -> dict:
    container = client.containers.run(image, KEEP_ALIVE, detach=True, network_mode="none",
                                      name=f"patchmix-bench-{uuid.uuid4().hex[:12]}", labels={"patchmix": "bench"})
    try:
        def run(argv):
            result = container.exec_run(argv)
            return result.exit_code, result.output.decode(errors="replace")
        return time_steps(run, "/testbed", base, "/tmp/patchmix-snapshot")
    finally:
        container.remove(force=True)


def time_steps_on_clone(mirror: str, base: str) -> dict:
    """A full clone reset to the base commit, its remote removed (the older published layout), on the host."""
    with tempfile.TemporaryDirectory(prefix="patchmix-bench-clone-") as tmp:
        repo = Path(tmp) / "testbed"
        started = time.perf_counter()
        subprocess.run(["git", "clone", "-q", "-o", "origin", mirror, str(repo)], check=True)
        subprocess.run(["git", "-C", str(repo), "reset", "-q", "--hard", base], check=True)
        subprocess.run(["git", "-C", str(repo), "remote", "remove", "origin"], check=True)
        clone_seconds = time.perf_counter() - started

        def run(argv):
            done = subprocess.run(argv, capture_output=True, text=True)
            return done.returncode, done.stdout + done.stderr
        return {"clone_seconds": clone_seconds, **time_steps(run, str(repo), base, str(Path(tmp) / "store"))}


def run_real(args) -> None:
    row = read_row(args.rows, args.instance)
    client = docker.from_env(timeout=600)
    edit = "setup.py"
    starts = {"scrubbed": [], "not scrubbed": []}
    steps = {"image": [], "clone": []}
    for _ in range(args.rounds):
        starts["scrubbed"].append(time_start(client, row["image"], row["base_commit"], edit))
        starts["not scrubbed"].append(time_start(client, row["image"], None, edit))
        steps["image"].append(time_steps_in_container(client, row["image"], row["base_commit"]))
        if args.mirror:
            steps["clone"].append(time_steps_on_clone(args.mirror, row["base_commit"]))
    print(f"\n{row['instance_id']} ({row['image']}); {args.rounds} rounds, medians")
    print(f"{'start':<14}{'ready (s)':>10}{'patch (s)':>10}{'tags left':>10}")
    summary = {"starts": {}, "steps": {}}
    for label, runs in starts.items():
        summary["starts"][label] = {key: statistics.median(run[key] for run in runs)
                                    for key in ("ready", "patch", "tags_left")}
        figures = summary["starts"][label]
        print(f"{label:<14}{figures['ready']:>10.2f}{figures['patch']:>10.2f}{figures['tags_left']:>10.0f}")
    print(f"\n{'repository':<10}{'.git before':>13}{'commits':>9}{'tags':>6}{'scrub (s)':>11}{'.git after':>12}"
          f"{'commits':>9}{'tags':>6}{'snapshot (s)':>14}{'store':>12}")
    for label, runs in steps.items():
        if not runs:
            continue
        median = lambda key: statistics.median(run[key] for run in runs)  # noqa: E731
        last = runs[-1]
        summary["steps"][label] = {"scrub_seconds": median("scrub_seconds"),
                                   "snapshot_seconds": median("snapshot_seconds"),
                                   "snapshot_store_bytes": last["snapshot_store_bytes"],
                                   "before": last["before"], "after_scrub": last["after_scrub"]}
        b, a = last["before"], last["after_scrub"]
        print(f"{label:<10}{b['git_bytes']:>13,}{b['commits']:>9}{b['tags']:>6}{median('scrub_seconds'):>11.2f}"
              f"{a['git_bytes']:>12,}{a['commits']:>9}{a['tags']:>6}{median('snapshot_seconds'):>14.2f}"
              f"{last['snapshot_store_bytes']:>12,}")
    Path(args.json).write_text(json.dumps({"instance_id": row["instance_id"], "image": row["image"],
                                           "mirror": args.mirror, "rounds": args.rounds, "medians": summary,
                                           "raw": {"starts": starts, "steps": steps}}, indent=2))
    print(f"figures in {args.json}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=6800)
    parser.add_argument("--commits", type=int, default=33000)
    parser.add_argument("--tags", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", default="bench_scrub.json")
    parser.add_argument("--rows", help="a rows file of scripts/build_real_images.py (with --instance)")
    parser.add_argument("--instance", help="the instance whose real image is measured")
    parser.add_argument("--mirror", help="with --rows: also measure on a full clone of this mirror")
    args = parser.parse_args()
    if args.rows or args.instance:
        if not (args.rows and args.instance):
            raise SystemExit("--rows and --instance go together: the rows file and the instance to measure")
        return run_real(args)
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
