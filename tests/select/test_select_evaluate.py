"""`patchmix select --evaluate` on the real candidates-2024 pool (47 systems' patches for the 500 Verified
instances, official verdicts), offline: it prints the held-out resolved counts of the selector, the best single
system and the oracle, and writes the figures and one PNG. The full 5-seed figures are the closing note's."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

POOL = Path("/work/shared/data/candidates-2024/candidates.jsonl.gz")


def test_evaluate_on_candidates_2024_prints_selector_best_single_and_oracle(tmp_path):
    done = subprocess.run([sys.executable, "-m", "harness.cli", "select", str(POOL), "--evaluate", "--top-k", "3",
                           "--seeds", "1", "--out", str(tmp_path)], capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("| top-3, k-fold"))
    best, fallback, vote, selector, oracle = [float(x) for x in re.findall(r"(\d+\.\d) ±", row)]
    assert "23500 candidates, 500 instances" in done.stdout
    assert 290 <= best <= 330 and best <= selector <= oracle and best <= oracle <= 406
    figures = json.loads((tmp_path / "evaluation.json").read_text())[0]
    assert figures["instances"] == 500 and figures["resolved"]["selector"]["mean"] == selector
    assert (tmp_path / "evaluation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
