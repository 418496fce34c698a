"""Reasoning goes back to the provider in the form it requires, through the real litellm client over HTTP against
the scripted server: Anthropic's signed thinking blocks on its Messages API (`/v1/messages`), and
`reasoning_content` on the OpenAI route."""

from __future__ import annotations

import pytest

from harness import exceptions as ex
from harness.agent.config import ModelConfig
from harness.agent.model.pricing import get_prices
from harness.agent.model.query import Model
from harness.scripted.anthropic import sign
from harness.scripted.server import ScriptedServer
from harness.exceptions import InfraError, RunEnded

CLAUDE = "claude-sonnet-4-5"
THINKING = {"type": "enabled", "budget_tokens": 1024}
FIRST_THOUGHT = "The failing test names convert.py; list the files first."
BASH_LS = {"thinking": FIRST_THOUGHT, "tool_calls": [{"name": "bash", "arguments": {"command": "ls"}}]}
SUBMIT = {"thinking": "The fix is in; submit.", "tool_calls": [{"name": "submit", "arguments": {}}]}
TOOLS = [{"type": "function", "function": {"name": name, "description": name, "parameters": {
    "type": "object", "properties": {"command": {"type": "string"}}}}} for name in ("bash", "submit")]
TASK = [{"role": "system", "content": "You fix bugs."}, {"role": "user", "content": "Fix the converter."}]


def make_claude(server: ScriptedServer, **overrides) -> Model:
    settings = {"name": f"anthropic/{CLAUDE}", "api_base": server.anthropic_base, "api_key_env": "SCRIPTED_API_KEY",
                "retries": 3, "retry_wait": 0.01, "extra": {"thinking": THINKING}, **overrides}
    return Model(ModelConfig(**settings))


def serve(model: str, *replies) -> ScriptedServer:
    return ScriptedServer({"models": {model: [{"match": "converter", "replies": list(replies)}]}})


def run_two_steps(model: Model) -> list:
    """Two queries as the agent loop makes them: the reply goes back as is, then the tool's output."""
    messages = list(TASK)
    first = model.query(messages, TOOLS)
    messages += [first.message, {"role": "tool", "tool_call_id": first.tool_calls[0]["id"], "content": "convert.py"}]
    return [first, model.query(messages, TOOLS)]


def get_sent_assistant(server: ScriptedServer) -> dict:
    """The assistant turn in the second request the server received."""
    return next(m for m in server.requests[1]["body"]["messages"] if m["role"] == "assistant")


def test_signed_thinking_blocks_go_back_first_and_unchanged_on_the_messages_api():
    with serve(CLAUDE, BASH_LS, SUBMIT) as server:
        model = make_claude(server)
        first, second = run_two_steps(model)
    assert [r["path"] for r in server.requests] == ["/v1/messages", "/v1/messages"]
    assert first.reasoning == FIRST_THOUGHT and first.tool_calls[0]["name"] == "bash"
    assert first.message["thinking_blocks"] == [{"type": "thinking", "thinking": FIRST_THOUGHT,
                                                  "signature": sign(FIRST_THOUGHT)}]
    sent = get_sent_assistant(server)["content"]
    assert sent[0] == {"type": "thinking", "thinking": FIRST_THOUGHT, "signature": sign(FIRST_THOUGHT)}
    assert [block["type"] for block in sent] == ["thinking", "tool_use"]  # no placeholder text between them
    assert sent[1]["id"] == first.tool_calls[0]["id"] and sent[1]["input"] == {"command": "ls"}
    body = server.requests[1]["body"]
    assert body["thinking"] == THINKING and "temperature" not in body  # Anthropic refuses 0 with thinking on
    assert body["messages"][-1]["content"][0]["type"] == "tool_result"
    assert second.tool_calls[0]["name"] == "submit" and second.reasoning == "The fix is in; submit."
    # usage and cost: the tokens the server billed, at litellm's price for the model
    assert [(r.tokens_in, r.tokens_out) for r in (first, second)] == [
        (b["prompt_tokens"], b["completion_tokens"]) for b in server.bills]
    input_price, output_price = get_prices(model.config)
    assert model.prices == (input_price, output_price) and input_price > 0
    for reply in (first, second):
        assert reply.tokens_in > 0 and reply.tokens_out > 0
        assert reply.cost == pytest.approx(reply.tokens_in * input_price + reply.tokens_out * output_price)


def test_send_reasoning_false_leaves_the_thinking_blocks_out():
    with serve(CLAUDE, BASH_LS, SUBMIT) as server:
        first, second = run_two_steps(make_claude(server, send_reasoning=False, extra={}))
    assert first.message["thinking_blocks"]  # kept in the trajectory, not sent
    sent = get_sent_assistant(server)["content"]
    assert [block["type"] for block in sent] == ["tool_use"] and second.tool_calls[0]["name"] == "submit"


def test_with_thinking_on_anthropic_refuses_a_tool_turn_without_its_thinking():
    """send_reasoning: false with `thinking` on is a config Anthropic refuses: the run ends provider_error."""
    with serve(CLAUDE, BASH_LS, SUBMIT) as server:
        with pytest.raises(RunEnded) as caught:
            run_two_steps(make_claude(server, send_reasoning=False))
    assert caught.value.exit_status == ex.PROVIDER_ERROR and "must start with a thinking block" in caught.value.detail
    assert len(server.requests) == 2


@pytest.mark.parametrize("status, kind", [(429, "rate_limit_error"), (503, "api_error"), (529, "overloaded_error")])
def test_scripted_errors_answer_in_anthropics_shape_and_are_retried(status, kind):
    with serve(CLAUDE, {**BASH_LS, "error": {"status": status, "times": 2}}) as server:
        reply = make_claude(server).query(TASK, TOOLS)
    assert reply.attempts == 3 and reply.tool_calls[0]["name"] == "bash" and len(server.bills) == 1
    with serve(CLAUDE, {**BASH_LS, "error": {"status": status, "times": 100}}) as server:
        with pytest.raises(InfraError, match=kind):
            make_claude(server, rate_limit_patience=0.5).query(TASK, TOOLS)


def test_a_cut_off_reply_is_max_tokens_and_comes_back_as_length():
    with serve(CLAUDE, {"thinking": "Long...", "content": "The fix is", "finish_reason": "length"}) as server:
        reply = make_claude(server).query(TASK, TOOLS)
    assert reply.finish_reason == "length" and reply.message["content"] == "The fix is"


def test_reasoning_content_goes_back_on_the_openai_route():
    reasoner = {"reasoning_content": FIRST_THOUGHT, "tool_calls": BASH_LS["tool_calls"]}
    with serve("reasoner", reasoner, SUBMIT) as server:
        config = ModelConfig(name="openai/reasoner", api_base=server.api_base, api_key_env="SCRIPTED_API_KEY",
                             input_cost_per_token=1e-6, output_cost_per_token=2e-6)
        run_two_steps(Model(config))
    assert [r["path"] for r in server.requests] == ["/v1/chat/completions"] * 2
    sent = get_sent_assistant(server)
    assert sent["reasoning_content"] == FIRST_THOUGHT and sent["tool_calls"][0]["function"]["name"] == "bash"
