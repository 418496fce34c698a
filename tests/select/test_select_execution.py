"""The execution signals as features of the fitted combiner (not only a filter after it): a selector fitted on a
pool with test results weighs them and picks better held out; the results are written beside the picks and read
back with `--execution`; a selector saved before these features loads and saves unchanged; the test runners and
their reports are data (datasets/test_commands.yaml)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from harness.cli import main
from harness.select.combiner import Combiner
from harness.select.crossfit import evaluate
from harness.select.execresults import attach_execution
from harness.select.features import EXECUTION_FEATURES, FEATURES, STATIC_FEATURES, get_execution_columns
from harness.select.pool import Candidate, load_pool
from harness.select.selector import Selector, fit_selector, make_views
from harness.select.testcommands import get_test_command, read_passed
from tests.select.test_select_selector import SAVED_SELECTOR, make_patch

SYSTEMS = ("a", "b", "c", "d")


def make_pool(instances: int, seed: int = 0) -> list[Candidate]:
    """Four systems, each right half the time in its own words (so agreement and priors say nothing); a wrong
    fix breaks one of the repository's tests 9 times in 10, a right one 1 time in 10 (a flaky test)."""
    rng = random.Random(seed)
    pool = []
    for n in range(instances):
        for k, system in enumerate(SYSTEMS):
            right = rng.random() < 0.5
            patch = make_patch(f"x + {n}" if right else f"x - {n + k}", f"  # {system}")
            breaks = rng.random() < (0.1 if right else 0.9)
            broken = [f"tests/test_m.py::test_{'flaky' if right else system}"] if breaks else []
            pool.append(Candidate(f"own__repo-{n}", system, patch, right,
                                  execution={"applies": True, "broken": broken}))
    return pool


def strip_execution(pool: list[Candidate]) -> list[Candidate]:
    return [Candidate(c.instance_id, c.system, c.patch, c.resolved) for c in pool]


def test_a_combiner_fitted_with_test_results_weighs_them_and_picks_better_held_out():
    pool = make_pool(80)
    with_tests = evaluate(make_views(pool), None, seeds=2, folds=4)
    static = evaluate(make_views(strip_execution(pool)), None, seeds=2, folds=4)
    picked = [o.total("selector") for o in with_tests]
    assert min(picked) > max(o.total("selector") for o in static)
    assert min(picked) > max(o.total("best_single") for o in with_tests)
    views = make_views(pool)
    selector = fit_selector(views, sorted(views))
    breaks = selector.combiner.weights[FEATURES.index("exec_breaks")]
    unchecked = fit_selector(make_views(strip_execution(pool)), sorted(views))
    assert breaks < 0 and unchecked.combiner.weights[FEATURES.index("exec_breaks")] == 0


def test_a_selector_saved_before_the_execution_features_loads_scores_and_saves_unchanged(tmp_path):
    data = json.loads(SAVED_SELECTOR.read_text())
    assert tuple(data["combiner"]["features"]) == STATIC_FEATURES
    selector = Selector.load(SAVED_SELECTOR)
    rows = np.ones((2, len(FEATURES)))
    rows[0, FEATURES.index("exec_breaks")] = 1e6  # a column it was not fitted on changes nothing
    scores = selector.combiner.score(rows)
    assert scores[0] == scores[1]
    selector.save(tmp_path / "selector.json")
    assert (tmp_path / "selector.json").read_text() == SAVED_SELECTOR.read_text()
    renamed = {**data["combiner"], "features": ["prior", *data["combiner"]["features"][1:]]}
    with pytest.raises(ValueError, match="fit it again with `patchmix select --fit-on POOL`"):
        Combiner.from_json(renamed)


