"""Execution signal on a bundled task, in the instance's real container: the repository's existing tests of the
changed modules run on the original code and on each candidate; a candidate that breaks a passing test is
dropped, the gold patch is kept, and nothing of the answer key reaches a container command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.select.regression import check_regressions, get_module_names
from tests.select.selectkit import BREAKS_COUNT

DOES_NOT_APPLY = BREAKS_COUNT.replace("-    while current < end:", "-    while current != end:")


@pytest.mark.docker
def test_a_candidate_that_breaks_a_passing_test_is_dropped_and_the_gold_patch_kept(bundled_rows):
    row = bundled_rows["patchmix__daterange-1"]
    result = check_regressions(row, {"gold": row["patch"], "breaker": BREAKS_COUNT, "stale": DOES_NOT_APPLY})
    assert "tests/test_core.py" in result.tests  # named after the changed modules core.py, weeks.py
    assert "tests/test_core.py::test_count_days_of_reversed_range_is_zero" in result.passed_before
    assert result.broken["gold"] == [] and set(result.broken) == {"gold", "breaker"}
    assert "tests/test_core.py::test_count_days_of_reversed_range_is_zero" in result.broken["breaker"]
    assert result.applies == {"gold": True, "breaker": True, "stale": False}
    assert [s for s in ("gold", "breaker", "stale") if result.is_dropped(s)] == ["breaker", "stale"]
    sent = "\n".join(result.commands)
    answer_key = json.loads(row["FAIL_TO_PASS"]) + json.loads(row["PASS_TO_PASS"])
    assert not [name for name in answer_key if name in sent]
    test_patch_lines = [line[1:].strip() for line in row["test_patch"].splitlines()
                        if line.startswith("+") and not line.startswith("+++") and len(line.strip()) > 12]
    assert test_patch_lines and not [line for line in test_patch_lines if line in sent]


@pytest.mark.docker
def test_the_pick_falls_to_the_best_candidate_that_survives_the_tests(bundled_rows):
    from harness.select.execute import pick_with_regressions
    from harness.select.pool import Candidate
    from harness.select.selector import Pick

    row = bundled_rows["patchmix__daterange-1"]
    candidates = [Candidate(row["instance_id"], "breaker", BREAKS_COUNT), Candidate(row["instance_id"], "gold",
                                                                                    row["patch"])]
    combiner_pick = Pick(row["instance_id"], candidates[0], candidates, np.zeros((2, 3)), np.array([2.0, 1.0]))
    checked = pick_with_regressions(combiner_pick, row)
    assert checked.chosen.system == "gold"
    reasons = checked.get_reasons()["candidates"]
    assert {r["system"]: (r["dropped"], r["broken_tests"] > 0) for r in reasons} == {
        "breaker": (True, True), "gold": (False, False)}


@pytest.mark.docker
def test_a_combiner_fitted_with_execution_features_scores_the_candidates_again_with_their_results(bundled_rows):
    from harness.select.combiner import Combiner
    from harness.select.execute import pick_with_regressions
    from harness.select.features import FEATURES
    from harness.select.pool import Candidate
    from harness.select.selector import Pick

    row = bundled_rows["patchmix__daterange-1"]
    candidates = [Candidate(row["instance_id"], "breaker", BREAKS_COUNT), Candidate(row["instance_id"], "gold",
                                                                                    row["patch"])]
    rows = np.zeros((2, len(FEATURES)))
    rows[:, FEATURES.index("prior")] = [2.0, 1.0]
    weights = np.zeros(len(FEATURES))
    weights[FEATURES.index("prior")], weights[FEATURES.index("exec_breaks")] = 1.0, -5.0
    combiner = Combiner(weights, np.ones(len(FEATURES)))
    anchored = combiner.score(rows) + np.array([0.5, 0.0])  # what stated priors add stays added
    checked = pick_with_regressions(Pick(row["instance_id"], candidates[0], candidates, rows, anchored), row,
                                    combiner=combiner)
    assert checked.chosen.system == "gold"
    assert checked.scores.tolist() == [2.0 + 0.5 - 5.0, 1.0]
    by_system = {c.system: c.execution for c in checked.candidates}
    assert by_system["gold"] == {"applies": True, "broken": []} and by_system["breaker"]["broken"]
    reasons = {r["system"]: r for r in checked.get_reasons()["candidates"]}
    assert reasons["breaker"]["exec_breaks"] == 1 and reasons["gold"]["exec_breaks"] == 0


@pytest.mark.docker
def test_a_patch_whose_context_moved_applies_with_fuzz_as_in_the_harness_and_is_reverted_whole(bundled_rows):
    """`git apply` refuses a patch whose first context line differs; the official harness then applies it with
    `patch --fuzz=5`, and so does the check. Each candidate is undone before the next: the gold patch, checked
    after it, applies cleanly, and the new file a candidate adds is gone before the next runs."""
    row = bundled_rows["patchmix__daterange-1"]
    fuzzy = BREAKS_COUNT.replace('raise ValueError("step_days must be at least 1")',
                                 'raise ValueError("step_days must be positive")')
    adds_file = ("diff --git a/daterange/extra.py b/daterange/extra.py\nnew file mode 100644\n--- /dev/null\n"
                 "+++ b/daterange/extra.py\n@@ -0,0 +1 @@\n+VALUE = 1\n")
    result = check_regressions(row, {"fuzzy": fuzzy, "adds_file": adds_file, "again": adds_file, "gold": row["patch"]})
    assert result.applies == {"fuzzy": True, "adds_file": True, "again": True, "gold": True}
    assert "tests/test_core.py::test_count_days_of_reversed_range_is_zero" in result.broken["fuzzy"]
    assert result.broken["gold"] == [] and result.broken["again"] == []
    assert any(command.startswith("patch --batch --fuzz=5") for command in result.commands)


def test_the_tests_of_a_changed_package_init_are_found_by_the_package_name():
    patch = ("diff --git a/sphinx/ext/autodoc/__init__.py b/sphinx/ext/autodoc/__init__.py\n"
             "--- a/sphinx/ext/autodoc/__init__.py\n+++ b/sphinx/ext/autodoc/__init__.py\n"
             "@@ -1 +1 @@\n-a = 1\n+a = 2\n"
             "diff --git a/sympy/core/basic.py b/sympy/core/basic.py\n"
             "--- a/sympy/core/basic.py\n+++ b/sympy/core/basic.py\n@@ -1 +1 @@\n-b = 1\n+b = 2\n")
    assert get_module_names([patch]) == {"autodoc", "basic"}
