"""A candidate pool from anything: a run folder, SWE-bench predictions files, or a candidates JSONL(.gz).

One `Candidate` per (instance, system): the patch, and when known the official verdict and how its run ended.
A run folder gives one system per (iteration, model), `iter_<k>/<model>`, verdicts from its evaluation; a
predictions file gives one system per `model_name_or_path` (or `LABEL=PATH` names it); a candidates file
(`instance_id, system, model_patch[, resolved]`, as in candidates-2024) gives its own systems and verdicts.
Nothing of the instance's answer key is read.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from harness.analysis.runread import read_run
from harness.exceptions import PatchmixError
from harness.pipeline.rundir import is_finished_info

REPO_FROM_ID = re.compile(r"^(?P<owner>.+?)__(?P<name>.+)-\d+$")


@dataclass
class Candidate:
    """One system's patch for one instance."""

    instance_id: str
    system: str
    patch: str
    resolved: bool | None = None  # the official verdict, None when not scored
    exit_status: str | None = None  # how the run that made it ended, when known
    summary: str = ""  # the run's own summary of its attempt, when it wrote one (shown to the judge)
    cluster: int | None = None  # the cluster (harness.select.clusters), when clusters were asked for
    execution: dict | None = None  # the execution signals when run: {"applies": bool, "broken": [test, ...]}

    @property
    def repo(self) -> str:
        """`owner/name` read off a SWE-bench id (`owner__name-123`), else the id itself."""
        match = REPO_FROM_ID.match(self.instance_id)
        return f"{match['owner']}/{match['name']}" if match else self.instance_id


def load_pool(sources: list[str]) -> list[Candidate]:
    """Every candidate of every source (`PATH` or `LABEL=PATH`); a later duplicate (instance, system) is refused."""
    found: dict[tuple[str, str], Candidate] = {}
    for source in sources:
        label, _, path = source.rpartition("=") if "=" in source and not Path(source).exists() else ("", "", source)
        for candidate in read_source(Path(path), label):
            key = (candidate.instance_id, candidate.system)
            if key in found:
                raise PatchmixError(f"{path}: {candidate.system} has two candidates for {candidate.instance_id}; "
                                    "give each predictions file its own label (LABEL=PATH)")
            found[key] = candidate
    if not found:
        raise PatchmixError(f"no candidate in {', '.join(sources)}: give a run folder, predictions files or a "
                            "candidates .jsonl(.gz)")
    return sorted(found.values(), key=lambda c: (c.instance_id, c.system))


def read_source(path: Path, label: str = "") -> list[Candidate]:
    """The candidates of one run folder or one JSONL/JSON file (gzipped or not)."""
    if path.is_dir():
        return read_run_folder(path, label)
    if not path.is_file():
        raise PatchmixError(f"{path} does not exist: give a run folder, a predictions file or a candidates file")
    return [read_row(row, path, label) for row in read_rows(path)]


def read_rows(path: Path) -> list[dict]:
    """The objects of a .jsonl, .json (a list, or a dict keyed by instance) file, gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        text = handle.read()
    try:
        if text.lstrip().startswith(("[", "{")) and not path.name.endswith((".jsonl", ".jsonl.gz")):
            data = json.loads(text)
            return list(data.values()) if isinstance(data, dict) else data
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as error:
        raise PatchmixError(f"{path}: not JSON or JSONL ({error}); fix the file or give another") from error


def read_row(row: dict, path: Path, label: str) -> Candidate:
    """One predictions row (`model_name_or_path`) or candidates row (`system`)."""
    if "instance_id" not in row:
        raise PatchmixError(f"{path}: a row has no instance_id; rows need instance_id and model_patch")
    system = label or row.get("system") or row.get("model_name_or_path") or path.name.split(".")[0]
    resolved = row.get("resolved")
    return Candidate(row["instance_id"], str(system), row.get("model_patch") or "",
                     None if resolved is None else bool(resolved), row.get("exit_status"), row.get("summary") or "")


def read_run_folder(run_dir: Path, label: str = "") -> list[Candidate]:
    """One candidate per finished (iteration, model, instance) run, verdicts from the run's evaluation."""
    cells = read_run(run_dir) if any(run_dir.glob("iter_*")) else []
    if not cells:
        raise PatchmixError(f"{run_dir} has no iter_<k>/ folder: give a run folder made by `patchmix run`")
    prefix = f"{label}:" if label else ""
    found = []
    for cell in cells:
        resolved = set(cell.report["resolved_ids"]) if cell.report is not None else None
        for instance_id, info in sorted(cell.infos.items()):
            if is_finished_info(info):
                verdict = None if resolved is None else instance_id in resolved
                found.append(Candidate(instance_id, f"{prefix}iter_{cell.iteration}/{cell.model}",
                                       info.get("patch") or "", verdict, info.get("exit_status"),
                                       info.get("summary") or ""))
    return found


def group_by_instance(pool: list[Candidate]) -> dict[str, dict[str, Candidate]]:
    """instance_id -> system -> candidate."""
    grouped: dict[str, dict[str, Candidate]] = defaultdict(dict)
    for candidate in pool:
        grouped[candidate.instance_id][candidate.system] = candidate
    return dict(grouped)


def is_scored(pool: list[Candidate]) -> bool:
    """True when every candidate has a verdict."""
    return all(candidate.resolved is not None for candidate in pool)
