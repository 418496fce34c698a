"""A scripted OpenAI-compatible chat server on 127.0.0.1, the stand-in for a model provider.

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
          loop_last: false            # once the replies run out, repeat the last one (else: plain text "done")

The server is stateless about conversations: the reply index is the number of assistant messages in the
request, so retries, parallel workers and resumed runs all see the same script. Only injected errors keep a
count, per (model, script, step).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


def pick_reply(script: dict, step: int) -> dict:
    replies = script.get("replies", [])
    if step < len(replies):
        return replies[step]
    if script.get("loop_last") and replies:
        return replies[-1]
    return {"content": "I have nothing more to do."}


def make_tool_calls(reply: dict) -> list[dict]:
    calls = []
    for call in reply.get("tool_calls", []):
        arguments = call.get("raw_arguments")
        if arguments is None:
            arguments = json.dumps(call.get("arguments", {}))
        calls.append({
            "id": f"call_{uuid.uuid4().hex[:12]}",
            "type": "function",
            "function": {"name": call["name"], "arguments": arguments},
        })
    return calls


def make_completion(model: str, reply: dict, prompt_chars: int, auth: str) -> dict:
    content = reply.get("content")
    if reply.get("echo_authorization"):
        content = f"{content or ''} (I was called with {auth})"
    calls = make_tool_calls(reply)
    message = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    completion_chars = len(content or "") + sum(len(c["function"]["arguments"]) for c in calls)
    usage = reply.get("usage") or {
        "prompt_tokens": max(1, prompt_chars // CHARS_PER_TOKEN),
        "completion_tokens": max(1, completion_chars // CHARS_PER_TOKEN),
    }
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
        "usage": usage,
    }


class ScriptedServer:
    """Serves `script` on 127.0.0.1; use as a context manager or call start()/stop()."""

    def __init__(self, script: dict, port: int = 0):
        self.script = script
        self.requests: list[dict] = []
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

    def start(self) -> "ScriptedServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "ScriptedServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def answer(self, body: dict, auth: str) -> tuple[int, dict]:
        """Return (HTTP status, JSON body) for one chat completion request."""
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return self.play(body, auth)
        finally:
            with self.lock:
                self.in_flight -= 1

    def play(self, body: dict, auth: str) -> tuple[int, dict]:
        model, messages = body.get("model", ""), body.get("messages", [])
        with self.lock:
            self.requests.append({"model": model, "body": body})
        found = pick_script(self.script.get("models", {}).get(model, []), messages)
        if found is None:
            return 404, {"error": {"message": f"no script for model {model!r}", "type": "not_found"}}
        index, script = found
        step = sum(1 for m in messages if m.get("role") == "assistant")
        reply = pick_reply(script, step)
        error = self.take_error(reply, (model, index, step))
        if error:
            return error
        time.sleep(float(reply.get("delay", 0)))
        return 200, make_completion(model, reply, len(json.dumps(messages)), auth)

    def take_error(self, reply: dict, key: tuple) -> tuple[int, dict] | None:
        """The injected failure for this request, if any: (status, body), or (0, {}) to drop the connection."""
        spec = reply.get("error")
        if not spec:
            return None
        with self.lock:
            seen = self.error_counts.get(key, 0)
            self.error_counts[key] = seen + 1
        if seen >= spec.get("times", 1):
            return None
        if spec.get("drop"):
            return 0, {}
        if spec.get("stall"):
            time.sleep(float(spec["stall"]))
            return None
        status = int(spec.get("status", 500))
        message = spec.get("message", f"scripted error {status}")
        return status, {"error": {"message": message, "type": spec.get("type", "server_error"),
                                  "code": spec.get("code")}}


def make_handler(server: ScriptedServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self.path.rstrip("/").endswith("/chat/completions"):
                return self.send(404, {"error": {"message": f"unknown path {self.path}"}})
            status, payload = server.answer(body, self.headers.get("Authorization", ""))
            if status == 0:  # an injected dropped connection: no answer at all
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return None
            self.send(status, payload)

        def send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (its timeout, or it was killed)

        def log_message(self, *args) -> None:
            return None

    return Handler