def write_jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def test_patchmix_select_fits_on_the_execution_file_and_refuses_a_broken_one(tmp_path, capsys):
    pool = make_pool(60, seed=3)
    scored = write_jsonl(tmp_path / "pool.jsonl", [
        {"instance_id": c.instance_id, "system": c.system, "model_patch": c.patch, "resolved": c.resolved}
        for c in pool])
    execution = write_jsonl(tmp_path / "execution.jsonl", [
        {"instance_id": c.instance_id, "system": c.system, **c.execution} for c in pool])
    assert main(["select", scored, "--execution", execution, "--out", str(tmp_path / "fit")]) == 0
    capsys.readouterr()
    combiner = json.loads((tmp_path / "fit" / "selector.json").read_text())["combiner"]
    assert combiner["features"] == list(FEATURES)
    assert combiner["weights"][FEATURES.index("exec_breaks")] < 0
    reasons = [json.loads(line) for line in (tmp_path / "fit" / "reasons.jsonl").read_text().splitlines()]
    chosen = [r["candidates"][0] for r in reasons]
    assert sum(c["exec_breaks"] for c in chosen) < len(chosen) / 4  # the picks mostly break nothing
    (tmp_path / "broken.jsonl").write_text('{"instance_id": "own__repo-1", "system": "a", "applies": true, '
                                           '"broken": 2}\n')
    assert main(["select", scored, "--execution", str(tmp_path / "broken.jsonl"), "--out",
                 str(tmp_path / "bad")]) == 2
    printed = capsys.readouterr()
    assert printed.err.count("\n") == 1 and "not an execution file" in printed.err
    assert "is not a list of tests" in printed.err and not (tmp_path / "bad").exists()


def test_the_execution_file_attaches_to_the_candidates_it_names_only(tmp_path):
    pool = strip_execution(make_pool(3))
    path = write_jsonl(tmp_path / "execution.jsonl", [
        {"instance_id": "own__repo-1", "system": "b", "applies": False, "broken": []}])
    assert attach_execution(pool, [tmp_path / "execution.jsonl"]) == 1
    found = {(c.instance_id, c.system): c.execution for c in pool if c.execution}
    assert found == {("own__repo-1", "b"): {"applies": False, "broken": []}}
    assert len(load_pool([write_jsonl(tmp_path / "p.jsonl", [
        {"instance_id": "x__y-1", "system": "s", "model_patch": ""}])])) == 1 and path


SYMPY_OUTPUT = """\
============================= test process starts ==============================
executable:         /opt/testbed/bin/python  (3.9.2-final-0) [CPython]
sympy/functions/elementary/tests/test_hyperbolic.py[3] 
test_sinh ok
test_cosh F
test_tanh ok                                                      [FAIL]
sympy/core/tests/test_basic.py[2] 
test_sinh ok
test_subs E
================= tests finished: 3 passed, 1 failed, 1 exceptions, in 1.3 seconds =================
"""


def test_each_repository_runs_its_own_test_runner_and_its_report_is_read():
    sympy = get_test_command("sympy/sympy")
    assert sympy.command.startswith("bin/test") and read_passed(sympy, SYMPY_OUTPUT) == {
        "sympy/functions/elementary/tests/test_hyperbolic.py::test_sinh",
        "sympy/functions/elementary/tests/test_hyperbolic.py::test_tanh", "sympy/core/tests/test_basic.py::test_sinh"}
    unlisted = get_test_command("someone/else")
    assert "pytest" in unlisted.command and "--continue-on-collection-errors" in unlisted.command
    assert read_passed(unlisted, "PASSED tests/test_a.py::test_x\nFAILED tests/test_a.py::test_y - boom\n") == {
        "tests/test_a.py::test_x"}
    assert set(EXECUTION_FEATURES) <= set(FEATURES)


def test_a_test_most_candidates_break_is_taken_as_asked_for_by_the_issue_not_as_a_regression():
    def candidate(system: str, broken: list[str], applies: bool = True) -> Candidate:
        return Candidate("own__repo-1", system, "diff", None, execution={"applies": applies, "broken": broken})

    old_behaviour = "tests/test_m.py::test_old_error"
    pool = [candidate("a", [old_behaviour]), candidate("b", [old_behaviour]),
            candidate("c", [old_behaviour, "tests/test_m.py::test_other"]), candidate("d", []),
            candidate("e", [], applies=False), Candidate("own__repo-1", "f", "", None)]
    columns = get_execution_columns(pool)
    assert columns["exec_breaks"] == [0, 0, 1, 0, 0, 0]
    assert columns["exec_not_applied"] == [0, 0, 0, 0, 1, 0]
    two = get_execution_columns(pool[:2])  # with fewer than three applying candidates there is no majority
    assert two["exec_breaks"] == [1, 1]
