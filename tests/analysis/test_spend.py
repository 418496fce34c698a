"""Spending less per resolved instance: agreement-based skipping and summaries forward, through the whole
pipeline with scripted models over real HTTP, real containers, real scoring and the real report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness.demo.models import REFINE_MARK, get_issue_title, make_breaker, make_demo_script, make_fixer, make_tripper
from harness.scripted.server import ScriptedServer
from harness.fileio import read_jsonl
from harness.pipeline.skipping import find_agreement
from harness.pipeline.launch import run_pipeline
from harness.pipeline.progress import Progress

from tests.pipeline.pipelinekit import first_prompts

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "tasks" / "bundled.jsonl"
AGREED, DISPUTED = "patchmix__unitconv-1", "patchmix__daterange-1"
PRICE = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
STEP_LIMIT = 6


def load_rows() -> list[dict]:
    return [row for row in read_jsonl(DATASET) if row["instance_id"] in (AGREED, DISPUTED)]


def make_config(api_base: str, iterations: list[dict], name: str = "t") -> dict:
    model = {"api_base": api_base, "api_key_env": "SCRIPTED_API_KEY", "retry_wait": 0.01, **PRICE}
    return {"name": name, "dataset": {"path": str(DATASET)}, "instances": {"ids": [AGREED, DISPUTED]},
            "defaults": {"limits": {"step_limit": STEP_LIMIT}, "container": {"command_timeout": 30}},
            "models": {label: {"name": f"openai/{label}", **model} for label in ("fixer", "breaker", "tripper", "merger")},
            "iterations": iterations, "workers": 2}


def run(tmp_path: Path, server: ScriptedServer, iterations: list[dict]) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(make_config(server.api_base, iterations)))
    assert run_pipeline(path, runs_dir=tmp_path / "runs", progress=Progress(live=False)) == 0
    return tmp_path / "runs" / "t"


def read_info(run_dir: Path, iteration: int, label: str, instance: str) -> dict:
    return json.loads((run_dir / f"iter_{iteration}" / label / f"{instance}.traj.json").read_text())["info"]


def answer_key_texts(rows: list[dict]) -> list[str]:
    """Pieces of every row's answer key that no model may see: hints, test names, test and gold patch lines."""
    texts = []
    for row in rows:
        texts.append(row["hints_text"].strip())
        texts += [name.split("::")[-1] for field in ("FAIL_TO_PASS", "PASS_TO_PASS") for name in json.loads(row[field])]
        texts += [line[1:].strip() for field in ("test_patch",) for line in row[field].splitlines()
                  if line.startswith("+") and not line.startswith("+++") and len(line.strip()) > 12]
    return [text for text in texts if text]


def test_agreement_counts_models_behind_a_carried_patch_and_ignores_formatting():
    fix = "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = x+1\n+y = x + 2\n"
    same = "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -7,2 +7,3 @@\n z\n-y = x+1\n+y  =  x + 2\n+# why\n"
    other = fix.replace("x + 2", "x + 3")
    runs = [{"iteration": 1, "model": m, "info": {"patch": p, "exit_status": s}}
            for m, p, s in (("a", fix, "step_limit"), ("b", same, "submitted"), ("c", other, "submitted"))]
    agreed = find_agreement(runs, 2)
    assert agreed["models"] == ["a", "b"] and agreed["patch"] == same  # the submitted one of the group
    assert find_agreement(runs, 3) is None
    carried = [{"iteration": 2, "model": "m", "info": {"patch": same, "exit_status": "skipped_agreed",
                                                        "agreed_models": ["a", "b"]}}]
    assert find_agreement(carried, 2)["models"] == ["a", "b"]
    assert find_agreement([{**runs[0], "info": {"patch": "", "exit_status": "submitted"}}], 1) is None


