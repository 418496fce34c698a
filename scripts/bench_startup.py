"""Times `patchmix --help` (and a command's `--help`): seconds of a fresh interpreter that builds every parser.

Before the stages' `commands.py` imported their work inside the command handlers (`# lazy: command`), the help
imported every stage: 6-8 s of CPU on a quiet machine (litellm about 2.5 s, swebench's harness about 1.2 s, then
sklearn, matplotlib, docker...). On a busy 2-core machine (2026-12-07): `python -X importtime -c "import
harness.cli"` 10.1 s before (litellm 4.6 s of it), 0.12 s after (pydantic the largest, 0.05 s); `patchmix --help`
10-12 s wall before, 0.2 s after. A figure to print, not a test.

Usage: python scripts/bench_startup.py [--runs 5] [-- ARGS ...]   (default ARGS: --help; e.g. `-- select --help`)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

HEAVY_MODULES = ("litellm", "swebench", "docker", "sklearn", "matplotlib", "ray", "torch", "scipy", "numpy")
LIST_HEAVY = ("import sys; from harness.cli import make_parser; make_parser(); "
              f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY_MODULES!r})))")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("args", nargs="*", default=["--help"], help="patchmix's arguments, after `--` (default: --help)")
    return parser.parse_args()


def time_run(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness.cli", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    options = parse_args()
    seconds = [time_run(options.args) for _ in range(options.runs)]
    print(f"patchmix {' '.join(options.args)}: median {statistics.median(seconds):.2f} s, "
          f"min {min(seconds):.2f} s, max {max(seconds):.2f} s over {options.runs} runs")
    heavy = subprocess.run([sys.executable, "-c", LIST_HEAVY], capture_output=True, text=True, check=True).stdout
    print(f"heavy modules imported by make_parser(): {heavy.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
