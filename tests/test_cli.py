"""The `patchmix` command line: run-one end to end, one-line errors for bad input, and the sub-commands each stage
adds (`add_parser` in its `commands.py`), listed in the help's order."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness import cli
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


HELP_ORDER = ["build-images", "datasets", "run-one", "images", "run", "evaluate", "report", "show", "analyze",
              "replay", "select", "validate-gold", "route", "demo"]


def test_every_stage_adds_its_own_commands_and_the_help_lists_them_in_order(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.split("positional arguments:")[1].splitlines()[2:]
              if line.startswith("    ") and not line.startswith("     ")]
    assert listed == HELP_ORDER
    added = {}
    for stage in cli.STAGE_COMMANDS:
        subparsers = argparse.ArgumentParser().add_subparsers()
        stage.add_parser(subparsers)
        added.update({name: stage.__name__ for name in subparsers.choices})
    assert sorted(added) == sorted(HELP_ORDER) and len(added) == len(HELP_ORDER)
    assert added["run"] == added["evaluate"] == "harness.workflow.commands"
    assert added["select"] == "harness.select.commands" and added["route"] == "harness.route.commands"


HEAVY_MODULES = ("litellm", "swebench", "docker", "sklearn", "matplotlib", "ray", "torch", "scipy", "numpy")
"""What the stages' work needs and the help does not: each command handler imports its stage's modules itself."""
PARSE_ONLY = """
import json, sys
from harness.cli import main
for argv in json.loads(sys.argv[1]):
    try:
        main(argv)
    except SystemExit:
        pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in json.loads(sys.argv[2]))))
"""


def test_the_help_and_argument_errors_load_none_of_the_stages_heavy_dependencies():
    """`patchmix --help`, every command's `--help` and an argument error, in a fresh interpreter: they leave
    litellm, swebench, docker, sklearn, numpy and the like unimported."""
    argvs = [["--help"], ["run-one"], ["select", "--top-k"], ["route", "fit", "--help"]]
    argvs += [[command, "--help"] for command in HELP_ORDER]
    done = subprocess.run([sys.executable, "-c", PARSE_ONLY, json.dumps(argvs), json.dumps(HEAVY_MODULES)],
                          capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    assert "usage: patchmix select" in done.stdout and "the following arguments are required" in done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []
