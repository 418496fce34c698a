"""The model seam: messages and tool schemas in, one reply with its tool calls, tokens and cost out.

Every provider answer maps to one outcome (`harness/agent/model/providers.py` classifies them): transient failures
are retried with backoff that honours `Retry-After`, a rate limit pauses the provider for every run of this
process up to `rate_limit_patience`, and when either runs out the agent gets `InfraError`; a context overflow in
any wording is `ContextOverflow`; a refused key or unknown model ends the run `model_unavailable`; any other
refusal ends it `provider_error`. An HTTP 500 that answers the same twice in a row is no passing fault (a
local server's chat template that cannot render the conversation): `provider_error` with the server's message,
after two tries. A request that times out twice in a row ends `model_timeout`, with the advice to raise
`request_timeout` or lower `max_tokens`. Each call runs in a helper thread, so that the run's deadline and a stop
request end the wait at once whatever the provider does. Every call is reported to `on_call` before it starts and
when it ends (the cost ledger), and every attempt to `on_attempt` (the trajectory). Prices come from the config
or litellm's table; no known price refuses to start. Tokens the provider did not count plausibly are counted
here (`harness/agent/model/usage.py`).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import litellm

from harness import exceptions as ex
from harness.agent.config import ModelConfig
from harness.agent.model.messages import mark_cache_breakpoints, make_assistant_message, prepare_messages
from harness.agent.model.pricing import get_cache_prices, get_cost, get_prices, get_uncached_cost
from harness.agent.model.providers import (MALFORMED_CALL, OVERFLOW, PAUSES, REFUSED, UNAVAILABLE, MalformedReply,
                                     NoResponse, classify_error, describe_refusal, get_backoff, get_http_status,
                                     get_retry_after, get_status, is_billable, is_timeout, summarize_error)
from harness.agent.model.usage import count_prompt_tokens, settle_usage
from harness.exceptions import ConfigError, ContextOverflow, FormatError, InfraError, RunEnded

litellm.suppress_debug_info = True
litellm.drop_params = True

POLL_SECONDS = 0.1
CHARS_PER_TOKEN = 4
CALL_HEADER = "X-Patchmix-Call"
"""Sent with every request: the id under which the call is in the cost ledger."""
MISSING_FUNCTION = ("Your last reply had a tool call without its function (no tool name, no arguments), so nothing "
                    "was run. Call one of the tools again with its name and arguments.")


@dataclass
class ModelReply:
    message: dict
    """The assistant message as it goes back into the conversation."""
    tool_calls: list[dict]
    """Each {"id", "name", "arguments"} with `arguments` the raw JSON text the model wrote."""
    cost: float
    tokens_in: int
    tokens_out: int
    seconds: float
    attempts: int
    reasoning: str | None = None
    finish_reason: str | None = None
    """`length` when the reply was cut off at `max_tokens`."""
    cut_off: bool = False
    """The reply ended at `max_tokens`: `finish_reason: length`, or as many output tokens as `max_tokens` (local
    servers say `tool_calls` for a cut-off call)."""
    extra: dict = field(default_factory=dict)
    tokens_cached: int = 0
    """Prompt tokens read from the provider's cache (part of `tokens_in`)."""
    tokens_cache_write: int = 0
    """Prompt tokens written to the provider's cache (part of `tokens_in`)."""
    tokens_reasoning: int = 0
    """Reply tokens spent on reasoning (part of `tokens_out`)."""
    cost_uncached: float = 0.0
    """What the reply would have cost with nothing cached (failed attempts included, as in `cost`)."""


TOKEN_CLASSES = ("tokens_in", "tokens_out", "tokens_cached", "tokens_cache_write", "tokens_reasoning")
"""The token counts of a call, as the ledger, the trajectory and the reply carry them."""


