"""The verdict cache cannot return a stale verdict: a changed dataset row (eval script, FAIL_TO_PASS,
PASS_TO_PASS, ...), another image under the row's image name, or the other kind of scoring containers is scored
again; the unchanged row is served from the cache. Which containers gave each verdict is recorded and reported."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest

from harness.analysis.runread import read_run
from harness.analysis.numbers import build_summary
from harness.cli import make_parser
from harness.tasks.rows import write_rows
from harness.scoring.commands import get_containers
from harness.scoring.official import ISOLATED, OFFICIAL
from harness.scoring.keys import SCORED_FIELDS, is_same_image, make_row_key
from harness.scoring.evaluation import evaluate_run
from harness.scoring.runfolder import get_container_limits
from tests.scoring.scoringkit import Log, make_run, read_stored

ROW = {"instance_id": "x__y-1", "image": "img:1", "eval_script": "pytest a", "repo": "x/y", "version": "1",
       "FAIL_TO_PASS": '["t1"]', "PASS_TO_PASS": '["t2"]', "log_parser": "parse_log_pytest",
       "eval_type": "pass_and_fail", "image_assets": None, "patch": "gold", "hints_text": "hint"}


def test_every_field_grading_reads_is_in_the_row_key():
    """What `make_test_spec` builds a TestSpec from is keyed; the answer key's other columns are not."""
    from swebench.types import TestSpec

    spec_fields = {field.name for field in dataclasses.fields(TestSpec)} - {"eval_script_list"} | {"eval_script"}
    assert spec_fields <= set(SCORED_FIELDS)
    key = make_row_key(ROW, ISOLATED)
    for name in SCORED_FIELDS:
        assert make_row_key(dict(ROW, **{name: "changed"}), ISOLATED) != key, name
    assert make_row_key(ROW, OFFICIAL) != key
    assert make_row_key(dict(ROW, FAIL_TO_PASS=["t1"], PASS_TO_PASS=["t2"]), ISOLATED) == key
    assert make_row_key(dict(ROW, patch="other", hints_text="other"), ISOLATED) == key


def test_an_image_that_is_not_here_keeps_its_verdicts():
    assert is_same_image("sha256:a", "sha256:a") and not is_same_image("sha256:a", "sha256:b")
    assert is_same_image("sha256:a", None) and is_same_image(None, "sha256:b")


def test_the_official_containers_are_one_flag_away():
    parser = make_parser()
    assert get_containers(parser.parse_args(["evaluate", "runs/x"])) == ISOLATED
    assert get_containers(parser.parse_args(["evaluate", "runs/x", "--official-containers"])) == OFFICIAL
    assert get_containers(parser.parse_args(["validate-gold", "--dataset", "d.jsonl", "--official-containers"])) \
        == OFFICIAL


def test_scoring_containers_take_the_limits_of_the_runs_agent_containers():
    config = {"defaults": {"container": {"mem_limit": "2g", "cpus": 1.0, "command_timeout": 60}}}
    assert get_container_limits(config) == {"mem_limit": "2g", "cpus": 1.0}
    assert get_container_limits({"defaults": None}) == {} and get_container_limits({}) == {}


def score(run_dir, **options) -> tuple[int, dict, dict]:
    summary = evaluate_run(run_dir, workers=2, timeout=300, log=Log(), max_retries=0, **options)
    return summary["harness_calls"], summary["files"]["iter_1/a"], read_stored(run_dir, "iter_1/a", "meta.json")


@pytest.mark.docker
def test_a_changed_row_or_image_is_scored_again_never_served_stale(bundled_rows, docker_client, tmp_path):
    row = bundled_rows["patchmix__unitconv-1"]
    instance_id, image = row["instance_id"], f"patchmix-test/keyed:{uuid.uuid4().hex[:8]}"
    docker_client.images.get(row["image"]).tag(image)
    try:
        original = dict(row, image=image)
        dataset = tmp_path / "rows.jsonl"
        write_rows([original], dataset)
        run_dir = make_run(tmp_path, dataset, {(1, "a"): {instance_id: row["patch"]}})
        calls, entry, meta = score(run_dir)
        assert calls == 1 and entry["resolved"] == [instance_id] and meta["containers"] == ISOLATED
        check_changes_are_scored_again(run_dir, dataset, original, instance_id)

        docker_client.images.get(bundled_rows["patchmix__wrapkit-1"]["image"]).tag(image)
        calls, entry, meta = score(run_dir)
        assert calls == 1 and entry["resolved"] == [] and meta["scored_ids"] == [instance_id], \
            "another image under the row's name is scored again"
        docker_client.images.get(row["image"]).tag(image)
        calls, entry, _ = score(run_dir)
        assert calls == 0 and entry["resolved"] == [instance_id], "the first image's verdict, from the cache"
        check_official_containers_are_recorded(run_dir, instance_id)
    finally:
        docker_client.images.remove(image)


def check_changes_are_scored_again(run_dir, dataset, original: dict, instance_id: str) -> None:
    """Each edit of the row that grading reads is scored again (and resolves no longer); the original row, back,
    is served from the cache."""
    missing = '["tests/test_temperature.py::test_that_is_not_there"]'
    edits = {"FAIL_TO_PASS": dict(original, FAIL_TO_PASS=json.dumps(json.loads(original["FAIL_TO_PASS"])
                                                                     + json.loads(missing))),
             "PASS_TO_PASS": dict(original, PASS_TO_PASS=missing),
             "eval_script": dict(original, eval_script=original["eval_script"].replace("pytest -rA",
                                                                                     "pytest -rA -k 'not kelvin'"))}
    for name, edited in edits.items():
        assert edited[name] != original[name]
        write_rows([edited], dataset)
        calls, entry, meta = score(run_dir)
        assert calls == 1 and meta["scored_ids"] == [instance_id], f"a changed {name} was served from the cache"
        assert entry["resolved"] == [] and entry["unresolved"] == [instance_id], name
    write_rows([original], dataset)
    calls, entry, meta = score(run_dir)
    assert calls == 0 and entry["resolved"] == [instance_id] and meta["cached_ids"] == [instance_id]


def check_official_containers_are_recorded(run_dir, instance_id: str) -> None:
    """The harness's own containers give their own verdict (not the isolated one from the cache), and the meta,
    the cache entry and the report say where it was obtained."""
    summary = build_summary(read_run(run_dir), "fake")
    assert "patchmix's isolated scoring containers" in summary["scoring"]
    calls, entry, meta = score(run_dir, containers=OFFICIAL)
    assert calls == 1 and entry["resolved"] == [instance_id] and meta["containers"] == OFFICIAL
    entries = [json.loads(path.read_text()) for path in (run_dir / "eval" / "cache" / instance_id).glob("*.json")]
    assert OFFICIAL in {entry["containers"] for entry in entries}
    summary = build_summary(read_run(run_dir), "fake")
    assert "the official harness's own containers" in summary["scoring"]
    assert summary["models"][0]["scored_in"] == OFFICIAL
    assert score(run_dir, containers=OFFICIAL)[0] == 0
