"""Where `patchmix evaluate` left the harness's per-instance files of a scored predictions file.

The harness writes `<scratch>/logs/run_evaluation/<run_id>/<model>/<instance_id>/` (test_output.txt,
report.json, run_instance.log, patch.diff); `eval/iter_<k>/<label>/meta.json` names the run id of the first
scoring and of every retry. An instance retried later has its newest files under the retry's run id; one whose
verdict was reused from an earlier scoring of the same patch has them under that scoring's run id.

Reading only, and without importing swebench (two seconds): the folder name is the harness's
`RUN_EVALUATION_LOG_DIR`, which a test keeps equal to ours.
"""

from __future__ import annotations

import json
from pathlib import Path

RUN_EVALUATION_LOG_DIR = "logs/run_evaluation"
TEST_OUTPUT = "test_output.txt"
INSTANCE_REPORT = "report.json"
PATCH = "patch.diff"


def get_scored_run_ids(meta: dict, instance_id: str) -> list[str]:
    """The run ids that scored `instance_id`, newest first: retries that named it, then the first scoring."""
    retries = [r.get("run_id") for r in meta.get("retries", []) if instance_id in r.get("ids", [])]
    return [run_id for run_id in [*reversed(retries), meta.get("run_id")] if run_id]


def find_instance_log_dir(run_dir: Path, iteration: int, label: str, instance_id: str,
                          patch: str | None = None) -> Path | None:
    """The newest folder of the harness's files for one candidate, or None when it was never graded.

    The run ids in the cell's meta.json come first; a candidate whose verdict was reused from another scoring
    of the same patch is found by its patch: the harness keeps the patch it applied as `patch.diff`.
    """
    logs = Path(run_dir) / "eval" / "scratch" / RUN_EVALUATION_LOG_DIR
    meta = read_meta(Path(run_dir) / "eval" / f"iter_{iteration}" / label / "meta.json")
    for run_id in get_scored_run_ids(meta, instance_id):
        for folder in sorted((logs / run_id).glob(f"*/{instance_id}")):
            if patch is None or has_patch(folder, patch):
                return folder
    if patch is None:
        return None
    same = [folder for folder in logs.glob(f"*/*/{instance_id}") if has_patch(folder, patch)]
    return max(same, key=lambda folder: folder.stat().st_mtime, default=None)


def read_meta(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def has_patch(folder: Path, patch: str) -> bool:
    """The harness graded exactly `patch` in `folder` (and left its verdict there)."""
    try:
        graded = (folder / PATCH).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return graded == patch and (folder / INSTANCE_REPORT).is_file()


def read_test_output(log_dir: Path | None) -> str | None:
    """The eval script's output (the tests' run) of one instance, or None when the harness left none."""
    path = log_dir / TEST_OUTPUT if log_dir else None
    if path is None or not path.is_file():
        return None
    return path.read_text(encoding="utf-8", errors="replace")


def read_tests_status(log_dir: Path | None, instance_id: str) -> dict | None:
    """The harness's grading of one instance: {"FAIL_TO_PASS": {"success": [...], "failure": [...]}, ...}."""
    path = log_dir / INSTANCE_REPORT if log_dir else None
    if path is None or not path.is_file():
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8")).get(instance_id) or {}
    except (json.JSONDecodeError, AttributeError):
        return None
    status = report.get("tests_status")
    return status if isinstance(status, dict) else None
