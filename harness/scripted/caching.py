"""Prefix caching as providers do it, for the scripted server, and the usage shapes they report it in.

A request is rendered as text, one line per piece (tools, each system block, each content block of each
message), so that a conversation that only grows keeps its earlier rendering as a prefix. Tokens are characters
/ CHARS_PER_TOKEN, as the server counts them everywhere.

- Automatic caching (OpenAI, DeepSeek, Fireworks): every request is written; the tokens read are the longest
  prefix the request shares with an earlier, unexpired request of the same model, in whole `unit`s of tokens,
  and none below `minimum` tokens (OpenAI: 1024 and 128).
- Explicit caching (Anthropic): only the prefixes that end at a `cache_control` breakpoint are written; a
  request reads the longest written prefix it starts with, writes what lies between that and its last
  breakpoint (`cache_creation_input_tokens`), and pays the rest as `input_tokens`. Nothing is cached without
  breakpoints.

An entry expires `ttl` seconds after it was last written or read (Anthropic and OpenAI: about 5 minutes).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

CHARS_PER_TOKEN = 4


@dataclass
class CacheSettings:
    ttl: float = 300.0
    unit: int = 1
    minimum: int = 0
    max_entries: int = 128
    """Entries kept per model; the least recently used go first (providers evict too)."""


def render_openai(body: dict) -> tuple[bytes, list[int]]:
    """The request as text, and no breakpoints (automatic caching needs none)."""
    lines = [json.dumps(body.get("tools") or [], sort_keys=True)]
    lines += [json.dumps(message, sort_keys=True) for message in body.get("messages", [])]
    return "".join(line + "\n" for line in lines).encode(), []


def render_anthropic(body: dict) -> tuple[bytes, list[int]]:
    """The request as text (markers left out), and the offsets where a `cache_control` breakpoint ends a prefix."""
    pieces = list(body.get("tools") or [])
    system = body.get("system") or []
    pieces += [{"type": "text", "text": system}] if isinstance(system, str) else list(system)
    for message in body.get("messages", []):
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        pieces += [{**as_blocks(block), "role": message.get("role")} for block in blocks]
    lines, breakpoints, length = [], [], 0
    for piece in pieces:
        lines.append((json.dumps(strip_marks(piece), sort_keys=True) + "\n").encode())
        length += len(lines[-1])
        if has_mark(piece):
            breakpoints.append(length)
    return b"".join(lines), breakpoints


def as_blocks(block: dict) -> dict:
    """A tool result whose content is a string, as the list of one text block Anthropic reads it as."""
    if block.get("type") == "tool_result" and isinstance(block.get("content"), str):
        return {**block, "content": [{"type": "text", "text": block["content"]}]}
    return block


def has_mark(block) -> bool:
    """A block with `cache_control`, on itself or on a block inside it (litellm puts a tool result's on the text
    inside it)."""
    if not isinstance(block, dict):
        return False
    inner = block.get("content")
    return bool(block.get("cache_control")) or (isinstance(inner, list) and any(has_mark(b) for b in inner))


def strip_marks(block):
    """The block without any `cache_control`: a marker is not part of the cached text."""
    if isinstance(block, list):
        return [strip_marks(item) for item in block]
    if not isinstance(block, dict):
        return block
    return {key: strip_marks(value) for key, value in block.items() if key != "cache_control"}


def get_shared_length(first: bytes, second: bytes) -> int:
    """Length of the longest common prefix (binary search over zero-copy views)."""
    a, b = memoryview(first), memoryview(second)
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


@dataclass
class PrefixCache:
    settings: CacheSettings = field(default_factory=CacheSettings)
    clock: object = time.monotonic
    entries: dict = field(default_factory=dict)
    """Per model, {prefix bytes: moment it expires}."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def read_automatic(self, model: str, text: bytes) -> int:
        """Tokens of `text` read from the cache, then `text` written for later requests."""
        with self.lock:
            entries = self.get_live(model)
            best = max((get_shared_length(text, prefix) for prefix in entries), default=0)
            self.write(model, text)
        return self.round_tokens(best // CHARS_PER_TOKEN)

    def read_explicit(self, model: str, text: bytes, breakpoints: list[int]) -> tuple[int, int]:
        """(tokens read, tokens written) for a request with `cache_control` breakpoints at those offsets."""
        with self.lock:
            entries = self.get_live(model)
            hits = [prefix for prefix in entries if text.startswith(prefix)]
            read = max(hits, key=len, default=b"")
            if read:
                entries[read] = self.clock() + self.settings.ttl  # a hit refreshes the entry
            for end in breakpoints:
                if end // CHARS_PER_TOKEN >= self.settings.minimum:
                    self.write(model, text[:end], drop_prefixes=False)
        last = max(breakpoints, default=0)
        read_tokens = len(read) // CHARS_PER_TOKEN
        written = max(0, last // CHARS_PER_TOKEN - read_tokens) if last // CHARS_PER_TOKEN >= self.settings.minimum else 0
        return read_tokens, written

    def get_live(self, model: str) -> dict:
        now = self.clock()
        entries = self.entries.setdefault(model, {})
        for prefix in [prefix for prefix, until in entries.items() if until <= now]:
            del entries[prefix]
        return entries

    def write(self, model: str, text: bytes, drop_prefixes: bool = True) -> None:
        """Write an entry; with `drop_prefixes` (automatic caching, where a read may end anywhere) the entries it
        starts with go: whatever shares a prefix with them shares at least as much with the new one."""
        entries = self.entries.setdefault(model, {})
        for prefix in [p for p in entries if drop_prefixes and p != text and text.startswith(p)]:
            del entries[prefix]
        entries.pop(text, None)
        entries[text] = self.clock() + self.settings.ttl
        while len(entries) > self.settings.max_entries:
            del entries[next(iter(entries))]

    def round_tokens(self, tokens: int) -> int:
        if tokens < self.settings.minimum:
            return 0
        unit = max(1, self.settings.unit)
        return tokens // unit * unit


def shape_usage(shape: str, prompt: int, completion: int, cached: int, reasoning: int) -> dict:
    """An OpenAI-compatible provider's usage object for these counts, in that provider's own field names."""
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    if shape == "deepseek":
        usage.update(prompt_cache_hit_tokens=cached, prompt_cache_miss_tokens=prompt - cached)
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    elif shape == "fireworks":
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    else:  # openai
        usage["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                              "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    return usage
