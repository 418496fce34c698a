"""Helpers shared by the analysis tests.

- Resolved sets shaped like the seed's run (`make_seed_sets`), and run folders written on disk in the layout
  `patchmix run` and `patchmix evaluate` leave (`write_cell`: trajectories, predictions and a harness report for
  one iteration and model).
- Headless Chromium (Debian's package) driven through the DevTools protocol over a pipe, stdlib only.
  `--remote-debugging-pipe` makes Chromium read commands from file descriptor 3 and write replies and events to
  file descriptor 4, as JSON messages ended by a NUL byte. A page opened with `open_page` gives its DOM after its
  scripts ran, every URL it requested (the Network domain's requestWillBeSent events of that page), and a PNG
  screenshot of the whole page. Chromium's own background services (update checks, sign-in) are pointed at a
  proxy on 127.0.0.1 where nothing listens and every host name resolves to nothing, so no traffic leaves the
  machine whatever they try.
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
from pathlib import Path


# ---------------------------------------------------------------- resolved sets and run folders


def make_seed_sets() -> tuple[list[str], dict[str, set[str]], set[str], set[str]]:
    """Resolved sets shaped like the seed's run: 500 instances, three models, then two one-model iterations.

    Iteration 1: 0-283 all three; 284-337 two models (18 per pair); 338-380 one model; 381-499 none.
    Iteration 2 drops 0-4 from the intersection and gains 284-343 and 381-386.
    Iteration 3 drops 5-6 and gains 0-2 back, 344-348 and 387-389.
    """
    ids = [f"proj__repo-{n:04d}" for n in range(500)]

    def pick(*spans: tuple[int, int]) -> set[str]:
        return {ids[n] for start, stop in spans for n in range(start, stop)}

    iteration_1 = {
        "q480b": pick((0, 284), (284, 302), (302, 320), (338, 353)),
        "kimithink": pick((0, 284), (284, 302), (320, 338), (353, 367)),
        "kimi0905": pick((0, 284), (302, 320), (320, 338), (367, 381)),
    }
    iteration_2 = pick((5, 284), (284, 344), (381, 387))
    iteration_3 = (iteration_2 - pick((5, 7))) | pick((0, 3), (344, 349), (387, 390))
    return ids, iteration_1, iteration_2, iteration_3


COST_PER_RUN = 0.25


def write_cell(run_dir: Path, iteration: int, model: str, ids: list[str], resolved: set[str]) -> None:
    """Trajectories, predictions and a harness run report for one (iteration, model).

    Every tenth instance ends on `step_limit`; when it is also unresolved its patch is empty.
    """
    folder = run_dir / f"iter_{iteration}" / model
    folder.mkdir(parents=True)
    empty = {i for n, i in enumerate(ids) if n % 10 == 0 and i not in resolved}
    preds = []
    for n, instance in enumerate(ids):
        info = {"exit_status": "step_limit" if n % 10 == 0 else "submitted", "cost": COST_PER_RUN, "steps": 12,
                "tokens_in": 20_000, "tokens_out": 1_500, "wall_seconds": 90.0}
        traj = {"instance_id": instance, "iteration": iteration, "model": model, "messages": [], "info": info}
        (folder / f"{instance}.traj.json").write_text(json.dumps(traj))
        patch = "" if instance in empty else f"diff --git a/f.py b/f.py\n+# {instance}\n"
        preds.append({"instance_id": instance, "model_name_or_path": model, "model_patch": patch})
    (folder / "preds.jsonl").write_text("".join(json.dumps(p) + "\n" for p in preds))
    write_eval_report(run_dir, iteration, model, ids, resolved, empty)


def write_eval_report(run_dir, iteration, model, ids, resolved, empty) -> None:
    completed = [i for i in ids if i not in empty]
    report = {
        "total_instances": len(ids), "submitted_instances": len(ids), "resolved_instances": len(resolved),
        "completed_ids": sorted(completed), "incomplete_ids": [], "empty_patch_ids": sorted(empty),
        "submitted_ids": sorted(ids), "resolved_ids": sorted(resolved),
        "unresolved_ids": sorted(set(completed) - resolved), "infra_failure_ids": [], "ambiguous_failure_ids": [],
        "failure_reasons": {}, "error_ids": [], "schema_version": 2,
    }
    folder = run_dir / "eval" / f"iter_{iteration}" / model
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(json.dumps(report))


# ---------------------------------------------------------------- headless Chromium

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
    "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND", "--remote-debugging-pipe",
]
CHROMIUM_TIMEOUT = 60
CHROMIUM_STDERR = subprocess.DEVNULL  # Chromium logs D-Bus noise; set to None to see it


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
            ["bash", "-c", script, CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=CHROMIUM_STDERR,
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
        deadline = time.monotonic() + CHROMIUM_TIMEOUT
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
