"""Pipeline throughput: a 40-run batch (8 model labels x 5 bundled tasks, one iteration) with 1, 4 and 8 workers
against a scripted model that answers each call after 1 s (two calls per run: `bash`, then `submit`).

    python scripts/bench_throughput.py [--workers 1 4 8] [--delay 1.0]

Prints runs per minute for each worker count. Needs Docker and the bundled images (scripts/setup.sh).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import yaml

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("BENCH_API_KEY", "sk-bench-not-a-real-key")

from harness.pipeline.launch import run_pipeline  # noqa: E402
from harness.pipeline.progress import Progress  # noqa: E402
from harness.demo.scripted import ScriptedServer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LABELS = [f"m{i}" for i in range(1, 9)]


def make_script(delay: float) -> dict:
    replies = [{"tool_calls": [{"name": "bash", "arguments": {"command": "git status --short"}}], "delay": delay},
               {"tool_calls": [{"name": "submit", "arguments": {}}], "delay": delay}]
    return {"models": {"bench": [{"match": "", "replies": replies}]}}


def make_config(api_base: str, workers: int) -> dict:
    model = {"name": "openai/bench", "api_base": api_base, "api_key_env": "BENCH_API_KEY",
             "input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6}
    return {"name": f"bench-w{workers}", "dataset": {"path": str(ROOT / "tasks" / "bundled.jsonl")},
            "models": {label: model for label in LABELS}, "iterations": [{"models": LABELS}], "workers": workers}


def time_batch(workers: int, delay: float, folder: Path) -> float:
    with ScriptedServer(make_script(delay)) as server:
        path = folder / f"w{workers}.yaml"
        path.write_text(yaml.safe_dump(make_config(server.api_base, workers)))
        start = time.monotonic()
        run_pipeline(path, runs_dir=folder / "runs", progress=Progress(live=False, console=None))
        return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--delay", type=float, default=1.0)
    args = parser.parse_args()
    runs = len(LABELS) * 5
    with tempfile.TemporaryDirectory() as tmp:
        results = [(w, time_batch(w, args.delay, Path(tmp))) for w in args.workers]
    print(f"\n{runs} runs, 2 model calls each, {args.delay:g} s per call, {os.cpu_count()} cores")
    print("workers  wall (s)  runs/min")
    for workers, seconds in results:
        print(f"{workers:>7}  {seconds:>8.1f}  {runs / seconds * 60:>8.1f}")


if __name__ == "__main__":
    main()
