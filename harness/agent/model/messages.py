"""The conversation as it goes to a provider: the assistant's reply turned back into a message, and the
messages shaped for what the provider's side renders (reasoning sent or not, an empty `content` for a turn of
only tool calls)."""

from __future__ import annotations

import json

REASONING_KEYS = ("reasoning_content", "thinking_blocks")
CACHE_ANCHOR = "cache_anchor"
"""A message the loop marked as the end of a prefix that stays the same for a while (see `harness/agent/loop.py`);
never sent."""


def make_assistant_message(content: str | None, calls: list[dict], reasoning: str | None = None,
                           thinking_blocks: list | None = None) -> dict:
    """The reply as it goes back to the provider: reasoning models (Kimi K2 Thinking, DeepSeek, Qwen) want
    their `reasoning_content` back with tool calls, Anthropic its signed `thinking_blocks`."""
    message: dict = {"role": "assistant", "content": content or ""}
    if reasoning:
        message["reasoning_content"] = reasoning
    if thinking_blocks:
        message["thinking_blocks"] = [dict(block) for block in thinking_blocks]
    if calls:
        message["tool_calls"] = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in calls
        ]
    return message


def prepare_messages(messages: list[dict], send_reasoning: bool, null_content: bool = False,
                     objects_only: bool = False, text_in_reasoning: bool = False) -> list[dict]:
    """The conversation as litellm gets it: without reasoning unless `send_reasoning`. An assistant turn of only
    tool calls keeps `content: ""`, which every OpenAI-compatible server's chat template renders (with `null`,
    litellm drops the key and llama.cpp's templates fail with HTTP 500); only for Anthropic (`null_content`) it
    becomes `null`: litellm replaces an empty text there by a placeholder sentence the model never wrote,
    wedged between its thinking and its tool_use. With `objects_only` (a server of your own), the arguments of
    an earlier call that are not a JSON object go as `{}`: open-weight chat templates read them as a mapping,
    and servers that parse them (vLLM before it coerced them) fail every later turn on one malformed call;
    the tool's answer already told the model what was wrong. With `text_in_reasoning` (gpt-oss), the text of a
    tool-call turn that has reasoning goes at the end of its `reasoning_content`: the harmony template takes the
    analysis or the text of such a turn, not both, and llama.cpp drops the text."""
    prepared = []
    for message in messages:
        message = {k: v for k, v in message.items() if k != CACHE_ANCHOR}
        if not send_reasoning:
            message = {k: v for k, v in message.items() if k not in REASONING_KEYS}
        if message.get("role") == "assistant" and message.get("tool_calls"):
            message = prepare_tool_turn(message, null_content, objects_only, text_in_reasoning)
        prepared.append(message)
    return prepared


def prepare_tool_turn(message: dict, null_content: bool, objects_only: bool, text_in_reasoning: bool) -> dict:
    if text_in_reasoning and message.get("content") and message.get("reasoning_content"):
        message = {**message, "reasoning_content": f"{message['reasoning_content']}\n\n{message['content']}",
                   "content": ""}
    if not message.get("content"):
        message = {**message, "content": None if null_content else ""}
    if objects_only:
        message = {**message, "tool_calls": [
            {**call, "function": {**call["function"], "arguments": get_object_arguments(call["function"])}}
            for call in message["tool_calls"]]}
    return message


def get_object_arguments(function: dict) -> str:
    """The call's arguments if they are a JSON object, else `{}`."""
    arguments = function.get("arguments") or ""
    try:
        return arguments if isinstance(json.loads(arguments), dict) else "{}"
    except (TypeError, ValueError):
        return "{}"


CACHE_CONTROL = {"type": "ephemeral"}
CACHED_TAIL = 2
"""Latest messages that carry a cache breakpoint besides the system prompt: the newest one writes the cache for
the next step, the one before reads what the previous step wrote (Anthropic allows four breakpoints)."""


def mark_cache_breakpoints(messages: list[dict]) -> list[dict]:
    """The conversation with Anthropic's `cache_control` on the system prompt and on the last CACHED_TAIL
    messages that have text (a user message or a tool result; an assistant turn of only tool calls has none),
    so that each step reads the prefix the step before wrote, and on the last message marked `cache_anchor`,
    whose prefix outlives the next rewrite of older messages. The messages given are not changed."""
    marked = list(messages)
    tail = [i for i, m in enumerate(messages) if m.get("role") in ("user", "tool") and m.get("content")]
    system = [i for i, m in enumerate(messages) if m.get("role") == "system"][:1]
    anchor = [i for i, m in enumerate(messages) if m.get(CACHE_ANCHOR) and m.get("content")][-1:]
    for index in dict.fromkeys(system + anchor + tail[-CACHED_TAIL:]):
        marked[index] = add_cache_control(messages[index])
    return marked


def add_cache_control(message: dict) -> dict:
    """The message with its content as text blocks, the last one carrying `cache_control`."""
    content = message["content"]
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else [dict(b) for b in content]
    blocks[-1] = {**blocks[-1], "cache_control": CACHE_CONTROL}
    return {**message, "content": blocks}
