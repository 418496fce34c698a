"""Routing on the real shared data: fit, apply and pick through the CLI, offline (local embedding model), and
the held-out folds checked to never let a profile read the results of instances it is scored on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.exceptions import ConfigError
from harness.route import data, heldout, pick, profile as prof
from harness.route.embed import embed_texts

DATA = Path("/work/shared/data")
CSV = DATA / "bash-only-leaderboard-resolved.csv"
DATASET = DATA / "swe-bench-verified.jsonl"
ANSWER_KEY = ("hints_text", "patch", "test_patch", "FAIL_TO_PASS", "PASS_TO_PASS")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("embeddings")


def test_fit_apply_pick_offline_on_the_shared_csv(tmp_path, cache, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    profile_path, routing_path = tmp_path / "profile.json", tmp_path / "routing.json"
    common = ["--results", str(CSV), "--dataset", str(DATASET), "--cache", str(cache)]
    assert main(["route", "fit", *common, "--out", str(profile_path)]) == 0
    saved = json.loads(profile_path.read_text())
    assert len(saved["instances"]) == 500 and len(saved["models"]) == 25 and saved["k"] in prof.KS
    assert saved["k_scores"][str(saved["k"])] == max(saved["k_scores"].values())
    assert len(list(cache.rglob("*.npy"))) == 500  # one cached vector per issue text

    ids = ["django__django-11099", "sympy__sympy-20590", "astropy__astropy-12907"]
    assert main(["route", "apply", "--profile", str(profile_path), "--dataset", str(DATASET), "--cache", str(cache),
                 "--top", "2", "--ids", *ids, "--out", str(routing_path)]) == 0
    routing = json.loads(routing_path.read_text())
    assert set(routing["instances"]) == set(ids) and routing["top"] == 2
    for entry in routing["instances"].values():
        assert len(set(entry["models"])) == 2 and set(entry["models"]) <= set(saved["models"])
        assert 0.5 < entry["expected"] <= 1
    assert "routed 3 instances to 2 of 25 models each: 6 runs instead of 75" in capsys.readouterr().out

    assert main(["route", "pick", *common, "--models", "3", "--profile", str(profile_path)]) == 0
    out = capsys.readouterr().out
    assert "rank score (seed 003):" in out and "coverage:" in out and "best possible 3-set" in out
    assert "held out (5 seeds" in out


def test_issue_texts_never_carry_the_answer_key(tmp_path):
    row = {"instance_id": "a__b-1", "repo": "a/b", "problem_statement": "Crash on empty input"}
    row.update({key: f"SECRET-{key}" for key in ANSWER_KEY})
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(row) + "\n")
    issue = data.read_issues(path)["a__b-1"]
    assert "SECRET" not in data.issue_text(issue) and "Crash on empty input" in data.issue_text(issue)


def test_folds_never_let_a_profile_read_the_results_it_is_scored_on(monkeypatch):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(60, 8))
    results = rng.integers(0, 2, size=(60, 5))
    fitted_on = []
    real_fit = prof.fit

    def recording_fit(v, r, *args, **kwargs):
        rows = [int(np.flatnonzero((vectors == row).all(1))[0]) for row in v]
        assert (results[rows] == r).all()  # the results it gets are exactly those of the rows it clusters
        fitted_on.append(set(rows))
        return real_fit(v, r, *args, **kwargs)

    monkeypatch.setattr(prof, "fit", recording_fit)
    found = heldout.evaluate(vectors, results, seeds=(0, 1), folds=3, ks=(2, 3))
    assert len(found.folds) == len(fitted_on) == 6
    for log, seen in zip(found.folds, fitted_on):
        assert seen == set(log.fitted) and not seen & set(log.held_out)
    for seed in (0, 1):
        held = [i for log in found.folds if log.seed == seed for i in log.held_out]
        assert sorted(held) == list(range(60))  # each instance held out once per seed
    # The held-out results never change a profile: flip them, and every fold's choices stay the same.
    flipped = results.copy()
    log = found.folds[0]
    flipped[log.held_out] = 1 - flipped[log.held_out]
    a = real_fit(vectors[log.fitted], results[log.fitted], [], [], "", (2, 3))
    b = real_fit(vectors[log.fitted], flipped[log.fitted], [], [], "", (2, 3))
    assert (a.results == b.results).all() and (a.centroids == b.centroids).all()


def test_coverage_pick_prefers_complementary_models_over_the_best_marginal_ones():
    results = np.array([[1, 1, 0], [1, 1, 0], [1, 1, 0], [0, 0, 1], [0, 0, 1]])
    assert pick.pick_by_coverage(results, 2) in ([0, 2], [1, 2])
    assert pick.oracle(results, [0, 1]) == 3 and pick.oracle(results, [0, 2]) == 5


def test_bad_inputs_say_what_to_fix(tmp_path):
    bad = tmp_path / "d.jsonl"
    bad.write_text(json.dumps({"instance_id": "x"}) + "\n")
    with pytest.raises(ConfigError, match="lacks one of instance_id, repo, problem_statement"):
        data.read_issues(bad)
    with pytest.raises(ConfigError, match="not a routing profile"):
        from harness.route.store import load_profile
        load_profile(bad)
    with pytest.raises(ConfigError, match="unknown embedder"):
        embed_texts(["x"], "word2vec", tmp_path)
    assert main(["route", "apply", "--profile", str(bad), "--dataset", str(bad), "--out", str(tmp_path / "r")]) != 0
