"""`patchmix evaluate RUN`: a fake run folder scored by the official harness; caching, retries and repetitions."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from pathlib import Path

import pytest

from harness.exceptions import PatchmixError
from harness.tasks.rows import write_rows
from harness.scoring.evaluation import evaluate_run
from harness.scoring.filescoring import make_run_id
from harness.scoring.verdicts import find_flips, get_verdicts, merge_retry
from tests.scoring.scoringkit import PATCH_THAT_DOES_NOT_APPLY, RUN_NAME, Log, make_run, read_stored, write_preds

TASKS_FILE = Path(__file__).resolve().parents[2] / "tasks" / "bundled.jsonl"


# ---------------------------------------------------------------- without Docker


def test_a_missing_run_folder_says_to_run_first(tmp_path):
    with pytest.raises(PatchmixError, match=r"no run folder at .*run `patchmix run CONFIG` first"):
        evaluate_run(tmp_path / "nowhere")


def test_a_run_folder_without_predictions_says_to_run_first(tmp_path):
    run_dir = make_run(tmp_path, tmp_path / "data.jsonl", {})
    with pytest.raises(PatchmixError, match=r"holds no predictions .*run `patchmix run CONFIG` first"):
        evaluate_run(run_dir)


def test_a_dataset_that_no_longer_exists_is_named(tmp_path):
    run_dir = make_run(tmp_path, tmp_path / "gone.jsonl", {(1, "a"): {"x__y-1": ""}})
    with pytest.raises(PatchmixError, match=r"the dataset .*gone.jsonl named in .*config.yaml no longer exists"):
        evaluate_run(run_dir)


def test_run_ids_carry_the_content_and_stay_docker_safe():
    assert make_run_id("my run", 2, "gpt/4o", "0123456789abcdef") == "my-run.iter2.gpt-4o.0123456789"


def test_a_retry_moves_instances_out_of_the_errors_and_keeps_the_key_set():
    report = {"completed_instances": 2, "resolved_instances": 1, "unresolved_instances": 1, "error_instances": 2,
              "infra_failure_instances": 1, "completed_ids": ["a", "b"], "resolved_ids": ["a"],
              "unresolved_ids": ["b"], "error_ids": ["c", "d"], "infra_failure_ids": ["b"],
              "failure_reasons": {"b": "out_of_memory"}, "empty_patch_ids": ["e"], "submitted_ids": list("abcde")}
    retried = {"completed_ids": ["b", "c"], "resolved_ids": ["b"], "unresolved_ids": ["c"], "error_ids": ["d"],
               "infra_failure_ids": [], "failure_reasons": {}}
    merged = merge_retry(report, retried, ["b", "c", "d"])
    assert set(merged) == set(report)
    assert merged["resolved_ids"] == ["a", "b"] and merged["unresolved_ids"] == ["c"]
    assert merged["error_ids"] == ["d"] and merged["infra_failure_ids"] == [] and merged["failure_reasons"] == {}
    assert merged["completed_ids"] == ["a", "b", "c"] and merged["completed_instances"] == 3
    assert merged["error_instances"] == 1 and merged["submitted_ids"] == list("abcde")


def test_flips_are_verdict_changes_not_errors():
    first = get_verdicts({"resolved_ids": ["a", "b"], "unresolved_ids": ["c"], "error_ids": []})
    second = get_verdicts({"resolved_ids": ["a"], "unresolved_ids": ["b"], "error_ids": ["c"]})
    assert first["c"] == "unresolved" and second["c"] == "error"
    assert find_flips([first, second]) == ["b"]
    assert find_flips([first]) == []


# ---------------------------------------------------------------- with Docker and the official harness


@pytest.fixture(scope="module")
def dataset(bundled_rows, tmp_path_factory):
    rows = [bundled_rows[iid] for iid in sorted(bundled_rows)]
    path = tmp_path_factory.mktemp("dataset") / "bundled.jsonl"
    write_rows(rows, path)
    return path, rows


@pytest.mark.docker
def test_scores_skips_and_retries_evaluation_errors(dataset, tmp_path):
    path, rows = dataset
    gold = {r["instance_id"]: r["patch"] for r in rows}
    ids = sorted(gold)
    b_patches = {ids[2]: gold[ids[2]], ids[3]: "", ids[4]: PATCH_THAT_DOES_NOT_APPLY}
    run_dir = make_run(tmp_path, path, {(1, "a"): {i: gold[i] for i in ids[:2]}, (1, "b"): b_patches})

    log = Log()
    summary = evaluate_run(run_dir, workers=2, timeout=300, log=log, max_retries=1)
    a, b = summary["files"]["iter_1/a"], summary["files"]["iter_1/b"]
    assert summary["harness_calls"] == 2
    assert a["resolved"] == ids[:2] and a["infra_errors"] == [] and not a["skipped"]
    assert b["resolved"] == [ids[2]] and b["empty"] == [ids[3]]
    assert b["infra_errors"] == [ids[4]] and b["unresolved"] == [], "an evaluation error is not a verdict"
    assert b["error_reasons"] == {ids[4]: "patch did not apply"}
    assert f"no verdict (evaluation errors, not counted as unresolved; scored again on the next call): {ids[4]}" \
        in log.text()
    stored = read_stored(run_dir, "iter_1/b")
    assert stored["error_ids"] == [ids[4]] and stored["resolved_ids"] == [ids[2]]
    meta = read_stored(run_dir, "iter_1/b", "meta.json")
    images = json.dumps(meta["image_ids"], sort_keys=True)
    content = hashlib.sha256(f"{meta['preds_sha256']}.{meta['scoring_key']}.{images}".encode()).hexdigest()
    assert meta["run_id"] == f"{RUN_NAME}.iter1.b.{content[:10]}" and meta["containers"] == "isolated"
    assert Path(meta["harness_log"]).is_file() and meta["scored_at"]

    log = Log()
    summary = evaluate_run(run_dir, workers=2, timeout=300, log=log, max_retries=1)
    a, b = summary["files"]["iter_1/a"], summary["files"]["iter_1/b"]
    assert summary["harness_calls"] == 1, "only b's evaluation error is scored again"
    assert a["skipped"] and a["resolved"] == ids[:2]
    assert not b["skipped"] and b["infra_errors"] == [ids[4]] and b["retries"] == 1
    retry = read_stored(run_dir, "iter_1/b", "meta.json")["retries"][0]
    assert retry["run_id"] == f"{meta['run_id']}.retry1" and retry["ids"] == [ids[4]]
    assert read_stored(run_dir, "iter_1/b")["resolved_ids"] == [ids[2]]
    assert "given up after 1 retries" in log.text()

    started = time.monotonic()
    summary = evaluate_run(run_dir, workers=2, timeout=300, log=Log(), max_retries=1)
    assert summary["harness_calls"] == 0 and time.monotonic() - started < 5
    assert all(entry["skipped"] for entry in summary["files"].values())
    assert summary["files"]["iter_1/b"]["infra_errors"] == [ids[4]], "a given-up error is still reported"


@pytest.mark.docker
def test_changed_predictions_are_scored_again_and_repeat_finds_no_flips(dataset, tmp_path):
    path, rows = dataset
    first, second = rows[0], rows[1]
    run_dir = make_run(tmp_path, path, {(1, "a"): {first["instance_id"]: ""}})
    summary = evaluate_run(run_dir, workers=2, timeout=300, log=Log())
    assert summary["files"]["iter_1/a"]["empty"] == [first["instance_id"]]
    old_run_id = read_stored(run_dir, "iter_1/a", "meta.json")["run_id"]

    write_preds(run_dir, 1, "a", {first["instance_id"]: first["patch"], second["instance_id"]: second["patch"]})
    summary = evaluate_run(run_dir, workers=2, repeat=2, timeout=300, log=Log())
    entry = summary["files"]["iter_1/a"]
    assert summary["harness_calls"] == 2 and not entry["skipped"]
    assert entry["resolved"] == sorted([first["instance_id"], second["instance_id"]]) and entry["empty"] == []
    meta = read_stored(run_dir, "iter_1/a", "meta.json")
    assert meta["run_id"] != old_run_id and meta["repetitions"][0]["run_id"] == f"{meta['run_id']}.rep2"
    flaky = read_stored(run_dir, "iter_1/a", "flaky.json")
    assert flaky["repetitions"] == 2 and flaky["flaky_ids"] == [] and entry["flaky"] == []
    assert all(verdicts == ["resolved", "resolved"] for verdicts in flaky["verdicts"].values())

    summary = evaluate_run(run_dir, workers=2, repeat=2, timeout=300, log=Log())
    assert summary["harness_calls"] == 0 and summary["files"]["iter_1/a"]["skipped"]


@pytest.mark.docker
def test_an_infrastructure_failure_is_retried_and_merged(dataset, tmp_path, docker_client):
    """A missing image is the harness's error, not the patch's: once the image is back the retry gives a verdict."""
    path, rows = dataset
    missing = f"patchmix-test/scoring-missing:{uuid.uuid4().hex[:8]}"
    broken, fine = dict(rows[0], image=missing), rows[1]
    broken_dataset = tmp_path / "broken.jsonl"
    write_rows([broken, fine], broken_dataset)
    patches = {broken["instance_id"]: broken["patch"], fine["instance_id"]: fine["patch"]}
    run_dir = make_run(tmp_path, broken_dataset, {(1, "a"): patches})

    entry = evaluate_run(run_dir, workers=2, timeout=300, log=Log())["files"]["iter_1/a"]
    assert entry["infra_errors"] == [broken["instance_id"]] and entry["resolved"] == [fine["instance_id"]]
    assert entry["retry_next_call"]
    image = docker_client.images.get(rows[0]["image"])
    image.tag(missing)
    try:
        summary = evaluate_run(run_dir, workers=2, timeout=300, log=Log())
    finally:
        docker_client.images.remove(missing)
    entry = summary["files"]["iter_1/a"]
    assert summary["harness_calls"] == 1 and entry["infra_errors"] == [] and not entry["retry_next_call"]
    report = read_stored(run_dir, "iter_1/a")
    assert report["resolved_ids"] == sorted(patches) and report["error_ids"] == []
    assert report["resolved_instances"] == 2 and report["error_instances"] == 0
    assert evaluate_run(run_dir, workers=2, timeout=300, log=Log())["harness_calls"] == 0


def test_a_harness_crash_is_reported_and_tried_again(tmp_path):
    """Predictions for an instance the dataset lacks make the harness exit before it starts Docker."""
    dataset = tmp_path / "data.jsonl"
    write_rows([json.loads(TASKS_FILE.read_text().splitlines()[0])], dataset)
    run_dir = make_run(tmp_path, dataset, {(1, "a"): {"patchmix__no-such-task-1": "x"}})
    log = Log()
    entry = evaluate_run(run_dir, log=log)["files"]["iter_1/a"]
    assert entry["status"] == "crashed" and entry["retry_next_call"] and entry["report"] is None
    assert "harness crashed, scored again on the next call" in log.text() and "no-such-task-1" in entry["crash"]
    assert read_stored(run_dir, "iter_1/a", "meta.json")["status"] == "crashed"
    assert not (run_dir / "eval" / "iter_1" / "a" / "report.json").exists()
    assert evaluate_run(run_dir, log=Log())["harness_calls"] == 1


def test_a_predictions_line_that_is_not_json_is_named(tmp_path):
    run_dir = make_run(tmp_path, TASKS_FILE, {(1, "a"): {"x__y-1": ""}})
    (run_dir / "iter_1" / "a" / "preds.jsonl").write_text('{"instance_id": "x__y-1"}\n{not json\n')
    with pytest.raises(PatchmixError, match=r"preds.jsonl line 2 is not JSON .*`patchmix run CONFIG`"):
        evaluate_run(run_dir)
