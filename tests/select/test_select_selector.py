"""The fitted selector on a constructed scored pool: nothing about held-out verdicts reaches the fit, every pick
is explained, a selector fitted on one pool applies to another, and `patchmix select` writes it all."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.exceptions import PatchmixError
from harness.select.features import FEATURES
from harness.select.pool import Candidate, load_pool
from harness.select.selector import Selector, fit_selector, make_views, pick
from harness.select.crossfit import evaluate
from harness.select.scorecard import summarise


def make_patch(value: str, comment: str = "") -> str:
    return (f"diff --git a/pkg/m.py b/pkg/m.py\n--- a/pkg/m.py\n+++ b/pkg/m.py\n@@ -1,2 +1,2 @@\n x = 1\n"
            f"-y = x - 1\n+y = {value}{comment}\n")


def make_pool(instances: int = 60, seed: int = 0) -> list[Candidate]:
    """'good' writes the right fix 7 times in 10; 'a', 'b' and 'c' each write it half the time, in their own
    formatting, else each a wrong fix of its own; 'c' sometimes makes no change. The right fix resolves."""
    rng = random.Random(seed)
    pool = []
    for n in range(instances):
        instance = f"own__repo{n % 3}-{n}"
        right = f"x + {n}"
        choices = {"good": right if rng.random() < 0.7 else f"x * {n}"}
        for k, system in enumerate("abc"):
            choices[system] = right if rng.random() < 0.5 else f"x - {n + k}"
        choices["c"] = None if rng.random() < 0.2 else choices["c"]
        for system, value in choices.items():
            patch = "" if value is None else make_patch(value, "" if system == "good" else f"  # {system}")
            pool.append(Candidate(instance, system, patch, value == right))
    return pool


def test_held_out_verdicts_never_reach_the_fit():
    views = make_views(make_pool())
    ids = sorted(views)
    train, test = ids[:40], ids[40:]
    before = fit_selector(views, train, seed=1)
    picks = [pick(before, views[i], i).chosen.system for i in test]
    for instance in test:  # turn every held-out verdict upside down
        for candidate in views[instance].candidates:
            candidate.resolved = not candidate.resolved
    after = fit_selector(views, train, seed=1)
    assert np.allclose(before.combiner.weights, after.combiner.weights)
    assert [pick(after, views[i], i).chosen.system for i in test] == picks


def test_the_selector_beats_the_best_single_system_when_agreement_carries_signal():
    summary = summarise(evaluate(make_views(make_pool(90)), None, seeds=2, folds=3), "constructed")
    resolved = summary["resolved"]
    assert resolved["selector"]["mean"] > resolved["best_single"]["mean"]
    assert resolved["selector"]["mean"] <= resolved["oracle"]["mean"]
    low, high = summary["interval95"]["selector"]
    assert low <= resolved["selector"]["mean"] <= high
    assert sum(row["selector"] for row in summary["per_repo"].values()) == resolved["selector"]["mean"]


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", "select", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=900)


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def test_select_writes_predictions_reasons_and_a_selector_that_applies_to_another_pool(tmp_path):
    pool = make_pool(45)
    scored = write_jsonl(tmp_path / "scored.jsonl", [
        {"instance_id": c.instance_id, "system": c.system, "model_patch": c.patch, "resolved": c.resolved}
        for c in pool])
    done = run_cli(scored, "--out", str(tmp_path / "fit"))
    assert done.returncode == 0, done.stderr
    assert "45 instances picked among 4 systems" in done.stdout and "in sample" in done.stdout
    preds = [json.loads(line) for line in (tmp_path / "fit" / "preds.jsonl").read_text().splitlines()]
    reasons = [json.loads(line) for line in (tmp_path / "fit" / "reasons.jsonl").read_text().splitlines()]
    assert len(preds) == len(reasons) == 45
    for reason in reasons:
        assert reason["candidates"][0]["system"] == reason["chosen"] and len(reason["candidates"]) == 4
        assert all(set(FEATURES) <= set(entry) for entry in reason["candidates"])
    # unscored predictions files of two other systems: the saved selector, or one fitted on the scored pool
    new = [write_jsonl(tmp_path / f"{name}.jsonl", [
        {"instance_id": c.instance_id, "model_name_or_path": name, "model_patch": c.patch}
        for c in pool if c.system == source]) for name, source in (("alpha", "good"), ("beta", "a"))]
    applied = run_cli(*new, "--selector", str(tmp_path / "fit" / "selector.json"), "--out", str(tmp_path / "a"))
    assert applied.returncode == 0, applied.stderr
    refit = run_cli(*new, "--fit-on", scored, "--out", str(tmp_path / "b"))
    assert refit.returncode == 0 and f"fitted on {scored}" in refit.stdout
    assert len((tmp_path / "a" / "preds.jsonl").read_text().splitlines()) == 45
    unscored = run_cli(*new, "--out", str(tmp_path / "c"))
    assert unscored.returncode != 0 and "--fit-on" in unscored.stderr + unscored.stdout
    assert len(load_pool(new)) == 90


SAVED_SELECTOR = Path(__file__).resolve().parents[1] / "fixtures" / "select" / "selector.json"
"""A selector.json as `patchmix select` wrote it before the selector saved itself (fitted on `make_pool(24, 3)`
with top-k 3, then given two issue clusters and per-cluster counts), kept to show that such files still load."""


def test_a_selector_saved_earlier_loads_and_saves_to_the_same_file(tmp_path):
    selector = Selector.load(SAVED_SELECTOR)
    assert selector.systems == ["good", "a", "b"] and selector.combiner.strength == 0.01
    assert selector.reliability.cluster_counts == {("good", "0"): (3, 4), ("a", "1"): (1, 2)}
    assert selector.clusters.embedder == "local" and selector.clusters.centroids.shape == (2, 2)
    selector.save(tmp_path / "selector.json")
    assert (tmp_path / "selector.json").read_text() == SAVED_SELECTOR.read_text()
    views = make_views(make_pool(24, seed=3))
    assert all(pick(selector, view, i).chosen.system in selector.systems for i, view in views.items())


def test_a_selector_from_before_issue_clusters_loads_and_a_broken_one_says_what_to_do(tmp_path):
    data = json.loads(SAVED_SELECTOR.read_text())
    del data["reliability"]["cluster_counts"], data["clusters"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    selector = Selector.load(tmp_path / "old.json")
    assert selector.clusters is None and selector.reliability.cluster_counts == {}
    assert selector.reliability.counts[("good", "own/repo0")] == (6, 8)
    del data["combiner"]
    (tmp_path / "broken.json").write_text(json.dumps(data))
    with pytest.raises(PatchmixError, match="not a selector written by `patchmix select`.*fit one again"):
        Selector.load(tmp_path / "broken.json")
