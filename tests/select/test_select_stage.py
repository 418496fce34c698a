"""The pipeline's select stage (`select:` in its config): after the last iteration the rules' and the fitted
selector's picks are in runs/<name>/selected/ (`patchmix run`); `patchmix evaluate` gives them their verdicts
without changing them, and `patchmix report` shows them beside the oracle."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tests.pipeline.pipelinekit import DATASET, make_config, write_config
from tests.select.selectkit import write_run

from harness.analysis.report import write_report
from harness.demo.models import make_demo_script
from harness.scripted.server import ScriptedServer
from harness.exceptions import ConfigError
from harness.fileio import read_jsonl
from harness.pipeline.load import load_pipeline_config
from harness.pipeline.progress import Progress
from harness.route.data import issue_text, read_issues
from harness.route.embed import embed_texts
from harness.route.profile import Profile
from harness.route.store import save_profile
from harness.select.pool import read_run_folder
from harness.select.stage import make_stage_checks, run_select_stage
from harness.workflow.chains import evaluate_then_refresh, run_then_select, select_after_run

SYSTEMS = {"iter_1/fixer": 1.0, "iter_1/breaker": 0.0, "iter_1/tripper": 0.0, "iter_2/merger": 0.5,
           "iter_3/merger": 0.5}


def write_scored_pool(path, systems: dict[str, float] = SYSTEMS) -> None:
    """A scored pool of other instances made by systems named like this run's (by default the fixer resolves
    all of them), each system resolving its share of them."""
    rows = []
    for n in range(16):
        for system, rate in systems.items():
            resolved = (n % 4) < rate * 4
            value = n if resolved else -n
            patch = f"diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-y = 0\n+y = {value}\n"
            rows.append({"instance_id": f"own__repo-{n}", "system": system, "model_patch": patch,
                         "resolved": resolved})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


@pytest.mark.docker
def test_a_pipeline_ending_with_a_select_stage_picks_scores_and_reports(bundled_rows, tmp_path, capsys):
    write_scored_pool(tmp_path / "pool.jsonl")
    rows = [bundled_rows[i] for i in ("patchmix__unitconv-1", "patchmix__daterange-1")]
    with ScriptedServer(make_demo_script(rows)) as server:
        config = make_config(server.api_base, name="staged", select={"fit_on": ["pool.jsonl"], "top_k": 2})
        path = write_config(tmp_path / "pipeline.yaml", config)
        assert run_then_select(path, runs_dir=tmp_path / "runs", progress=Progress(live=False)) == 0
    run_dir = tmp_path / "runs" / "staged"
    printed = capsys.readouterr().out
    assert "the oracle resolves" in printed and "2 instances picked among 2 systems" in printed

    combined = run_dir / "selected" / "combined"
    picks = read_jsonl(combined / "preds.jsonl")
    assert len(picks) == 2 and json.loads((combined / "summary.json").read_text())["scored"] == 0
    reasons = [json.loads(line) for line in (combined / "reasons.jsonl").read_text().splitlines()]
    assert all({c["system"] for c in r["candidates"]} <= {"iter_1/fixer", "iter_2/merger", "iter_3/merger"}
               for r in reasons), "top_k 2 picks among the two most reliable systems of the pool fitted on"
    assert (run_dir / "selected" / "vote" / "preds.jsonl").is_file()

    told = []
    evaluate_then_refresh(run_dir, workers=2, log=told.append)
    assert any("now count the verdicts" in line for line in told)
    assert read_jsonl(combined / "preds.jsonl") == picks, "the verdicts change no pick"
    verdicts = {(c.instance_id, c.patch): c.resolved for c in read_run_folder(run_dir)}
    expected = sum(verdicts[(p["instance_id"], p["model_patch"])] for p in picks)
    summary = json.loads((combined / "summary.json").read_text())
    assert summary["scored"] == 2 and summary["resolved"] == expected
    rules = json.loads((run_dir / "selected" / "summary.json").read_text())
    assert rules["scored"] and all(entry["scored"] == 2 for entry in rules["strategies"].values())

    text = write_report(run_dir).read_text()
    selection = text.split("## Selection", 1)[1].split("\n## ", 1)[0]
    assert f"| {expected} |" in selection and "| oracle |" in selection and "| vote |" in selection
    assert "pool.jsonl" in selection, "the selector's row says what it was fitted on"

    config["select"] = {}  # the stage may change between resumes: nothing is run again, only the rules pick
    with ScriptedServer(make_demo_script(rows)) as server:
        config = {**config, "models": {label: {**model, "api_base": server.api_base}
                                       for label, model in config["models"].items()}}
        write_config(path, config)
        assert run_then_select(path, runs_dir=tmp_path / "runs", progress=Progress(live=False)) == 0
        assert not server.requests
    assert "the oracle resolves" in capsys.readouterr().out


@pytest.mark.docker
def test_a_select_stage_with_execute_drops_a_pick_that_breaks_passing_tests(bundled_rows, tmp_path):
    """The breaker is the most reliable system of the pool fitted on, but its patch on daterange breaks the module
    it edits: with `execute: true` the stage runs the repository's own tests in the instance's container and the
    pick falls to the fixer's patch, which breaks none; the reasons show both results."""
    write_scored_pool(tmp_path / "pool.jsonl", {"iter_1/breaker": 1.0, "iter_1/fixer": 0.25, "iter_1/tripper": 0.0,
                                                "iter_2/merger": 0.0, "iter_3/merger": 0.0})
    rows = [bundled_rows["patchmix__daterange-1"]]
    with ScriptedServer(make_demo_script(rows)) as server:
        config = make_config(server.api_base, name="executed", instances={"ids": ["patchmix__daterange-1"]},
                             iterations=[{"models": ["fixer", "breaker"]}],
                             select={"fit_on": ["pool.jsonl"], "top_k": 2, "execute": True})
        path = write_config(tmp_path / "pipeline.yaml", config)
        assert run_then_select(path, runs_dir=tmp_path / "runs", progress=Progress(live=False)) == 0
    combined = tmp_path / "runs" / "executed" / "selected" / "combined"
    [reason] = [json.loads(line) for line in (combined / "reasons.jsonl").read_text().splitlines()]
    assert reason["candidates"][0]["system"] == "iter_1/breaker", "the combiner alone ranks the breaker first"
    assert reason["chosen"] == "iter_1/fixer"
    checked = {c["system"]: (c["dropped"], c["broken_tests"] > 0) for c in reason["candidates"]}
    assert checked == {"iter_1/breaker": (True, True), "iter_1/fixer": (False, False)}
    [pick] = read_jsonl(combined / "preds.jsonl")
    assert "patchmix_demo_missing_module" not in pick["model_patch"] and pick["model_patch"].strip()
    executed = {line["system"]: line for line in read_jsonl(combined / "execution.jsonl")}
    assert executed["iter_1/breaker"]["broken"] and executed["iter_1/fixer"] == {
        "instance_id": "patchmix__daterange-1", "system": "iter_1/fixer", "applies": True, "broken": []}


