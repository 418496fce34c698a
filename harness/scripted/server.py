"""A scripted chat server on 127.0.0.1, the stand-in for a model provider: it speaks OpenAI's chat completions
(`POST .../chat/completions`, at `api_base`) and Anthropic's Messages API (`POST /v1/messages`, at
`anthropic_base`; the shaping is in harness/scripted/anthropic.py).

The real litellm client talks to it over HTTP, so everything but the model's judgement is exercised for
real: request building, tool schemas, retries, error mapping, usage and cost. It is used by the tests and by
the demo, where no provider key exists.

A script is data (a dict, or YAML):

    models:
      fixer:                          # the model name in the request ("openai/fixer" sends "fixer")
        - match: "Converting 0 Fahrenheit"   # picks this conversation when the first user message contains it
                                             # (a list: contains all of them; the first script that matches wins)
          replies:
            - tool_calls: [{name: bash, arguments: {command: "ls"}}]
            - content: "thinking out loud"             # a reply with no tool call
            - tool_calls: [{name: bash, raw_arguments: "{not json"}]
            - error: {status: 429, times: 2}           # answer 429 twice, then play the next fields
              tool_calls: [{name: submit, arguments: {}}]
            - error: {drop: true, times: 1}            # close the connection without an answer, once
              content: "..."
            - error: {stall: 5, times: 1}              # answer only after 5 s, once (a client timeout)
              content: "..."
            - error: {preset: fireworks_overflow}      # a real provider's error answer (harness/scripted/faults.py)
            - error: {status: 429, headers: {Retry-After: "2"}, times: 3}   # any status, body and headers
            - error: {never: true}                     # accept the request, never answer
            - content: "cut"                           # a 200 reply as a provider shapes it:
              finish_reason: length                    #   the reply was cut off at max_tokens
              reasoning_content: "I think..."          #   a reasoning model's thoughts beside the reply
            - thinking: "First I look..."              # Anthropic route only: a thinking block, signed
              tool_calls: [{name: submit, arguments: {}}]   #   deterministically (anthropic.sign)
            - empty_choices: true                      # a 200 reply with `choices: []`
            - tool_calls: [{null_function: true}]      # a tool call whose `function` is null
            - content: "x"                             # a reply without `usage` (some local servers), or with
              usage: null                              #   the counts given: {prompt_tokens: -5, ...}
          summary: {when: "outgrow your context window", content: "Found: ..."}   # a request whose last
                                      # message contains `when` is a compaction: answered with `content` and the
                                      # steps it covers; later requests that carry that summary count them
          loop_last: false            # once the replies run out, repeat the last one (else: plain text "done")
          strict_template: true       # answer HTTP 500 as llama.cpp's chat templates do when an assistant turn
                                      # has no `content` (llama-cpp-python's server: 'dict object' has no ...)

With `caching: {ttl: 300, unit: 128, minimum: 1024}` at the top of the script, the server caches prompt prefixes
as providers do (harness/scripted/caching.py) and reports it in each provider's usage shape: `usage_shapes: {model:
openai | deepseek | fireworks}` on the OpenAI route, `context_windows: {model: tokens}` refuses longer prompts
with that provider's overflow answer (default `openai`), Anthropic's `cache_read_input_tokens` and
`cache_creation_input_tokens` on `/v1/messages`. A reply's `reasoning_content` then counts in its completion
tokens and as `reasoning_tokens`.

The server is stateless about conversations: the reply index is the number of assistant messages in the
request, so retries, parallel workers and resumed runs all see the same script. Only injected errors keep a
count, per (model, script, step). Both routes play the same scripts; on the Anthropic route a scripted error
answers in Anthropic's shape (`{"type": "error", "error": {"type": "overloaded_error", ...}}` for a 529), a tool
call's `raw_arguments` does not apply (Anthropic's `input` is always an object), and a request that sends back a
thinking block with a wrong signature, or leaves it out while `thinking` is on, is refused with a 400 as
Anthropic does. Every request is kept in `requests` as {"path", "model", "body"}.

The script's side (which conversation and reply a request gets, the OpenAI completion it becomes) is in
harness/scripted/replies.py, the HTTP side (reading requests, dropping or holding connections, writing answers)
in harness/scripted/handler.py; here is the state: injected errors' counts, summaries, the cache, the bills.

Like a provider, it bills: every completion it delivers is appended to `bills` with its tokens (and the
client's `X-Patchmix-Call` header, if sent); a client that left before the answer was written is not billed.
`on_reply(model, step, reply)`, if given, is called before each scripted answer (e.g. to break something
at a chosen moment).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import ThreadingHTTPServer

from harness.scripted import anthropic
from harness.scripted.caching import CacheSettings, PrefixCache, render_anthropic, render_openai, shape_usage
from harness.scripted.faults import get_preset
from harness.scripted.handler import NEVER, make_handler
from harness.scripted.replies import (CHARS_PER_TOKEN, check_template, count_usage, get_message_text, get_text,
                                      make_completion, pick_reply, pick_script)


class ScriptedServer:
    """Serves `script` on 127.0.0.1; use as a context manager or call start()/stop()."""

    def __init__(self, script: dict, port: int = 0, on_reply=None, record: bool = True):
        self.script = script
        self.on_reply = on_reply
        self.record = record
        self.requests: list[dict] = []
        """Every request as it came (with `record`; a benchmark of the client's memory passes False, since this
        log grows by each request's whole body in the client's own process)."""
        self.bills: list[dict] = []
        """One entry per delivered completion: {"call", "model", "prompt_tokens", "completion_tokens"}."""
        self.stopping = threading.Event()
        self.summaries: dict[str, int] = {}
        """Compaction summaries written, with the steps each covers."""
        settings = script.get("caching")
        self.cache = PrefixCache(CacheSettings(**settings)) if settings is not None else None
        """Prefix caching per model, when the script asks for it."""
        self.error_counts: dict[tuple, int] = {}
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        """The most requests this server was answering at once (to check concurrency caps)."""
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), make_handler(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    @property
    def anthropic_base(self) -> str:
        """The `api_base` of an `anthropic/...` model: litellm appends `/v1/messages` to it."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> "ScriptedServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "ScriptedServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def answer(self, path: str, body: dict, auth: str) -> tuple[int, dict | str, dict]:
        """Return (HTTP status, body, headers) for one chat request (`path` says which API)."""
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return self.play(path, body, auth)
        finally:
            with self.lock:
                self.in_flight -= 1

    def play(self, path: str, body: dict, auth: str) -> tuple[int, dict | str, dict]:
        model, messages = body.get("model", ""), body.get("messages", [])
        is_anthropic = path == anthropic.PATH
        if self.record:
            with self.lock:
                self.requests.append({"path": path, "model": model, "body": body})
        refusal = anthropic.check_request(body) if is_anthropic else None
        if refusal:
            return 400, anthropic.make_error(400, refusal), {}
        found = pick_script(self.script.get("models", {}).get(model, []), messages)
        if found is None:
            message = f"no script for model {model!r}"
            if is_anthropic:
                return 404, anthropic.make_error(404, message), {}
            return 404, {"error": {"message": message, "type": "not_found"}}, {}
        index, script = found
        refused = None if is_anthropic else check_template(script, messages)
        if refused:
            return refused
        step = sum(1 for m in messages if m.get("role") == "assistant") + self.count_summarised(messages)
        reply = self.answer_compaction(script, messages, step) or pick_reply(script, step)
        if self.on_reply is not None:
            self.on_reply(model, step, reply)
        error = self.take_error(reply, (model, index, step), is_anthropic)
        if error:
            return error
        time.sleep(float(reply.get("delay", 0)))
        text = get_text(reply, auth)
        if self.cache is not None:
            return self.make_cached_answer(path, body, reply, text)
        usage = count_usage(reply, len(json.dumps(messages)), text)
        if is_anthropic:
            return 200, anthropic.make_message(model, reply, text, usage or {"prompt_tokens": 0,
                                                                              "completion_tokens": 0}), {}
        return 200, make_completion(model, reply, text, usage), {}

    def answer_compaction(self, script: dict, messages: list[dict], step: int) -> dict | None:
        """The scripted summary for a compaction request, remembered with the steps it covers (a step index
        counts the assistant turns a request carries, and those its summaries replaced)."""
        spec = script.get("summary")
        if not spec or not messages or spec["when"] not in get_message_text(messages[-1]):
            return None
        text = f"{spec['content']} [a summary of steps 1-{step}]"
        with self.lock:
            self.summaries[text] = step
        return {"content": text}

    def count_summarised(self, messages: list[dict]) -> int:
        texts = [get_message_text(m) for m in messages if m.get("role") == "user"]
        return sum(steps for summary, steps in list(self.summaries.items()) if any(summary in t for t in texts))

    def make_cached_answer(self, path: str, body: dict, reply: dict, text: str | None) -> tuple[int, dict, dict]:
        """A completion whose usage says what the prefix cache read and wrote, in the provider's shape; a prompt
        longer than the model's `context_windows` entry is refused as that provider refuses it."""
        model, is_anthropic = body.get("model", ""), path == anthropic.PATH
        rendered, breakpoints = render_anthropic(body) if is_anthropic else render_openai(body)
        prompt = max(1, len(rendered) // CHARS_PER_TOKEN)
        window = (self.script.get("context_windows") or {}).get(model)
        if window and prompt > window:
            return (*get_preset("anthropic_overflow" if is_anthropic else "openai_overflow"), {})
        reasoning = len(reply.get("reasoning_content") or "") // CHARS_PER_TOKEN
        completion = count_usage(reply, 0, text)["completion_tokens"] + reasoning
        if is_anthropic:
            read, written = self.cache.read_explicit(model, rendered, breakpoints)
            message = anthropic.make_message(model, reply, text, {"prompt_tokens": prompt - read - written,
                                                                  "completion_tokens": completion})
            message["usage"].update(cache_read_input_tokens=read, cache_creation_input_tokens=written)
            return 200, message, {}
        cached = min(prompt, self.cache.read_automatic(model, rendered))
        shape = (self.script.get("usage_shapes") or {}).get(model, "openai")
        return 200, make_completion(model, reply, text, shape_usage(shape, prompt, completion, cached, reasoning)), {}

    def bill(self, call: str, completion: dict) -> None:
        usage = completion.get("usage") or {}  # OpenAI's or Anthropic's names
        with self.lock:
            self.bills.append({"call": call, "model": completion.get("model"),
                               "prompt_tokens": usage.get("prompt_tokens", usage.get("input_tokens", 0)),
                               "completion_tokens": usage.get("completion_tokens", usage.get("output_tokens", 0)),
                               "usage": usage})

    def take_error(self, reply: dict, key: tuple, is_anthropic: bool = False) -> tuple[int, dict | str, dict] | None:
        """The injected failure for this request, if any: (status, body, headers); status 0 drops the
        connection, NEVER holds it without an answer."""
        spec = reply.get("error")
        if not spec:
            return None
        with self.lock:
            seen = self.error_counts.get(key, 0)
            self.error_counts[key] = seen + 1
        if seen >= spec.get("times", 1):
            return None
        if spec.get("drop"):
            return 0, {}, {}
        if spec.get("never"):
            return NEVER, {}, {}
        if spec.get("stall"):
            time.sleep(float(spec["stall"]))
            return None
        headers = dict(spec.get("headers") or {})
        if spec.get("preset"):
            return (*get_preset(spec["preset"]), headers)
        status = int(spec.get("status", 500))
        if "body" in spec:
            return status, spec["body"], headers
        message = spec.get("message", f"scripted error {status}")
        if is_anthropic:
            return status, anthropic.make_error(status, message, spec.get("type")), headers
        return status, {"error": {"message": message, "type": spec.get("type", "server_error"),
                                  "code": spec.get("code")}}, headers