@pytest.mark.docker
def test_iteration_2_runs_only_the_disputed_instance_and_the_report_counts_the_saving(bundled_rows, tmp_path):
    from harness.analysis.report import write_report
    from harness.scoring.evaluation import evaluate_run

    iterations = [
        {"models": ["fixer", "breaker", "tripper"]},
        {"models": ["merger"], "instance_template": "instance_with_patches.j2", "draws_on": [1],
         "skip_if_agreed": {"min_models": 2}},
        {"models": ["merger"], "instance_template": "instance_refine.j2", "draws_on": [2]},
    ]
    with ScriptedServer(make_demo_script(load_rows())) as server:
        run_dir = run(tmp_path, server, iterations)
        requests = len(server.requests)
        assert run(tmp_path, server, iterations) == run_dir and len(server.requests) == requests  # resume: nothing
    # unitconv: fixer, breaker (its odd one) and tripper (a one-hunk fix) make the same change; daterange: not.
    skipped = read_info(run_dir, 2, "merger", AGREED)
    assert skipped["exit_status"] == "skipped_agreed" and skipped["cost"] == 0 and skipped["steps"] == 0
    assert skipped["patch_label"] == "agreed:breaker,fixer,tripper"
    assert skipped["patch"] == read_info(run_dir, 1, "fixer", AGREED)["patch"]
    assert read_info(run_dir, 2, "merger", DISPUTED)["exit_status"] == "submitted"
    iteration2 = [p for p in first_prompts(server, "merger") if REFINE_MARK not in p]
    titles = {get_issue_title(row): row["instance_id"] for row in load_rows()}
    assert [next(i for t, i in titles.items() if t in p) for p in iteration2] == [DISPUTED]
    preds = {row["instance_id"]: row["model_patch"] for row in read_jsonl(run_dir / "iter_2" / "merger" / "preds.jsonl")}
    assert preds[AGREED] == skipped["patch"] and preds[DISPUTED]
    agreed_title = next(t for t, i in titles.items() if i == AGREED)
    refine = next(p for p in first_prompts(server, "merger") if REFINE_MARK in p and agreed_title in p)
    assert 'run_ended="skipped_agreed" note="carried forward without a new run: breaker, fixer, tripper' in refine

    evaluate_run(run_dir, workers=2, log=lambda line: None)
    write_report(run_dir)
    summary = json.loads((run_dir / "report" / "summary.json").read_text())
    second = summary["spend"]["iterations"][1]
    merger_run = read_info(run_dir, 2, "merger", DISPUTED)["cost"]
    assert (second["runs"], second["skipped_runs"], second["skipped_instances"]) == (1, 1, 1)
    assert second["skipped_instances_resolved"] == 1
    assert second["saved_estimate"] == pytest.approx(merger_run) and merger_run > 0
    assert summary["spend"]["skipped_runs"] == 1
    row = next(r for r in summary["models"] if (r["iteration"], r["model"]) == (2, "merger"))
    assert row["exit_statuses"]["skipped_agreed"] == 1
    first = summary["spend"]["iterations"][0]
    no_patch = sum(read_info(run_dir, 1, m, i)["cost"] for m in ("fixer", "breaker", "tripper")
                   for i in (AGREED, DISPUTED) if not read_info(run_dir, 1, m, i)["patch"])
    assert first["no_patch_cost"] == pytest.approx(no_patch, abs=1e-6)
    report = (run_dir / "report" / "summary.md").read_text()
    assert "## Spend per resolved instance" in report and "saved 1 run, about $0.0" in report


def summarised(replies: list[dict], text: str) -> list[dict]:
    return [*replies, {"content": text}]


def make_summary_script(rows: list[dict]) -> tuple[dict, dict]:
    """The demo's models, each followed by a summary naming its (iteration, model, instance); and those texts."""
    script, texts = {"models": {"fixer": [], "tripper": [], "merger": []}}, {}
    for row in rows:
        title, name = get_issue_title(row), row["instance_id"]
        for key in [(1, "fixer"), (1, "tripper"), (2, "merger"), (3, "merger")]:
            texts[(*key, name)] = (f"Found: SUMMARY-{key[0]}-{key[1]}-{name}: the cause is in the module.\n"
                                   "Changed: one line.\nVerified: ran my script.\nUncertain: edge cases.")
        tripper = make_tripper(row)
        tripper = [*tripper, *[tripper[-1]] * (STEP_LIMIT - len(tripper))]  # cut off by the step limit
        script["models"]["fixer"].append({"match": title, "replies": summarised(make_fixer(row), texts[(1, "fixer", name)])})
        script["models"]["tripper"].append({"match": title, "replies": summarised(tripper, texts[(1, "tripper", name)])})
        script["models"]["merger"].append({"match": [title, REFINE_MARK],
                                           "replies": summarised(make_breaker(row), texts[(3, "merger", name)])})
        script["models"]["merger"].append({"match": title, "replies": summarised(make_fixer(row), texts[(2, "merger", name)])})
    return script, texts