@dataclass
class Attempts:
    """What one query met so far."""

    count: int = 0
    failures: int = 0
    rate_limited_since: float | None = None
    billed: float = 0.0
    """Dollars of answers that were billed but could not be used (e.g. empty `choices`, a timeout)."""
    last_answer: str | None = None
    """The status and body of the last HTTP 500, to tell a repeated answer from a passing fault."""
    timeouts: int = 0
    """Consecutive attempts that timed out."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Model:
    def __init__(self, config: ModelConfig, limiter: threading.Semaphore | None = None, on_call=None,
                 stop: threading.Event | None = None):
        self.config = config
        self.prices = get_prices(config)
        self.cache_prices = get_cache_prices(config, self.prices[0])
        self.context_window = config.context_window or get_context_window(config.name)
        self.limiter = limiter
        self.on_call = on_call or (lambda event: None)
        self.stop = stop or threading.Event()
        self.provider = f"{get_provider(config)}|{config.api_base or ''}"
        if config.api_key_env and not os.environ.get(config.api_key_env):
            raise ConfigError(f"model {config.label!r}: environment variable {config.api_key_env} is not set")

    def make_kwargs(self, messages: list[dict], tools: list[dict], deadline: float | None, call: str) -> dict:
        anthropic = is_anthropic(self.config)
        if self.asks_caching():
            messages = mark_cache_breakpoints(messages)
        messages = prepare_messages(messages, self.config.send_reasoning, null_content=anthropic,
                                    objects_only=bool(self.config.api_base) and not anthropic,
                                    text_in_reasoning=self.config.text_in_reasoning)
        extra = dict(self.config.extra)
        headers = {**extra.pop("extra_headers", {}), CALL_HEADER: call}
        kwargs = {
            "model": self.config.name, "messages": messages, "tools": tools,
            "timeout": self.get_timeout(deadline), "max_retries": 0, "num_retries": 0,
            "extra_headers": headers, **extra,
        }
        # Anthropic's extended thinking refuses any temperature but 1: the config's (0 by default) is not sent
        temperature = None if "thinking" in extra else self.config.temperature
        optional = {"temperature": temperature, "max_tokens": self.config.max_tokens,
                    "api_base": self.config.api_base, "tool_choice": self.config.tool_choice if tools else None}
        kwargs.update({key: value for key, value in optional.items() if value is not None})
        if self.config.api_key_env:
            kwargs["api_key"] = os.environ[self.config.api_key_env]
        return kwargs

    def asks_caching(self) -> bool:
        """Whether requests carry `cache_control` breakpoints: the config's `prompt_caching`, by default on for
        Claude (Anthropic caches only when asked)."""
        wanted = self.config.prompt_caching
        return is_anthropic(self.config) if wanted is None else wanted and is_anthropic(self.config)

    def get_timeout(self, deadline: float | None) -> float:
        """The request timeout, capped by the time the run has left."""
        if deadline is None:
            return self.config.request_timeout
        return max(1.0, min(self.config.request_timeout, deadline - time.monotonic() + 0.5))

    def query(self, messages: list[dict], tools: list[dict], deadline: float | None = None,
              on_attempt=None) -> ModelReply:
        """One completion. Raises ContextOverflow, InfraError once retries or patience run out, or RunEnded
        (`time_limit` at `deadline`, `interrupted` on stop, `model_unavailable`, `provider_error`,
        `model_timeout`). `on_attempt` gets each attempt as it starts (status `pending`) and as it ends."""
        start, tries = time.monotonic(), Attempts()
        report = on_attempt or (lambda record: None)
        while True:
            self.wait(PAUSES.get_remaining(self.provider), deadline)
            tries.count += 1
            began, billed = time.monotonic(), tries.billed
            report({"attempt": tries.count, "status": "pending", "started_at": now()})
            try:
                response, usage = self.call(messages, tools, deadline, tries)
                reply = self.make_reply(response, usage, time.monotonic() - start, tries.count)
            except Exception as error:  # noqa: BLE001 - classified here; a harness bug is raised again
                tries.billed += error.args[1] if isinstance(error, MalformedReply) and len(error.args) > 1 else 0.0
                report(describe_attempt(tries.count, error, began, tries.billed - billed))
                self.handle_failure(error, tries, deadline)
                continue
            report({"attempt": tries.count, "status": "ok", "seconds": round(time.monotonic() - began, 3),
                    "cost": reply.cost})
            reply.cost += tries.billed
            reply.cost_uncached += tries.billed
            return reply

    def handle_failure(self, error: Exception, tries: Attempts, deadline: float | None) -> None:
        """Raise the outcome of a failed call, or wait before the next try."""
        kind = classify_error(error)
        if kind is None:
            raise error
        if kind == OVERFLOW:
            raise ContextOverflow(summarize_error(error)) from None
        if kind == MALFORMED_CALL:
            raise FormatError({"role": "user", "content": MISSING_FUNCTION}) from None
        if kind == UNAVAILABLE:
            raise RunEnded(ex.MODEL_UNAVAILABLE, self.describe_unavailable(error)) from None
        if kind == REFUSED:
            raise RunEnded(ex.PROVIDER_ERROR, describe_refusal(error)) from None
        self.check_repeated(error, tries)
        self.wait(self.get_wait(error, tries), deadline)

    def check_repeated(self, error: Exception, tries: Attempts) -> None:
        """End the run when the server says the same thing again: a 500 with the same body twice in a row
        (`provider_error`), or a timeout `timeout_tries` times in a row (`model_timeout`)."""
        tries.timeouts = tries.timeouts + 1 if is_timeout(error) else 0
        if tries.timeouts >= max(1, self.config.timeout_tries):
            raise RunEnded(ex.MODEL_TIMEOUT, self.describe_timeouts(tries.timeouts)) from None
        answer = summarize_error(error) if get_http_status(error) == 500 else None
        if answer is not None and answer == tries.last_answer:
            raise RunEnded(ex.PROVIDER_ERROR, f"the server answered HTTP 500 with the same error twice in a row, "
                                              f"so retrying will not help: {summarize_error(error)}") from None
        tries.last_answer = answer

    def describe_timeouts(self, count: int) -> str:
        tokens = f"max_tokens ({self.config.max_tokens})" if self.config.max_tokens else "max_tokens (unset)"
        return (f"model {self.config.label}: {count} requests in a row took longer than request_timeout "
                f"({self.config.request_timeout:g} s); raise request_timeout or lower {tokens} in the model's "
                "config (a local server answers one request at a time: a slower machine needs more time)")

    def get_wait(self, error: Exception, tries: Attempts) -> float:
        """Seconds before the next try of a transient failure; InfraError (or provider_error for a malformed
        reply) when the retries or the rate-limit patience are used up."""
        retry_after, now = get_retry_after(error), time.monotonic()
        if get_status(error) == 429:
            tries.rate_limited_since = tries.rate_limited_since or now
            wait = retry_after if retry_after is not None else get_backoff(
                tries.count, self.config.retry_wait, self.config.retry_max_wait)
            if now - tries.rate_limited_since + wait > self.config.rate_limit_patience:
                raise InfraError(f"the provider rate-limited {tries.count} calls over "
                                 f"{now - tries.rate_limited_since:.0f} s, past rate_limit_patience "
                                 f"({self.config.rate_limit_patience:g} s): {summarize_error(error)}") from None
            PAUSES.pause(self.provider, wait)
            return wait
        tries.failures += 1
        if tries.failures >= max(1, self.config.retries):
            if isinstance(error, MalformedReply):
                raise RunEnded(ex.PROVIDER_ERROR, f"the provider answered {tries.failures} times with a reply "
                                                  f"the harness cannot use: {error}") from None
            raise InfraError(f"provider failed {tries.count} times in a row: {summarize_error(error)}") from None
        backoff = get_backoff(tries.failures, self.config.retry_wait, self.config.retry_max_wait)
        # a failure's Retry-After is a hint, never longer than retry_max_wait (only a 429's is waited out)
        return backoff if retry_after is None else min(retry_after, self.config.retry_max_wait)

    def describe_unavailable(self, error: Exception) -> str:
        key = f"the key in {self.config.api_key_env}" if self.config.api_key_env else "its key"
        return (f"model {self.config.label} ({self.config.name}): the provider refused {key} or does not know "
                f"the model (HTTP {get_status(error)}); fix the key or the model name and rerun: "
                f"{summarize_error(error)}")

    def wait(self, seconds: float, deadline: float | None) -> None:
        """Sleep `seconds`, ending the run at its deadline or on a stop request."""
        until = time.monotonic() + seconds
        while True:
            self.check_time(deadline)
            left = until - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(POLL_SECONDS, left))

    def check_time(self, deadline: float | None) -> None:
        if self.stop.is_set():
            raise RunEnded(ex.INTERRUPTED, "stopped (Ctrl-C or SIGTERM) while waiting for the model")
        if deadline is not None and time.monotonic() >= deadline:
            raise RunEnded(ex.TIME_LIMIT, "the run reached its wall_time_limit while waiting for the model")

    def call(self, messages: list[dict], tools: list[dict], deadline: float | None, tries: Attempts):
        """One request, in a helper thread that reports it to the ledger; its caller waits for the answer, the
        deadline or a stop request, whichever comes first. Returns (response, usage)."""
        call = uuid.uuid4().hex
        kwargs = self.make_kwargs(messages, tools, deadline, call)
        self.acquire(deadline)
        outcome: dict = {}
        done = threading.Event()
        try:
            self.on_call({"event": "start", "call": call, "model": self.config.name, "label": self.config.label,
                          "estimate": round(len(json.dumps(messages)) / CHARS_PER_TOKEN * self.prices[0], 8)})
        except BaseException:
            self.release()
            raise
        thread = threading.Thread(target=self.complete_and_report, args=(kwargs, call, outcome, done),
                                  name=f"patchmix-call-{call[:8]}", daemon=True)
        thread.start()
        while not done.wait(POLL_SECONDS):
            self.check_time(deadline)
        if "error" in outcome:
            tries.billed += outcome.get("cost", 0.0)
            raise outcome["error"]
        return outcome["response"], outcome["usage"]

    def acquire(self, deadline: float | None) -> None:
        while self.limiter is not None and not self.limiter.acquire(timeout=POLL_SECONDS):
            self.check_time(deadline)

    def release(self) -> None:
        if self.limiter is not None:
            self.limiter.release()

    def complete_and_report(self, kwargs: dict, call: str, outcome: dict, done: threading.Event) -> None:
        try:
            outcome["response"] = litellm.completion(**kwargs)
            if outcome["response"] is None:
                raise NoResponse("the provider refused the request with HTTP 422 twice (unprocessable entity), "
                                 "also without the parameters it named")
            usage = outcome["usage"] = settle_usage(outcome["response"], self.config.name, kwargs["messages"],
                                                    kwargs["tools"])
            event = {"event": "end", "call": call, "cost": self.get_cost(usage),
                     "cost_uncached": self.get_uncached_cost(usage),
                     **{key: usage[key] for key in TOKEN_CLASSES}}
            if usage["counted_locally"]:
                event["counted_locally"] = usage["counted_locally"]
        except BaseException as error:  # noqa: BLE001 - handed to the waiting run
            outcome["error"] = error
            event = {"event": "end", "call": call, "cost": 0.0, "error": summarize_error(error)[:200]}
            if is_billable(error):  # the provider may have read the prompt: charge what it may bill
                tokens_in = count_prompt_tokens(self.config.name, kwargs["messages"], kwargs["tools"])
                outcome["cost"] = event["cost"] = event["cost_uncached"] = self.get_cost({"tokens_in": tokens_in})
                event.update(tokens_in=tokens_in, tokens_out=0, counted_locally=["tokens_in"])
        finally:
            self.release()
        try:
            self.on_call(event)
        except Exception as error:  # noqa: BLE001 - e.g. a full disk: the waiting run raises it
            outcome["error"] = error
        finally:
            done.set()

    def get_cost(self, tokens: dict) -> float:
        """Dollars of a call as billed, each token class at its price; never negative."""
        return get_cost(tokens, self.prices, self.cache_prices)

    def get_uncached_cost(self, tokens: dict) -> float:
        return get_uncached_cost(tokens, self.prices)

    def make_reply(self, response, usage: dict, seconds: float, attempts: int) -> ModelReply:
        tokens_in, tokens_out = usage["tokens_in"], usage["tokens_out"]
        if not getattr(response, "choices", None) or response.choices[0].message is None:
            raise MalformedReply("a 200 answer with no choices", self.get_cost(usage))
        choice = response.choices[0]
        if choice.finish_reason == "content_filter":
            raise RunEnded(ex.PROVIDER_ERROR, "the provider's content filter stopped the reply")
        message = choice.message
        calls = [read_tool_call(call) for call in (message.tool_calls or [])]
        reasoning = getattr(message, "reasoning_content", None)
        max_tokens = self.config.max_tokens
        return ModelReply(
            message=make_assistant_message(message.content, calls, reasoning,
                                           getattr(message, "thinking_blocks", None)),
            tool_calls=calls, cost=self.get_cost(usage), cost_uncached=self.get_uncached_cost(usage),
            tokens_cached=usage["tokens_cached"], tokens_cache_write=usage["tokens_cache_write"],
            tokens_reasoning=usage["tokens_reasoning"],
            tokens_in=tokens_in, tokens_out=tokens_out, seconds=seconds, attempts=attempts,
            reasoning=reasoning, finish_reason=choice.finish_reason,
            cut_off=choice.finish_reason == "length" or bool(max_tokens and tokens_out >= max_tokens),
            extra={"counted_locally": usage["counted_locally"]} if usage["counted_locally"] else {},
        )

    def serialize(self) -> dict:
        return {**self.config.model_dump(), "prices_per_token": list(self.prices),
                "cache_prices_per_token": [self.cache_prices.read, self.cache_prices.write]}


def get_context_window(name: str) -> int | None:
    """The prompt tokens litellm's table says the model accepts, or None when it does not know."""
    try:
        info = litellm.get_model_info(name)
    except Exception:  # litellm raises a bare Exception for unmapped models
        return None
    return info.get("max_input_tokens") or info.get("max_tokens")


