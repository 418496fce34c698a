"""Prompt caching over whole agent runs: a real container, the real litellm client over HTTP, the scripted server's
faithful prefix cache. A 50-step run that leaves old tool outputs out (`keep_observations`) still reads most of
its prompt from the cache, because the outputs are left out in blocks, not one more each step."""

from __future__ import annotations

import json

import pytest
from tests.conftest import make_scripted_model

from harness.agent.config import AgentConfig, ContainerConfig, LimitsConfig, ModelConfig
from harness.agent.attempt import run_instance
from harness.scripted.server import ScriptedServer

pytestmark = pytest.mark.docker

UNITCONV = "patchmix__unitconv-1"
LOOK = {"tool_calls": [{"name": "bash", "arguments": {"command": "cat unitconv/temperature.py; ls -la unitconv"}}]}
SUBMIT = {"tool_calls": [{"name": "submit", "arguments": {}}]}
CLAUDE = "claude-sonnet-4-5"


def run_long(tmp_path, row, model: str, keep: int, anthropic: bool) -> tuple[dict, ScriptedServer]:
    script = {"models": {model: [{"match": "", "replies": [LOOK] * 49 + [SUBMIT]}]},
              "caching": {"ttl": 300, "minimum": 1024}}
    with ScriptedServer(script) as server:
        settings = make_scripted_model(server, model, cache_read_input_token_cost=1e-7).model_dump()
        if anthropic:
            settings.update(name=f"anthropic/{model}", api_base=server.anthropic_base, label=model)
        config = AgentConfig(model=ModelConfig(**settings),
                             limits=LimitsConfig(), container=ContainerConfig(command_timeout=20),
                             keep_observations=keep)
        path = tmp_path / f"{model}-{keep}.traj.json"
        run_instance(row, config, path, "scripted-agent")
    return json.loads(path.read_text()), server


@pytest.mark.parametrize("model, anthropic", [("agent", False), (CLAUDE, True)])
def test_a_50_step_run_with_keep_observations_reads_most_of_its_prompt_from_the_cache(bundled_rows, tmp_path,
                                                                                      model, anthropic):
    traj, server = run_long(tmp_path, bundled_rows[UNITCONV], model, keep=5, anthropic=anthropic)
    info = traj["info"]
    assert info["exit_status"] == "submitted" and info["steps"] == 50
    assert info["tokens_cached"] == sum(step["tokens_cached"] for step in traj["steps"])
    assert info["tokens_cached"] / info["tokens_in"] >= 0.85
    assert info["cost"] < info["cost_uncached"]
    # old outputs were left out, five at a time
    last = server.requests[-1]["body"]["messages"]
    elided = [m for m in last if "left out to save context" in json.dumps(m)]
    assert len(elided) % 5 == 0 and len(elided) >= 40


def test_the_cost_limit_and_the_folder_budget_count_the_billed_cost_not_the_uncached_one(bundled_rows, tmp_path):
    from harness.pipeline.ledger import Ledger

    row = bundled_rows[UNITCONV]
    traj, _ = run_long(tmp_path, row, "agent", keep=5, anthropic=False)
    billed, uncached = traj["info"]["cost"], traj["info"]["cost_uncached"]
    assert uncached > 1.5 * billed
    limit = (billed + uncached) / 2  # the run fits this limit only if cache hits are billed as such
    script = {"models": {"agent": [{"match": "", "replies": [LOOK] * 49 + [SUBMIT]}]},
              "caching": {"ttl": 300, "minimum": 1024}}
    ledger = Ledger(tmp_path / "ledger.jsonl")
    with ScriptedServer(script) as server:
        config = AgentConfig(model=make_scripted_model(server, "agent", cache_read_input_token_cost=1e-7),
                             limits=LimitsConfig(cost_limit=limit), container=ContainerConfig(command_timeout=20),
                             keep_observations=5)
        run_instance(row, config, tmp_path / "limited.traj.json", "scripted-agent",
                     on_call=ledger.make_recorder(run="limited"))
    info = json.loads((tmp_path / "limited.traj.json").read_text())["info"]
    assert info["exit_status"] == "submitted" and info["cost"] < limit < info["cost_uncached"]
    assert ledger.get_spent() == pytest.approx(info["cost"])
