"""The official harness scores the bundled tasks: gold patches resolve, no fix does not."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from harness.scoring.official import EvaluationFailed, evaluate_predictions, find_run_report, read_instance_reports
from harness.tasks.rows import write_rows

TASKS_DIR = Path(__file__).resolve().parents[2] / "tasks"
README_ONLY_PATCH = """\
diff --git a/README.md b/README.md
--- a/README.md
+++ b/README.md
@@ -1,1 +1,3 @@
{first_line}
+
+Touched by a patch that fixes nothing.
"""

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def dataset(bundled_rows, tmp_path_factory):
    """The bundled rows (conftest builds their images when missing), in a dataset file of their own."""
    rows = list(bundled_rows.values())
    path = tmp_path_factory.mktemp("dataset") / "bundled.jsonl"
    write_rows(rows, path)
    return path, rows


def write_predictions(path: Path, model: str, patches: dict[str, str]) -> Path:
    lines = [{"instance_id": iid, "model_name_or_path": model, "model_patch": patch} for iid, patch in patches.items()]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def make_readme_patch(row: dict) -> str:
    return README_ONLY_PATCH.format(first_line=" " + read_readme_first_line(row))


def read_readme_first_line(row: dict) -> str:
    task_name = row["instance_id"].split("__", 1)[1].rsplit("-", 1)[0]
    return (TASKS_DIR / task_name / "repo" / "README.md").read_text().splitlines()[0]


def test_gold_patches_resolve_every_task(dataset, tmp_path):
    path, rows = dataset
    predictions = write_predictions(tmp_path / "gold.jsonl", "patchmix/gold", {r["instance_id"]: r["patch"] for r in rows})
    started = time.monotonic()
    report = evaluate_predictions(predictions, path, "gold-check", tmp_path / "scratch", workers=2, timeout=300)
    print(f"\nevaluated {len(rows)} gold patches in {time.monotonic() - started:.1f} s")
    assert report["resolved_ids"] == sorted(r["instance_id"] for r in rows), report
    assert report["error_ids"] == []
    assert find_run_report(tmp_path / "scratch", "patchmix/gold", "gold-check").is_file()
    assert (tmp_path / "scratch" / "run_evaluation.gold-check.log").is_file()
    per_instance = read_instance_reports(tmp_path / "scratch", "gold-check")
    assert sorted(per_instance) == report["resolved_ids"]
    assert all(r["resolved"] and r["patch_successfully_applied"] for r in per_instance.values())


def test_no_fix_and_empty_patches_do_not_resolve(dataset, tmp_path):
    path, rows = dataset
    empty_id, *readme_ids = [r["instance_id"] for r in rows]
    patches = {empty_id: ""} | {r["instance_id"]: make_readme_patch(r) for r in rows if r["instance_id"] in readme_ids}
    predictions = write_predictions(tmp_path / "none.jsonl", "nofix", patches)
    report = evaluate_predictions(predictions, path, "nofix-check", tmp_path / "scratch", workers=2, timeout=300)
    assert report["resolved_ids"] == []
    assert report["empty_patch_ids"] == [empty_id]
    assert report["unresolved_ids"] == sorted(readme_ids), report
    per_instance = read_instance_reports(tmp_path / "scratch", "nofix-check")
    for instance_id in readme_ids:
        status = per_instance[instance_id]["tests_status"]
        assert status["FAIL_TO_PASS"]["success"] == [] and status["PASS_TO_PASS"]["failure"] == []


def test_harness_failure_raises_with_the_output_tail(dataset, tmp_path):
    path, _ = dataset
    predictions = write_predictions(tmp_path / "bad.jsonl", "bad", {"patchmix__no-such-task-1": "x"})
    with pytest.raises(EvaluationFailed, match="no-such-task-1"):
        evaluate_predictions(predictions, path, "bad-check", tmp_path / "scratch")