def read_tool_call(call) -> dict:
    """{"id", "name", "arguments"} of one tool call; a call without its `function` (some servers send null)
    has an empty name, which the loop answers as a format error."""
    function = getattr(call, "function", None)
    return {"id": getattr(call, "id", None) or f"call_{uuid.uuid4().hex[:12]}",
            "name": getattr(function, "name", None) or "", "arguments": getattr(function, "arguments", None) or ""}


def describe_attempt(attempt: int, error: Exception, began: float, cost: float) -> dict:
    """The trajectory's record of a failed attempt."""
    status = error.exit_status if isinstance(error, RunEnded) else "timeout" if is_timeout(error) else "error"
    return {"attempt": attempt, "status": status, "seconds": round(time.monotonic() - began, 3),
            "error": summarize_error(error)[:300], "cost": cost}


def is_anthropic(config: ModelConfig) -> bool:
    """Claude, through Anthropic's API or another route (Bedrock, Vertex) where litellm shapes its turns."""
    return get_provider(config) == "anthropic" or "claude" in config.name.lower()


def get_provider(config: ModelConfig) -> str:
    """The litellm provider of a model (e.g. `fireworks_ai`), the key of per-provider concurrency caps."""
    try:
        return litellm.get_llm_provider(config.name)[1]
    except Exception:  # litellm raises a bare Exception for names it cannot place
        return config.name.split("/", 1)[0]
