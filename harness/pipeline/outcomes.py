"""What a pipeline's runs left undone, and the models it stopped starting.

A model whose provider refuses the key or does not know the name (`model_unavailable`) gets no new run; one line
says which model and which key variable, and the other models go on. At the end, the runs left to redo are
counted with their reasons, and `patchmix run` exits non-zero with one line that says so.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import Counter

from harness.pipeline.rundir import RunDir

logger = logging.getLogger("patchmix")
EXIT_RUNS_LEFT = 3
"""`patchmix run`'s exit code when runs are left to redo (2 is a bad config, 130 an interruption)."""


class ModelStops:
    """Models that start no new run in this process, with the reason each was stopped."""

    def __init__(self, say=None):
        self.lock = threading.Lock()
        self.reasons: dict[str, str] = {}
        self.say = say or (lambda line: print(line, file=sys.stderr, flush=True))

    def stop(self, label: str, reason: str) -> None:
        with self.lock:
            if label in self.reasons:
                return
            self.reasons[label] = reason
        first_line = reason.splitlines()[0] if reason else label
        self.say(f"patchmix: model {label} starts no new run: {first_line}")
        logger.warning("model %s starts no new run: %s", label, first_line)

    def is_stopped(self, label: str) -> bool:
        with self.lock:
            return label in self.reasons


def count_left(rundir: RunDir, iterations: list[tuple[int, list[str]]], instance_ids: list[str]) -> Counter:
    """Runs of the given (iteration, models) not finished, by reason (their exit status, or `not started`)."""
    left: Counter = Counter()
    for iteration, labels in iterations:
        for label in labels:
            for instance_id in instance_ids:
                if rundir.is_finished(iteration, label, instance_id):
                    continue
                info = rundir.read_info(iteration, label, instance_id)
                left[(info or {}).get("exit_status") or "not started"] += 1
    return left


def describe_left(left: Counter) -> str:
    reasons = ", ".join(f"{count} {reason}" for reason, count in left.most_common())
    return (f"{sum(left.values())} runs left to redo ({reasons}); fix what stopped them and rerun the same "
            "command to resume")
