"""Evaluation throughput: the official harness scoring a run's predictions (the demo models on the bundled tasks,
one iteration: 4 predictions files x 5 instances), with 1 and 2 workers, in patchmix's isolated containers and in
the harness's own, each time from a fresh copy (nothing cached).

    python scripts/bench_evaluate.py [--workers 1 2] [--containers isolated official] [--json bench_evaluate.json]

Prints instances scored per minute for each worker count and kind of containers, and writes JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import yaml

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("SCRIPTED_API_KEY", "sk-scripted-not-a-real-key")

from rich.console import Console  # noqa: E402

from harness.demo.models import make_demo_script  # noqa: E402
from harness.scripted.server import ScriptedServer  # noqa: E402
from harness.fileio import read_jsonl  # noqa: E402
from harness.pipeline.launch import run_pipeline  # noqa: E402
from harness.pipeline.progress import Progress  # noqa: E402
from harness.scoring.official import ISOLATED, OFFICIAL  # noqa: E402
from harness.scoring.evaluation import evaluate_run  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LABELS = ["fixer", "breaker", "tripper", "merger"]


def make_run(folder: Path) -> Path:
    rows = read_jsonl(ROOT / "tasks" / "bundled.jsonl")
    with ScriptedServer(make_demo_script(rows)) as server:
        model = {"api_base": server.api_base, "api_key_env": "SCRIPTED_API_KEY", "input_cost_per_token": 1e-6,
                 "output_cost_per_token": 2e-6}
        config = {"name": "bench-eval", "dataset": {"path": str(ROOT / "tasks" / "bundled.jsonl")},
                  "models": {label: {"name": f"openai/{label}", **model} for label in LABELS},
                  "iterations": [{"models": LABELS}], "workers": 4, "defaults": {"limits": {"step_limit": 8}}}
        path = folder / "p.yaml"
        path.write_text(yaml.safe_dump(config))
        with redirect_stdout(io.StringIO()):
            run_pipeline(path, runs_dir=folder / "runs", progress=Progress(Console(file=io.StringIO()), live=False))
    return folder / "runs" / "bench-eval"


def measure(run: Path, copy: Path, workers: int, containers: str, count: int) -> dict:
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("eval"))
    start = time.monotonic()
    evaluate_run(copy, workers=workers, log=lambda *a: None, containers=containers)
    seconds = time.monotonic() - start
    print(f"{workers} workers, {containers} containers: {seconds:.1f} s", flush=True)
    return {"workers": workers, "containers": containers, "instances": count, "wall_seconds": round(seconds, 1),
            "instances_per_min": round(count / seconds * 60, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--containers", nargs="+", default=[ISOLATED, OFFICIAL], choices=[ISOLATED, OFFICIAL])
    parser.add_argument("--json", default="bench_evaluate.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        run = make_run(Path(tmp))
        count = sum(len(read_jsonl(p)) for p in run.glob("iter_*/*/preds.jsonl"))
        for workers in args.workers:
            for containers in args.containers:
                rows.append(measure(run, Path(tmp) / f"{containers}-w{workers}", workers, containers, count))
    print(f"\n{rows[0]['instances']} predictions scored with the official harness's steps, {os.cpu_count()} cores")
    print("workers  containers  wall (s)  instances/min")
    for row in rows:
        print(f"{row['workers']:>7}  {row['containers']:>10}  {row['wall_seconds']:>8.1f}  "
              f"{row['instances_per_min']:>13.1f}")
    Path(args.json).write_text(json.dumps({"cores": os.cpu_count(), "rows": rows}, indent=2))
    print(f"figures in {args.json}")


if __name__ == "__main__":
    main()
