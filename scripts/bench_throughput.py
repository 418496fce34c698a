"""Pipeline throughput: a 40-run batch (8 model labels x 5 bundled tasks, one iteration) for 1, 2, 4, 8 and 16
workers against a scripted model that answers each call after 1 s, with the ideal beside each figure (every
worker busy with model calls only, no harness or container time). `--models N` makes the batch N x 5 runs: a
longer batch shares the pipeline's start (the first container of each image, the client's first call) among
more runs, as an overnight run of thousands does.

A run is `--calls` model calls: `bash` calls (`git status --short`), then `submit`. The default, 2, is the
hardest case for the harness (a container's start and removal shared by one step); a real agent run takes tens
of steps, so `--calls 10` is still a short one.

    python scripts/bench_throughput.py [--workers 1 2 4 8 16] [--delay 1.0] [--calls 2] [--models 8]
                                       [--json bench_throughput.json] [--png bench_throughput.png]
                                       [--executor local|ray] [--address ADDR]

Prints a table, writes JSON and a PNG. Needs Docker and the bundled images (scripts/setup.sh).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import yaml

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("BENCH_API_KEY", "sk-bench-not-a-real-key")

from rich.console import Console  # noqa: E402

from harness.agent.trajectory import read_info  # noqa: E402
from harness.scripted.server import ScriptedServer  # noqa: E402
from harness.pipeline.launch import run_pipeline  # noqa: E402
from harness.pipeline.progress import Progress  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LABELS = [f"m{i}" for i in range(1, 9)]
TASKS = 5


def make_script(delay: float, calls: int = 2) -> dict:
    bash = {"tool_calls": [{"name": "bash", "arguments": {"command": "git status --short"}}], "delay": delay}
    replies = [bash] * (calls - 1) + [{"tool_calls": [{"name": "submit", "arguments": {}}], "delay": delay}]
    return {"models": {"bench": [{"match": "", "replies": replies}]}}


def make_config(api_base: str, workers: int, executor: dict, labels: list[str] = LABELS) -> dict:
    model = {"name": "openai/bench", "api_base": api_base, "api_key_env": "BENCH_API_KEY",
             "input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6}
    return {"name": f"bench-w{workers}", "dataset": {"path": str(ROOT / "tasks" / "bundled.jsonl")},
            "models": {label: model for label in labels}, "iterations": [{"models": labels}], "workers": workers,
            "executor": executor}


def count_statuses(run_dir: Path) -> dict:
    """Exit statuses of the batch's runs: a fast batch of failed runs is no throughput."""
    counts: dict = {}
    for path in run_dir.glob("iter_1/*/*.traj.json"):
        status = read_info(path).get("exit_status")
        counts[status] = counts.get(status, 0) + 1
    return counts


def time_batch(workers: int, delay: float, folder: Path, executor: dict, calls: int = 2,
               labels: list[str] = LABELS) -> float:
    with ScriptedServer(make_script(delay, calls)) as server:
        path = folder / f"w{workers}.yaml"
        path.write_text(yaml.safe_dump(make_config(server.api_base, workers, executor, labels)))
        start = time.monotonic()
        with redirect_stdout(io.StringIO()):
            run_pipeline(path, runs_dir=folder / "runs", progress=Progress(Console(file=io.StringIO()), live=False))
        return time.monotonic() - start


def get_ideal(runs: int, workers: int, delay: float, calls: int) -> float:
    """Runs per minute if every worker did nothing but wait for the model."""
    return runs / (math.ceil(runs / workers) * calls * delay) * 60


def write_png(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workers = [row["workers"] for row in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(workers, [row["runs_per_min"] for row in rows], "o-", label="patchmix")
    ax.plot(workers, [row["ideal_runs_per_min"] for row in rows], "--", color="grey", label="ideal (model time only)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(workers, [str(w) for w in workers])
    ax.set_xlabel("workers")
    ax.set_ylabel("runs per minute")
    first = rows[0]
    ax.set_title(f"{first['runs']} runs, {first['calls']} calls of {first['delay']:g} s each, {os.cpu_count()} cores")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--calls", type=int, default=2, help="model calls per run, the last one `submit` (>= 2)")
    parser.add_argument("--models", type=int, default=len(LABELS), help="model labels: the batch is 5 runs each")
    parser.add_argument("--executor", choices=["local", "ray"], default="local")
    parser.add_argument("--address", help="with --executor ray: the cluster (default: auto)")
    parser.add_argument("--json", default="bench_throughput.json")
    parser.add_argument("--png", default="bench_throughput.png")
    args = parser.parse_args()
    if args.calls < 2:
        parser.error("--calls must be at least 2 (one `bash` call, then `submit`)")
    labels = [f"m{i}" for i in range(1, args.models + 1)]
    runs = len(labels) * TASKS
    executor = {"kind": args.executor, "address": args.address}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in args.workers:
            seconds = time_batch(workers, args.delay, Path(tmp), executor, args.calls, labels)
            rate, ideal = runs / seconds * 60, get_ideal(runs, workers, args.delay, args.calls)
            statuses = count_statuses(Path(tmp) / "runs" / f"bench-w{workers}")
            rows.append({"workers": workers, "runs": runs, "calls": args.calls, "delay": args.delay,
                         "wall_seconds": round(seconds, 2), "exit_statuses": statuses,
                         "runs_per_min": round(rate, 2), "ideal_runs_per_min": round(ideal, 2),
                         "fraction_of_ideal": round(rate / ideal, 3)})
            print(f"{workers} workers: {seconds:.1f} s, exit statuses {statuses}", flush=True)
    print(f"\n{runs} runs, {args.calls} model calls each, {args.delay:g} s per call, {os.cpu_count()} cores, "
          f"executor {args.executor}")
    print("workers  wall (s)  runs/min  ideal  of ideal")
    for row in rows:
        print(f"{row['workers']:>7}  {row['wall_seconds']:>8.1f}  {row['runs_per_min']:>8.1f}  "
              f"{row['ideal_runs_per_min']:>5.0f}  {row['fraction_of_ideal']:>8.0%}")
    Path(args.json).write_text(json.dumps({"cores": os.cpu_count(), "executor": args.executor, "rows": rows}, indent=2))
    write_png(rows, Path(args.png))
    print(f"figures in {args.json}, chart in {args.png}")


if __name__ == "__main__":
    main()
