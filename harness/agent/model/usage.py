"""The tokens of one model call: the provider's usage when it is plausible, else counted here.

A provider's `usage` can be missing (some local servers, some proxies), zero, or negative (a bug upstream); the
cost of such a reply would be $0 or less, and neither the run's cost limit nor the folder's budget would ever
trip. So a count that cannot be right is replaced by litellm's `token_counter` over what was sent or received,
and the reply says so (`counted_locally`). A call that failed after the provider may have read it (a timeout,
a dropped connection, a 5xx) is charged its prompt tokens counted the same way: what the provider may bill.
"""

from __future__ import annotations

import json

import litellm

CHARS_PER_TOKEN = 4


def read_usage(response) -> tuple[int | None, int | None]:
    """(prompt, completion) tokens as the provider reported them; None where it reported none."""
    usage = getattr(response, "usage", None)
    return read_count(usage, "prompt_tokens"), read_count(usage, "completion_tokens")


def read_count(usage, name: str) -> int | None:
    value = getattr(usage, name, None) if usage is not None else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_token_classes(response) -> dict:
    """{"tokens_cached", "tokens_cache_write", "tokens_reasoning"} from whatever shape the provider used, as
    litellm hands it on: cache reads in `prompt_tokens_details.cached_tokens` (OpenAI, Fireworks; litellm moves
    Anthropic's `cache_read_input_tokens` and DeepSeek's `prompt_cache_hit_tokens` there too), cache writes in
    Anthropic's `cache_creation_input_tokens`, reasoning in `completion_tokens_details.reasoning_tokens`. Both
    cache classes are part of `prompt_tokens` (litellm adds Anthropic's to its `input_tokens`)."""
    usage = getattr(response, "usage", None)
    details = getattr(usage, "prompt_tokens_details", None)
    written = [read_count(usage, "_cache_creation_input_tokens"), read_count(details, "cache_creation_tokens"),
               read_count(usage, "cache_creation_input_tokens")]
    return {"tokens_cached": max(0, read_count(details, "cached_tokens") or 0),
            "tokens_cache_write": max(0, max((count for count in written if count is not None), default=0)),
            "tokens_reasoning": max(0, read_count(getattr(usage, "completion_tokens_details", None),
                                                  "reasoning_tokens") or 0)}


def count_prompt_tokens(model: str, messages: list[dict], tools: list[dict] | None) -> int:
    """The tokens of a request as litellm's tokenizer for `model` counts them (characters / 4 if it cannot)."""
    try:
        return max(1, int(litellm.token_counter(model=model, messages=messages, tools=tools or None)))
    except Exception:  # noqa: BLE001 - litellm raises many kinds for content it cannot tokenize
        return max(1, len(json.dumps(messages, default=str)) // CHARS_PER_TOKEN)


def count_reply_tokens(model: str, message) -> int:
    """The tokens of a reply's text, reasoning and tool calls."""
    parts = [getattr(message, "content", None) or "", getattr(message, "reasoning_content", None) or ""]
    for call in getattr(message, "tool_calls", None) or []:
        function = getattr(call, "function", None)
        parts += [getattr(function, "name", None) or "", getattr(function, "arguments", None) or ""]
    text = "\n".join(part for part in parts if isinstance(part, str) and part)
    if not text:
        return 0
    try:
        return max(1, int(litellm.token_counter(model=model, text=text)))
    except Exception:  # noqa: BLE001 - see count_prompt_tokens
        return max(1, len(text) // CHARS_PER_TOKEN)


def settle_usage(response, model: str, messages: list[dict], tools: list[dict] | None) -> dict:
    """{"tokens_in", "tokens_out", "tokens_cached", "tokens_cache_write", "tokens_reasoning", "counted_locally"}:
    the provider's counts, each replaced by a local count when it is missing, negative, or zero where there was
    something to count (a prompt counted here has no cache classes)."""
    prompt, completion = read_usage(response)
    counted = []
    if prompt is None or prompt <= 0:
        prompt = count_prompt_tokens(model, messages, tools)
        counted.append("tokens_in")
    choices = getattr(response, "choices", None) or []
    message = getattr(choices[0], "message", None) if choices else None
    if completion is None or completion < 0 or (completion == 0 and message is not None):
        local = count_reply_tokens(model, message) if message is not None else 0
        if completion is None or completion < 0 or local > 0:
            completion = local
            counted.append("tokens_out")
    classes = read_token_classes(response) if "tokens_in" not in counted else {}
    return {"tokens_in": prompt, "tokens_out": completion, "tokens_cached": classes.get("tokens_cached", 0),
            "tokens_cache_write": classes.get("tokens_cache_write", 0),
            "tokens_reasoning": read_token_classes(response)["tokens_reasoning"], "counted_locally": counted}
