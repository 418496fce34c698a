"""`patchmix evaluate` shows progress: a line each time the harness has graded more instances of a run id."""

from __future__ import annotations

import json
import time
from pathlib import Path

from harness.scoring.logs import INSTANCE_REPORT, RUN_EVALUATION_LOG_DIR
from harness.scoring.watch import ProgressWatch, count_graded

RUN_ID = "demo.iter1.fixer.0123456789"


def grade(scratch: Path, instance_id: str) -> None:
    """What the harness leaves when it has graded an instance: its report.json."""
    folder = scratch / RUN_EVALUATION_LOG_DIR / RUN_ID / "demo__iter1__fixer" / instance_id
    folder.mkdir(parents=True)
    (folder / INSTANCE_REPORT).write_text(json.dumps({instance_id: {"resolved": True}}))


def wait_for(lines: list[str], text: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not any(text in line for line in lines):
        assert time.monotonic() < deadline, f"no line with {text!r} in {lines}"
        time.sleep(0.02)


def test_progress_lines_follow_the_graded_instances(tmp_path):
    lines: list[str] = []
    with ProgressWatch(tmp_path, RUN_ID, 3, lines.append, prefix="iter_1/fixer: ", poll=0.05):
        grade(tmp_path, "a-1")
        wait_for(lines, "1/3 instances graded")
        grade(tmp_path, "b-1")
        grade(tmp_path, "c-1")
        wait_for(lines, "3/3 instances graded")
    assert all(line.startswith("iter_1/fixer: ") for line in lines)
    counts = [int(line.split(": ")[1].split("/")[0]) for line in lines]
    assert counts == sorted(set(counts)) and counts[0] == 1 and counts[-1] == 3  # each count once, in order


def test_a_resumed_run_id_counts_from_where_it_was(tmp_path):
    grade(tmp_path, "a-1")
    lines: list[str] = []
    with ProgressWatch(tmp_path, RUN_ID, 2, lines.append, poll=0.05):
        time.sleep(0.2)
        assert lines == []  # nothing new yet
        grade(tmp_path, "b-1")
    assert lines[-1].startswith("2/2 instances graded") and count_graded(tmp_path, RUN_ID) == 2
