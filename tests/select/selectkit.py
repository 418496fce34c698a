"""Helpers shared by the selection tests: a run folder written from a list of candidates and their verdicts."""

from __future__ import annotations

import json
from pathlib import Path


def write_run(run: Path, candidates: list[tuple], resolved: dict) -> None:
    """candidates: (iteration, model, instance, patch, exit_status); resolved: (iteration, model) -> ids."""
    for iteration, model, instance, patch, status in candidates:
        path = run / f"iter_{iteration}" / model / f"{instance}.traj.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"info": {"exit_status": status, "patch": patch, "finished_at": "2026-01-01"}}))
    for (iteration, model), ids in resolved.items():
        path = run / "eval" / f"iter_{iteration}" / model / "report.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"resolved_ids": sorted(ids)}))
