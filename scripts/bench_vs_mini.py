"""patchmix's container start and `bash` call against mini-swe-agent's, on the same image, in the same run.

    python scripts/bench_vs_mini.py [--image patchmix/python:bookworm] [--rounds 5] [--calls 50] [--json out.json]

mini-swe-agent is installed into this benchmark's own virtualenv (/tmp/patchmix-bench-mini; never a patchmix
dependency) and driven there by a small helper process; the two harnesses alternate, round by round, so that
the machine's load weighs on both alike. Start-to-ready is from nothing to a container that answers a command;
a call is a trivial `true`. Prints a table and writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness.agent.config import ContainerConfig
from harness.agent.environment.docker_environment import Environment

VENV = Path("/tmp/patchmix-bench-mini")
MINI_PACKAGES = ["mini-swe-agent", "litellm==1.106.2"]  # litellm pinned: never the compromised 1.107.0

HELPER = r"""
import json, sys, time
from minisweagent.environments.docker import DockerEnvironment
env = None
for line in sys.stdin:
    cmd = json.loads(line)
    if cmd["op"] == "start":
        t = time.perf_counter(); env = DockerEnvironment(image=cmd["image"], cwd="/tmp")
        env.execute({"command": "true"}); out = {"seconds": time.perf_counter() - t}
    elif cmd["op"] == "calls":
        times = []
        for _ in range(cmd["n"]):
            t = time.perf_counter(); env.execute({"command": "true"}); times.append(time.perf_counter() - t)
        out = {"times": times}
    elif cmd["op"] == "stop":
        subprocess = __import__("subprocess"); subprocess.run(["docker", "rm", "-f", env.container_id], capture_output=True)
        env.container_id = None; out = {}
    print(json.dumps(out), flush=True)
"""


def ensure_mini() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    check = subprocess.run([str(python), "-c", "import minisweagent"], capture_output=True)
    if check.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *MINI_PACKAGES], check=True)
    return python


class Mini:
    def __init__(self, python: Path):
        self.process = subprocess.Popen([str(python), "-c", HELPER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True,
                                        env={**os.environ, "MSWEA_SILENT_STARTUP": "1"})

    def ask(self, **command) -> dict:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("the mini-swe-agent helper stopped; run its venv's python by hand to see why")
            if line.startswith("{"):
                return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def time_patchmix(image: str, calls: int) -> tuple[float, list[float]]:
    started = time.perf_counter()
    with Environment(image, ContainerConfig(workdir="/tmp")) as env:
        env.execute("true")
        ready = time.perf_counter() - started
        times = []
        for _ in range(calls):
            t = time.perf_counter()
            env.execute("true")
            times.append(time.perf_counter() - t)
    return ready, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="patchmix/python:bookworm")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--json", default="bench_vs_mini.json")
    args = parser.parse_args()
    mini = Mini(ensure_mini())
    ours = {"start": [], "call": []}
    theirs = {"start": [], "call": []}
    try:
        for _ in range(args.rounds):
            ready, times = time_patchmix(args.image, args.calls)
            ours["start"].append(ready)
            ours["call"] += times
            theirs["start"].append(mini.ask(op="start", image=args.image)["seconds"])
            theirs["call"] += mini.ask(op="calls", n=args.calls)["times"]
            mini.ask(op="stop")
    finally:
        mini.close()
    report(args, ours, theirs)


def report(args, ours: dict, theirs: dict) -> None:
    rows = []
    for what in ("start", "call"):
        a, b = statistics.median(ours[what]), statistics.median(theirs[what])
        rows.append({"measure": f"{what} (median, ms)", "patchmix": a * 1000, "mini-swe-agent": b * 1000,
                     "ratio": a / b})
    print(f"\n{args.rounds} rounds, {args.calls} calls per round, image {args.image}")
    print(f"{'measure':<22}{'patchmix':>10}{'mini':>10}{'ratio':>8}")
    for row in rows:
        print(f"{row['measure']:<22}{row['patchmix']:>10.1f}{row['mini-swe-agent']:>10.1f}{row['ratio']:>8.3f}")
    Path(args.json).write_text(json.dumps({"image": args.image, "rounds": args.rounds, "calls": args.calls,
                                           "rows": rows, "raw": {"patchmix": ours, "mini": theirs}}, indent=2))
    print(f"figures in {args.json}")


if __name__ == "__main__":
    main()
