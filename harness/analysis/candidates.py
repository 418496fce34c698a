"""Every candidate of a run, one row per (instance, iteration, model): how its run ended, its verdict, what
it cost, where its files are, and which selection strategies picked it. Shared by the run browser and
`patchmix show`. Reading only.

The issue text comes from the run's dataset when it is a local file (only `problem_statement` and `repo` are
read from it); otherwise from the prompt the model was given.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness.analysis.breakdown import UNKNOWN, get_facts, get_repo_from_id, read_instances
from harness.analysis.runread import TRAJ_SUFFIX, Cell, get_cell_statuses, get_universe
from harness.analysis.tables import NOT_RUN

LOCAL_DATASET = (".json", ".jsonl")


@dataclass
class Candidate:
    """One (instance, iteration, model) of the run."""

    instance_id: str
    iteration: int
    model: str
    repo: str
    verdict: str
    info: dict
    traj_path: Path | None
    selected_by: list[str] = field(default_factory=list)
    language: str = UNKNOWN

    @property
    def key(self) -> str:
        """A short id, safe in a URL fragment and an HTML id: `iter1-fixer`."""
        return f"iter{self.iteration}-" + re.sub(r"[^A-Za-z0-9_.-]", "_", self.model)

    @property
    def title(self) -> str:
        return f"iteration {self.iteration} / {self.model}"

    @property
    def exit_status(self) -> str:
        """How the run ended; `in progress` for a run under way (or killed before it could say)."""
        if self.info.get("exit_status"):
            return str(self.info["exit_status"])
        return "in progress" if self.info else "no trajectory"

    @property
    def patch(self) -> str:
        return str(self.info.get("patch") or "")

    def get_number(self, key: str) -> float:
        value = self.info.get(key)
        return value if isinstance(value, (int, float)) else 0


def get_repo(instance_id: str, repos: dict[str, str]) -> str:
    """The dataset's `repo`, or `owner/name` read off a SWE-bench id (`owner__name-123`)."""
    return repos.get(instance_id) or get_repo_from_id(instance_id)


def read_candidates(run_dir: Path, cells: list[Cell]) -> list[Candidate]:
    """Every attempted (instance, iteration, model), by instance then iteration then model."""
    universe = get_universe(cells)
    known = read_instances(run_dir)
    repos = {i: row["repo"] for i, row in read_dataset_rows(run_dir).items() if row.get("repo")}
    repos |= {i: facts["repo"] for i, facts in known.items() if facts.get("repo")}
    picks = read_selection(run_dir)
    found = []
    for cell in cells:
        for instance_id, verdict in get_cell_statuses(cell, universe).items():
            if verdict == NOT_RUN:
                continue
            traj = run_dir / f"iter_{cell.iteration}" / cell.model / f"{instance_id}{TRAJ_SUFFIX}"
            info = cell.infos.get(instance_id, {})
            found.append(Candidate(instance_id, cell.iteration, cell.model, get_repo(instance_id, repos), verdict,
                                   info, traj if traj.is_file() else None,
                                   language=get_facts(instance_id, known)["language"]))
    for candidate in found:
        candidate.selected_by = [name for name, patches in picks.items()
                                 if candidate.patch and patches.get(candidate.instance_id) == candidate.patch]
    return sorted(found, key=lambda c: (c.instance_id, c.iteration, c.model))


def read_dataset_rows(run_dir: Path) -> dict[str, dict]:
    """instance_id -> {problem_statement, repo} from the run's local dataset file; {} when there is none."""
    try:
        config = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8")) or {}
        name = str((config.get("dataset") or {}).get("path") or "")
    except (OSError, yaml.YAMLError, AttributeError):
        return {}
    path = Path(name) if Path(name).is_absolute() else run_dir / name
    if not name.endswith(LOCAL_DATASET) or not path.is_file():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
        rows = [json.loads(line) for line in text.splitlines() if line.strip()] if name.endswith(".jsonl") \
            else json.loads(text)
    except (OSError, json.JSONDecodeError):
        return {}
    rows = list(rows.values()) if isinstance(rows, dict) else rows
    return {str(row["instance_id"]): {"problem_statement": row.get("problem_statement"), "repo": row.get("repo")}
            for row in rows if isinstance(row, dict) and "instance_id" in row}


def read_selection(run_dir: Path) -> dict[str, dict[str, str]]:
    """strategy -> {instance_id: picked patch}, from `selected/<strategy>/preds.jsonl` when selection ran."""
    picks = {}
    for path in sorted((run_dir / "selected").glob("*/preds.jsonl")):
        patches = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and row.get("instance_id"):
                patches[str(row["instance_id"])] = str(row.get("model_patch") or "")
        picks[path.parent.name] = patches
    return picks


def group_by_instance(candidates: list[Candidate]) -> dict[str, list[Candidate]]:
    grouped: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        grouped.setdefault(candidate.instance_id, []).append(candidate)
    return grouped
