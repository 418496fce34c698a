"""The model seam against the scripted OpenAI-compatible server, through the real litellm client over HTTP."""

from __future__ import annotations

import pytest

from harness.agent.config import ModelConfig
from harness.exceptions import ConfigError, ContextOverflow, InfraError
from harness.agent.model.query import Model
from harness.scripted.server import ScriptedServer

PRICES = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
BASH_LS = {"tool_calls": [{"name": "bash", "arguments": {"command": "ls"}}]}
TOOLS = [{"type": "function", "function": {"name": "bash", "description": "run",
          "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}}]
MESSAGES = [{"role": "system", "content": "sys"}, {"role": "user", "content": "fix it"}]


def make_model(server, name="m", **overrides) -> Model:
    settings = {"name": f"openai/{name}", "api_base": server.api_base, "retry_wait": 0.01, "retries": 4,
                "api_key_env": "SCRIPTED_API_KEY",
                **PRICES, **overrides}
    return Model(ModelConfig(**settings))


def serve(*replies):
    return ScriptedServer({"models": {"m": [{"match": "", "replies": list(replies)}]}})


def test_reply_carries_tool_calls_tokens_and_cost():
    with serve(BASH_LS) as server:
        reply = make_model(server).query(MESSAGES, TOOLS)
    assert [c["name"] for c in reply.tool_calls] == ["bash"]
    assert reply.tool_calls[0]["arguments"] == '{"command": "ls"}'
    assert reply.tokens_in > 0 and reply.tokens_out > 0
    assert reply.cost == pytest.approx(reply.tokens_in * 1e-6 + reply.tokens_out * 2e-6)
    assert reply.message["tool_calls"][0]["function"]["name"] == "bash"
    sent = server.requests[0]["body"]
    assert sent["tools"][0]["function"]["name"] == "bash" and sent["temperature"] == 0.0


@pytest.mark.parametrize("status, times", [(408, 2), (429, 2), (500, 1), (502, 2), (503, 2)])
def test_transient_errors_are_retried_then_succeed(status, times):
    with serve({**BASH_LS, "error": {"status": status, "times": times}}) as server:
        reply = make_model(server).query(MESSAGES, TOOLS)
    assert reply.attempts == times + 1
    assert len(server.requests) == times + 1


def test_dropped_connections_and_client_timeouts_are_retried():
    with serve({**BASH_LS, "error": {"drop": True, "times": 2}}) as server:
        reply = make_model(server).query(MESSAGES, TOOLS)
    assert reply.attempts == 3 and reply.tool_calls[0]["name"] == "bash"
    with serve({**BASH_LS, "error": {"stall": 3, "times": 1}}) as server:
        reply = make_model(server, request_timeout=1).query(MESSAGES, TOOLS)
    assert reply.attempts == 2 and reply.tool_calls[0]["name"] == "bash"


def test_persistent_failure_becomes_infra_error_after_the_configured_attempts():
    with serve({**BASH_LS, "error": {"status": 503, "times": 100}}) as server:
        with pytest.raises(InfraError, match="failed 4 times"):
            make_model(server).query(MESSAGES, TOOLS)
    assert len(server.requests) == 4


def test_context_window_error_is_not_retried():
    overflow = {"error": {"status": 400, "times": 100, "code": "context_length_exceeded",
                          "message": "This model's maximum context length is 8192 tokens. However, your messages "
                                     "resulted in 9000 tokens. Please reduce the length of the messages."}}
    with serve(overflow) as server:
        with pytest.raises(ContextOverflow):
            make_model(server).query(MESSAGES, TOOLS)
    assert len(server.requests) == 1


def test_unknown_price_refuses_to_start():
    with pytest.raises(ConfigError, match="no known price.*input_cost_per_token"):
        Model(ModelConfig(name="openai/no-such-model-xyz"))


def test_litellm_table_prices_a_seed_model():
    model = Model(ModelConfig(name="fireworks_ai/accounts/fireworks/models/kimi-k2-instruct-0905"))
    assert model.prices[0] > 0 and model.prices[1] > model.prices[0]


def test_missing_key_variable_refuses_to_start(monkeypatch):
    monkeypatch.delenv("PATCHMIX_TEST_KEY", raising=False)
    with pytest.raises(ConfigError, match="PATCHMIX_TEST_KEY is not set"):
        Model(ModelConfig(name="openai/m", api_key_env="PATCHMIX_TEST_KEY", **PRICES))


def test_a_seed_model_goes_through_litellms_fireworks_provider_and_is_priced_from_its_table(monkeypatch):
    monkeypatch.setenv("FIREWORKS_API_KEY", "fw-test-0123456789abcdef")
    name = "accounts/fireworks/models/kimi-k2-instruct-0905"
    usage = {"prompt_tokens": 1000, "completion_tokens": 100}
    with ScriptedServer({"models": {name: [{"match": "", "replies": [{**BASH_LS, "usage": usage}]}]}}) as server:
        config = ModelConfig(name=f"fireworks_ai/{name}", api_base=server.api_base, api_key_env="FIREWORKS_API_KEY")
        model = Model(config)
        reply = model.query(MESSAGES, TOOLS)
    input_price, output_price = model.prices
    assert reply.cost == pytest.approx(1000 * input_price + 100 * output_price)
    assert server.requests[0]["model"] == name and reply.tool_calls[0]["name"] == "bash"


def test_the_agent_loop_imports_neither_litellm_nor_docker():
    import subprocess
    import sys

    code = ("import sys, harness.agent.loop; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'litellm', 'docker', 'swebench'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
