"""The selection pool from anything: a run folder, predictions files, a candidates JSONL(.gz); bad input says
what to fix."""

from __future__ import annotations

import gzip
import json

import pytest

from harness.exceptions import PatchmixError
from harness.select.pool import is_scored, load_pool

from tests.select.selectkit import write_run

PATCH = "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = x - 1\n+y = x + 1\n"


def test_a_run_folder_gives_one_system_per_iteration_and_model_with_verdicts(tmp_path):
    write_run(tmp_path, [(1, "a", "o__r-1", PATCH, "submitted"), (1, "b", "o__r-1", "", "step_limit"),
                         (2, "a", "o__r-1", PATCH, "submitted"), (1, "b", "o__r-2", PATCH, "infra_error")],
              {(1, "a"): {"o__r-1"}, (1, "b"): set(), (2, "a"): set()})
    pool = load_pool([str(tmp_path)])
    assert [(c.system, c.resolved, c.exit_status) for c in pool] == [
        ("iter_1/a", True, "submitted"), ("iter_1/b", False, "step_limit"), ("iter_2/a", False, "submitted")]
    assert pool[0].repo == "o/r" and is_scored(pool)


def test_predictions_files_and_a_gzipped_candidates_file_are_pools(tmp_path):
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"instance_id": "o__r-1", "model_name_or_path": "m1", "model_patch": PATCH}) + "\n")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"o__r-1": {"instance_id": "o__r-1", "model_name_or_path": "m1",
                                            "model_patch": ""}}))
    pool = load_pool([str(preds), f"second={other}"])
    assert [(c.system, c.resolved) for c in pool] == [("m1", None), ("second", None)] and not is_scored(pool)
    candidates = tmp_path / "candidates.jsonl.gz"
    with gzip.open(candidates, "wt") as handle:
        handle.write(json.dumps({"instance_id": "o__r-1", "system": "s", "model_patch": PATCH, "resolved": True}))
    assert [(c.system, c.resolved) for c in load_pool([str(candidates)])] == [("s", True)]


def test_bad_input_says_what_to_fix(tmp_path):
    with pytest.raises(PatchmixError, match="does not exist"):
        load_pool([str(tmp_path / "missing.jsonl")])
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    with pytest.raises(PatchmixError, match="not JSON or JSONL"):
        load_pool([str(broken)])
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"instance_id": "i", "model_name_or_path": "m", "model_patch": PATCH}) + "\n")
    with pytest.raises(PatchmixError, match="LABEL=PATH"):
        load_pool([str(preds), str(preds)])
    with pytest.raises(PatchmixError, match="no iter_"):
        load_pool([str(tmp_path)])
