"""The model seam: messages and tool schemas in, one reply with its tool calls, tokens and cost out.

Transient provider failures (429, 5xx, timeouts, dropped connections) are retried here with exponential
backoff and never reach the agent as its own failure; when retries run out the agent gets `InfraError`.
Prices come from the config or from litellm's table; a model with no known price refuses to start.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

import litellm
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from harness.agent.config import ModelConfig
from harness.exceptions import ConfigError, ContextOverflow, InfraError

litellm.suppress_debug_info = True
litellm.drop_params = True

TRANSIENT_ERRORS = (
    litellm.RateLimitError,
    litellm.InternalServerError,
    litellm.ServiceUnavailableError,
    litellm.BadGatewayError,
    litellm.APIConnectionError,
    litellm.Timeout,
)


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
    extra: dict = field(default_factory=dict)


def get_prices(config: ModelConfig) -> tuple[float, float]:
    """(input, output) dollars per token, from the config or litellm's table; ConfigError if neither knows."""
    if config.input_cost_per_token is not None and config.output_cost_per_token is not None:
        return config.input_cost_per_token, config.output_cost_per_token
    try:
        info = litellm.get_model_info(config.name)
    except Exception as error:  # litellm raises a bare Exception for unmapped models
        raise ConfigError(
            f"model {config.name!r} has no known price: set input_cost_per_token and output_cost_per_token "
            f"for it in the config (litellm: {str(error).splitlines()[0][:120]})"
        ) from None
    if info.get("input_cost_per_token") is None or info.get("output_cost_per_token") is None:
        raise ConfigError(f"model {config.name!r} has no price in litellm's table: set both prices in the config")
    return info["input_cost_per_token"], info["output_cost_per_token"]


class Model:
    def __init__(self, config: ModelConfig, limiter: threading.Semaphore | None = None):
        self.config = config
        self.prices = get_prices(config)
        self.limiter = limiter
        if config.api_key_env and not os.environ.get(config.api_key_env):
            raise ConfigError(f"model {config.label!r}: environment variable {config.api_key_env} is not set")

    def make_kwargs(self, messages: list[dict], tools: list[dict]) -> dict:
        kwargs = {
            "model": self.config.name, "messages": messages, "tools": tools,
            "timeout": self.config.request_timeout, "max_retries": 0, "num_retries": 0,
            **self.config.extra,
        }
        optional = {"temperature": self.config.temperature, "max_tokens": self.config.max_tokens,
                    "api_base": self.config.api_base}
        kwargs.update({key: value for key, value in optional.items() if value is not None})
        if self.config.api_key_env:
            kwargs["api_key"] = os.environ[self.config.api_key_env]
        return kwargs

    def query(self, messages: list[dict], tools: list[dict]) -> ModelReply:
        """One completion. Raises ContextOverflow, or InfraError once transient retries run out."""
        start, attempts = time.monotonic(), 0
        retrying = Retrying(
            retry=retry_if_exception_type(TRANSIENT_ERRORS),
            stop=stop_after_attempt(max(1, self.config.retries)),
            wait=wait_exponential(multiplier=self.config.retry_wait, max=self.config.retry_max_wait),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    response = self.complete(self.make_kwargs(messages, tools))
        except litellm.ContextWindowExceededError as error:
            raise ContextOverflow(summarize_error(error)) from None
        except TRANSIENT_ERRORS as error:
            raise InfraError(f"provider failed {attempts} times in a row: {summarize_error(error)}") from None
        except litellm.exceptions.OpenAIError as error:
            raise InfraError(f"provider refused the request: {summarize_error(error)}") from None
        return self.make_reply(response, time.monotonic() - start, attempts)

    def complete(self, kwargs: dict):
        if self.limiter is None:
            return litellm.completion(**kwargs)
        with self.limiter:
            return litellm.completion(**kwargs)

    def make_reply(self, response, seconds: float, attempts: int) -> ModelReply:
        message = response.choices[0].message
        calls = [
            {"id": call.id, "name": call.function.name, "arguments": call.function.arguments or ""}
            for call in (message.tool_calls or [])
        ]
        usage = getattr(response, "usage", None)
        tokens_in = getattr(usage, "prompt_tokens", 0) or 0
        tokens_out = getattr(usage, "completion_tokens", 0) or 0
        return ModelReply(
            message=make_assistant_message(message.content, calls),
            tool_calls=calls,
            cost=tokens_in * self.prices[0] + tokens_out * self.prices[1],
            tokens_in=tokens_in, tokens_out=tokens_out, seconds=seconds, attempts=attempts,
            reasoning=getattr(message, "reasoning_content", None),
        )

    def serialize(self) -> dict:
        return {**self.config.model_dump(), "prices_per_token": list(self.prices)}


def make_assistant_message(content: str | None, calls: list[dict]) -> dict:
    message: dict = {"role": "assistant", "content": content or ""}
    if calls:
        message["tool_calls"] = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in calls
        ]
    return message


def summarize_error(error: Exception) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:300]}"


def get_provider(config: ModelConfig) -> str:
    """The litellm provider of a model (e.g. `fireworks_ai`), the key of per-provider concurrency caps."""
    try:
        return litellm.get_llm_provider(config.name)[1]
    except Exception:  # litellm raises a bare Exception for names it cannot place
        return config.name.split("/", 1)[0]
