"""`patchmix replay` on the bundled tasks: real containers, real tools, real official grading, no model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.agent.recordings import MINI, PATCHMIX, parse_recording, read_recordings
from harness.analysis.replay import compare_patches
from harness.cli import main
from tests.agent.agentkit import FIX, UNITCONV

pytestmark = pytest.mark.docker

DATASET = str(Path(__file__).resolve().parents[2] / "tasks" / "bundled.jsonl")
SCRATCH = {"tool_calls": [{"name": "bash", "arguments": {
    "command": "cd unitconv && printf 'print(1)\\n' > /testbed/notes.py && export MARK=1"}}]}
CHECK = {"tool_calls": [{"name": "bash", "arguments": {"command": "echo \"$MARK\" && pwd"}}]}
BAD_JSON = {"tool_calls": [{"name": "bash", "arguments": "{not json"}]}
SUBMIT = {"tool_calls": [{"name": "submit", "arguments": {}}]}


def say(command: str) -> dict:
    return {"role": "assistant", "content": f"THOUGHT: next.\n\n```bash\n{command}\n```"}


def make_mini_trajectory(submission: str) -> dict:
    """A mini-swe-agent v1 trajectory (as its .jsonl lines hold them) that fixes unitconv with shell commands."""
    sed = "sed -i 's|return value - 32 \\* 5 / 9|return (value - 32) * 5 / 9|' unitconv/temperature.py"
    messages = [
        {"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "<pr>...</pr>"},
        say("cd unitconv && export MARK=1 && cat <<'EOF' > /testbed/check.py\nfrom unitconv import convert\n"
            "print(convert(212, 'F', 'C'))\nEOF"),
        {"role": "user", "content": "<returncode>0</returncode>\n<output>\n</output>"},
        {"role": "assistant", "content": "Two blocks:\n```bash\ntouch /testbed/FORMAT_ERROR\n```\n```bash\nls\n```"},
        {"role": "user", "content": "Please always provide EXACTLY ONE action in triple backticks, found 2 actions."},
        say(f'test -z "$MARK" && {sed} && python3 check.py && rm check.py'),
        {"role": "user", "content": "<returncode>0</returncode>\n<output>\n100.0\n</output>"},
        say("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && git add -A && git diff --cached"),
        {"role": "user", "content": submission},
    ]
    return {"instance_id": UNITCONV, "exit_status": "Submitted", "model_stats": {}, "messages": messages}


def test_mini_trajectory_is_parsed_as_mini_swe_agent_ran_it():
    recording = parse_recording(make_mini_trajectory("the patch"), "x.jsonl:1")
    assert recording.scaffold == MINI and recording.patch == "the patch" and recording.exit_status == "Submitted"
    commands = [action.arguments["command"] for action in recording.actions]
    assert len(commands) == 3  # the turn with two blocks ran nothing
    assert commands[0].startswith("cd unitconv") and commands[-1].startswith("echo COMPLETE_TASK")


def test_patch_comparison_tells_exact_from_normalised_from_different():
    patch = "diff --git a/f b/f\nindex 1234567..89abcde 100644\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n"
    assert compare_patches(patch, patch) == "same"
    assert compare_patches(patch, patch.replace("1234567..89abcde", "1234567890..89abcdef12")) == "same_normalised"
    assert compare_patches(patch, patch.replace("+b", "+c")) == "different"
    assert compare_patches(patch, None) == "no_record"


def test_replay_of_a_patchmix_trajectory_gives_the_same_patch(bundled_rows, run_scripted, tmp_path, capsys):
    prediction, traj, _ = run_scripted(bundled_rows[UNITCONV], [SCRATCH, CHECK, BAD_JSON, FIX, SUBMIT])
    assert "(value - 32) * 5 / 9" in prediction["model_patch"] and "notes.py" in prediction["model_patch"]
    [recording] = read_recordings(tmp_path / f"{UNITCONV}.traj.json")
    assert recording.scaffold == PATCHMIX and [a.malformed for a in recording.actions].count(True) == 1
    out = tmp_path / "replay"
    assert main(["replay", str(tmp_path / f"{UNITCONV}.traj.json"), "--dataset", DATASET, "--out", str(out)]) == 0
    [result] = json.loads((out / "replay.json").read_text())["results"]
    assert result["match"] == "same" and result["patch"] == prediction["model_patch"]
    assert result["outcomes"][1]["output"].strip().endswith("/testbed/unitconv")  # the persistent shell, as recorded
    assert result["outcomes"][2]["skipped"] == "malformed"
    assert "1 same" in capsys.readouterr().out


def test_replay_of_a_mini_trajectory_runs_each_command_in_a_fresh_shell_and_is_graded(bundled_rows, tmp_path):
    gold = bundled_rows[UNITCONV]["patch"]
    path = tmp_path / "mini.jsonl"
    path.write_text(json.dumps(make_mini_trajectory(gold)) + "\n")
    resolved = tmp_path / "resolved.json"
    resolved.write_text(json.dumps([UNITCONV]))
    out = tmp_path / "replay"
    assert main(["replay", str(path), "--dataset", DATASET, "--resolved", str(resolved), "--out", str(out)]) == 0
    summary = json.loads((out / "replay.json").read_text())
    [result] = summary["results"]
    assert "100.0" in result["outcomes"][1]["output"]  # `cd` and `export` of the first command did not carry over
    assert "FORMAT_ERROR" not in result["patch"] and "check.py" not in result["patch"]
    assert result["match"] in ("same", "same_normalised") and compare_patches(result["patch"], gold) != "different"
    assert result["resolved"] is True and result["same_verdict"] is True and summary["same_verdict"] == 1
