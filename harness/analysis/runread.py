"""Reading a run folder for analysis: one `Cell` per (iteration, model) with its trajectories' infos, the ids
it predicted and the harness's report. Reading only; nothing here writes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.agent.trajectory import read_trajectory
from harness.analysis import tables as an
from harness.exceptions import PatchmixError
from harness.scoring.official import OFFICIAL
from harness.scoring.logs import read_meta

SCHEMA_VERSION = 1
ITERATION_DIR = re.compile(r"^iter_(\d+)$")
TRAJ_SUFFIX = ".traj.json"
INFO_NUMBERS = ("cost", "steps", "tokens_in", "tokens_out", "wall_seconds", "tokens_cached", "cost_uncached")
FRACTIONAL = ("cost", "wall_seconds", "cost_uncached")


@dataclass(frozen=True)
class Cell:
    """What the run directory holds for one (iteration, model)."""

    iteration: int
    model: str
    infos: dict[str, dict] = field(default_factory=dict)
    """instance_id -> the trajectory's `info` (exit_status, cost, steps, tokens_in, tokens_out, wall_seconds)."""
    pred_ids: frozenset[str] = frozenset()
    report: dict | None = None
    """The harness's run report, or None when the cell was not evaluated."""
    report_path: str = ""
    scored_in: str | None = None
    """Where its verdicts were obtained: "isolated" (patchmix's scoring containers) or "official" (the harness's own
    containers); None when not evaluated."""


# ---------------------------------------------------------------- reading the run directory


def find_cells(run_dir: Path) -> list[tuple[int, str]]:
    """(iteration, model) pairs that have a run folder or an evaluation folder, in order."""
    found = set()
    for root in (run_dir, run_dir / "eval"):
        for iter_dir in root.glob("iter_*"):
            match = ITERATION_DIR.match(iter_dir.name)
            if match and iter_dir.is_dir():
                found |= {(int(match[1]), d.name) for d in iter_dir.iterdir() if d.is_dir()}
    return sorted(found)


def read_cell(run_dir: Path, iteration: int, model: str) -> Cell:
    folder = run_dir / f"iter_{iteration}" / model
    report_path = run_dir / "eval" / f"iter_{iteration}" / model / "report.json"
    infos = {path.name[: -len(TRAJ_SUFFIX)]: read_trajectory_info(path) for path in folder.glob(f"*{TRAJ_SUFFIX}")}
    return Cell(
        iteration=iteration,
        model=model,
        infos=infos,
        pred_ids=frozenset(read_pred_ids(folder / "preds.jsonl")),
        report=read_eval_report(report_path),
        report_path=str(report_path.relative_to(run_dir)),
        scored_in=read_scored_in(report_path.parent / "meta.json") if report_path.exists() else None,
    )


def read_scored_in(meta_path: Path) -> str | None:
    """meta.json's `containers`; a scoring from before patchmix had its own containers ran in the harness's."""
    if not meta_path.exists():
        return None
    return read_meta(meta_path).get("containers") or OFFICIAL


def read_trajectory_info(path: Path) -> dict:
    """The `info` block of a trajectory; an unreadable file shows up as exit status `unreadable`."""
    try:
        data = read_trajectory(path)
    except (OSError, ValueError):
        return {"exit_status": "unreadable"}
    info = data.get("info") if isinstance(data, dict) else None
    return info if isinstance(info, dict) else {"exit_status": "unreadable"}


def read_pred_ids(path: Path) -> set[str]:
    if not path.exists():
        return set()
    ids = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            ids.add(json.loads(line)["instance_id"])
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise PatchmixError(
                f"{path}:{number} is not a prediction with an instance_id ({error}); "
                "delete the line or rerun the iteration to rewrite the file"
            ) from error
    return ids


def read_eval_report(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise PatchmixError(f"{path} is not valid JSON ({error}); rerun `patchmix evaluate` for the run") from error
    if not isinstance(report, dict) or "resolved_ids" not in report:
        raise PatchmixError(f"{path} is not a SWE-bench run report (no resolved_ids); rerun `patchmix evaluate`")
    return report


def read_run(run_dir: Path) -> list[Cell]:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise PatchmixError(f"no run directory at {run_dir}; pass the folder `patchmix run` created (runs/<run_id>)")
    cells = [read_cell(run_dir, k, model) for k, model in find_cells(run_dir)]
    if not cells:
        raise PatchmixError(f"{run_dir} holds no iter_<k>/<model> folders; run `patchmix run` first")
    return cells


# ---------------------------------------------------------------- the summary (pure)


def get_attempted(cell: Cell) -> set[str]:
    submitted = set(cell.report.get("submitted_ids", [])) if cell.report else set()
    return set(cell.infos) | set(cell.pred_ids) | submitted


def get_universe(cells: list[Cell]) -> set[str]:
    """Every instance any cell attempted: the denominator of the run."""
    return set().union(*(get_attempted(cell) for cell in cells))


def get_cell_statuses(cell: Cell, universe: set[str]) -> dict[str, str]:
    attempted = get_attempted(cell)
    statuses = an.get_instance_statuses(attempted, cell.report)
    return statuses | {instance: an.NOT_RUN for instance in universe - attempted}


def get_resolved(cell: Cell, universe: set[str]) -> set[str] | None:
    if cell.report is None:
        return None
    return {i for i, status in get_cell_statuses(cell, universe).items() if status == an.RESOLVED}
