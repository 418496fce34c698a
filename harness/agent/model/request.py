"""One request as litellm gets it: the model's provider, the messages shaped for it (cache breakpoints, reasoning,
empty contents), the tool schemas, the call's id header, the timeout the run's deadline leaves, the key."""

from __future__ import annotations

import os
import time

import litellm

from harness.agent.config import ModelConfig
from harness.agent.model.messages import mark_cache_breakpoints, prepare_messages

litellm.suppress_debug_info = True
litellm.drop_params = True

CALL_HEADER = "X-Patchmix-Call"
"""Sent with every request: the id under which the call is in the cost ledger."""


def make_request(config: ModelConfig, messages: list[dict], tools: list[dict], deadline: float | None,
                 call: str) -> dict:
    """The keyword arguments of `litellm.completion` for one call (litellm's own retries off: ours count)."""
    anthropic = is_anthropic(config)
    if asks_caching(config):
        messages = mark_cache_breakpoints(messages)
    messages = prepare_messages(messages, config.send_reasoning, null_content=anthropic,
                                objects_only=bool(config.api_base) and not anthropic,
                                text_in_reasoning=config.text_in_reasoning)
    extra = dict(config.extra)
    headers = {**extra.pop("extra_headers", {}), CALL_HEADER: call}
    kwargs = {
        "model": config.name, "messages": messages, "tools": tools,
        "timeout": get_timeout(config, deadline), "max_retries": 0, "num_retries": 0,
        "extra_headers": headers, **extra,
    }
    # Anthropic's extended thinking refuses any temperature but 1: the config's (0 by default) is not sent
    temperature = None if "thinking" in extra else config.temperature
    optional = {"temperature": temperature, "max_tokens": config.max_tokens,
                "api_base": config.api_base, "tool_choice": config.tool_choice if tools else None}
    kwargs.update({key: value for key, value in optional.items() if value is not None})
    if config.api_key_env:
        kwargs["api_key"] = os.environ[config.api_key_env]
    return kwargs


def asks_caching(config: ModelConfig) -> bool:
    """Whether requests carry `cache_control` breakpoints: the config's `prompt_caching`, by default on for
    Claude (Anthropic caches only when asked)."""
    wanted = config.prompt_caching
    return is_anthropic(config) if wanted is None else wanted and is_anthropic(config)


def get_timeout(config: ModelConfig, deadline: float | None) -> float:
    """The request timeout, capped by the time the run has left."""
    if deadline is None:
        return config.request_timeout
    return max(1.0, min(config.request_timeout, deadline - time.monotonic() + 0.5))


def get_context_window(name: str) -> int | None:
    """The prompt tokens litellm's table says the model accepts, or None when it does not know."""
    try:
        info = litellm.get_model_info(name)
    except Exception:  # litellm raises a bare Exception for unmapped models
        return None
    return info.get("max_input_tokens") or info.get("max_tokens")


def is_anthropic(config: ModelConfig) -> bool:
    """Claude, through Anthropic's API or another route (Bedrock, Vertex) where litellm shapes its turns."""
    return get_provider(config) == "anthropic" or "claude" in config.name.lower()


def get_provider(config: ModelConfig) -> str:
    """The litellm provider of a model (e.g. `fireworks_ai`), the key of per-provider concurrency caps."""
    try:
        return litellm.get_llm_provider(config.name)[1]
    except Exception:  # litellm raises a bare Exception for names it cannot place
        return config.name.split("/", 1)[0]
