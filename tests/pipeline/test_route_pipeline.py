"""The shipped seed-003 and seed-000 configs, run end to end on the bundled tasks with scripted models over real
HTTP, real containers, real scoring and the real report: a routed iteration runs only the routed models (and
their samples) and the report counts the runs saved; in the layered mixture of agents every aggregator's prompt
holds exactly the patches of the layer it draws on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from harness.demo.models import get_issue_title, make_breaker, make_fixer, make_tripper
from harness.scripted.server import ScriptedServer
from harness.fileio import read_jsonl
from harness.pipeline.launch import run_pipeline
from harness.pipeline.progress import Progress

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "tasks" / "bundled.jsonl"
AGREED, DISPUTED = "patchmix__unitconv-1", "patchmix__daterange-1"
PRICE = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
PATCH_TAG = re.compile(r'<patch number="\d+" iteration="(\d+)" model="([^"]+)"')


def load_rows() -> list[dict]:
    return [row for row in read_jsonl(DATASET) if row["instance_id"] in (AGREED, DISPUTED)]


def make_script(rows: list[dict]) -> dict:
    """fixer fixes, breaker breaks, tripper half-fixes; `agg` fixes when shown patches, else half-fixes."""
    models = {"fixer": [], "breaker": [], "tripper": [], "agg": []}
    for row in rows:
        title = get_issue_title(row)
        models["fixer"].append({"match": title, "replies": make_fixer(row)})
        models["breaker"].append({"match": title, "replies": make_breaker(row)})
        models["tripper"].append({"match": title, "replies": make_tripper(row), "loop_last": True})
        models["agg"].append({"match": [title, "<patch number="], "replies": make_fixer(row)})
        models["agg"].append({"match": title, "replies": make_tripper(row), "loop_last": True})
    return {"models": models}


def scripted_config(shipped: str, api_base: str, names: dict[str, str]) -> dict:
    """A shipped config with its models played by scripted ones (same labels) on two bundled tasks."""
    config = yaml.safe_load((ROOT / "scripts" / shipped / "pipeline.yaml").read_text())
    model = {"api_base": api_base, "api_key_env": "SCRIPTED_API_KEY", "retry_wait": 0.01, **PRICE}
    config["models"] = {label: {"name": f"openai/{names[label]}", **model} for label in config["models"]}
    config.update(name="t", dataset={"path": str(DATASET)}, instances={"ids": [AGREED, DISPUTED]}, workers=2,
                  budget=5.0, provider_concurrency={})
    config["defaults"] = {"limits": {"step_limit": 6}, "container": {"command_timeout": 30}}
    return config


def run(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(config))
    assert run_pipeline(path, runs_dir=tmp_path / "runs", progress=Progress(live=False)) == 0
    return tmp_path / "runs" / "t"


def read_info(run_dir: Path, iteration: int, label: str, instance: str) -> dict:
    return json.loads((run_dir / f"iter_{iteration}" / label / f"{instance}.traj.json").read_text())["info"]


def first_prompts(server: ScriptedServer) -> list[tuple[str, str]]:
    """(model, first user message) of every conversation the server saw."""
    found = []
    for request in server.requests:
        messages = request["body"]["messages"]
        if not any(m["role"] == "assistant" for m in messages):
            found.append((request["model"], next(m["content"] for m in messages if m["role"] == "user")))
    return found


def instance_of(prompt: str, rows: list[dict]) -> str:
    return next(row["instance_id"] for row in rows if get_issue_title(row) in prompt)


@pytest.mark.docker
def test_seed003_routes_samples_and_selects_and_the_report_counts_runs_saved(bundled_rows, tmp_path):
    from harness.analysis.report import write_report
    from harness.scoring.evaluation import evaluate_run
    from harness.select.rules import select_patches

    rows = load_rows()
    names = {"minimax": "fixer", "minimax_b": "fixer", "glm": "breaker", "glm_b": "breaker",
             "kimi": "tripper", "kimi_b": "tripper"}
    routing = {"format": "patchmix-routing/1", "top": 3, "instances": {
        AGREED: {"models": ["minimax", "glm", "kimi"], "expected": 0.9, "cluster": 0},
        DISPUTED: {"models": ["kimi"], "expected": 0.5, "cluster": 1}}}
    (tmp_path / "routing.json").write_text(json.dumps(routing))
    with ScriptedServer(make_script(rows)) as server:
        config = scripted_config("seed003", server.api_base, names)
        assert config["iterations"][0]["route"]["top"] == 2  # shipped: the two best of the cluster, with samples
        run_dir = run(tmp_path, config)
    asked = sorted((model, instance_of(prompt, rows)) for model, prompt in first_prompts(server))
    assert asked == sorted([("fixer", AGREED)] * 2 + [("breaker", AGREED)] * 2 + [("tripper", DISPUTED)] * 2)
    skipped = {(label, i) for label in names for i in (AGREED, DISPUTED)
               if read_info(run_dir, 1, label, i)["exit_status"] == "skipped_routed"}
    assert skipped == {("kimi", AGREED), ("kimi_b", AGREED), *((m, DISPUTED) for m in names if "kimi" not in m)}
    assert all(read_info(run_dir, 1, m, i)["cost"] == 0 for m, i in skipped)

    evaluate_run(run_dir, workers=2, log=lambda line: None)
    write_report(run_dir)
    spend = json.loads((run_dir / "report" / "summary.json").read_text())["spend"]
    assert spend["routed_runs"] == 6 and spend["iterations"][0]["runs"] == 6
    mean_cost = {label: read_info(run_dir, 1, label, AGREED if label[:3] != "kim" else DISPUTED)["cost"] for label in names}
    assert spend["routed_saved_estimate"] == pytest.approx(
        sum(mean_cost[m] for m, _ in skipped), rel=1e-3) and spend["routed_saved_estimate"] > 0
    report = (run_dir / "report" / "summary.md").read_text()
    assert "Routing ran each instance only on its routed models: 6 runs not started" in report
    selection = select_patches(run_dir)
    assert selection["instances_with_a_candidate"] == 2
    assert (run_dir / "selected" / "vote" / "preds.jsonl").exists()


@pytest.mark.docker
def test_seed000_every_aggregator_gets_exactly_the_patches_of_the_layer_it_draws_on(bundled_rows, tmp_path):
    rows = load_rows()
    with ScriptedServer(make_script(rows)) as server:
        config = scripted_config("seed000", server.api_base, {"q480b": "fixer", "kimithink": "breaker",
                                                              "kimi0905": "agg"})
        run_dir = run(tmp_path, config)
    layers = [spec["models"] for spec in config["iterations"]]
    assert len(layers[1]) >= 2 and len(layers[2]) == 1 and config["iterations"][2]["draws_on"] == [2]
    aggregated = []
    for model, prompt in first_prompts(server):
        cited = PATCH_TAG.findall(prompt)
        if not cited:
            continue
        instance = instance_of(prompt, rows)
        layer = int(cited[0][0])
        wanted = {(str(layer), label) for label in layers[layer - 1]
                  if read_info(run_dir, layer, label, instance).get("patch")}
        assert set(cited) == wanted and len(cited) == len(wanted), (model, instance)
        for _, label in cited:
            assert read_info(run_dir, layer, label, instance)["patch"].strip() in prompt
        aggregated.append((layer, model, instance))
    expected = [(1, {"q480b": "fixer", "kimi0905": "agg"}[label], i) for label in layers[1] for i in (AGREED, DISPUTED)]
    expected += [(2, "agg", i) for i in (AGREED, DISPUTED)]
    assert sorted(aggregated) == sorted(expected)  # three aggregator runs per instance, each with patches
