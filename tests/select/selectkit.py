"""Helpers shared by the selection tests: a run folder written from a list of candidates and their verdicts; a
patch to the daterange task that breaks a passing test and one that changes nothing that matters; the parts of the
answer key found in a text sent out, and every string of a request body."""

from __future__ import annotations

import json
from pathlib import Path


def write_run(run: Path, candidates: list[tuple], resolved: dict) -> None:
    """candidates: (iteration, model, instance, patch, exit_status); resolved: (iteration, model) -> ids."""
    for iteration, model, instance, patch, status in candidates:
        path = run / f"iter_{iteration}" / model / f"{instance}.traj.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"info": {"exit_status": status, "patch": patch, "finished_at": "2026-01-01"}}))
    for (iteration, model), ids in resolved.items():
        path = run / "eval" / f"iter_{iteration}" / model / "report.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"resolved_ids": sorted(ids)}))


# the breaker's patch to daterange: the range's end included, and count_days no longer 0 for a reversed range
# (a passing test breaks)
BREAKS_COUNT = """diff --git a/daterange/core.py b/daterange/core.py
--- a/daterange/core.py
+++ b/daterange/core.py
@@ -9,7 +9,7 @@ def iter_dates(start, end, step_days=1):
         raise ValueError("step_days must be at least 1")
     step = timedelta(days=step_days)
     current = start
-    while current < end:
+    while current <= end:
         yield current
         current += step
 
@@ -17,3 +17,3 @@ def iter_dates(start, end, step_days=1):
 def count_days(start, end):
     \"\"\"Number of days in the closed range; 0 when `end` is before `start`.\"\"\"
-    return max((end - start).days + 1, 0)
+    return (end - start).days + 1
"""
# the first hunk of the breaker's patch with the condition kept and a comment added: applies, changes nothing
COMMENT_ONLY = BREAKS_COUNT[:BREAKS_COUNT.index("@@ -17")].replace("+    while current <= end:",
                                                                  "+    while current < end:  # walk the range")


def find_answer_key(row: dict, sent: str) -> list[str]:
    """Every test name, every telling line of the test patch and the hints that occur in `sent` (the gold patch is
    a candidate here, so it is sent on purpose)."""
    names = json.loads(row["FAIL_TO_PASS"]) + json.loads(row["PASS_TO_PASS"])
    lines = [line[1:].strip() for line in row["test_patch"].splitlines()
             if line[:1] == "+" and line[:3] != "+++" and len(line.strip()) > 12]
    assert names and lines
    return [text for text in names + lines + [row["hints_text"].strip()] if text in sent]


def get_texts(value) -> list[str]:
    """Every string in a request body, unescaped."""
    if isinstance(value, dict):
        return [text for item in value.values() for text in get_texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in get_texts(item)]
    return [value] if isinstance(value, str) else []
