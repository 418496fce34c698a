"""`patchmix select RUN` on an evaluated run folder: the rules' picks, the fitted selector's picks and reasons in
RUN/selected/, and `patchmix report` shows the selected result beside the oracle."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.select.selectkit import write_run

from harness.analysis.report import write_report


def make_patch(value: str) -> str:
    return f"diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = x - 1\n+y = {value}\n"


def test_select_on_a_run_writes_rules_and_selector_picks_and_the_report_shows_them(tmp_path):
    run = tmp_path / "run"
    runs, resolved = [], {(1, "a"): set(), (1, "b"): set(), (2, "m"): set()}
    for n in range(12):
        instance = f"own__repo-{n}"
        right, wrong = make_patch(f"x + {n}"), make_patch(f"x * {n}")
        for model, iteration, ok in (("a", 1, n % 3 != 0), ("b", 1, n % 2 == 0), ("m", 2, n % 4 == 0)):
            runs.append((iteration, model, instance, right if ok else wrong, "submitted"))
            if ok:
                resolved[(iteration, model)].add(instance)
    write_run(run, runs, resolved)
    done = subprocess.run([sys.executable, "-m", "harness.cli", "select", str(run)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert "vote" in done.stdout and "12 instances picked among 3 systems" in done.stdout
    summary = json.loads((run / "selected" / "combined" / "summary.json").read_text())
    assert summary["picked"] == 12 and summary["scored"] == 12
    reasons = (run / "selected" / "combined" / "reasons.jsonl").read_text().splitlines()
    assert len(reasons) == 12 and json.loads(reasons[0])["candidates"][0]["system"].startswith("iter_")
    text = write_report(run).read_text()
    selection = text.split("## Selection", 1)[1].split("##", 1)[0]
    assert f"| {summary['resolved']} |" in selection and "| oracle | 10 |" in selection and "| vote |" in selection
