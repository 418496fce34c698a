"""The script's side of the scripted server (harness/scripted/server.py has the script format): which script
a conversation plays and which of its replies a request gets, and the reply as an OpenAI chat completion with
its tool calls and usage.
"""

from __future__ import annotations

import json
import time
import uuid

from harness.scripted.faults import get_preset

CHARS_PER_TOKEN = 4


def pick_script(scripts: list[dict], messages: list[dict]) -> tuple[int, dict] | None:
    first_user = next((m.get("content") or "" for m in messages if m.get("role") == "user"), "")
    if isinstance(first_user, list):
        first_user = " ".join(part.get("text", "") for part in first_user if isinstance(part, dict))
    for index, script in enumerate(scripts):
        wanted = script.get("match", "")
        if all(part in first_user for part in ([wanted] if isinstance(wanted, str) else wanted)):
            return index, script
    return None


def get_message_text(message: dict) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):
        return " ".join(str(block.get("text") or block.get("content") or "") for block in content
                        if isinstance(block, dict))
    return str(content)


def pick_reply(script: dict, step: int) -> dict:
    replies = script.get("replies", [])
    if step < len(replies):
        return replies[step]
    if script.get("loop_last") and replies:
        return replies[-1]
    return {"content": "I have nothing more to do."}


def get_arguments(call: dict) -> str:
    arguments = call.get("raw_arguments")
    return json.dumps(call.get("arguments", {})) if arguments is None else arguments


def make_tool_calls(reply: dict) -> list[dict]:
    return [{"id": f"call_{uuid.uuid4().hex[:12]}", "type": "function",
             "function": None if call.get("null_function") else {"name": call["name"],
                                                                 "arguments": get_arguments(call)}}
            for call in reply.get("tool_calls", [])]


def get_text(reply: dict, auth: str) -> str | None:
    content = reply.get("content")
    if reply.get("echo_authorization"):
        content = f"{content or ''} (I was called with {auth})"
    return content


def count_usage(reply: dict, prompt_chars: int, text: str | None) -> dict:
    """The reply's tokens (OpenAI's names): the script's `usage`, else its characters / CHARS_PER_TOKEN."""
    completion_chars = (len(text or "") + len(reply.get("thinking") or "")
                        + sum(len(get_arguments(call)) for call in reply.get("tool_calls", [])))
    if "usage" in reply and reply["usage"] is None:
        return None
    usage = dict(reply.get("usage") or {}) or {
        "prompt_tokens": max(1, prompt_chars // CHARS_PER_TOKEN),
        "completion_tokens": max(1, completion_chars // CHARS_PER_TOKEN),
    }
    usage["total_tokens"] = (usage.get("prompt_tokens") or 0) + (usage.get("completion_tokens") or 0)
    return usage


def make_completion(model: str, reply: dict, text: str | None, usage: dict | None) -> dict:
    calls = make_tool_calls(reply)
    message = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = calls
    if reply.get("reasoning_content"):
        message["reasoning_content"] = reply["reasoning_content"]
    finish_reason = reply.get("finish_reason") or ("tool_calls" if calls else "stop")
    choices = [] if reply.get("empty_choices") else [{"index": 0, "message": message, "finish_reason": finish_reason}]
    completion = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage,
    }
    if usage is None:
        del completion["usage"]
    return completion


def check_template(script: dict, messages: list[dict]) -> tuple[int, dict, dict] | None:
    """With `strict_template`, the error a llama.cpp chat template raises for an assistant turn without
    `content` (its Jinja renderer reads `message.content` of every turn)."""
    if not script.get("strict_template"):
        return None
    if any(m.get("role") == "assistant" and m.get("content") is None for m in messages):
        return (*get_preset("llamacpp_template_error"), {})
    return None
