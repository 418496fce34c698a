"""Progress of one harness call: a thread counts the instance reports the harness has written so far and logs a
line each time the count grows ("3/10 instances graded, 0:01:12"), so a long `patchmix evaluate` shows that it
moves. Reading only; the harness itself is untouched.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

from harness.durations import format_duration
from harness.scoring.logs import INSTANCE_REPORT, RUN_EVALUATION_LOG_DIR

POLL_SECONDS = 2.0


def count_graded(scratch: Path, run_id: str) -> int:
    """Instances of `run_id` with a report.json: graded by the harness."""
    return sum(1 for _ in (Path(scratch) / RUN_EVALUATION_LOG_DIR / run_id).glob(f"*/*/{INSTANCE_REPORT}"))


class ProgressWatch:
    """`with ProgressWatch(scratch, run_id, total, log, prefix):` around a harness call."""

    def __init__(self, scratch: Path, run_id: str, total: int, log: Callable[[str], None], prefix: str = "",
                 poll: float = POLL_SECONDS):
        self.scratch, self.run_id, self.total, self.log, self.poll = Path(scratch), run_id, total, log, poll
        self.prefix = prefix
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.watch, name=f"watch-{run_id}", daemon=True)
        self.started = time.monotonic()
        self.seen = 0

    def __enter__(self) -> "ProgressWatch":
        self.seen = count_graded(self.scratch, self.run_id)  # a resumed run id starts where it stopped
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.report()

    def watch(self) -> None:
        while not self.stop.wait(self.poll):
            self.report()

    def report(self) -> None:
        graded = count_graded(self.scratch, self.run_id)
        if graded > self.seen:
            self.seen = graded
            elapsed = format_duration(time.monotonic() - self.started)
            self.log(f"{self.prefix}{graded}/{self.total} instances graded, {elapsed}")
