"""Attempts to look the answer up or to game the tests, per iteration and model, read from the trajectories.

- `history`: runs with a command that mines the repository's history (`git log --all`, `git reflog`, ...);
- `network`: runs with a command that reaches for the network (`curl`, `pip install`, `git clone`, ...);
  both as flagged by `harness.agent.flags` when the run ended (the container had neither to offer);
- `test infrastructure`: runs whose patch lost files that change how tests run (conftest.py, sitecustomize.py,
  ...; `harness.agent.patch`);
- `refused`: runs whose patch was refused because it held a secret.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.agent.trajectory import read_info
from harness.analysis.tables import make_markdown_table

ITERATION_DIR = re.compile(r"^iter_(\d+)$")


def count_run(info: dict) -> dict[str, int]:
    flags = info.get("flags") or {}
    dropped = info.get("patch_dropped") or []
    return {
        "history": int(bool(flags.get("history"))),
        "network": int(bool(flags.get("network"))),
        "test_infrastructure": int(any(item.get("reason") == "test_infrastructure" for item in dropped)),
        "refused": int(bool(info.get("patch_refused"))),
    }


def summarise_integrity(run_dir: Path) -> list[dict]:
    """One row per (iteration, model): runs read, and how many of them made each kind of attempt."""
    rows = {}
    for path in sorted(Path(run_dir).glob("iter_*/*/*.traj.json")):
        match = ITERATION_DIR.match(path.parent.parent.name)
        if not match:
            continue
        try:
            info = read_info(path) or {}
        except (OSError, ValueError):
            continue
        key = (int(match[1]), path.parent.name)
        row = rows.setdefault(key, {"iteration": key[0], "model": key[1], "runs": 0, "history": 0, "network": 0,
                                    "test_infrastructure": 0, "refused": 0})
        row["runs"] += 1
        for name, value in count_run(info).items():
            row[name] += value
    return [rows[key] for key in sorted(rows)]


def render_integrity(rows: list[dict]) -> str:
    """The markdown section (zeros included: that no run tried is worth saying); empty with no runs."""
    if not rows:
        return ""
    headers = ("iteration", "model", "runs", "mined history", "reached for network", "test infrastructure dropped",
               "patch refused (secret)")
    table = make_markdown_table(headers, [(r["iteration"], r["model"], r["runs"], r["history"], r["network"],
                                           r["test_infrastructure"], r["refused"]) for r in rows])
    return ("## Attempts to look up the answer or game the tests\n\nRuns per model with a command that mined the "
            "repository's history or reached for the network (neither was there to be had), whose patch lost "
            "test-infrastructure files, or whose patch was refused for holding a secret.\n\n" + table)