def test_select_execution_files_need_a_pool_to_fit_on_and_must_exist(tmp_path):
    (tmp_path / "pool.jsonl").write_text("")
    for select, expected in (({"execution": ["execution.jsonl"]}, "give select.fit_on as well"),
                             ({"fit_on": ["pool.jsonl"], "execution": ["nowhere.jsonl"]},
                              "config key select.execution.0: nowhere.jsonl does not exist")):
        config = make_config("http://127.0.0.1:9/v1", select=select)
        with pytest.raises(ConfigError) as error:
            load_pipeline_config(write_config(tmp_path / "pipeline.yaml", config))
        assert expected in str(error.value) and "\n" not in str(error.value)


def test_a_select_stage_naming_a_missing_selector_is_refused_at_start(tmp_path):
    config = make_config("http://127.0.0.1:9/v1", select={"selector": "nowhere/selector.json"})
    with pytest.raises(ConfigError) as error:
        load_pipeline_config(write_config(tmp_path / "pipeline.yaml", config))
    message = str(error.value)
    assert "config key select.selector: nowhere/selector.json does not exist" in message and "\n" not in message


def test_a_select_stage_with_nothing_to_pick_says_so_in_one_line(tmp_path):
    path = write_config(tmp_path / "pipeline.yaml", make_config("http://127.0.0.1:9/v1", name="empty", select={}))
    (tmp_path / "runs" / "empty").mkdir(parents=True)
    said = select_after_run(load_pipeline_config(path), tmp_path / "runs")
    assert said.startswith("the select stage picked nothing: ") and "has no finished run with a patch" in said
    assert "\n" not in said and not (tmp_path / "runs" / "empty" / "selected").exists()


@pytest.mark.docker
def test_a_select_stage_with_a_judge_lets_it_overrule_the_combiner_and_counts_its_cost(bundled_rows, tmp_path):
    """Without execution the combiner picks the breaker (the most reliable system of the pool fitted on); the judge,
    shown the breaker's change as A and the fixer's as B with their runs' summaries, chooses B, and its cost is in
    the stage's summary."""
    write_scored_pool(tmp_path / "pool.jsonl", {"iter_1/breaker": 1.0, "iter_1/fixer": 0.25, "iter_1/tripper": 0.0,
                                                "iter_2/merger": 0.0, "iter_3/merger": 0.0})
    rows = [bundled_rows["patchmix__daterange-1"]]
    script = make_demo_script(rows)
    script["models"]["judge"] = [{"match": "", "replies": [
        {"tool_calls": [{"name": "choose", "arguments": {"candidate": "B", "reason": "A deletes a module"}}]}]}]
    with ScriptedServer(script) as server:
        config = make_config(server.api_base, name="judged", instances={"ids": ["patchmix__daterange-1"]},
                             iterations=[{"models": ["fixer", "breaker"], "summary_template": "summary.j2"}],
                             select={"fit_on": ["pool.jsonl"], "top_k": 2, "judge": "judge", "judge_budget": 1.0})
        config["models"]["judge"] = {**config["models"]["fixer"], "name": "openai/judge"}
        path = write_config(tmp_path / "pipeline.yaml", config)
        assert run_then_select(path, runs_dir=tmp_path / "runs", progress=Progress(live=False)) == 0
    [asked] = [r["body"]["messages"][0]["content"] for r in server.requests if r["model"] == "judge"]
    assert asked.count("<account>") == 2  # each run's summary of its attempt is shown with its change
    combined = tmp_path / "runs" / "judged" / "selected" / "combined"
    [reason] = [json.loads(line) for line in (combined / "reasons.jsonl").read_text().splitlines()]
    assert reason["candidates"][0]["system"] == "iter_1/breaker" and reason["chosen"] == "iter_1/fixer"
    assert {c["system"]: c["judge"] for c in reason["candidates"]} == {"iter_1/breaker": "shown",
                                                                       "iter_1/fixer": "chosen"}
    summary = json.loads((combined / "summary.json").read_text())
    assert summary["judged"] and summary["cost"]["judge"] == reason["judge"]["cost"] > 0
    ledger = read_jsonl(tmp_path / "runs" / "judged" / "ledger.jsonl")
    [start] = [line for line in ledger if line.get("stage") == "select"]
    assert start["label"] == "judge" and start["event"] == "start"  # the run's spend counts the judge's calls
    [end] = [line for line in ledger if line.get("call") == start["call"] and line["event"] == "end"]
    assert end["cost"] == reason["judge"]["cost"]


