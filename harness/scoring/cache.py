"""Verdicts cached per (instance, patch, scoring key): a predictions file that changes is scored only where it
changed.

    runs/<name>/eval/cache/<instance_id>/<sha256 of the patch>.<row key[:16]>.json

Each entry holds the lists of the harness's run report the instance was in (`resolved_ids`, `completed_ids`,
...), its failure reason if any, the run id that scored it and the containers it was scored in. Only verdicts
are cached (resolved, unresolved, empty patch): an instance with no verdict (an evaluation error) is scored
again, as before. The scoring key (`harness.scoring.keys`) holds what the verdict depends on besides the patch:
the row's eval script, FAIL_TO_PASS, PASS_TO_PASS and the other fields grading reads, and isolated or official
containers (in the file's name), and the image's id (in the entry); when any of them changes, the old verdict is
not returned. So the same patch for the same instance is scored once whichever iteration, model or rerun holds
it, and again after its row or image changed.

`build_report` makes a predictions file's report.json from the entries of its instances: the harness's format,
with the id lists and counts over the file's own predictions (`total_instances` is their number).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

from harness.fileio import read_json, write_json_atomic
from harness.scoring.keys import ScoringKey, is_same_image
from harness.scoring.verdicts import COUNT_KEYS, get_eval_errors

ID_LISTS = ("completed_ids", "empty_patch_ids", "submitted_ids", "resolved_ids", "unresolved_ids",
            "infra_failure_ids", "ambiguous_failure_ids", "error_ids")


def hash_patch(patch: str | None) -> str:
    return hashlib.sha256((patch or "").encode("utf-8", "surrogatepass")).hexdigest()


class VerdictCache:
    def __init__(self, root: Path, keys: dict[str, ScoringKey], containers: str):
        """`keys`: instance_id -> scoring key (`harness.scoring.keys.get_scoring_keys`) of the run's dataset."""
        self.root, self.keys, self.containers = Path(root), keys, containers

    def get_path(self, instance_id: str, patch: str | None) -> Path:
        key = self.keys[instance_id].row if instance_id in self.keys else "no-row"
        return self.root / instance_id / f"{hash_patch(patch)}.{key[:16]}.json"

    def get(self, instance_id: str, patch: str | None) -> dict | None:
        """The verdict of `patch` for the instance's row as it is now, with its image as it is now."""
        path = self.get_path(instance_id, patch)
        if instance_id not in self.keys or not path.is_file():
            return None
        entry = read_json(path)
        return entry if is_same_image(entry.get("image_id"), self.keys[instance_id].image_id) else None

    def store(self, predictions: dict[str, str], report: dict, run_id: str, scored: list[str]) -> None:
        """Cache the verdict of each instance of `scored` (those the harness ran) that has one; evaluation
        errors are left out. The harness lists every prediction of the file as submitted, scored or not."""
        no_verdict = set(get_eval_errors(report))
        at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for instance_id in scored:
            if instance_id in no_verdict or instance_id not in predictions or instance_id not in self.keys:
                continue
            if not {"completed_ids", "empty_patch_ids"} & set(make_entry(instance_id, "", report, "", "")["lists"]):
                continue  # the harness has no result for it
            entry = make_entry(instance_id, predictions[instance_id], report, run_id, at)
            key = self.keys[instance_id]
            entry |= {"row_key": key.row, "image_id": key.image_id, "containers": self.containers}
            write_json_atomic(self.get_path(instance_id, predictions[instance_id]), entry)


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
