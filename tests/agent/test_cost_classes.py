"""Cost as billed: each provider's usage shape, from the scripted server's faithful prefix cache, through the real
litellm client over HTTP, priced per token class; the ledger's cost equals the provider's own formula."""

from __future__ import annotations

import json

import pytest

from harness.agent.config import ModelConfig
from harness.agent.model.query import Model
from harness.scripted.caching import has_mark
from harness.scripted.server import ScriptedServer
from harness.pipeline.ledger import Ledger

PRICES = {"input_cost_per_token": 3e-6, "output_cost_per_token": 15e-6,
          "cache_read_input_token_cost": 0.3e-6, "cache_creation_input_token_cost": 3.75e-6}
TOOLS = [{"type": "function", "function": {"name": "bash", "description": "run a command", "parameters": {
    "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}}]
BASH = {"tool_calls": [{"name": "bash", "arguments": {"command": "ls -la"}}]}
SYSTEM = "You fix bugs in Python repositories. " * 60
TASK = "Fix the converter: to_celsius(32) must be 0. " * 20


def serve(model: str, shape: str | None = None, replies=None, **caching) -> ScriptedServer:
    script = {"models": {model: [{"match": "", "replies": replies or [BASH], "loop_last": True}]},
              "caching": {"ttl": 300, **caching}}
    if shape:
        script["usage_shapes"] = {model: shape}
    return ScriptedServer(script)


def run_steps(model: Model, steps: int, output: str = "file.py\n" * 40) -> list:
    """`steps` queries as the agent loop makes them: each reply and its tool output appended."""
    messages, replies = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": TASK}], []
    for _ in range(steps):
        reply = model.query(messages, TOOLS)
        replies.append(reply)
        messages += [reply.message, {"role": "tool", "tool_call_id": reply.tool_calls[0]["id"], "content": output}]
    return replies


def make_model(server, name: str, ledger: Ledger, anthropic: bool = False, **overrides) -> Model:
    base = server.anthropic_base if anthropic else server.api_base
    config = ModelConfig(name=name, api_base=base, api_key_env="SCRIPTED_API_KEY", retries=2, retry_wait=0.01,
                         **{**PRICES, **overrides})
    return Model(config, on_call=ledger.make_recorder(run="test"))


def read_ended(ledger: Ledger) -> list[dict]:
    return [json.loads(line) for line in ledger.path.read_text().splitlines() if '"end"' in line]


def bill_openai(usage: dict) -> float:
    """OpenAI's and Fireworks' bill: cached prompt tokens at the cache price, the rest at the input price."""
    cached = usage.get("prompt_tokens_details", {}).get("cached_tokens", 0)
    return ((usage["prompt_tokens"] - cached) * PRICES["input_cost_per_token"]
            + cached * PRICES["cache_read_input_token_cost"]
            + usage["completion_tokens"] * PRICES["output_cost_per_token"])


def bill_deepseek(usage: dict) -> float:
    return (usage["prompt_cache_miss_tokens"] * PRICES["input_cost_per_token"]
            + usage["prompt_cache_hit_tokens"] * PRICES["cache_read_input_token_cost"]
            + usage["completion_tokens"] * PRICES["output_cost_per_token"])


def bill_anthropic(usage: dict) -> float:
    return (usage["input_tokens"] * PRICES["input_cost_per_token"]
            + usage["cache_read_input_tokens"] * PRICES["cache_read_input_token_cost"]
            + usage["cache_creation_input_tokens"] * PRICES["cache_creation_input_token_cost"]
            + usage["output_tokens"] * PRICES["output_cost_per_token"])


def check_ledger_matches_bills(server: ScriptedServer, ledger: Ledger, formula) -> list[dict]:
    ended = {record["call"]: record for record in read_ended(ledger)}
    assert len(ended) == len(server.bills) > 0
    for bill in server.bills:
        expected = formula(bill["usage"])
        assert round(ended[bill["call"]]["cost"], 2) == round(expected, 2)
        assert ended[bill["call"]]["cost"] == pytest.approx(expected, rel=1e-9)
    return [ended[bill["call"]] for bill in server.bills]


FIREWORKS = "accounts/fireworks/models/agent"


@pytest.mark.parametrize("name, shape, formula", [
    ("openai/agent", "openai", bill_openai),
    (f"fireworks_ai/{FIREWORKS}", "fireworks", bill_openai),
    ("deepseek/agent", "deepseek", bill_deepseek),
])
def test_the_ledger_bills_each_openai_compatible_shape_as_the_provider_does(tmp_path, name, shape, formula,
                                                                            monkeypatch):
    monkeypatch.setenv("SCRIPTED_API_KEY", "sk-test")
    ledger = Ledger(tmp_path / "ledger.jsonl")
    with serve(name.split("/", 1)[1], shape, unit=64, minimum=256) as server:
        replies = run_steps(make_model(server, name, ledger), 6)
    records = check_ledger_matches_bills(server, ledger, formula)
    assert records[0]["tokens_cached"] == 0 and all(r["tokens_cached"] > 0 for r in records[1:])
    assert all(r["tokens_cached"] % 64 == 0 and r["cost"] < r["cost_uncached"] for r in records[1:])
    assert [r.tokens_cached for r in replies] == [r["tokens_cached"] for r in records]
    share = sum(r.tokens_cached for r in replies[1:]) / sum(r.tokens_in for r in replies[1:])
    assert share > 0.8


def test_anthropic_gets_cache_breakpoints_and_is_billed_for_reads_and_writes(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRIPTED_API_KEY", "sk-test")
    ledger = Ledger(tmp_path / "ledger.jsonl")
    with serve("claude-sonnet-4-5", minimum=256) as server:
        replies = run_steps(make_model(server, "anthropic/claude-sonnet-4-5", ledger, anthropic=True), 6)
    records = check_ledger_matches_bills(server, ledger, bill_anthropic)
    body = server.requests[-1]["body"]
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    marked = [(i, block["type"]) for i, message in enumerate(body["messages"]) for block in message["content"]
              if has_mark(block)]  # litellm puts a tool result's marker on the text inside it
    last_two = [i for i, m in enumerate(body["messages"]) if m["role"] == "user"][-2:]
    assert marked == [(i, "tool_result") for i in last_two]
    assert records[0]["tokens_cache_write"] > 0 and records[0]["tokens_cached"] == 0
    assert sum(r.tokens_cached for r in replies[1:]) / sum(r.tokens_in for r in replies[1:]) > 0.8
    assert all(r["tokens_cached"] > 0 and r["tokens_cache_write"] > 0 for r in records[1:])
    assert all(reply.tokens_in == sum(b["usage"][k] for k in ("input_tokens", "cache_read_input_tokens",
                                                              "cache_creation_input_tokens"))
               for reply, b in zip(replies, server.bills))


def test_without_breakpoints_anthropic_caches_nothing_and_bills_in_full(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRIPTED_API_KEY", "sk-test")
    ledger = Ledger(tmp_path / "ledger.jsonl")
    with serve("claude-sonnet-4-5", minimum=256) as server:
        run_steps(make_model(server, "anthropic/claude-sonnet-4-5", ledger, anthropic=True,
                             prompt_caching=False), 3)
    records = check_ledger_matches_bills(server, ledger, bill_anthropic)
    assert all(r["tokens_cached"] == 0 and r["cost"] == pytest.approx(r["cost_uncached"]) for r in records)
    assert "cache_control" not in json.dumps(server.requests)


def test_reasoning_tokens_are_told_apart_and_billed_as_output(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRIPTED_API_KEY", "sk-test")
    ledger = Ledger(tmp_path / "ledger.jsonl")
    thinking = {**BASH, "reasoning_content": "First I list the files to find the converter. " * 10}
    with serve("agent", "openai", replies=[thinking]) as server:
        reply = run_steps(make_model(server, "openai/agent", ledger), 1)[0]
    record = check_ledger_matches_bills(server, ledger, bill_openai)[0]
    assert reply.tokens_reasoning == record["tokens_reasoning"] == len(thinking["reasoning_content"]) // 4
    assert reply.tokens_out > reply.tokens_reasoning


def test_cache_entries_expire_after_their_time(tmp_path, monkeypatch):
    from harness.scripted.caching import CacheSettings, PrefixCache

    now = [0.0]
    cache = PrefixCache(CacheSettings(ttl=300), clock=lambda: now[0])
    prompt = b"system prompt\nissue text\n"
    assert cache.read_automatic("m", prompt) == 0
    now[0] = 10.0
    assert cache.read_automatic("m", prompt + b"step two\n") == len(prompt) // 4
    assert cache.read_automatic("other", prompt + b"step two\n") == 0  # another model's cache is its own
    now[0] = 400.0  # 390 s after the last write
    assert cache.read_automatic("m", prompt + b"step two\nstep three\n") == 0


def test_a_config_price_for_cache_reads_defaults_to_the_input_price(tmp_path):
    from harness.agent.model.pricing import get_cache_prices

    config = ModelConfig(name="openai/unknown-xyz", input_cost_per_token=1e-6, output_cost_per_token=2e-6)
    assert get_cache_prices(config, 1e-6).read == 1e-6
    table = ModelConfig(name="anthropic/claude-sonnet-4-5")
    prices = get_cache_prices(table, 3e-6)
    assert prices.read < 3e-6 < prices.write
