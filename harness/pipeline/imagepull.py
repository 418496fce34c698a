"""Pulling one image the way registries ask to be treated: paced (`images.pulls_per_minute`), rate limits waited
out (the registry's Retry-After, else a doubling wait) with one line telling the user what they can do, faults
(5xx, dropped connections) retried `images.pull_retries` times; an image that does not exist or is refused gives
up at once. Every pull under way pauses while the registry is rate-limiting."""

from __future__ import annotations

import logging
import sys
import threading
import time

import docker

from harness.agent.environment.pulls import PullFailed, PullRefused, RateLimited, get_pull_platform, pull_image
from harness.agent.environment.ratelimit import probe_rate_limit
from harness.pipeline.config import ImagesConfig

logger = logging.getLogger("patchmix")
MAX_RATE_WAIT = 900.0
MAX_FAULT_WAIT = 30.0


class PullStopped(Exception):
    """The pipeline is stopping: the pull was abandoned."""


class Puller:
    def __init__(self, config: ImagesConfig, stop: threading.Event, say=None, platform: str | None = None):
        self.config, self.stop = config, stop
        self.say = say or (lambda line: print(line, file=sys.stderr, flush=True))
        self.platform = platform if platform is not None else get_pull_platform()
        self.lock = threading.Lock()
        self.next_start = 0.0
        self.paused_until = 0.0
        self.advised = False
        self.rate_limited = 0

    def pull(self, name: str, on_progress=None) -> int:
        """Pull `name`; returns its size in bytes. Raises PullRefused (give up on it: the message says why),
        PullFailed after `pull_retries` faults, PullStopped when the pipeline stops meanwhile."""
        faults, wait = 0, self.config.rate_limit_wait
        client = docker.from_env(timeout=600)
        while True:
            self.wait_turn()
            try:
                return pull_image(client, name, self.platform, on_progress)
            except RateLimited as error:
                self.pause(name, str(error), wait)
                wait = min(wait * 2, MAX_RATE_WAIT)
            except PullFailed as error:
                faults += 1
                logger.warning("pull of %s failed (try %d of %d): %s", name, faults, self.config.pull_retries, error)
                if faults >= self.config.pull_retries:
                    raise PullFailed(f"{error} (after {faults} tries)") from None
                self.sleep(min(2.0 ** faults, MAX_FAULT_WAIT))

    def wait_turn(self) -> None:
        """Wait for this pull's start: past any rate-limit pause and at most `pulls_per_minute`."""
        gap = 60.0 / self.config.pulls_per_minute
        with self.lock:
            start = max(time.monotonic(), self.next_start, self.paused_until)
            self.next_start = start + gap
        self.sleep(start - time.monotonic())
        with self.lock:
            late = self.paused_until - time.monotonic()
        if late > 0:  # a pause began while this pull waited its turn
            self.sleep(late)

    def pause(self, name: str, message: str, fallback: float) -> None:
        """Every pull waits as the registry asks (Retry-After) or `fallback` seconds."""
        limit = probe_rate_limit(name)
        delay = limit.retry_after if limit.retry_after is not None else fallback
        with self.lock:
            self.paused_until = max(self.paused_until, time.monotonic() + delay)
            self.rate_limited += 1
            first = not self.advised
            self.advised = True
        logger.warning("pull of %s rate-limited (%s; %s): waiting %.0f s", name, message, limit.describe(), delay)
        if first:
            self.say(f"patchmix: the registry is rate-limiting pulls ({limit.describe()}); waiting as it asks and "
                     "pulling again, nothing is lost. To pull faster, `docker login` (Docker Hub counts an account's "
                     "pulls, not this machine's) or point images.name at a mirror")
        self.sleep(max(0.0, self.paused_until - time.monotonic()))

    def sleep(self, seconds: float) -> None:
        if seconds > 0 and self.stop.wait(seconds):
            raise PullStopped()
        if self.stop.is_set():
            raise PullStopped()


__all__ = ["Puller", "PullStopped", "PullFailed", "PullRefused"]
