"""Memory of the pipeline's process over 200 agent runs (40 model labels x 5 bundled tasks, one iteration) against
a scripted model that answers at once (three calls per run: `bash`, a view, `submit`).

    python scripts/bench_memory.py [--labels 40] [--workers 4] [--json bench_memory.json]

Samples the resident set size (RSS) every 0.5 s with the number of finished runs; prints RSS after each fifth of
the runs, and writes every sample as JSON. Flat memory: the last fifth no higher than the second (+ noise). The
scripted server runs in the same process, so it keeps no log of the requests here (that log is for tests).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import threading
import time
from contextlib import redirect_stdout
from pathlib import Path

import yaml

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("BENCH_API_KEY", "sk-bench-not-a-real-key")

from rich.console import Console  # noqa: E402

from harness.scripted.server import ScriptedServer  # noqa: E402
from harness.pipeline.launch import run_pipeline  # noqa: E402
from harness.pipeline.progress import Progress  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def read_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def make_script() -> dict:
    replies = [{"tool_calls": [{"name": "bash", "arguments": {"command": "git status --short; ls"}}]},
               {"tool_calls": [{"name": "str_replace_editor", "arguments": {"command": "view", "path": "/testbed"}}]},
               {"tool_calls": [{"name": "submit", "arguments": {}}]}]
    return {"models": {"bench": [{"match": "", "replies": replies}]}}


def make_config(api_base: str, labels: list[str], workers: int) -> dict:
    model = {"name": "openai/bench", "api_base": api_base, "api_key_env": "BENCH_API_KEY",
             "input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6}
    return {"name": "bench-memory", "dataset": {"path": str(ROOT / "tasks" / "bundled.jsonl")},
            "models": {label: model for label in labels}, "iterations": [{"models": labels}], "workers": workers}


def count_finished(run_dir: Path) -> int:
    return sum(1 for _ in run_dir.glob("iter_1/*/*.traj.json")) - sum(1 for _ in run_dir.glob("iter_1/*/*.steps.jsonl"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=40)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--json", default="bench_memory.json")
    args = parser.parse_args()
    labels = [f"m{i}" for i in range(1, args.labels + 1)]
    total = len(labels) * 5
    samples, done = [], threading.Event()
    with tempfile.TemporaryDirectory() as tmp, ScriptedServer(make_script(), record=False) as server:
        path = Path(tmp) / "p.yaml"
        path.write_text(yaml.safe_dump(make_config(server.api_base, labels, args.workers)))
        run_dir = Path(tmp) / "runs" / "bench-memory"

        def sample() -> None:
            while not done.is_set():
                samples.append({"t": round(time.monotonic() - start, 1), "runs": max(0, count_finished(run_dir)),
                                "rss_mib": round(read_rss_mib(), 1)})
                done.wait(0.5)

        start = time.monotonic()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        with redirect_stdout(io.StringIO()):
            run_pipeline(path, runs_dir=Path(tmp) / "runs", progress=Progress(Console(file=io.StringIO()), live=False))
        done.set()
        sampler.join()
        samples.append({"t": round(time.monotonic() - start, 1), "runs": count_finished(run_dir),
                        "rss_mib": round(read_rss_mib(), 1)})
    print(f"\n{total} runs, {args.workers} workers, {os.cpu_count()} cores; RSS of the pipeline's process")
    print("runs finished  RSS (MiB)")
    marks = []
    for fifth in range(6):
        target = total * fifth // 5
        sample = next((s for s in samples if s["runs"] >= target), samples[-1])
        marks.append(sample)
        print(f"{sample['runs']:>13}  {sample['rss_mib']:>9.1f}")
    Path(args.json).write_text(json.dumps({"runs": total, "workers": args.workers, "marks": marks,
                                           "samples": samples}, indent=2))
    print(f"figures in {args.json}")


if __name__ == "__main__":
    main()