@pytest.mark.parametrize("select, expected", [
    ({"judge": "oracle"}, "config key select.judge: unknown model 'oracle'"),
    ({"reproduce": "fixer"}, "config key select.reproduce: a reproduction script is run in the instance's container"),
    ({"selector": "s.json", "clusters": "p.json"}, "config key select.clusters: it is for fitting a selector"),
    ({"fit_on": [], "clusters": "nowhere/profile.json"}, "config key select.clusters: nowhere/profile.json does not "
                                                         "exist"),
])
def test_a_select_stage_with_a_bad_judge_or_reproducer_is_refused_at_start(tmp_path, select, expected):
    path = write_config(tmp_path / "pipeline.yaml", make_config("http://127.0.0.1:9/v1", select=select))
    with pytest.raises(ConfigError) as error:
        load_pipeline_config(path)
    assert str(error.value).startswith(expected) and "\n" not in str(error.value)


def test_the_select_stage_checks_use_the_pipelines_models_defaults_prompts_and_ledger(tmp_path):
    (tmp_path / "pool.jsonl").write_text("")
    (tmp_path / "mine").mkdir()
    config = make_config("http://127.0.0.1:9/v1", select={"fit_on": ["pool.jsonl"], "execute": True,
                                                          "reproduce": "fixer", "judge": "merger"},
                         prompts_dir="mine", budget=3.0)
    config["defaults"]["container"]["mem_limit"] = "3g"
    loaded = load_pipeline_config(write_config(tmp_path / "pipeline.yaml", config))
    checks = make_stage_checks(loaded, tmp_path / "runs" / "t")
    assert checks.reproduce.model.label == "fixer" and checks.judge.label == "merger"
    assert checks.reproduce.container.mem_limit == checks.container.mem_limit == "3g"
    assert checks.reproduce.limits.step_limit == 6 and checks.reproduce.instance_template == "instance.j2"
    assert checks.prompts_dir == checks.reproduce.prompts_dir == str(tmp_path / "mine")
    assert checks.ledger == tmp_path / "runs" / "t" / "ledger.jsonl" and checks.budget == 3.0


def test_a_select_stage_with_clusters_places_the_runs_issues_from_the_pipelines_dataset(tmp_path, monkeypatch):
    """The stage's selector weighs the per-cluster prior: the run's instances are placed in the routing profile's
    clusters from the pipeline's dataset (real texts, the real offline embedder); the fit pool's instances, not in
    that dataset, keep their systems' overall rates."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    issues = read_issues(DATASET)
    ids = sorted(issues)[:2]
    vectors = embed_texts([issue_text(issues[i]) for i in ids], cache_dir=tmp_path / "cache")
    save_profile(Profile("local", ["m"], ids, np.zeros((2, 1), dtype=np.int8), np.arange(2), vectors),
                 tmp_path / "profile.json")
    write_scored_pool(tmp_path / "pool.jsonl")
    run = tmp_path / "runs" / "t"
    patch = "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-y = 0\n+y = {}\n"
    write_run(run, [(1, model, i, patch.format(n), "submitted") for i in ids
                    for n, model in enumerate(("fixer", "breaker"))], {})
    config = make_config("http://127.0.0.1:9/v1", select={"fit_on": ["pool.jsonl"], "clusters": "profile.json"})
    loaded = load_pipeline_config(write_config(tmp_path / "pipeline.yaml", config))
    said = run_select_stage(run, loaded)
    assert "issue clusters: 2 of 18 instances placed among 2 clusters (16 not in" in said
    saved = json.loads((run / "selected" / "combined" / "selector.json").read_text())
    assert len(saved["clusters"]["centroids"]) == 2 and saved["reliability"]["cluster_counts"] == []
    reasons = read_jsonl(run / "selected" / "combined" / "reasons.jsonl")
    assert [r["instance_id"] for r in reasons] == ids
