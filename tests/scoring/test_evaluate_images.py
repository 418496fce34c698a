"""`patchmix evaluate` within the run's image budget: the instances' images are served by a real registry
(Debian's `docker-registry` on 127.0.0.1, tests/pipeline/pipelinekit.py) and absent here; each is pulled just before its
instances are scored, through the run folder's image record, and removed once scored, never more than the budget
at once; an image the user had stays, and an image that cannot be pulled ends only its own instance as an
evaluation error that says so in one line. Real containers, real swebench grading."""

from __future__ import annotations

import json

import pytest
import yaml

from harness.tasks.rows import write_rows
from harness.scoring.official import OFFICIAL
from harness.scoring.imagebudget import merge_reports
from harness.scoring.evaluation import evaluate_run
from tests.pipeline.pipelinekit import (Poller, PullCounter, Registry, list_local, make_rows, push_variants,
                                        remove_local)
from tests.scoring.scoringkit import Log, read_stored, write_preds

COPIES = 4
WRONG_PATCH = ("diff --git a/NOTES.txt b/NOTES.txt\nnew file mode 100644\nindex 0000000..3b18e51\n--- /dev/null\n"
               "+++ b/NOTES.txt\n@@ -0,0 +1 @@\n+not a fix\n")


@pytest.fixture(scope="module")
def registry(bundled_rows, docker_client, tmp_path_factory):
    """A registry holding COPIES + 1 distinct images `pm/task-<i>:v1`, image i built on bundled task i % 5."""
    bases = [row["image"] for _, row in sorted(bundled_rows.items()) if not row["instance_id"].endswith("published")]
    with Registry(tmp_path_factory.mktemp("registry")) as server:
        push_variants(docker_client, server.address, bases, COPIES + 1)
        yield server, bases
        remove_local(docker_client, server.address)


class Sampler(Poller):
    """The most images under `prefix` held at once, leaving out `kept` (the user's)."""

    def __init__(self, client, prefix: str, kept: set[str]):
        super().__init__()
        self.client, self.prefix, self.kept, self.most = client, prefix, kept, 0

    def sample(self) -> None:
        self.most = max(self.most, len(set(list_local(self.client, self.prefix)) - self.kept))


def make_run_folder(root, rows: list[dict], patches: dict[str, str], images: dict | None = None):
    """A run folder as `patchmix run` leaves it, its config.yaml with these `images` settings."""
    run_dir = root / "run"
    dataset = root / "rows.jsonl"
    write_rows(rows, dataset)
    config = {"name": "run", "dataset": {"path": str(dataset), "split": "test"}, "iterations": [{"models": ["a"]}]}
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config | ({"images": images} if images else {})))
    write_preds(run_dir, 1, "a", patches)
    return run_dir


def make_scored_rows(bundled_rows, registry, count: int) -> list[dict]:
    """`count` copies of the bundled tasks, copy i on the registry's image `pm/task-<i>:v1`."""
    server, bases = registry
    rows = make_rows(bundled_rows, bases, count)
    for row in rows:
        row["image"] = f"{server.address}/pm/task-{row.pop('variant')}:v1"
    return rows


