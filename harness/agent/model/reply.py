"""One reply as the agent gets it (`ModelReply`): read from litellm's response, with its tool calls, tokens by
class and cost; a response the harness cannot use raises `MalformedReply` (retried by the model seam)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from harness import exceptions as ex
from harness.agent.model.messages import make_assistant_message
from harness.agent.model.providers import MalformedReply
from harness.exceptions import RunEnded

TOKEN_CLASSES = ("tokens_in", "tokens_out", "tokens_cached", "tokens_cache_write", "tokens_reasoning")
"""The token counts of a call, as the ledger, the trajectory and the reply carry them."""


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


def read_reply(response, usage: dict, cost: float, cost_uncached: float, max_tokens: int | None, seconds: float,
               attempts: int) -> ModelReply:
    """The reply of a 200 answer whose `usage` was settled and priced (`cost`, `cost_uncached`)."""
    tokens_in, tokens_out = usage["tokens_in"], usage["tokens_out"]
    if not getattr(response, "choices", None) or response.choices[0].message is None:
        raise MalformedReply("a 200 answer with no choices", cost)
    choice = response.choices[0]
    if choice.finish_reason == "content_filter":
        raise RunEnded(ex.PROVIDER_ERROR, "the provider's content filter stopped the reply")
    message = choice.message
    calls = [read_tool_call(call) for call in (message.tool_calls or [])]
    reasoning = getattr(message, "reasoning_content", None)
    return ModelReply(
        message=make_assistant_message(message.content, calls, reasoning,
                                       getattr(message, "thinking_blocks", None)),
        tool_calls=calls, cost=cost, cost_uncached=cost_uncached,
        tokens_cached=usage["tokens_cached"], tokens_cache_write=usage["tokens_cache_write"],
        tokens_reasoning=usage["tokens_reasoning"],
        tokens_in=tokens_in, tokens_out=tokens_out, seconds=seconds, attempts=attempts,
        reasoning=reasoning, finish_reason=choice.finish_reason,
        cut_off=choice.finish_reason == "length" or bool(max_tokens and tokens_out >= max_tokens),
        extra={"counted_locally": usage["counted_locally"]} if usage["counted_locally"] else {},
    )


def read_tool_call(call) -> dict:
    """{"id", "name", "arguments"} of one tool call; a call without its `function` (some servers send null)
    has an empty name, which the loop answers as a format error."""
    function = getattr(call, "function", None)
    return {"id": getattr(call, "id", None) or f"call_{uuid.uuid4().hex[:12]}",
            "name": getattr(function, "name", None) or "", "arguments": getattr(function, "arguments", None) or ""}