@pytest.mark.docker
def test_summaries_after_submit_and_breaker_reach_exactly_the_prompts_that_draw_on_them(bundled_rows, tmp_path):
    rows = load_rows()
    script, texts = make_summary_script(rows)
    iterations = [
        {"models": ["fixer", "tripper"], "summary_template": "summary.j2"},
        {"models": ["merger"], "instance_template": "instance_with_patches.j2", "draws_on": [1],
         "summary_template": "summary.j2", "show_earlier": "both"},
        {"models": ["merger"], "instance_template": "instance_refine.j2", "draws_on": [2],
         "show_earlier": "summaries"},
    ]
    with ScriptedServer(script) as server:
        run_dir = run(tmp_path, server, iterations)
    for (iteration, model, instance), text in texts.items():
        info = read_info(run_dir, iteration, model, instance)
        if iteration == 3:
            assert "summary" not in info  # this iteration writes none
            continue
        assert info["summary"] == text and info["summary_cost"] > 0
        steps = json.loads((run_dir / f"iter_{iteration}" / model / f"{instance}.traj.json").read_text())["steps"]
        assert info["cost"] == pytest.approx(sum(s["cost"] for s in steps) + info["summary_cost"])
    assert read_info(run_dir, 1, "tripper", rows[0]["instance_id"])["exit_status"] == "step_limit"
    summary_requests = [r for r in server.requests if "Do not call any tool now" in json.dumps(r["body"]["messages"])]
    assert len(summary_requests) == 3 * len(rows)  # iterations 1 (two models) and 2 (one)
    ledger = [json.loads(line) for line in (run_dir / "ledger.jsonl").read_text().splitlines()]
    ended = [event for event in ledger if event["event"] == "end"]
    assert len(ended) == len(server.requests)  # the summary calls are in the ledger, which the budget reads
    assert sum(e["cost"] for e in ended) == pytest.approx(
        sum(json.loads(p.read_text())["info"]["cost"] for p in run_dir.glob("iter_*/*/*.traj.json")))
    prompts = {}
    for request in server.requests:
        messages = request["body"]["messages"]
        if not any(m["role"] == "assistant" for m in messages):
            prompt = next(m["content"] for m in messages if m["role"] == "user")
            instance = next(r["instance_id"] for r in rows if get_issue_title(r) in prompt)
            iteration = 1 if request["model"] != "merger" else 3 if REFINE_MARK in prompt else 2
            prompts[(iteration, request["model"], instance)] = prompt
    for (iteration, model, instance), prompt in prompts.items():
        shown = {key for key, text in texts.items() if text in prompt}
        wanted = {key for key in texts if key[2] == instance and key[0] == iteration - 1}
        assert shown == wanted, (iteration, model, instance)
    third = prompts[(3, "merger", rows[0]["instance_id"])]
    assert "<summary number=" in third and "<patch number=" not in third  # summaries instead of patches
    second = prompts[(2, "merger", rows[0]["instance_id"])]
    assert second.count("<patch number=") == 2 and second.count("<summary number=") == 2  # beside the patches
    seen = [read_info(run_dir, *key).get("summary") or "" for key in texts]
    for request in server.requests:
        for message in request["body"]["messages"]:
            seen.append(message.get("content") or "")
            seen += [call["function"]["arguments"] for call in message.get("tool_calls") or []]
    assert not [text for text in answer_key_texts(rows) if any(text in piece for piece in seen)]


def test_spend_counts_cost_per_resolved_no_patch_share_and_the_saving_of_skipped_runs():
    from harness.analysis.runread import Cell
    from harness.analysis.spend import render_spend
    from harness.analysis.numbers import build_summary

    def info(status: str, patch: str, cost: float) -> dict:
        return {"exit_status": status, "patch": patch, "cost": cost, "finished_at": "x"}

    first = {"a": {"i1": info("submitted", "p1", 1.0), "i2": info("step_limit", "", 3.0), "i3": info("submitted", "p3", 2.0)},
             "b": {"i1": info("submitted", "p1", 2.0), "i2": info("stuck_limit", "", 1.0), "i3": info("submitted", "p4", 1.0)}}
    second = {"i1": info("skipped_agreed", "p1", 0.0), "i2": info("submitted", "p2", 4.0), "i3": info("submitted", "", 2.0)}
    resolved = {("a", 1): ["i1"], ("b", 1): ["i1", "i3"], ("m", 2): ["i1", "i2"]}
    cells = [Cell(1, label, infos, report={"resolved_ids": resolved[(label, 1)], "unresolved_ids": []})
             for label, infos in first.items()]
    cells.append(Cell(2, "m", second, report={"resolved_ids": resolved[("m", 2)]}))
    spend = build_summary(cells, "r")["spend"]
    one, two = spend["iterations"]
    assert one["no_patch_cost"] == 4.0 and one["no_patch_share"] == pytest.approx(4 / 10)
    assert one["cost_per_resolved"] == pytest.approx(10 / 2)  # i1 and i3 resolved by some model
    assert (two["runs"], two["skipped_runs"], two["skipped_instances_resolved"]) == (2, 1, 1)
    assert two["saved_estimate"] == pytest.approx(3.0)  # the mean of the two runs m did
    assert two["cost_per_resolved"] == pytest.approx(6 / 2) and two["no_patch_share"] == pytest.approx(2 / 6)
    models = {m["model"]: m for m in spend["models"]}
    assert models["a"]["cost_per_resolved"] == pytest.approx(6.0) and models["b"]["cost_per_resolved"] == 2.0
    assert spend["no_patch_share"] == pytest.approx(6 / 16)
    assert "saved 1 run, about $3.00" in render_spend({"spend": spend})
