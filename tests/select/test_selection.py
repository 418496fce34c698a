"""Picking one patch per instance among a run's candidates, judged with the verdicts already on disk."""

from __future__ import annotations

import json

import pytest

from harness.exceptions import PatchmixError
from harness.select.rules import normalize_patch, select_patches

from tests.select.selectkit import write_run

P1 = "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = x - 1\n+y = x + 1\n"
P1_NOISY = ("diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -5,2 +5,4 @@\n z = 0\n-y = x - 1\n"
            "+# fixed: off by one\n+\n+y = x + 1\n")
P2 = "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = x - 1\n+y = x\n"
P3 = "diff --git a/n.py b/n.py\n--- a/n.py\n+++ b/n.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n"


def test_normalizing_ignores_comments_blank_lines_context_and_positions():
    assert normalize_patch(P1) == normalize_patch(P1_NOISY)
    assert normalize_patch(P1) != normalize_patch(P2)
    assert normalize_patch("not a diff") == ("raw", "not a diff")


def test_strategies_are_judged_with_the_stored_verdicts(tmp_path):
    run = tmp_path / "run"
    write_run(run, [
        (1, "a", "A", P1, "submitted"), (1, "b", "A", P1_NOISY, "submitted"), (1, "c", "A", P2, "submitted"),
        (2, "m", "A", P3, "step_limit"),
        (1, "a", "B", P2, "submitted"), (1, "b", "B", "", "step_limit"), (2, "m", "B", P1, "submitted"),
        (1, "c", "B", P2, "infra_error"),  # to be redone: not a candidate (else P2 would win the vote)
    ], {(1, "a"): {"A"}, (1, "b"): {"A"}, (1, "c"): set(), (2, "m"): {"B"}})
    summary = select_patches(run)
    assert summary["oracle"] == 2 and summary["instances_with_a_candidate"] == 2
    strategies = summary["strategies"]
    assert strategies["vote"]["resolved"] == 2       # A: the two agreeing patches; B: a tie goes to the later one
    assert strategies["last"]["resolved"] == 1       # A: the salvaged iteration-2 patch
    assert strategies["last-complete"]["resolved"] == 1  # A: the last submitted patch, c's
    picks = [json.loads(line) for line in (run / "selected" / "vote" / "preds.jsonl").read_text().splitlines()]
    assert [(p["instance_id"], p["model_patch"]) for p in picks] == [("A", P1_NOISY), ("B", P1)]
    assert json.loads((run / "selected" / "summary.json").read_text()) == summary


def test_a_run_without_candidates_says_what_to_do(tmp_path):
    with pytest.raises(PatchmixError, match="patchmix run CONFIG"):
        select_patches(tmp_path)