@pytest.mark.docker
def test_evaluate_pulls_each_image_before_scoring_it_and_holds_at_most_the_budget(
        registry, bundled_rows, docker_client, tmp_path):
    server, bases = registry
    rows = make_scored_rows(bundled_rows, registry, COPIES + 1)
    users = rows[COPIES]["image"]  # the user pulled this one: patchmix must leave it
    docker_client.images.pull(users)
    missing = dict(rows[0], instance_id="patchmix__missing-1", image=f"{server.address}/pm/task-missing:v1")
    rows.append(missing)
    patches = {row["instance_id"]: row["patch"] for row in rows}
    wrong = rows[1]["instance_id"]
    patches[wrong] = WRONG_PATCH
    one_image = max(docker_client.images.get(base).attrs["Size"] for base in bases) + 1_000_000
    images = {"max_disk_gb": 2 * one_image / 1e9, "prefetch": 1, "pulls_per_minute": 6000, "pull_retries": 1}
    run_dir = make_run_folder(tmp_path / "pulled", rows, patches, images)
    try:
        with Sampler(docker_client, server.address, {users}) as sampler, \
                PullCounter(docker_client, server.address) as counter:
            entry = evaluate_run(run_dir, workers=2, timeout=300, log=Log(), max_retries=0)["files"]["iter_1/a"]
        gold = sorted(row["instance_id"] for row in rows if row["instance_id"] not in (wrong, missing["instance_id"]))
        assert entry["resolved"] == gold and entry["unresolved"] == [wrong]
        assert entry["infra_errors"] == [missing["instance_id"]]
        reason = entry["error_reasons"][missing["instance_id"]]
        assert "pm/task-missing:v1 could not be pulled" in reason and "manifest unknown" in reason
        assert "\n" not in reason
        assert 1 <= sampler.most <= 2  # never more than the budget of pulled images at once
        assert dict(counter.pulls) == {f"{server.address}/pm/task-{i}:v1": 1 for i in range(COPIES)}
        assert list_local(docker_client, server.address) == [users]  # each pulled image removed once scored
        assert json.loads((run_dir / "images.json").read_text()) == {"pulled": {}}

        # the same verdicts as with every image present (the bases, under the rows' names of the bundled tasks)
        present = [dict(row, image=bases[number % len(bases)]) for number, row in enumerate(rows[:COPIES + 1])]
        same = make_run_folder(tmp_path / "present", present, {row["instance_id"]: patches[row["instance_id"]]
                                                               for row in present})
        local = evaluate_run(same, workers=2, timeout=300, log=Log(), max_retries=0)["files"]["iter_1/a"]
        assert (local["resolved"], local["unresolved"], local["infra_errors"]) == (gold, [wrong], [])
    finally:
        remove_local(docker_client, server.address)


@pytest.mark.docker
def test_evaluate_with_official_containers_scores_in_the_images_the_runs_named_within_the_budget(
        registry, bundled_rows, docker_client, tmp_path):
    """The rows name the bundled images (here); `images.name` names the registry's, which the runs ran in."""
    server, bases = registry
    rows = make_rows(bundled_rows, bases, 2)
    patches = {row["instance_id"]: row["patch"] for row in rows}
    one_image = max(docker_client.images.get(base).attrs["Size"] for base in bases) + 1_000_000
    images = {"max_disk_gb": one_image / 1e9, "prefetch": 1, "pulls_per_minute": 6000,
              "name": server.address + "/pm/task-{variant}:v1"}
    run_dir = make_run_folder(tmp_path, rows, patches, images)
    try:
        with Sampler(docker_client, server.address, set()) as sampler:
            entry = evaluate_run(run_dir, workers=2, timeout=300, log=Log(), max_retries=0,
                                 containers=OFFICIAL)["files"]["iter_1/a"]
        assert entry["resolved"] == sorted(patches) and entry["infra_errors"] == []
        assert read_stored(run_dir, "iter_1/a", "meta.json")["containers"] == OFFICIAL
        assert sampler.most == 1  # the named images were pulled, one at a time
        assert list_local(docker_client, server.address) == []
        assert json.loads((run_dir / "images.json").read_text()) == {"pulled": {}}
    finally:
        remove_local(docker_client, server.address)


def test_reports_of_disjoint_calls_merge_into_one_in_the_harness_format():
    first = {"total_instances": 1, "submitted_ids": ["a"], "completed_ids": ["a"], "resolved_ids": ["a"],
             "unresolved_ids": [], "error_ids": [], "empty_patch_ids": [], "incomplete_ids": [],
             "failure_reasons": {}, "schema_version": 2}
    second = {"total_instances": 1, "submitted_ids": ["b"], "completed_ids": ["b"], "resolved_ids": [],
              "unresolved_ids": ["b"], "error_ids": [], "empty_patch_ids": [], "incomplete_ids": [],
              "failure_reasons": {"b": "tests failed"}, "schema_version": 2}
    merged = merge_reports([first, second, {"submitted_ids": ["c"], "error_ids": ["c"]}])
    assert merged["resolved_ids"] == ["a"] and merged["unresolved_ids"] == ["b"] and merged["error_ids"] == ["c"]
    assert merged["submitted_instances"] == 3 and merged["completed_instances"] == 2
    assert merged["error_instances"] == 1 and merged["failure_reasons"] == {"b": "tests failed"}
