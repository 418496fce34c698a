"""Pulling as needed against pulling everything first: N instances, each with an image of its own in a local
registry (Debian's docker-registry on 127.0.0.1, behind the tests' proxy, which can add a delay per pull like a
real registry's transfer time), worked by a scripted model that answers after 1 s (one call, then submit).

    python scripts/bench_images.py [--instances 200] [--pull-delay 0 3] [--workers 4] [--json bench_images.json]

For each pull delay: `first` pulls every image, serially, before the pipeline starts (what `patchmix run` did
before images were pulled as needed); `as-needed` runs the pipeline with images.prefetch 3, 2 pull threads and a
disk budget of 5 images. Prints time to the first run, total time and the most images held at once (with
Docker's size of them), and writes JSON. Needs the bundled images (`patchmix build-images`).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import docker
from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.pipeline.pipelinekit import FaultProxy, Registry, push_variants, remove_local  # noqa: E402

from harness.tasks.images import build_images  # noqa: E402
from harness.scripted.server import ScriptedServer  # noqa: E402
from harness.pipeline.imagecommands import pull_missing  # noqa: E402
from harness.pipeline.launch import run_pipeline  # noqa: E402
from harness.pipeline.progress import Progress  # noqa: E402

PRICE = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}


class TimedProgress(Progress):
    """Quiet progress that notes when the first run started."""

    def __init__(self):
        super().__init__(console=Console(file=io.StringIO()), live=False)
        self.first_start = None

    def start_run(self, iteration, label):
        self.first_start = self.first_start or time.monotonic()
        super().start_run(iteration, label)


class DiskSampler(threading.Thread):
    """The most images under `prefix` held at once, and Docker's size of them."""

    def __init__(self, client, prefix: str):
        super().__init__(daemon=True)
        self.client, self.prefix, self.most, self.most_bytes = client, prefix, 0, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            held = [image for image in self.client.api.images()
                    if any(tag.startswith(self.prefix) for tag in image.get("RepoTags") or [])]
            self.most = max(self.most, len(held))
            self.most_bytes = max(self.most_bytes, sum(image.get("Size", 0) for image in held))


def make_script(rows: list[dict], delay: float) -> dict:
    conversations = [{"match": row["problem_statement"].strip().splitlines()[0],
                      "replies": [{"tool_calls": [{"name": "bash", "arguments": {"command": "git status --short"}}],
                                   "delay": delay},
                                  {"tool_calls": [{"name": "submit", "arguments": {}}]}]} for row in rows]
    return {"models": {"solo": conversations}}


def write_config(folder: Path, name: str, rows: list[dict], api_base: str, images: dict, workers: int) -> Path:
    dataset = folder / f"{name}.jsonl"
    dataset.write_text("".join(json.dumps(row) + "\n" for row in rows))
    model = {"name": "openai/solo", "api_base": api_base, "api_key_env": "SCRIPTED_API_KEY", **PRICE}
    config = {"name": name, "dataset": {"path": str(dataset)}, "models": {"solo": model}, "workers": workers,
              "iterations": [{"models": ["solo"]}], "images": {"pulls_per_minute": 60000, **images}}
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps(config))
    return path


def measure(config: Path, runs: Path, client, prefix: str, pull_first: bool) -> dict:
    progress, sampler = TimedProgress(), DiskSampler(client, prefix)
    sampler.start()
    started = time.monotonic()
    if pull_first:
        pull_missing(config, runs, say=lambda line: None)
    code = run_pipeline(config, runs_dir=runs, progress=progress)
    total = time.monotonic() - started
    sampler.done.set()
    sampler.join()
    return {"exit": code, "first_run_s": round(progress.first_start - started, 1), "total_s": round(total, 1),
            "most_images": sampler.most, "most_gb": round(sampler.most_bytes / 1e9, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--pull-delay", type=float, nargs="+", default=[0.0, 3.0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--model-delay", type=float, default=1.0)
    parser.add_argument("--json", default="bench_images.json")
    args = parser.parse_args()
    import os

    os.environ.setdefault("SCRIPTED_API_KEY", "sk-bench")
    client = docker.from_env(timeout=600)
    rows = [row for row in build_images(ROOT / "tasks", log=lambda *a: None) if "published" not in row["instance_id"]]
    results = []
    with tempfile.TemporaryDirectory() as tmp, Registry(Path(tmp) / "registry") as registry:
        push_variants(client, registry.address, [row["image"] for row in rows], args.instances)
        copies = [{**rows[i % len(rows)], "instance_id": f"{rows[i % len(rows)]['instance_id']}-copy{i}", "variant": i}
                  for i in range(args.instances)]
        one_image = max(client.images.get(row["image"]).attrs["Size"] for row in rows) + 1_000_000
        for delay in args.pull_delay:
            results += run_modes(Path(tmp), registry, client, copies, delay, one_image, args)
        remove_local(client, registry.address)
    print_table(results)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


def run_modes(folder: Path, registry, client, copies, delay, one_image, args) -> list[dict]:
    results = []
    for mode in ("first", "as-needed"):
        with FaultProxy(registry.address) as proxy, ScriptedServer(make_script(copies, args.model_delay)) as server:
            proxy.faults.pull_delay = delay
            images = {"name": proxy.address + "/pm/task-{variant}:v1"}
            if mode == "as-needed":
                images.update(prefetch=3, pull_workers=2, max_disk_gb=5 * one_image / 1e9)
            name = f"bench-{mode}-{delay:g}"
            config = write_config(folder, name, copies, server.api_base, images, args.workers)
            figures = measure(config, folder / "runs", client, proxy.address, mode == "first")
            results.append({"mode": mode, "pull_delay_s": delay, "instances": len(copies), **figures})
            print(results[-1], flush=True)
            remove_local(client, proxy.address)
    return results


def print_table(results: list[dict]) -> None:
    print(f"{'pull delay':>10} {'mode':>10} {'first run':>10} {'total':>8} {'most images':>12} {'most GB':>8}")
    for r in results:
        print(f"{r['pull_delay_s']:>9g}s {r['mode']:>10} {r['first_run_s']:>9}s {r['total_s']:>7}s "
              f"{r['most_images']:>12} {r['most_gb']:>8}")


if __name__ == "__main__":
    main()
