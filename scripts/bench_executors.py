"""The same pipeline on the local executor and on a local Ray cluster of 2 nodes (each a separate node process
with 2 container slots), against a scripted model that answers each call after 1 s: wall time, runs per minute,
and whether both gave the same predictions.

    python scripts/bench_executors.py [--delay 1.0] [--json bench_executors.json]

The batch is that of bench_throughput.py (40 runs); the local executor gets 4 workers, the cluster 2 x 2 slots.
The cluster stays on 127.0.0.1. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_throughput import LABELS, make_config, make_script  # noqa: E402

from rich.console import Console  # noqa: E402

from harness.scripted.server import ScriptedServer  # noqa: E402
from harness.fileio import read_jsonl  # noqa: E402
from harness.pipeline.launch import run_pipeline  # noqa: E402
from harness.pipeline.progress import Progress  # noqa: E402

SLOTS = {"patchmix_container": 2}


def start_cluster():
    import ray
    import ray._private.services as services
    from ray.cluster_utils import Cluster

    services.get_node_ip_address = lambda address=None: "127.0.0.1"  # keep the cluster on loopback
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": SLOTS,
                                                             "node_ip_address": "127.0.0.1"})
    cluster.add_node(num_cpus=1, resources=SLOTS, node_ip_address="127.0.0.1")
    ray.init(address=cluster.address, log_to_driver=False)
    return cluster


def run_batch(folder: Path, kind: str, delay: float) -> tuple[float, dict]:
    with ScriptedServer(make_script(delay)) as server:
        config = make_config(server.api_base, 4, {"kind": kind})
        config["name"] = f"bench-{kind}"
        path = folder / f"{kind}.yaml"
        path.write_text(yaml.safe_dump(config))
        start = time.monotonic()
        with redirect_stdout(io.StringIO()):
            run_pipeline(path, runs_dir=folder / "runs", progress=Progress(Console(file=io.StringIO()), live=False))
        seconds = time.monotonic() - start
    run = folder / "runs" / config["name"]
    preds = {(p.parent.name, r["instance_id"]): r["model_patch"] for p in run.glob("iter_1/*/preds.jsonl")
             for r in read_jsonl(p)}
    return seconds, preds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--json", default="bench_executors.json")
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    runs = len(LABELS) * 5
    with tempfile.TemporaryDirectory() as tmp:
        local_seconds, local_preds = run_batch(Path(tmp), "local", args.delay)
        started = time.monotonic()
        cluster = start_cluster()
        cluster_start = time.monotonic() - started
        try:
            ray_seconds, ray_preds = run_batch(Path(tmp), "ray", args.delay)
        finally:
            import ray

            ray.shutdown()
            cluster.shutdown()
    rows = [{"executor": "local, 4 workers", "wall_seconds": round(local_seconds, 1),
             "runs_per_min": round(runs / local_seconds * 60, 2)},
            {"executor": "ray, 2 nodes x 2 slots", "wall_seconds": round(ray_seconds, 1),
             "runs_per_min": round(runs / ray_seconds * 60, 2)}]
    same = local_preds == ray_preds and len(local_preds) == runs
    print(f"\n{runs} runs, 2 model calls of {args.delay:g} s each, {os.cpu_count()} cores; "
          f"cluster start {cluster_start:.1f} s (not counted)")
    print(f"{'executor':<24}{'wall (s)':>10}{'runs/min':>10}")
    for row in rows:
        print(f"{row['executor']:<24}{row['wall_seconds']:>10.1f}{row['runs_per_min']:>10.1f}")
    print(f"same predictions: {same}")
    Path(args.json).write_text(json.dumps({"runs": runs, "cluster_start_seconds": round(cluster_start, 1),
                                           "rows": rows, "same_predictions": same}, indent=2))
    print(f"figures in {args.json}")


if __name__ == "__main__":
    main()
