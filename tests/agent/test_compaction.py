"""Context compaction in real agent runs: a real container, the real litellm client over HTTP, the scripted server
(which answers a compaction request with a scripted summary and counts the steps it replaced)."""

from __future__ import annotations

import json

import pytest
from tests.conftest import make_scripted_model

from harness.agent.config import AgentConfig, ContainerConfig, LimitsConfig
from harness.agent.attempt import run_instance
from harness.scripted.server import ScriptedServer

pytestmark = pytest.mark.docker

UNITCONV = "patchmix__unitconv-1"
TEMPERATURE = "/testbed/unitconv/temperature.py"
VIEW = {"tool_calls": [{"name": "str_replace_editor", "arguments": {"command": "view", "path": TEMPERATURE}}]}
FIX = {"tool_calls": [{"name": "str_replace_editor", "arguments": {
    "command": "str_replace", "path": TEMPERATURE,
    "old_str": "return value - 32 * 5 / 9", "new_str": "return (value - 32) * 5 / 9"}}]}
SUBMIT = {"tool_calls": [{"name": "submit", "arguments": {}}]}
SUMMARY = {"when": "outgrow your context window",
           "content": "Found: to_celsius subtracts before it scales. Changed: nothing yet. Next: fix it."}
OVERFLOW = {"status": 400, "times": 1, "code": "context_length_exceeded",
            "message": "This model's maximum context length is 8192 tokens. However, your messages resulted in "
                       "9000 tokens. Please reduce the length of the messages."}


def run(tmp_path, row, replies, **model_overrides):
    script = {"models": {"agent": [{"match": "", "replies": replies, "summary": SUMMARY}]}}
    with ScriptedServer(script) as server:
        config = AgentConfig(model=make_scripted_model(server, **model_overrides), limits=LimitsConfig(),
                             container=ContainerConfig(command_timeout=20))
        path = tmp_path / "run.traj.json"
        prediction, _ = run_instance(row, config, path, "scripted-agent")
    return prediction, json.loads(path.read_text()), server


def write_browser_page(tmp_path, traj: dict, prediction: dict) -> str:
    """The run browser's page of the instance, from a run folder holding this one trajectory."""
    from harness.analysis.report import write_report
    from harness.analysis.site.pages import get_page_name

    run_dir = tmp_path / "runs" / "compacted"
    folder = run_dir / "iter_1" / "agent"
    folder.mkdir(parents=True)
    (run_dir / "config.yaml").write_text("iterations: []\n")
    (folder / f"{UNITCONV}.traj.json").write_text(json.dumps(traj))
    (folder / "preds.jsonl").write_text(json.dumps(prediction) + "\n")
    write_report(run_dir)
    return next((run_dir / "report" / "site").rglob(f"{get_page_name(UNITCONV)}*")).read_text()


def get_compactions(traj: dict) -> list[dict]:
    return [step for step in traj["steps"] if step.get("compaction")]


def test_compaction_fires_at_its_share_of_the_window_and_the_run_goes_on(bundled_rows, tmp_path):
    row = bundled_rows[UNITCONV]
    first = run(tmp_path, row, [SUBMIT])[2].bills[0]["prompt_tokens"]  # the prompt of system and task alone
    replies = [VIEW, VIEW, VIEW, FIX, SUBMIT]
    window = int((first + 600) / 0.5)  # half of it is reached after a few views of the file (~400 tokens each)
    prediction, traj, server = run(tmp_path, row, replies, context_window=window, compaction=0.5)
    info = traj["info"]
    assert info["exit_status"] == "submitted" and "(value - 32) * 5 / 9" in prediction["model_patch"]
    compactions = get_compactions(traj)
    assert len(compactions) >= 1
    summary_request = next(r["body"]["messages"] for r in server.requests
                           if SUMMARY["when"] in json.dumps(r["body"]["messages"][-1]))
    assert summary_request[-1]["role"] == "user" and summary_request[0]["role"] == "system"
    # after it, the older steps are gone from what is sent: the head, the summary, the latest step
    after = server.requests[-1]["body"]["messages"]
    assert SUMMARY["content"] in after[2]["content"] and after[3]["role"] == "assistant"
    assert all(r["body"]["messages"][-1]["content"] and r["body"]["messages"] for r in server.requests)
    # the compaction is a step of its own, with its cost in the run's
    step = compactions[0]
    assert step["tool_calls"] == [] and SUMMARY["content"] in step["compaction"]["summary"]
    assert step["cost"] > 0 and info["cost"] == pytest.approx(sum(s["cost"] for s in traj["steps"]))
    assert info["steps"] == len(traj["steps"]) == len(replies) + len(compactions)
    assert any(m.get("compaction") for m in traj["messages"])
    # every full tool output stays in the trajectory
    assert sum(1 for m in traj["messages"] if m["role"] == "tool") == 5
    # the run browser and `patchmix show` give it a step of its own, in its place
    from harness.analysis.site.pages import get_steps
    from harness.analysis.show import render_step

    shown = get_steps(traj)
    assert [s["number"] for s in shown] == [s["step"] for s in traj["steps"]]
    assert [bool(s.get("compaction")) for s in shown] == [bool(s.get("compaction")) for s in traj["steps"]]
    panel = next(part for s in shown if s.get("compaction") for part in render_step(s, full=True)
                 if hasattr(part, "title") and "compaction" in str(part.title))
    assert SUMMARY["content"] in str(panel.renderable)
    page = write_browser_page(tmp_path, traj, prediction)
    assert 'class="note compaction"' in page and "replaced by this summary" in page
    # no answer-key text in any request, the summary request included
    sent = json.dumps([request["body"] for request in server.requests])
    secrets = [row["patch"], row["test_patch"], row["hints_text"].strip()]
    secrets += json.loads(row["FAIL_TO_PASS"]) + json.loads(row["PASS_TO_PASS"])
    assert not [secret for secret in secrets if secret and json.dumps(secret)[1:-1] in sent]


def test_an_overflow_is_compacted_away_when_there_is_room_else_it_ends_the_run(bundled_rows, tmp_path):
    row = bundled_rows[UNITCONV]
    replies = [VIEW, VIEW, FIX, {**SUBMIT, "error": OVERFLOW}]
    prediction, traj, _ = run(tmp_path, row, replies)
    assert traj["info"]["exit_status"] == "submitted" and prediction["model_patch"]
    assert "no longer fits" in get_compactions(traj)[0]["compaction"]["reason"]
    prediction, traj, _ = run(tmp_path, row, replies, compaction=False)
    assert traj["info"]["exit_status"] == "context_limit" and prediction["model_patch"]
    assert not get_compactions(traj)


def test_a_compaction_share_outside_the_window_is_refused_with_what_to_write():
    from pydantic import ValidationError

    from harness.agent.config import ModelConfig

    with pytest.raises(ValidationError, match=r"share of the context window in \(0, 1\], e.g. 0.8; got 1.5"):
        ModelConfig(name="openai/m", compaction=1.5)
