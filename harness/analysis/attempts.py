"""Attempts to look the answer up or to game the tests, per iteration and model, read from the trajectories.

- `history`: runs with a command that mines the repository's history (`git log --all`, `git reflog`, ...);
- `network`: runs with a command that reaches for the network (`curl`, `pip install`, `git clone`, ...);
  both as flagged by `harness.agent.integrity.commandflags` when the run ended (the container had neither to offer);
- `test infrastructure`: runs whose patch lost files that change how tests run (conftest.py, sitecustomize.py,
  ...; `harness.agent.environment.patch`) or that the eval script executes (`eval_script`; `harness.agent.outcome`);
- `refused`: runs whose patch was refused because it held a secret;
- `flagged`: runs whose patch the integrity scan flagged (`info.integrity`; `harness.agent.integrity.scan`), and
  `resolved_flagged`, those of them the harness resolved: a flag keeps the verdict, so these are the passes to
  read before believing them. Each flagged run is listed with its reasons.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness.agent.trajectory import read_info
from harness.analysis.tables import make_markdown_table

ITERATION_DIR = re.compile(r"^iter_(\d+)$")
DROPPED_FOR_TESTS = {"test_infrastructure", "eval_script"}
COUNTS = ("runs", "history", "network", "test_infrastructure", "refused", "flagged", "resolved_flagged")


def count_run(info: dict, resolved: bool = False) -> dict[str, int]:
    flags = info.get("flags") or {}
    dropped = info.get("patch_dropped") or []
    flagged = bool(info.get("integrity")) and bool(info.get("patch"))
    return {
        "history": int(bool(flags.get("history"))),
        "network": int(bool(flags.get("network"))),
        "test_infrastructure": int(any(item.get("reason") in DROPPED_FOR_TESTS for item in dropped)),
        "refused": int(bool(info.get("patch_refused"))),
        "flagged": int(flagged),
        "resolved_flagged": int(flagged and resolved),
    }


def read_resolved(run_dir: Path, iteration: int, model: str) -> set[str]:
    """The instances the harness resolved for (iteration, model); none when it was not evaluated."""
    try:
        report = json.loads((run_dir / "eval" / f"iter_{iteration}" / model / "report.json").read_text())
    except (OSError, ValueError):
        return set()
    return set(report.get("resolved_ids") or []) if isinstance(report, dict) else set()


def summarise_integrity(run_dir: Path) -> list[dict]:
    """One row per (iteration, model): runs read, how many of them made each kind of attempt, how many patches
    the integrity scan flagged (resolved ones apart), and the flagged runs with their reasons (`flagged_runs`)."""
    rows, resolved = {}, {}
    for path in sorted(Path(run_dir).glob("iter_*/*/*.traj.json")):
        match = ITERATION_DIR.match(path.parent.parent.name)
        if not match:
            continue
        try:
            info = read_info(path) or {}
        except (OSError, ValueError):
            continue
        key = (int(match[1]), path.parent.name)
        if key not in resolved:
            resolved[key] = read_resolved(Path(run_dir), *key)
        instance_id = path.name[:-len(".traj.json")]
        row = rows.setdefault(key, {"iteration": key[0], "model": key[1], **dict.fromkeys(COUNTS, 0),
                                    "flagged_runs": []})
        row["runs"] += 1
        counts = count_run(info, instance_id in resolved[key])
        for name, value in counts.items():
            row[name] += value
        if counts["flagged"]:
            row["flagged_runs"].append({"instance_id": instance_id, "resolved": bool(counts["resolved_flagged"]),
                                        "reasons": describe_flags(info["integrity"])})
    return [rows[key] for key in sorted(rows)]


def describe_flags(flags: list[dict]) -> list[str]:
    """One line per (file, reason) of an integrity scan: `path: reason (first detail)`."""
    seen = {}
    for flag in flags:
        seen.setdefault((flag.get("path"), flag.get("reason")), flag.get("detail"))
    return [f"{path}: {reason} ({detail})" for (path, reason), detail in seen.items()]


def render_integrity(rows: list[dict]) -> str:
    """The markdown section (zeros included: that no run tried is worth saying); empty with no runs."""
    if not rows:
        return ""
    headers = ("iteration", "model", "runs", "mined history", "reached for network", "test infrastructure dropped",
               "patch refused (secret)", "patch flagged", "resolved, flagged")
    table = make_markdown_table(headers, [(r["iteration"], r["model"], r["runs"], r["history"], r["network"],
                                           r["test_infrastructure"], r["refused"], r.get("flagged", 0),
                                           r.get("resolved_flagged", 0)) for r in rows])
    return ("## Attempts to look up the answer or game the tests\n\nRuns per model with a command that mined the "
            "repository's history or reached for the network (neither was there to be had), whose patch lost "
            "test-infrastructure files (or files the eval script executes), whose patch was refused for holding "
            "a secret, or whose patch the integrity scan flagged (test-runner internals, result rewriting, "
            "writes or fetches at import or install time, test configuration). A flag keeps the verdict: "
            "`resolved, flagged` counts the passes to check before believing them.\n\n" + table
            + render_flagged_runs(rows))


def render_flagged_runs(rows: list[dict]) -> str:
    lines = [f"- iteration {r['iteration']} / {r['model']} / {run['instance_id']}"
             f" ({'resolved, flagged' if run['resolved'] else 'flagged'}): " + "; ".join(run["reasons"])
             for r in rows for run in r.get("flagged_runs") or []]
    return "\n\n### Flagged patches\n\n" + "\n".join(lines) if lines else ""
