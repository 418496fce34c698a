"""patchmix's container start and `bash` call against mini-swe-agent's, on the same image, in the same run.

    python scripts/bench_vs_mini.py [--image patchmix/python:bookworm] [--rounds 5] [--calls 50] [--json out.json]
    python scripts/bench_vs_mini.py --rows ROWS.jsonl --instance ID [--rounds 5] [--calls 10] [--json out.json]

mini-swe-agent is installed into this benchmark's own virtualenv (/tmp/patchmix-bench-mini; never a patchmix
dependency) and driven there by a small helper process; the two harnesses alternate, round by round, so that
the machine's load weighs on both alike. Start-to-ready is from nothing to a container that answers a command;
a call is a trivial `true`. Prints a table and writes the figures as JSON.

With `--rows` (a rows file of `scripts/build_real_images.py`) and `--instance`, on that instance's real image:
both work in /testbed; patchmix starts as a run does (history scrub after the base commit, start-state
snapshot, python probe) and, apart, without the scrub; besides `true`, each round times actions an agent
makes on a real repository (`REAL_ACTIONS`: git status, a grep over the tree, importing the package, a file
read), each in patchmix's persistent shell and in mini-swe-agent's fresh `bash -lc` per command.
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
from harness.pipeline.dataset import load_rows, select_rows

VENV = Path("/tmp/patchmix-bench-mini")
MINI_PACKAGES = ["mini-swe-agent", "litellm==1.106.2"]  # litellm pinned: never the compromised 1.107.0

REAL_ACTIONS = {
    "true": "true",
    "git status": "git status --short | wc -l",
    "grep tree": "grep -rn --include='*.py' 'def __init__' . | wc -l",
    "import package": "python -c 'import {package}'",
    "read file": "head -c 20000 setup.py > /dev/null",
}
"""Actions of an agent on a real repository (`{package}`: the repository's name, e.g. sympy, pytest)."""

HELPER = r"""
import json, sys, time
from minisweagent.environments.docker import DockerEnvironment
env = None
def call(command):
    # mini-swe-agent v1 takes a string, v2 an action dict
    try:
        return env.execute(command)
    except (TypeError, AttributeError):
        return env.execute({"command": command})
for line in sys.stdin:
    cmd = json.loads(line)
    if cmd["op"] == "start":
        t = time.perf_counter(); env = DockerEnvironment(image=cmd["image"], cwd=cmd.get("cwd", "/tmp"))
        call("true"); out = {"seconds": time.perf_counter() - t}
    elif cmd["op"] == "calls":
        times = []
        for _ in range(cmd["n"]):
            t = time.perf_counter(); call(cmd.get("command", "true")); times.append(time.perf_counter() - t)
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


def read_row(rows: str, instance_id: str) -> dict:
    """The instance's row, read as patchmix reads a dataset (a wrong id is refused in one line)."""
    return select_rows(load_rows(rows), ids=[instance_id])[0]


def get_actions(row: dict) -> dict[str, str]:
    package = row["repo"].split("/")[1]
    return {name: command.format(package=package) for name, command in REAL_ACTIONS.items()}


def time_patchmix_real(row: dict, actions: dict[str, str], calls: int, scrub: bool) -> dict:
    """Start-to-ready as a run starts (with the history scrub, or without it), then each action `calls` times."""
    started = time.perf_counter()
    with Environment(row["image"], ContainerConfig(workdir="/testbed"),
                     base_commit=row["base_commit"] if scrub else None) as env:
        env.execute("true")
        out = {"start": time.perf_counter() - started}
        for name, command in actions.items():
            out[name] = []
            for _ in range(calls):
                t = time.perf_counter()
                result = env.execute(command)
                out[name].append(time.perf_counter() - t)
                if result.exit_code != 0:
                    raise RuntimeError(f"patchmix: `{command}` failed ({result.exit_code}): {result.output[-300:]}")
    return out


def run_real(args) -> None:
    row = read_row(args.rows, args.instance)
    actions = get_actions(row)
    mini = Mini(ensure_mini())
    runs = {"patchmix": [], "patchmix (no scrub)": [], "mini-swe-agent": []}
    try:
        for _ in range(args.rounds):
            runs["patchmix"].append(time_patchmix_real(row, actions, args.calls, scrub=True))
            runs["patchmix (no scrub)"].append(time_patchmix_real(row, {}, args.calls, scrub=False))
            theirs = {"start": mini.ask(op="start", image=row["image"], cwd="/testbed")["seconds"]}
            for name, command in actions.items():
                theirs[name] = mini.ask(op="calls", n=args.calls, command=command)["times"]
            runs["mini-swe-agent"].append(theirs)
            mini.ask(op="stop")
    finally:
        mini.close()
    report_real(args, row, actions, runs)


def median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def report_real(args, row: dict, actions: dict[str, str], runs: dict) -> None:
    table = {}
    for harness, rounds in runs.items():
        table[harness] = {"start": median_ms([r["start"] for r in rounds])}
        for name in actions:
            if rounds and name in rounds[0]:
                table[harness][name] = median_ms([t for r in rounds for t in r[name]])
    print(f"\n{row['instance_id']} ({row['image']}), {args.rounds} rounds, {args.calls} calls per action and round; "
          "medians in ms")
    print(f"{'measure':<16}{'patchmix':>10}{'no scrub':>10}{'mini':>10}{'ratio':>8}")
    for name in ["start", *actions]:
        ours, theirs = table["patchmix"][name], table["mini-swe-agent"][name]
        plain = table["patchmix (no scrub)"].get(name)
        print(f"{name:<16}{ours:>10.1f}{plain if plain is not None else '-':>10}{theirs:>10.1f}"
              f"{ours / theirs:>8.3f}")
    Path(args.json).write_text(json.dumps({"instance_id": row["instance_id"], "image": row["image"],
                                           "rounds": args.rounds, "calls": args.calls, "actions": actions,
                                           "medians_ms": table, "raw": runs}, indent=2))
    print(f"figures in {args.json}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="patchmix/python:bookworm")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--json", default="bench_vs_mini.json")
    parser.add_argument("--rows", help="a rows file of scripts/build_real_images.py (with --instance)")
    parser.add_argument("--instance", help="the instance whose real image is measured")
    args = parser.parse_args()
    if args.rows or args.instance:
        if not (args.rows and args.instance):
            raise SystemExit("--rows and --instance go together: the rows file and the instance to measure")
        return run_real(args)
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
