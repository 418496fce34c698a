"""The report's percentages are of the instances the config selects, and say so, even when a run stopped early."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from harness.analysis.report import write_report
from tests.analysis.analysiskit import write_cell

DATASET = Path(__file__).resolve().parents[2] / "tasks" / "bundled.jsonl"
ATTEMPTED = ["patchmix__unitconv-1", "patchmix__slugkit-1"]


def make_partial_run(tmp_path: Path, instances: dict) -> Path:
    """A run of the bundled tasks (5 instances) that stopped after attempting two, one of them resolved."""
    run_dir = tmp_path / "runs" / "partial"
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump({"name": "partial", "dataset": {"path": str(DATASET)},
                                                         "instances": instances}))
    write_cell(run_dir, 1, "fixer", ATTEMPTED, {"patchmix__unitconv-1"})
    return run_dir


def test_percentages_are_of_the_selected_instances(tmp_path):
    run_dir = make_partial_run(tmp_path, {"ids": None, "filter": None})
    text = write_report(run_dir).read_text()
    summary = json.loads((run_dir / "report" / "summary.json").read_text())
    assert summary["instances"] == 2 and summary["selected"] == 5 and summary["percent_of"] == 5
    assert "2 instances attempted of the 5 the config selects" in text
    assert "| % of 5 selected |" in text and "| 1 | fixer | 2 | 1 | 20.0% |" in text
    assert "resolves **1** of 5 selected instances (20.0%)" in text


def test_a_narrower_selection_is_the_denominator(tmp_path):
    run_dir = make_partial_run(tmp_path, {"filter": "unitconv|slugkit|wrapkit"})
    text = write_report(run_dir).read_text()
    assert "| % of 3 selected |" in text and "| 1 | fixer | 2 | 1 | 33.3% |" in text


def test_without_a_local_dataset_the_attempted_instances_are_the_denominator(tmp_path):
    run_dir = make_partial_run(tmp_path, {})
    (run_dir / "config.yaml").write_text(yaml.safe_dump({"dataset": {"path": "SWE-bench/SWE-bench_Verified"}}))
    text = write_report(run_dir).read_text()
    assert "| % of 2 attempted |" in text and "| 1 | fixer | 2 | 1 | 50.0% |" in text
