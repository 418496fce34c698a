"""Images pulled as the runs need them: a few pull threads keep `images.prefetch` images ready ahead of the
furthest image a worker has asked for, so the first run starts after one pull and later pulls overlap runs.

Each iteration plans its uses (one per job, in job order) and names the images later iterations still need.
A worker `acquire`s its run's image (waiting for its pull) and `release`s it after the run; a job that does not
run `forget`s its use. An image patchmix pulled itself (listed in `runs/<name>/images.json`) is removed once no
planned use remains; over `images.max_disk_gb`, the least recently used one that no run holds goes first.
Images that were present before are never removed here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

import docker

from harness.agent.environment.pulls import get_image_size, remove_image
from harness.pipeline.config import ImagesConfig
from harness.pipeline.imagepull import PullFailed, Puller, PullRefused, PullStopped
from harness.pipeline.imagerecord import ImageRecord

logger = logging.getLogger("patchmix")
GB = 1e9


class ImageUnavailable(Exception):
    """The run's image could not be had (it does not exist, is refused, or the registry kept failing)."""


class ImageCache:
    def __init__(self, config: ImagesConfig, record: ImageRecord, client=None, say=None, on_change=None):
        self.config, self.record = config, record
        self.client = client or docker.from_env(timeout=600)
        self.cv = threading.Condition()
        self.stopping = threading.Event()
        self.puller = Puller(config, self.stopping, say)
        self.on_change = on_change or (lambda cache: None)
        self.order: list[str] = []
        self.uses: Counter = Counter()
        self.later: set[str] = set()
        self.present: dict[str, int] = {}
        self.ours = record.names()
        self.unavailable: dict[str, str] = {}
        self.pulling: dict[str, tuple] = {}
        self.in_use: Counter = Counter()
        self.last_used: dict[str, float] = {}
        self.frontier = -1
        self.pulls: Counter = Counter()
        self.removed = 0
        self.peak_bytes = 0
        self.threads: list[threading.Thread] = []

    def plan(self, uses: list[str], later: set[str]) -> None:
        """This iteration's image uses in job order, and the images later iterations of this invocation need."""
        with self.cv:
            self.order, self.uses, self.later = list(dict.fromkeys(uses)), Counter(uses), set(later)
            self.frontier, self.unavailable = -1, {}
            for name in {*self.order, *self.ours}:
                self.look_up(name)
            for name in sorted(self.ours & set(self.present)):
                self.drop_if_unneeded(name)
            self.cv.notify_all()
        self.start_threads()

    def expect(self, name: str, count: int = 1) -> None:
        """`count` more uses of `name`, after the plan (a use the plan did not foresee would wait for ever)."""
        with self.cv:
            if name not in self.order:
                self.order.append(name)
                self.look_up(name)
            self.uses[name] += count
            self.cv.notify_all()

    def look_up(self, name: str) -> None:
        size = get_image_size(self.client, name)
        if size is None:
            self.present.pop(name, None)
            if name in self.ours:
                self.ours.discard(name)
                self.record.drop(name)
            if not self.config.pull and name in self.uses:
                self.unavailable[name] = f"{name} is not present locally and pulling is off (images.pull)"
        else:
            self.present[name] = size

    def start_threads(self) -> None:
        while len(self.threads) < self.config.pull_workers and self.config.pull:
            thread = threading.Thread(target=self.pull_forever, name="patchmix-pull", daemon=True)
            thread.start()
            self.threads.append(thread)

    def acquire(self, name: str, stop: threading.Event) -> bool:
        """Wait for `name` and hold it for a run: True; False when `stop` was set meanwhile (nothing held).
        Raises ImageUnavailable (the use is forgotten) when it cannot be had."""
        with self.cv:
            self.frontier = max(self.frontier, self.order.index(name) if name in self.order else 0)
            self.cv.notify_all()
            while name not in self.present and name not in self.unavailable:
                if stop.is_set() or self.stopping.is_set():
                    return False
                self.cv.wait(0.5)
            if name not in self.present:
                self.forget_locked(name)
                raise ImageUnavailable(self.unavailable[name])
            self.in_use[name] += 1
            return True

    def release(self, name: str) -> None:
        """A run of `name` ended: one planned use fewer."""
        with self.cv:
            self.in_use[name] -= 1
            self.last_used[name] = time.monotonic()
            self.forget_locked(name)

    def forget(self, name: str) -> None:
        """A planned run of `name` will not run (budget spent, model stopped, pipeline stopping)."""
        with self.cv:
            self.forget_locked(name)

    def forget_locked(self, name: str) -> None:
        self.uses[name] -= 1
        self.drop_if_unneeded(name)
        self.cv.notify_all()

    def drop_if_unneeded(self, name: str) -> None:
        if name in self.ours and self.in_use[name] <= 0 and self.uses[name] <= 0 and name not in self.later:
            self.evict(name, "no planned run needs it")

    def evict(self, name: str, why: str) -> None:
        if name not in self.present or not remove_image(self.client, name):
            return
        self.present.pop(name, None)
        self.ours.discard(name)
        self.record.drop(name)
        self.removed += 1
        logger.info("image %s removed: %s", name, why)

    def pull_forever(self) -> None:
        while True:
            name = self.wait_for_work()
            if name is None:
                return
            try:
                self.pull_one(name)
            except Exception as error:  # noqa: BLE001 - a bug or an engine fault ends this image's runs, not the pulls
                logger.exception("pull of %s failed unexpectedly", name)
                self.mark_unavailable(name, f"the pull failed unexpectedly ({error!r}); rerun to try again")

    def wait_for_work(self) -> str | None:
        """The next image to pull once the disk budget has room for it; None when closing."""
        with self.cv:
            while not self.stopping.is_set():
                name = self.get_next()
                if name is not None and self.make_room():
                    self.pulling[name] = (0, 0, 0, 0)
                    return name
                self.cv.wait(1.0)
        return None

    def get_next(self) -> str | None:
        """The first image in the window (up to `prefetch` past the furthest asked for) still to pull."""
        for name in self.order[:self.frontier + 1 + self.config.prefetch]:
            if self.uses[name] > 0 and not (name in self.present or name in self.pulling or name in self.unavailable):
                return name
        return None

    def make_room(self) -> bool:
        """Whether one more pull fits the budget, after removing unused images of ours if needed."""
        if not self.config.max_disk_gb:
            return True
        estimate = max([*(self.present[n] for n in self.ours if n in self.present), 0])
        if not estimate and self.pulling:
            return False  # no size known yet: the pull under way tells it before another one starts
        while self.get_held_bytes() + estimate * (len(self.pulling) + 1) > self.config.max_disk_gb * GB:
            victim = self.pick_victim()
            if victim is None:
                return False
            self.evict(victim, f"over the disk budget of {self.config.max_disk_gb:g} GB")
        return True

    def get_held_bytes(self) -> int:
        return sum(self.present[name] for name in self.ours if name in self.present)

    def pick_victim(self) -> str | None:
        """An image of ours that no run holds and none the window is waiting to use: first those only later
        iterations need, then those out of the window, then the least recently used."""
        window = set(self.order[:self.frontier + 1 + self.config.prefetch])
        candidates = [name for name in self.ours if name in self.present and self.in_use[name] <= 0
                      and (name in self.last_used or name not in window)]
        return min(candidates, key=lambda name: (self.uses[name] > 0, name in window, self.last_used.get(name, 0.0)),
                   default=None)

    def pull_one(self, name: str) -> None:
        self.record.add(name, 0)  # before the pull: if this process dies meanwhile, the next one knows it is ours
        try:
            size = self.puller.pull(name, lambda *progress: self.note_progress(name, progress))
        except PullStopped:
            size = None
        except (PullRefused, PullFailed) as error:
            self.mark_unavailable(name, str(error))
            return
        with self.cv:
            self.pulling.pop(name, None)
            if size is not None:
                self.add_pulled(name, size)
            self.cv.notify_all()
        self.on_change(self)

    def add_pulled(self, name: str, size: int) -> None:
        self.ours.add(name)
        self.record.add(name, size)
        self.present[name] = size
        self.pulls[name] += 1
        self.peak_bytes = max(self.peak_bytes, self.get_held_bytes())
        logger.info("image %s pulled (%.2f GB)", name, size / GB)
        self.drop_if_unneeded(name)

    def mark_unavailable(self, name: str, reason: str) -> None:
        logger.warning("image %s unavailable: %s", name, reason)
        self.record.drop(name)
        with self.cv:
            self.pulling.pop(name, None)
            self.unavailable[name] = f"image {name} could not be pulled: {reason}"
            self.cv.notify_all()
        self.on_change(self)

    def note_progress(self, name: str, progress: tuple) -> None:
        with self.cv:
            self.pulling[name] = progress
        self.on_change(self)

    def describe(self) -> str:
        """One line for the live display: pulls done and under way (bytes, layers), held images, rate limits."""
        with self.cv:
            under_way = ", ".join(f"{name.rsplit('/', 1)[-1]} {done / 1e6:.0f}/{total / 1e6:.0f} MB "
                                  f"{layers_done}/{layers} layers"
                                  for name, (done, total, layers_done, layers) in sorted(self.pulling.items()))
            held = self.get_held_bytes() / GB
            text = (f"images: {sum(self.pulls.values())} pulled, {self.removed} removed, {held:.1f} GB held"
                    + (f" of {self.config.max_disk_gb:g}" if self.config.max_disk_gb else "")
                    + (f", {len(self.unavailable)} unavailable" if self.unavailable else ""))
        if self.puller.paused_until > time.monotonic():
            text += f"; rate-limited, next pull in {self.puller.paused_until - time.monotonic():.0f} s"
        return text + (f"; pulling {under_way}" if under_way else "")

    def close(self) -> None:
        """Stop pulling; images held stay listed in the record for the next invocation to use or remove."""
        self.stopping.set()
        with self.cv:
            self.cv.notify_all()
        for thread in self.threads:
            thread.join(timeout=2.0)


class NoImages:
    """The image seam when images are not this process's business (a Ray cluster's nodes hold them)."""

    def plan(self, uses, later) -> None:
        return None

    def acquire(self, name, stop) -> bool:
        return True

    def release(self, name) -> None:
        return None

    def forget(self, name) -> None:
        return None

    def describe(self) -> str:
        return ""

    def close(self) -> None:
        return None
