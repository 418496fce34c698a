"""Headless Chromium (Debian's package) driven through the DevTools protocol over a pipe, stdlib only.

`--remote-debugging-pipe` makes Chromium read commands from file descriptor 3 and write replies and events to
file descriptor 4, as JSON messages ended by a NUL byte. A page opened with `open_page` gives its DOM after its
scripts ran, every URL it requested (the Network domain's requestWillBeSent events of that page), and a PNG
screenshot of the whole page.

Chromium's own background services (update checks, sign-in) are pointed at a proxy on 127.0.0.1 where nothing
listens and every host name resolves to nothing, so no traffic leaves the machine whatever they try.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
    "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND", "--remote-debugging-pipe",
]
TIMEOUT = 60
STDERR = subprocess.DEVNULL  # Chromium logs D-Bus noise; set to None to see it


@dataclass
class Page:
    dom: str
    requests: list[str] = field(default_factory=list)
    screenshot: bytes = b""


class Browser:
    """One Chromium process; use as a context manager."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="patchmix-chromium-")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()
        # The child must see the pipes as fds 3 (commands) and 4 (replies): bash moves them there from
        # numbers of 10 and more, which no redirection can clobber.
        commands, replies = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser_r, from_browser_w))
        for fd in (to_browser_r, from_browser_w):
            os.close(fd)
        script = f'exec "$0" "$@" 3<&{commands} 4>&{replies} {commands}<&- {replies}>&-'
        self.process = subprocess.Popen(
            ["bash", "-c", script, CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=STDERR,
            pass_fds=(commands, replies),
        )
        os.close(commands)
        os.close(replies)
        self.buffer, self.next_id, self.events = b"", 0, []

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.send("Browser.close")
        except (OSError, TimeoutError, RuntimeError):
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self.to_browser, self.from_browser):
            os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and return its result; events that arrive meanwhile are kept in `events`."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self.receive()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def receive(self) -> dict:
        deadline = time.monotonic() + TIMEOUT
        while b"\0" not in self.buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer within a minute")
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def wait_for(self, method: str, session: str) -> None:
        while True:
            for event in self.events:
                if event.get("method") == method and event.get("sessionId") == session:
                    return
            self.events.append(self.receive())

    def open_page(self, url: str, width: int = 1400, height: int = 1000) -> Page:
        """Load `url` in a new tab; return its DOM, the URLs it requested and a full-page screenshot."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.events.clear()
        for method in ("Network.enable", "Page.enable", "Runtime.enable"):
            self.send(method, session=session)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_for("Page.loadEventFired", session)
        dom = self.evaluate("document.documentElement.outerHTML", session)
        shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True},
                         session=session)
        requests = [e["params"]["request"]["url"] for e in self.events
                    if e.get("method") == "Network.requestWillBeSent" and e.get("sessionId") == session]
        self.send("Target.closeTarget", {"targetId": target})
        return Page(dom=dom, requests=requests, screenshot=base64.b64decode(shot["data"]))

    def evaluate(self, expression: str, session: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session)
        return result["result"].get("value")
