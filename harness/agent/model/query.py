"""The model seam: messages and tool schemas in, one reply with its tool calls, tokens and cost out.

The request is built by `harness/agent/model/request.py` and the reply read by `harness/agent/model/reply.py`.
Every provider answer maps to one outcome (`harness/agent/model/providers.py` classifies them,
`harness/agent/model/retries.py` decides what follows): transient failures
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
from datetime import datetime, timezone

import litellm

from harness import exceptions as ex
from harness.agent.config import ModelConfig
from harness.agent.model.pricing import get_cache_prices, get_cost, get_prices, get_uncached_cost
from harness.agent.model.providers import PAUSES, MalformedReply, NoResponse, is_billable, summarize_error
from harness.agent.model.reply import TOKEN_CLASSES, ModelReply, read_reply
from harness.agent.model.request import get_context_window, get_provider, make_request
from harness.agent.model.retries import Attempts, check_repeated, describe_attempt, get_wait, raise_final
from harness.agent.model.usage import count_prompt_tokens, settle_usage
from harness.exceptions import ConfigError, RunEnded

POLL_SECONDS = 0.1
CHARS_PER_TOKEN = 4


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
                reply = read_reply(response, usage, self.get_cost(usage), self.get_uncached_cost(usage),
                                   self.config.max_tokens, time.monotonic() - start, tries.count)
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
        raise_final(error, self.config)
        check_repeated(error, tries, self.config)
        self.wait(get_wait(error, tries, self.config, self.provider), deadline)

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
        kwargs = make_request(self.config, messages, tools, deadline, call)
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

    def serialize(self) -> dict:
        return {**self.config.model_dump(), "prices_per_token": list(self.prices),
                "cache_prices_per_token": [self.cache_prices.read, self.cache_prices.write]}
