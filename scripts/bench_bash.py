"""Times the `bash` tool: container start-to-ready, and 50 trivial calls (`true`) in the persistent shell.

Usage: python scripts/bench_bash.py [--image patchmix/python:bookworm] [--calls 50]
"""

from __future__ import annotations

import argparse
import statistics
import time

from harness.agent.config import ContainerConfig
from harness.agent.environment.docker_environment import Environment


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="patchmix/python:bookworm")
    parser.add_argument("--workdir", default="/tmp", help="working directory in the container")
    parser.add_argument("--calls", type=int, default=50)
    return parser.parse_args()


def time_calls(env: Environment, calls: int) -> list[float]:
    durations = []
    for _ in range(calls):
        started = time.perf_counter()
        env.execute("true")
        durations.append(time.perf_counter() - started)
    return durations


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    with Environment(args.image, ContainerConfig(workdir=args.workdir)) as env:
        ready = time.perf_counter() - started
        durations = time_calls(env, args.calls)
    print(f"container start-to-ready: {ready * 1000:.0f} ms")
    print(f"bash `true` x{args.calls}: median {statistics.median(durations) * 1000:.1f} ms, "
          f"p90 {percentile(durations, 0.9) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
