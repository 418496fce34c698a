"""Verdicts cached per (instance, patch): a predictions file that changes is scored only where it changed.

    runs/<name>/eval/cache/<instance_id>/<sha256 of the patch>.json

Each entry holds the lists of the harness's run report the instance was in (`resolved_ids`, `completed_ids`,
...), its failure reason if any, and the run id that scored it. Only verdicts are cached (resolved,
unresolved, empty patch): an instance with no verdict (an evaluation error) is scored again, as before. The
cache lives in the run folder, whose dataset is fixed by its config, so the same patch for the same instance
is scored once whichever iteration, model or rerun holds it.

`build_report` makes a predictions file's report.json from the entries of its instances: the harness's format,
with the id lists and counts over the file's own predictions (`total_instances` is their number).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

from harness.fileio import read_json, write_json_atomic
from harness.scoring.verdicts import COUNT_KEYS, get_eval_errors

ID_LISTS = ("completed_ids", "empty_patch_ids", "submitted_ids", "resolved_ids", "unresolved_ids",
            "infra_failure_ids", "ambiguous_failure_ids", "error_ids")


def hash_patch(patch: str | None) -> str:
    return hashlib.sha256((patch or "").encode("utf-8", "surrogatepass")).hexdigest()


class VerdictCache:
    def __init__(self, root: Path):
        self.root = Path(root)

    def get_path(self, instance_id: str, patch: str | None) -> Path:
        return self.root / instance_id / f"{hash_patch(patch)}.json"

    def get(self, instance_id: str, patch: str | None) -> dict | None:
        path = self.get_path(instance_id, patch)
        return read_json(path) if path.is_file() else None

    def store(self, predictions: dict[str, str], report: dict, run_id: str, scored: list[str]) -> None:
        """Cache the verdict of each instance of `scored` (those the harness ran) that has one; evaluation
        errors are left out. The harness lists every prediction of the file as submitted, scored or not."""
        no_verdict = set(get_eval_errors(report))
        at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for instance_id in scored:
            if instance_id in no_verdict or instance_id not in predictions:
                continue
            if not {"completed_ids", "empty_patch_ids"} & set(make_entry(instance_id, "", report, "", "")["lists"]):
                continue  # the harness has no result for it
            write_json_atomic(self.get_path(instance_id, predictions[instance_id]), make_entry(
                instance_id, predictions[instance_id], report, run_id, at))


def make_entry(instance_id: str, patch: str | None, report: dict, run_id: str, at: str) -> dict:
    return {"instance_id": instance_id, "patch_sha256": hash_patch(patch), "run_id": run_id, "scored_at": at,
            "lists": [name for name in ID_LISTS if instance_id in report.get(name, [])],
            "failure_reason": (report.get("failure_reasons") or {}).get(instance_id)}


def build_report(predictions: dict[str, str], entries: dict[str, dict], template: dict | None = None) -> dict:
    """The report of a predictions file from one entry per instance (cached, or made from a fresh report)."""
    report = dict(template or {})
    for name in ID_LISTS:
        report[name] = sorted(i for i in predictions if name in entries[i]["lists"])
    report["incomplete_ids"] = []
    report["failure_reasons"] = dict(sorted((i, entries[i]["failure_reason"]) for i in predictions
                                            if entries[i].get("failure_reason")))
    for count_key, ids_key in COUNT_KEYS.items():
        report[count_key] = len(report[ids_key])
    report["total_instances"] = report["submitted_instances"] = len(predictions)
    report.setdefault("schema_version", 2)
    return report


def make_entries(predictions: dict[str, str], report: dict, run_id: str) -> dict[str, dict]:
    """Entries for every instance of a fresh report, verdict or not (for building a file's report)."""
    entries = {i: make_entry(i, predictions[i], report, run_id, "") for i in predictions}
    for entry in entries.values():
        if not {"completed_ids", "empty_patch_ids", "error_ids"} & set(entry["lists"]):  # no result: no verdict
            entry["lists"] = sorted(set(entry["lists"]) | {"submitted_ids", "error_ids"}, key=ID_LISTS.index)
    return entries
