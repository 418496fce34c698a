"""Every class of provider error, as real providers word it, through the real litellm client over HTTP against the
scripted server: what the model seam makes of it, after how many requests and how long."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

from harness import exceptions as ex
from harness.agent.config import ModelConfig
from harness.agent.model.query import Model
from harness.agent.model.providers import OVERFLOW_TABLE, PAUSES, get_retry_after
from harness.agent.tools.calls import BadToolCall, load_tools, parse_call
from harness.scripted.faults import OVERFLOW_PRESETS
from harness.scripted.server import ScriptedServer
from harness.exceptions import ContextOverflow, FormatError, InfraError, RunEnded

UNTESTED_WORDINGS = ("generic", "Mistral")
"""Rows of the overflow table kept from before without a provider's real body at hand."""

PRICES = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
BASH_LS = {"tool_calls": [{"name": "bash", "arguments": {"command": "ls"}}]}
TOOLS = [{"type": "function", "function": {"name": "bash", "description": "run",
          "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}}]
MESSAGES = [{"role": "system", "content": "sys"}, {"role": "user", "content": "fix it"}]


def make_model(server, name="m", on_call=None, stop=None, **overrides) -> Model:
    settings = {"name": f"openai/{name}", "api_base": server.api_base, "retry_wait": 0.01, "retries": 3,
                "api_key_env": "SCRIPTED_API_KEY", **PRICES, **overrides}
    return Model(ModelConfig(**settings), on_call=on_call, stop=stop)


def serve(*replies, **kwargs):
    return ScriptedServer({"models": {"m": [{"match": "", "replies": list(replies)}]}}, **kwargs)


def query_outcome(error: dict, **model_overrides) -> tuple[object, int, float]:
    """(outcome: the reply or the exception, requests the server saw, seconds)."""
    with serve({**BASH_LS, "error": error}) as server:
        started = time.monotonic()
        try:
            outcome = make_model(server, **model_overrides).query(MESSAGES, TOOLS)
        except (ContextOverflow, InfraError, RunEnded) as caught:
            outcome = caught
        return outcome, len(server.requests), time.monotonic() - started


@pytest.mark.parametrize("preset", sorted(OVERFLOW_PRESETS))
def test_context_overflow_in_every_providers_wording_is_context_limit_without_retry(preset):
    outcome, requests, _ = query_outcome({"preset": preset, "times": 100})
    assert isinstance(outcome, ContextOverflow), outcome
    assert requests == 1


@pytest.mark.parametrize("preset, status", [("bad_key", 401), ("forbidden", 403), ("unknown_model", 404)])
def test_refused_key_or_unknown_model_ends_the_run_model_unavailable_naming_model_and_key(preset, status):
    outcome, requests, _ = query_outcome({"preset": preset, "times": 100})
    assert isinstance(outcome, RunEnded) and outcome.exit_status == ex.MODEL_UNAVAILABLE
    assert "model m (openai/m)" in outcome.detail and "SCRIPTED_API_KEY" in outcome.detail
    assert f"HTTP {status}" in outcome.detail and requests == 1


@pytest.mark.parametrize("preset, requests", [("unprocessable", 2), ("content_filter", 1)])
def test_other_refusals_end_the_run_provider_error_with_the_traceback(preset, requests):
    # litellm (drop_params) answers a 422 by sending the request again without the parameters the body names
    outcome, seen, _ = query_outcome({"preset": preset, "times": 100})
    assert isinstance(outcome, RunEnded) and outcome.exit_status == ex.PROVIDER_ERROR
    assert "Traceback" in outcome.detail and "HTTP 4" in outcome.detail
    assert seen == requests


@pytest.mark.parametrize("preset", ["cloudflare_520", "anthropic_overloaded"])
def test_520_and_529_are_transient_and_retried(preset):
    outcome, requests, _ = query_outcome({"preset": preset, "times": 2})
    assert outcome.tool_calls[0]["name"] == "bash" and outcome.attempts == 3 and requests == 3


def test_unparsable_body_is_retried_and_persistent_failure_is_infra_error():
    outcome, requests, _ = query_outcome({"status": 200, "body": "<html>not json</html>", "times": 100})
    assert isinstance(outcome, InfraError) and "failed 3 times" in str(outcome) and requests == 3


def test_empty_choices_are_retried_then_a_provider_error():
    with serve({"empty_choices": True, "content": "x"}) as server:
        with pytest.raises(RunEnded) as caught:
            make_model(server).query(MESSAGES, TOOLS)
    assert caught.value.exit_status == ex.PROVIDER_ERROR and "cannot use" in caught.value.detail
    assert len(server.requests) == 3


def test_content_filter_finish_reason_is_a_provider_error():
    with serve({"content": "", "finish_reason": "content_filter"}) as server:
        with pytest.raises(RunEnded) as caught:
            make_model(server).query(MESSAGES, TOOLS)
    assert caught.value.exit_status == ex.PROVIDER_ERROR and len(server.requests) == 1


def test_cut_off_reply_is_returned_with_its_finish_reason_and_reasoning():
    with serve({**BASH_LS, "finish_reason": "length", "reasoning_content": "let me think"}) as server:
        reply = make_model(server).query(MESSAGES, TOOLS)
    assert reply.finish_reason == "length" and reply.reasoning == "let me think"
    assert reply.message["reasoning_content"] == "let me think"


def test_a_burst_of_429_honours_retry_after_and_pauses_the_provider_for_other_runs():
    error = {"preset": "rate_limited", "headers": {"Retry-After": "1"}, "times": 2}
    with serve({**BASH_LS, "error": error}) as server:
        started = time.monotonic()
        reply = make_model(server, retries=1).query(MESSAGES, TOOLS)  # 429s do not use up `retries`
        took = time.monotonic() - started
    assert reply.attempts == 3 and len(server.requests) == 3
    assert 2.0 <= took < 4.5  # two waits of Retry-After's 1 s, not retry_wait's 0.01 s
    with serve(BASH_LS) as server:
        model = make_model(server)
        PAUSES.pause(model.provider, 1.0)  # as if another run had just met a 429 with Retry-After: 1
        started = time.monotonic()
        model.query(MESSAGES, TOOLS)
        assert time.monotonic() - started >= 0.9


def test_a_sustained_rate_limit_past_the_patience_is_infra_error():
    error = {"preset": "rate_limited", "headers": {"Retry-After": "1"}, "times": 100}
    outcome, requests, took = query_outcome(error, rate_limit_patience=2.5)
    assert isinstance(outcome, InfraError) and "rate_limit_patience" in str(outcome)
    assert requests == 3 and took < 4


def test_a_never_answering_provider_ends_at_the_deadline_and_on_stop():
    with serve({**BASH_LS, "error": {"never": True, "times": 100}}) as server:
        model = make_model(server, request_timeout=600)
        started = time.monotonic()
        with pytest.raises(RunEnded) as caught:
            model.query(MESSAGES, TOOLS, deadline=time.monotonic() + 2)
        assert caught.value.exit_status == ex.TIME_LIMIT and 1.9 <= time.monotonic() - started < 3
        stop = threading.Event()
        threading.Timer(1.0, stop.set).start()
        started = time.monotonic()
        with pytest.raises(RunEnded) as caught:
            make_model(server, stop=stop).query(MESSAGES, TOOLS)
        assert caught.value.exit_status == ex.INTERRUPTED and time.monotonic() - started < 2


def test_every_call_is_reported_to_the_ledger_callback_and_matches_what_the_server_billed():
    events = []
    replies = [{**BASH_LS, "error": {"status": 500, "times": 1}}, {"empty_choices": True, "content": "x"}, BASH_LS]
    with ScriptedServer({"models": {"m": [{"match": "", "replies": replies}]}}) as server:
        model = make_model(server, on_call=events.append)
        messages = list(MESSAGES)
        model.query(messages, TOOLS)
        messages += [{"role": "assistant", "content": "a"}]
        with pytest.raises(RunEnded):
            model.query(messages, TOOLS)
    starts = [e for e in events if e["event"] == "start"]
    ends = {e["call"]: e for e in events if e["event"] == "end"}
    assert len(starts) == 2 + 3 and set(ends) == {e["call"] for e in starts}
    billed = {bill["call"]: bill for bill in server.bills}
    assert set(billed) == {call for call, end in ends.items() if "error" not in end}
    for call, bill in billed.items():
        assert ends[call]["tokens_in"] == bill["prompt_tokens"] and ends[call]["tokens_out"] == bill["completion_tokens"]


# --- provider answers read defensively: Retry-After, a null function, token counts, every overflow wording ---

@pytest.mark.parametrize("value, expected", [
    ("soon", None), ("", None), ("nan", None), ("-5", 0.0), ("2", 2.0), ("inf", 3600.0), ("99999999", 3600.0),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("Mon, 99 Foo", None)])
def test_retry_after_is_read_defensively_and_capped(value, expected):
    class Answer(Exception):
        headers = {"Retry-After": value}

    assert get_retry_after(Answer()) == expected


def test_an_unreadable_retry_after_is_ignored_and_the_call_retried():
    # before: `Retry-After: soon` raised out of the wait computation and ended the run harness_error
    outcome, requests, _ = query_outcome({"status": 503, "headers": {"Retry-After": "soon"}, "times": 1})
    assert outcome.tool_calls[0]["name"] == "bash" and outcome.attempts == 2 and requests == 2


def test_a_5xx_with_a_huge_retry_after_waits_retry_max_wait_not_until_the_deadline():
    error = {"status": 503, "headers": {"Retry-After": "86400"}, "times": 1}
    with serve({**BASH_LS, "error": error}) as server:
        reply = make_model(server, retry_max_wait=0.2).query(MESSAGES, TOOLS, deadline=time.monotonic() + 30)
    assert reply.attempts == 2 and len(server.requests) == 2  # before: slept to the deadline, time_limit


def test_a_tool_call_whose_function_is_null_is_a_format_error_told_to_the_model():
    with serve({"tool_calls": [{"null_function": True}]}) as server:
        with pytest.raises(FormatError) as caught:
            make_model(server).query(MESSAGES, TOOLS)
    assert "without its function" in caught.value.messages[0]["content"] and len(server.requests) == 1


def test_a_tool_call_without_a_name_is_answered_as_a_malformed_call():
    with pytest.raises(BadToolCall, match="named no tool"):
        parse_call({"id": "c", "name": "", "arguments": ""}, load_tools())


@pytest.mark.parametrize("usage", [None, {"prompt_tokens": 0, "completion_tokens": 0},
                                   {"prompt_tokens": -40, "completion_tokens": -7}])
def test_missing_zero_or_negative_usage_is_counted_locally_and_never_costs_nothing(usage):
    events = []
    with serve({"content": "I will look at the converter first.", "usage": usage}) as server:
        reply = make_model(server, on_call=events.append).query(MESSAGES, TOOLS)
    end = events[-1]
    assert reply.tokens_in > 10 and reply.tokens_out > 3 and reply.cost > 0
    assert reply.extra["counted_locally"] == ["tokens_in", "tokens_out"] == end["counted_locally"]
    assert end["cost"] == pytest.approx(reply.cost) and end["tokens_in"] == reply.tokens_in


def test_a_plausible_usage_is_the_providers():
    with serve({"content": "ok", "usage": {"prompt_tokens": 1234, "completion_tokens": 56}}) as server:
        reply = make_model(server).query(MESSAGES, TOOLS)
    assert (reply.tokens_in, reply.tokens_out) == (1234, 56) and "counted_locally" not in reply.extra


def test_timed_out_and_5xx_calls_are_charged_their_prompt_and_a_429_nothing():
    events = []
    replies = [{**BASH_LS, "error": {"stall": 2, "times": 1}}]
    with ScriptedServer({"models": {"m": [{"match": "", "replies": replies}]}}) as server:
        timed_out = make_model(server, on_call=events.append, request_timeout=0.5).query(MESSAGES, TOOLS)
    for error in ({"status": 503, "times": 1}, {"preset": "rate_limited", "times": 1}):
        with serve({**BASH_LS, "error": error}) as server:
            make_model(server, on_call=events.append).query(MESSAGES, TOOLS)
    failed = [e for e in events if e["event"] == "end" and "error" in e]
    assert [e["cost"] > 0 for e in failed] == [True, True, False]
    assert failed[0]["tokens_in"] > 0 and failed[0]["counted_locally"] == ["tokens_in"]
    ok = [e for e in events if e["event"] == "end" and "error" not in e][0]
    assert timed_out.cost == pytest.approx(ok["cost"] + failed[0]["cost"])  # the run is charged both


def test_every_provider_in_the_overflow_table_has_a_real_body_that_the_table_recognises():
    bodies = {name: json.dumps(body) for name, (_, body) in OVERFLOW_PRESETS.items()}
    for who, pattern in OVERFLOW_TABLE:
        if who in UNTESTED_WORDINGS:
            continue
        assert any(re.search(pattern, body, re.IGNORECASE) for body in bodies.values()), who
    for provider in ("anthropic", "xai", "moonshot", "gemini", "deepseek", "together", "groq", "vllm"):
        assert any(name.startswith(provider) for name in OVERFLOW_PRESETS), provider
