"""The per-cluster reliability prior: issues placed in the router's clusters (real issue texts of SWE-bench
Verified, the real offline embedder, a profile saved as `patchmix route fit` saves one), a selector that learns
which system to trust in which cluster, and the CLI's clear lines when a piece is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.route.data import issue_text, read_issues
from harness.route.embed import embed_texts
from harness.route.profile import fit
from harness.route.store import save_profile
from harness.select.features import FEATURES, get_features
from harness.select.pool import Candidate
from harness.select.priors import SHRINK, fit_reliability
from harness.select.selector import fit_selector, make_views

DATASET = Path("/work/shared/data/swe-bench-verified.jsonl")


def make_patch(system: str, value: str) -> str:
    return (f"diff --git a/pkg/{system}.py b/pkg/{system}.py\n--- a/pkg/{system}.py\n+++ b/pkg/{system}.py\n"
            f"@@ -1 +1 @@\n-x = 0\n+x = {value}\n")


def test_cluster_rates_are_shrunk_toward_the_systems_overall_rate():
    pool = [Candidate(f"o__r-{n}", "x", "p", n < 10, cluster=0 if n < 10 else 1) for n in range(20)]
    pool += [Candidate("o__r-99", "x", "p", True)]  # no cluster: counted overall only
    reliability = fit_reliability(pool)
    overall = reliability.get("x")
    assert reliability.get_in_cluster("x", 0) == pytest.approx((10 + SHRINK * overall) / (10 + SHRINK))
    assert reliability.get_in_cluster("x", 1) == pytest.approx(SHRINK * overall / (10 + SHRINK))
    assert reliability.get_in_cluster("x", None) == reliability.get_in_cluster("x", 7) == overall


def test_without_clusters_the_cluster_column_is_zero_and_weighs_nothing():
    """So a selector fitted without clusters is the one it was before the column existed."""
    pool = [Candidate(f"o__r{n % 3}-{n}", system, make_patch(system, str(n % 4)), (n + k) % 3 == 0)
            for n in range(40) for k, system in enumerate("ab")]
    views = make_views(pool)
    selector = fit_selector(views, sorted(views))
    column = FEATURES.index("prior_cluster")
    assert selector.combiner.weights[column] == 0.0
    assert all((get_features(view, selector.reliability)[:, column] == 0).all() for view in views.values())


@pytest.fixture(scope="module")
def clustered(tmp_path_factory):
    """60 real issues, a 2-cluster profile of their embeddings, and a scored pool in which system 'x' resolves
    the issues of cluster 0 and 'y' those of cluster 1 (so each is right as often overall)."""
    root = tmp_path_factory.mktemp("clusters")
    home = root / "home"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    issues = read_issues(DATASET)
    ids = sorted(i for i in issues if i.startswith("django__django-1"))[:60]
    (root / "issues.jsonl").write_text("".join(json.dumps(vars(issues[i])) + "\n" for i in ids))
    vectors = embed_texts([issue_text(issues[i]) for i in ids], cache_dir=home / ".cache/patchmix/embeddings")
    results = np.random.default_rng(0).integers(0, 2, size=(len(ids), 2))
    profile = fit(vectors, results, ["m1", "m2"], ids, "local", ks=(2,))
    save_profile(profile, root / "profile.json")
    rows = []
    for instance, label in zip(ids, profile.labels):
        for system, home_cluster in (("x", 0), ("y", 1)):
            rows.append({"instance_id": instance, "system": system, "resolved": int(label) == home_cluster,
                         "model_patch": make_patch(system, "1" if int(label) == home_cluster else "2")})
    (root / "pool.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return root, home, profile


def run_select(root: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", "select", *args], capture_output=True, text=True,
                          cwd=root, timeout=900, env={**os.environ, "HOME": str(home), "HF_HUB_OFFLINE": "1"})


def selector_count(stdout: str) -> float:
    row = next(line for line in stdout.splitlines() if line.startswith("| all systems, k-fold"))
    return float(row.split("|")[5].split("±")[0])


def test_the_selector_learns_which_system_to_trust_in_which_cluster(clustered):
    root, home, profile = clustered
    both = ("pool.jsonl", "--evaluate", "--top-k", "all", "--seeds", "2")
    plain = run_select(root, home, *both, "--out", "plain")
    with_clusters = run_select(root, home, *both, "--clusters", "profile.json", "--issues", "issues.jsonl",
                               "--out", "clustered")
    assert plain.returncode == 0 and with_clusters.returncode == 0, plain.stderr + with_clusters.stderr
    assert "issue clusters: 60 of 60 instances placed among 2 clusters" in with_clusters.stdout
    smaller = min(np.bincount(profile.labels))
    assert selector_count(plain.stdout) <= 60 - smaller  # one system's cluster at most, without the clusters
    assert selector_count(with_clusters.stdout) >= 60 - smaller / 2


def test_a_selector_fitted_with_clusters_places_a_new_pool_the_same_way(clustered):
    root, home, _ = clustered
    fitted = run_select(root, home, "pool.jsonl", "--clusters", "profile.json", "--issues", "issues.jsonl",
                        "--out", "fit")
    assert fitted.returncode == 0, fitted.stderr
    saved = json.loads((root / "fit" / "selector.json").read_text())
    assert saved["clusters"]["embedder"] == "local" and len(saved["clusters"]["centroids"]) == 2
    assert saved["reliability"]["cluster_counts"] and "prior_cluster" in saved["combiner"]["features"]
    reasons = [json.loads(line) for line in (root / "fit" / "reasons.jsonl").read_text().splitlines()]
    assert sum(r["candidates"][0]["prior_cluster"] > r["candidates"][1]["prior_cluster"] for r in reasons) == 60

    applied = run_select(root, home, "pool.jsonl", "--selector", "fit/selector.json", "--issues", "issues.jsonl",
                         "--out", "applied")
    assert applied.returncode == 0, applied.stderr
    assert (root / "applied" / "preds.jsonl").read_text() == (root / "fit" / "preds.jsonl").read_text()


@pytest.mark.parametrize("args, says", [
    (("--clusters", "profile.json"), "give --issues DATASET"),
    (("--selector", "fit/selector.json"), "give --issues DATASET"),
    (("--selector", "fit/selector.json", "--clusters", "profile.json", "--issues", "issues.jsonl"), "drop --clusters"),
    (("--clusters", "pool.jsonl", "--issues", "issues.jsonl"), "make one with `patchmix route fit`"),
    (("--clusters", "profile.json", "--issues", "pool.jsonl"), "each row needs all three"),
])
def test_a_missing_or_wrong_piece_is_one_clear_line(clustered, args, says):
    root, home, _ = clustered
    if not (root / "fit" / "selector.json").exists():
        assert run_select(root, home, "pool.jsonl", "--clusters", "profile.json", "--issues", "issues.jsonl",
                          "--out", "fit").returncode == 0
    done = run_select(root, home, "pool.jsonl", *args, "--out", "bad")
    assert done.returncode != 0 and says in done.stderr + done.stdout
    assert "Traceback" not in done.stderr and not (root / "bad" / "preds.jsonl").exists()
