"""CPU per container lifecycle, the floor under batch throughput on a small machine: machine-wide core-seconds
(from /proc/stat, so dockerd, containerd, runc, the shims and the kernel count) per cycle, for

- `docker`: create, start and remove (`docker run`'s own cost: what no harness can avoid);
- `docker+exec`: the same with 2 one-off execs (the agent's shell and the patch);
- `patchmix start`: an Environment started and closed (shell, history scrub, snapshot, python probe);
- `patchmix start, proven image`: the same once the image's python was probed in this process;
- `patchmix run`: started, one `bash` call, the patch made, closed (a run's container part).

The last line turns the cheapest full cycle into the most runs per minute the machine's cores allow, and
that into a share of the ideal for `bench_throughput.py` (8 workers, 2 calls of 1 s per run).

    python scripts/bench_container_cpu.py [--cycles 40] [--threads 4] [--json bench_container_cpu.json]

Needs Docker and the bundled images (scripts/setup.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker

from harness.agent.environment import docker_environment as container
from harness.agent.config import ContainerConfig
from harness.agent.environment.container_options import KEEP_ALIVE
from harness.agent.environment.docker_environment import Environment

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = "patchmix__daterange-1"


def read_busy_seconds() -> float:
    """Core-seconds the whole machine has spent not idle since boot."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def cycle_docker(client, row: dict, execs: int) -> None:
    made = client.containers.create(row["image"], entrypoint=KEEP_ALIVE, command=[], detach=True,
                                    init=True, network_mode="none", labels={"patchmix": "1"})
    made.start()
    for _ in range(execs):
        client.api.exec_start(client.api.exec_create(made.id, ["true"])["Id"])
    made.remove(force=True, v=True)


def cycle_patchmix(client, row: dict, work: bool, proven: bool) -> None:
    if not proven:
        container.PREPARED_IMAGES.pop(row["image"], None)
    env = Environment(row["image"], ContainerConfig(), {"bench": "1"}, client, base_commit=row["base_commit"])
    with env.start():
        if work:
            env.execute("true")
            env.make_patch()


def measure(name: str, step, cycles: int, threads: int) -> dict:
    step()  # warm: the image's layers, the client's connections
    busy, started = read_busy_seconds(), time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda _: step(), range(cycles)))
    wall, cpu = time.monotonic() - started, read_busy_seconds() - busy
    row = {"name": name, "cycles": cycles, "threads": threads, "core_seconds": round(cpu / cycles, 3),
           "wall_ms": round(wall / cycles * 1000, 1)}
    print(f"{name:<30} {row['core_seconds']:>6.3f} core-s  {row['wall_ms']:>6.0f} ms/cycle", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=40)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--json", default="bench_container_cpu.json")
    args = parser.parse_args()
    rows = {json.loads(line)["instance_id"]: json.loads(line)
            for line in (ROOT / "tasks" / "bundled.jsonl").read_text().splitlines()}
    row, client = rows[INSTANCE], docker.from_env(timeout=120)
    print(f"{os.cpu_count()} cores, image {row['image']}, {args.cycles} cycles on {args.threads} threads")
    steps = [("docker", lambda: cycle_docker(client, row, 0)),
             ("docker+exec", lambda: cycle_docker(client, row, 2)),
             ("patchmix start", lambda: cycle_patchmix(client, row, False, False)),
             ("patchmix start, proven image", lambda: cycle_patchmix(client, row, False, True)),
             ("patchmix run", lambda: cycle_patchmix(client, row, True, True))]
    results = [measure(name, step, args.cycles, args.threads) for name, step in steps]
    cores, per_run = os.cpu_count() or 1, results[-1]["core_seconds"]
    most = cores / per_run * 60
    ideal = 8 / 2 * 60  # 8 workers, runs of 2 calls of 1 s
    print(f"at {per_run:.3f} core-s per run's container part, {cores} cores allow at most {most:.0f} runs/min "
          f"before any model call is handled: {min(1.0, most / ideal):.0%} of the 8-worker, 2-call ideal "
          f"({ideal:.0f} runs/min)")
    Path(args.json).write_text(json.dumps({"cores": cores, "rows": results, "most_runs_per_min": round(most, 1),
                                           "share_of_ideal_8x2": round(most / ideal, 3)}, indent=2))
    print(f"figures in {args.json}")


if __name__ == "__main__":
    main()
