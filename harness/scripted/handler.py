"""The scripted server's HTTP side: one request read, its path checked, and the answer written, dropped (the
connection shut without an answer) or held (no answer until the client leaves); a delivered completion is billed.
The answers come from the `ScriptedServer` (harness/scripted/server.py) the handler is made for.
"""

from __future__ import annotations

import json
import select
import socket
import time
from http.server import BaseHTTPRequestHandler

from harness.scripted import anthropic

NEVER = -1
"""Status of an answer that never comes: the handler holds the connection until the client leaves."""


def make_handler(server):
    """The request handler class of `server` (a ScriptedServer: its `answer`, `bill` and `stopping`)."""
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            path = self.path.split("?")[0].rstrip("/")
            if not (path.endswith("/chat/completions") or path == anthropic.PATH):
                return self.send(404, {"error": {"message": f"unknown path {self.path}"}}, {})
            auth = self.headers.get("Authorization") or self.headers.get("x-api-key", "")
            status, payload, headers = server.answer(path, body, auth)
            if status == 0:  # an injected dropped connection: no answer at all
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return None
            if status == NEVER:
                return self.hold()
            if self.is_client_gone():
                self.close_connection = True
                return None
            if self.send(status, payload, headers) and status == 200 and isinstance(payload, dict):
                server.bill(self.headers.get("X-Patchmix-Call", ""), payload)

        def is_client_gone(self) -> bool:
            """True when the client closed the connection (gave up, or was killed) while we worked."""
            try:
                readable, _, _ = select.select([self.connection], [], [], 0)
                return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                return True

        def hold(self) -> None:
            """Keep the connection open without an answer until the client leaves or the server stops."""
            self.close_connection = True
            while not server.stopping.is_set() and not self.is_client_gone():
                time.sleep(0.05)

        def send(self, status: int, payload, headers: dict) -> bool:
            is_text = isinstance(payload, str)
            data = payload.encode() if is_text else json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if is_text else "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, str(value))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
                return True
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (its timeout, or it was killed)
                return False

        def log_message(self, *args) -> None:
            return None

    return Handler
