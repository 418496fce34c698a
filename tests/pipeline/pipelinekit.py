"""Helpers shared by the pipeline tests: a pipeline config over the bundled tasks and scripted models, its YAML
file, the dataset rows, a slowed-down demo script, the first prompt of each conversation a model was sent, and
the patches a run folder holds."""

from __future__ import annotations

from pathlib import Path

import yaml

from harness.demo.models import make_demo_script
from harness.scripted.server import ScriptedServer
from harness.fileio import read_jsonl

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "tasks" / "bundled.jsonl"
TASKS = ["patchmix__unitconv-1", "patchmix__daterange-1"]  # a one-hunk fix and a two-file fix
PRICE = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}


def make_config(api_base: str, name: str = "t", **overrides) -> dict:
    """Three iterations (three models, a merger drawing on them, a merger refining that) at 2 workers; any
    top-level key can be replaced through `overrides`."""
    model = {"api_base": api_base, "api_key_env": "SCRIPTED_API_KEY", "retry_wait": 0.01, **PRICE}
    config = {
        "name": name,
        "dataset": {"path": str(DATASET)},
        "instances": {"ids": TASKS},
        "defaults": {"limits": {"step_limit": 6}, "container": {"command_timeout": 30}},
        "models": {label: {"name": f"openai/{label}", **model} for label in ("fixer", "breaker", "tripper", "merger")},
        "iterations": [
            {"models": ["fixer", "breaker", "tripper"]},
            {"models": ["merger"], "instance_template": "instance_with_patches.j2", "draws_on": [1]},
            {"models": ["merger"], "instance_template": "instance_refine.j2", "draws_on": [2]},
        ],
        "workers": 2,
    }
    config.update(overrides)
    return config


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def load_rows() -> list[dict]:
    return [row for row in read_jsonl(DATASET) if row["instance_id"] in TASKS]


def make_slow_script(delay: float) -> dict:
    """The demo script with every reply delayed, so that a run is still under way when a test interrupts it."""
    script = make_demo_script(load_rows())
    for model in script["models"].values():
        for conversation in model:
            conversation["replies"] = [{**reply, "delay": delay} for reply in conversation["replies"]]
    return script


def first_prompts(server: ScriptedServer, model: str) -> list[str]:
    """The first user message of each conversation the model was asked about."""
    prompts = []
    for request in server.requests:
        messages = request["body"]["messages"]
        if request["model"] == model and not any(m["role"] == "assistant" for m in messages):
            prompts.append(next(m["content"] for m in messages if m["role"] == "user"))
    return prompts


def get_patches(run_dir: Path) -> dict:
    """{(iteration folder, model label, instance id): patch} of every preds.jsonl in a run folder."""
    return {(p.parent.parent.name, p.parent.name, row["instance_id"]): row["model_patch"]
            for p in sorted(run_dir.glob("iter_*/*/preds.jsonl")) for row in read_jsonl(p)}
