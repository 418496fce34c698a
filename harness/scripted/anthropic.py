"""The scripted server's Anthropic Messages API (`POST /v1/messages`): script replies shaped as Anthropic answers.

litellm's `anthropic/<model>` with `api_base=http://127.0.0.1:PORT` posts to `PORT/v1/messages` (it appends
`/v1/messages` to any base that does not end with it). A reply becomes one message of content blocks, in
Anthropic's order: thinking, text, tool_use. A thinking block is signed with `sign(thinking)`, and the server
checks what the client sends back as Anthropic does (HTTP 400 otherwise): every thinking block sent back must
carry the signature it was given, and with `thinking` enabled, `temperature` must be 1 (or left out) and a last
assistant message with tool_use blocks must start with a thinking block.
"""

from __future__ import annotations

import base64
import hashlib
import uuid

PATH = "/v1/messages"
STOP_REASONS = {"length": "max_tokens", "content_filter": "refusal", "stop": "end_turn", "tool_calls": "tool_use"}
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
               529: "overloaded_error"}
TEMPERATURE = "`temperature` may only be set to 1 when thinking is enabled."
THINKING_FIRST = ("messages.{index}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{found}`. "
                  "When `thinking` is enabled, a final `assistant` message must start with a thinking block.")


def sign(thinking: str) -> str:
    """The signature the server gives a thinking text (deterministic, so tests can expect it)."""
    return base64.b64encode(hashlib.sha256(thinking.encode()).digest()).decode()


def make_blocks(reply: dict, text: str | None) -> list[dict]:
    blocks = []
    if reply.get("thinking"):
        blocks.append({"type": "thinking", "thinking": reply["thinking"], "signature": sign(reply["thinking"])})
    if text:
        blocks.append({"type": "text", "text": text})
    for call in reply.get("tool_calls", []):
        blocks.append({"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": call["name"],
                       "input": call.get("arguments", {})})
    return blocks


def make_message(model: str, reply: dict, text: str | None, usage: dict) -> dict:
    """An Anthropic message for a script reply; `usage` is the OpenAI-style count the server bills."""
    blocks = make_blocks(reply, text)
    has_calls = any(block["type"] == "tool_use" for block in blocks)
    finish_reason = reply.get("finish_reason") or ("tool_calls" if has_calls else "stop")
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "model": model,
        "content": blocks, "stop_reason": STOP_REASONS.get(finish_reason, "end_turn"), "stop_sequence": None,
        "usage": {"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"]},
    }


def make_error(status: int, message: str, kind: str | None = None) -> dict:
    return {"type": "error", "error": {"type": kind or ERROR_TYPES.get(status, "api_error"), "message": message}}


def check_request(body: dict) -> str | None:
    """What Anthropic would refuse (HTTP 400) in the thinking blocks sent back, or None."""
    messages = body.get("messages", [])
    for index, message in enumerate(messages):
        for block in get_blocks(message):
            if block.get("type") == "thinking" and block.get("signature") != sign(block.get("thinking", "")):
                return f"messages.{index}.content: Invalid `signature` in `thinking` block"
    if (body.get("thinking") or {}).get("type") not in ("enabled", "adaptive"):
        return None
    if body.get("temperature", 1) != 1:
        return TEMPERATURE
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=None)
    if last is None:
        return None
    blocks = get_blocks(messages[last])
    in_tool_loop = any(block.get("type") == "tool_use" for block in blocks)
    if in_tool_loop and blocks[0].get("type") not in ("thinking", "redacted_thinking"):
        return THINKING_FIRST.format(index=last, found=blocks[0].get("type"))
    return None


def get_blocks(message: dict) -> list[dict]:
    content = message.get("content")
    if isinstance(content, list):
        return [block for block in content if isinstance(block, dict)]
    return [{"type": "text", "text": content}] if content else []
