"""What the router learns from: issue texts of a dataset and 0/1 results per (instance, model).

Only `instance_id`, `repo` and `problem_statement` are read from a dataset row: never the hints, the patches,
the test patch or the test names. Results come from the sources `patchmix analyze` accepts (harness run
reports, per-instance reports, results.json, id lists, a 0/1 CSV matrix), or from a patchmix run folder, whose
iteration-1 scores (`eval/iter_1/<model>/report.json`) give one source per model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.analysis.sourcefiles import load_sources
from harness.exceptions import ConfigError
from harness.route.embed import embed_texts

ISSUE_FIELDS = ("instance_id", "repo", "problem_statement")


@dataclass
class Issue:
    instance_id: str
    repo: str
    problem_statement: str


@dataclass
class Results:
    models: list[str]
    ids: list[str]
    matrix: np.ndarray
    """0/1, one row per instance id, one column per model."""


def read_issues(path: Path) -> dict[str, Issue]:
    """The dataset's issue texts by instance id, from a .json or .jsonl file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the dataset ({error.strerror}); pass a .json or .jsonl file") from error
    rows = json.loads(text) if text.lstrip().startswith("[") else [json.loads(l) for l in text.splitlines() if l.strip()]
    issues = {}
    for number, row in enumerate(rows, start=1):
        if any(key not in row for key in ISSUE_FIELDS):
            raise ConfigError(f"{path}: row {number} lacks one of {', '.join(ISSUE_FIELDS)}; each row needs all three")
        issues[row["instance_id"]] = Issue(*(str(row[key]) for key in ISSUE_FIELDS))
    return issues


def read_results(specs: list[str]) -> Results:
    """A matrix over the instances every source knows; a run folder stands for its iteration-1 reports."""
    sources = load_sources([spec for item in specs for spec in expand_run_folder(item)])
    ids = sorted(set.intersection(*(set(s.known) for s in sources)))
    if not ids:
        raise ConfigError("the results share no instance id; give sources scored on the same instances")
    matrix = np.array([[int(i in s.resolved) for s in sources] for i in ids], dtype=np.int8)
    return Results([s.label for s in sources], ids, matrix)


def expand_run_folder(spec: str) -> list[str]:
    folder = Path(spec.split("=", 1)[-1])
    if not folder.is_dir():
        return [spec]
    reports = sorted(folder.glob("eval/iter_1/*/report.json"))
    if not reports:
        raise ConfigError(f"{folder}: a folder with no eval/iter_1/*/report.json; run `patchmix evaluate` on it first")
    return [f"{report.parent.name}={report}" for report in reports]


def align(results: Results, issues: dict[str, Issue]) -> tuple[Results, list[Issue]]:
    """The results restricted to instances the dataset has, with their issues in the same order."""
    keep = [n for n, i in enumerate(results.ids) if i in issues]
    if not keep:
        raise ConfigError("no scored instance is in the dataset; pass the dataset the results were scored on")
    ids = [results.ids[n] for n in keep]
    return Results(results.models, ids, results.matrix[keep]), [issues[i] for i in ids]


def issue_text(issue: Issue) -> str:
    """What gets embedded: the repository and the problem statement."""
    return f"{issue.repo}\n{issue.problem_statement}"


def load_inputs(sources: list[str], dataset: Path, embedder: str, cache: Path | None) -> tuple[Results, np.ndarray]:
    """The results of the instances the dataset has, and one embedding of each one's issue, in the same order."""
    results, issues = align(read_results(sources), read_issues(dataset))
    return results, embed_texts([issue_text(issue) for issue in issues], embedder, cache)
