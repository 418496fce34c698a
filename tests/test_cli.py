"""The `patchmix` command line: run-one end to end, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.demo.models import make_demo_script
from harness.fileio import read_jsonl
from harness.scripted.server import ScriptedServer

DATASET = str(Path(__file__).resolve().parent.parent / "tasks" / "bundled.jsonl")
UNITCONV = "patchmix__unitconv-1"


@pytest.mark.docker
def test_run_one_runs_one_agent_and_writes_trajectory_and_prediction(bundled_rows, tmp_path, capsys):
    with ScriptedServer(make_demo_script(list(bundled_rows.values()))) as server:
        config = tmp_path / "agent.yaml"
        config.write_text(yaml.safe_dump({
            "model": {"api_key_env": "SCRIPTED_API_KEY", "input_cost_per_token": 1e-6,
                      "output_cost_per_token": 2e-6},
            "limits": {"step_limit": 10},
        }))
        code = main(["run-one", "--dataset", DATASET, "--instance", UNITCONV, "--model", "openai/fixer",
                     "--api-base", server.api_base, "--config", str(config), "--output", str(tmp_path / "out")])
    assert code == 0
    assert f"{UNITCONV}: submitted" in capsys.readouterr().out
    traj = json.loads((tmp_path / "out" / f"{UNITCONV}.traj.json").read_text())
    assert traj["info"]["exit_status"] == "submitted" and traj["config"]["limits"]["step_limit"] == 10
    [prediction] = read_jsonl(tmp_path / "out" / "preds.jsonl")
    assert prediction["instance_id"] == UNITCONV and "(value - 32) * 5 / 9" in prediction["model_patch"]


@pytest.mark.parametrize("argv, message", [
    (["run-one", "--dataset", DATASET, "--instance", "nope-1", "--model", "openai/x"], "nope-1"),
    (["run-one", "--dataset", "/nowhere.jsonl", "--instance", UNITCONV, "--model", "openai/x"], "/nowhere.jsonl"),
    (["run-one", "--dataset", DATASET, "--instance", UNITCONV, "--model", "openai/unpriced-xyz"], "no known price"),
    (["run-one", "--dataset", DATASET, "--instance", UNITCONV], "no model given"),
    (["run", "/nowhere.yaml"], "/nowhere.yaml does not exist"),
    (["report", "/nowhere-run"], "/nowhere-run"),
    (["evaluate", "/nowhere-run"], "/nowhere-run"),
])
def test_bad_input_gets_one_line_that_says_what_to_fix(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("patchmix: error:") and message in err and "\n" not in err
