"""One agent run end to end: scripted model over real HTTP, real container, real patch, real scoring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.agent.environment import docker_environment as container
from harness.fileio import write_jsonl_atomic
from tests.agent.agentkit import FIX, SUBMIT, TEMPERATURE, UNITCONV, observations

pytestmark = pytest.mark.docker

BREAK = {"tool_calls": [{"name": "str_replace_editor", "arguments": {
    "command": "str_replace", "path": TEMPERATURE,
    "old_str": "return value - 32 * 5 / 9", "new_str": "return value - 32 * 5 / 9 + 1"}}]}
LOOK = {"tool_calls": [{"name": "bash", "arguments": {"command": "grep -n 'scale ==' unitconv/temperature.py"}}]}
CHECK = {"tool_calls": [{"name": "bash", "arguments": {
    "command": "python -c \"from unitconv import convert; print(convert(212, 'F', 'C'))\""}}]}
SLEEP = {"tool_calls": [{"name": "bash", "arguments": {"command": "sleep 30"}}]}
TEXT = {"content": "Let me think about this."}


def test_scripted_fix_is_submitted_and_resolved_by_the_official_harness(bundled_rows, run_scripted, tmp_path):
    from harness.scoring.official import evaluate_predictions

    row = bundled_rows[UNITCONV]
    prediction, traj, _ = run_scripted(row, [LOOK, FIX, CHECK, SUBMIT])
    info = traj["info"]
    assert info["exit_status"] == "submitted" and info["patch_label"] == "complete"
    assert "100.0" in observations(traj)[2]
    assert "(value - 32) * 5 / 9" in prediction["model_patch"]
    assert info["steps"] == 4 and info["cost"] > 0 and info["tokens_in"] > 0
    assert [s["step"] for s in traj["steps"]] == [1, 2, 3, 4]
    assert traj["config"]["limits"]["step_limit"] == 100
    preds = tmp_path / "preds.jsonl"
    write_jsonl_atomic(preds, [prediction])
    dataset = Path(__file__).resolve().parents[2] / "tasks" / "bundled.jsonl"
    report = evaluate_predictions(preds, dataset, "test-agent-fix", tmp_path / "scratch", workers=1)
    assert report["resolved_ids"] == [UNITCONV]


def test_step_limit_after_an_edit_keeps_the_edit_as_a_labelled_patch(bundled_rows, run_scripted):
    prediction, traj, _ = run_scripted(bundled_rows[UNITCONV], [BREAK, LOOK], loop_last=True,
                                       limits={"step_limit": 4})
    assert traj["info"]["exit_status"] == "step_limit"
    assert traj["info"]["steps"] == 4
    assert traj["info"]["patch_label"] == "breaker:step_limit"
    assert "+ 1" in prediction["model_patch"]


def test_step_limit_without_an_edit_gives_no_patch(bundled_rows, run_scripted):
    prediction, traj, _ = run_scripted(bundled_rows[UNITCONV], [LOOK], loop_last=True, limits={"step_limit": 3})
    assert traj["info"]["exit_status"] == "step_limit" and traj["info"]["steps"] == 3
    assert prediction["model_patch"] == "" and traj["info"]["patch_label"] is None


def test_cost_limit_trips_once_the_run_cost_reaches_it(bundled_rows, run_scripted):
    # Each call costs 100 + 20 tokens at 1e-3 $/token = $0.12; the limit of $0.3 is reached after 3 calls.
    usage = {"prompt_tokens": 100, "completion_tokens": 20}
    replies = [{**FIX, "usage": usage}, {**LOOK, "usage": usage}]
    prediction, traj, _ = run_scripted(bundled_rows[UNITCONV], replies, loop_last=True,
                                       limits={"cost_limit": 0.3}, input_cost_per_token=1e-3,
                                       output_cost_per_token=1e-3)
    assert traj["info"]["exit_status"] == "cost_limit"
    assert traj["info"]["steps"] == 3 and traj["info"]["cost"] == pytest.approx(0.36)
    assert traj["info"]["patch_label"] == "breaker:cost_limit" and prediction["model_patch"]


def test_consecutive_timeouts_trip_the_timeout_breaker(bundled_rows, run_scripted):
    prediction, traj, _ = run_scripted(bundled_rows[UNITCONV], [FIX, SLEEP, LOOK, SLEEP, SLEEP], loop_last=True,
                                       limits={"timeout_limit": 2}, container={"command_timeout": 1})
    info = traj["info"]
    assert info["exit_status"] == "timeout_limit"
    assert info["steps"] == 5  # the LOOK between the first two timeouts reset the count
    assert "killed after 1 s" in observations(traj)[1]
    assert info["patch_label"] == "breaker:timeout_limit" and prediction["model_patch"]


def test_unparsable_replies_are_answered_then_trip_the_format_breaker(bundled_rows, run_scripted):
    replies = [
        TEXT,
        {"tool_calls": [{"name": "bash", "raw_arguments": "{\"command\": \"ls"}]},
        LOOK,  # a clean step resets the count
        {"tool_calls": [{"name": "grep", "arguments": {"pattern": "x"}}]},
        {"tool_calls": [{"name": "str_replace_editor", "arguments": {"command": "view"}}]},
        {"tool_calls": [{"name": "bash", "arguments": {}}]},
        LOOK,
    ]
    prediction, traj, server = run_scripted(bundled_rows[UNITCONV], replies, limits={"format_limit": 3})
    assert traj["info"]["exit_status"] == "format_limit" and traj["info"]["steps"] == 6
    assert prediction["model_patch"] == ""
    # The model was told each error (the last one is only in the trajectory: the run ended there).
    said = json.dumps(server.requests[-1]["body"]["messages"] + traj["messages"][-1:])
    for hint in ("called no tool", "not valid JSON", "no tool named 'grep'", "needs the argument(s) path",
                 "needs the argument(s) command"):
        assert hint in said


def test_context_overflow_ends_the_run_with_context_limit_and_keeps_the_patch(bundled_rows, run_scripted):
    overflow = {"error": {"status": 400, "times": 100, "code": "context_length_exceeded",
                          "message": "This model's maximum context length is 8192 tokens. However, your messages "
                                     "resulted in 9000 tokens. Please reduce the length of the messages."}}
    prediction, traj, _ = run_scripted(bundled_rows[UNITCONV], [FIX, overflow])
    assert traj["info"]["exit_status"] == "context_limit"
    assert traj["info"]["patch_label"] == "breaker:context_limit" and prediction["model_patch"]


def test_wall_clock_limit(bundled_rows, run_scripted):
    slow = {"tool_calls": [{"name": "bash", "arguments": {"command": "sleep 1.5"}}]}
    prediction, traj, _ = run_scripted(bundled_rows[UNITCONV], [slow], loop_last=True,
                                       limits={"wall_time_limit": 2})
    assert traj["info"]["exit_status"] == "time_limit"  # how many steps fit depends on the machine's speed
    assert prediction["model_patch"] == ""


def test_rate_limits_and_server_errors_are_retried_and_never_count_against_the_agent(bundled_rows, run_scripted):
    replies = [{**FIX, "error": {"status": 429, "times": 2}}, {**SUBMIT, "error": {"status": 503, "times": 2}}]
    prediction, traj, server = run_scripted(bundled_rows[UNITCONV], replies, limits={"format_limit": 1})
    assert traj["info"]["exit_status"] == "submitted"
    assert [s["attempts"] for s in traj["steps"]] == [3, 3]
    assert len(server.requests) == 6 and prediction["model_patch"]


def test_persistent_provider_failure_ends_as_infra_error(bundled_rows, run_scripted):
    replies = [FIX, {**SUBMIT, "error": {"status": 503, "times": 100}}]
    prediction, traj, server = run_scripted(bundled_rows[UNITCONV], replies)
    assert traj["info"]["exit_status"] == "infra_error"
    assert "failed 3 times" in traj["info"]["exit_detail"]
    assert len(server.requests) == 1 + 3


def test_the_model_never_sees_the_answer_key(bundled_rows, run_scripted):
    row = bundled_rows[UNITCONV]
    _, _, server = run_scripted(row, [LOOK, FIX, SUBMIT])
    sent = json.dumps([request["body"] for request in server.requests])
    assert row["problem_statement"].splitlines()[0] in sent
    secrets = [row["hints_text"].strip(), row["patch"], row["test_patch"]]
    secrets += json.loads(row["FAIL_TO_PASS"]) + json.loads(row["PASS_TO_PASS"])
    test_names = [name.split("::")[-1] for name in json.loads(row["FAIL_TO_PASS"]) + json.loads(row["PASS_TO_PASS"])]
    for secret in secrets + test_names:
        assert json.dumps(secret)[1:-1] not in sent


def test_the_model_never_sees_a_pro_rows_answer_key(docker_client, run_scripted):
    """The answer-key test on a SWE-bench Pro row: requirements and interface are part of the task statement,
    while fail_to_pass, pass_to_pass, test_patch, patch, before_repo_set_cmd (and the gold commit it names) and
    selected_test_files_to_run never reach the model; the agent's shell is at /app."""
    import ast

    from harness.tasks.proimages import build_pro_images
    from harness.pipeline.prorows import convert_pro_row

    raw = next(r for r in build_pro_images(log=lambda *a: None, client=docker_client) if r["repo_language"] == "js")
    _, traj, server = run_scripted(convert_pro_row(raw), [{"tool_calls": [{"name": "bash", "arguments": {
        "command": "pwd && node --version"}}]}, SUBMIT])
    assert observations(traj)[0].startswith("/app\nv")
    sent = json.dumps([request["body"] for request in server.requests])
    for shown in (raw["problem_statement"], raw["requirements"], raw["interface"]):
        assert json.dumps(shown.strip())[1:-1] in sent
    gold_commit = raw["before_repo_set_cmd"].strip().splitlines()[-1].split()[2]
    secrets = [raw[field] for field in ("fail_to_pass", "pass_to_pass", "test_patch", "patch", "before_repo_set_cmd",
                                        "selected_test_files_to_run")]
    secrets += [gold_commit, *ast.literal_eval(raw["fail_to_pass"]), *ast.literal_eval(raw["pass_to_pass"])]
    for secret in secrets:
        assert json.dumps(secret.strip())[1:-1] not in sent


def test_no_secret_reaches_the_trajectory(bundled_rows, run_scripted, tmp_path):
    import os

    key = os.environ["SCRIPTED_API_KEY"]
    echo = {"content": "x", "echo_authorization": True, **LOOK}
    _, traj, server = run_scripted(bundled_rows[UNITCONV], [echo, SUBMIT])
    # The scripted reply echoed the Authorization header, so the key did reach the conversation...
    assert any(key in json.dumps(r["body"]) for r in server.requests[1:])
    # ...and still no file holds it.
    written = "".join(p.read_text() for p in tmp_path.glob("*.json"))
    assert "REDACTED" in written and key not in written


def test_container_start_failure_is_an_infra_error_with_no_patch(bundled_rows, run_scripted):
    row = {**bundled_rows[UNITCONV], "image": "patchmix/no-such-image:never"}
    prediction, traj, server = run_scripted(row, [SUBMIT])
    assert traj["info"]["exit_status"] == "infra_error" and prediction["model_patch"] == ""
    assert server.requests == []


def test_a_start_that_fails_while_the_model_is_called_ends_the_run_infra_error(bundled_rows, run_scripted,
                                                                               monkeypatch):
    """The container is created before the first model call (a missing image costs nothing, above); once a
    container of its image was prepared in this process, it starts and is prepared while that call runs, and a
    failure there ends the run at its first use of the container."""
    row = {**bundled_rows[UNITCONV], "base_commit": "0" * 40}
    monkeypatch.setattr(container, "PREPARED_IMAGES", {row["image"]: {"path": None}})
    edit = {"tool_calls": [{"name": "bash", "arguments": {"command": "echo never >> README.md"}}]}
    prediction, traj, server = run_scripted(row, [edit, SUBMIT])
    info = traj["info"]
    assert info["exit_status"] == "infra_error" and prediction["model_patch"] == ""
    assert f"base commit {'0' * 40} is not in the repository" in info["exit_detail"]
    assert len(server.requests) == 1, "one call was made while the container started; none after the failure"
    assert info["exit_detail"].startswith("the container failed:")


def test_the_first_container_of_an_image_is_ready_before_the_first_model_call(bundled_rows, run_scripted,
                                                                              monkeypatch):
    """An image not yet prepared in this process is started and checked before any call is paid for."""
    row = {**bundled_rows[UNITCONV], "base_commit": "0" * 40}
    monkeypatch.setattr(container, "PREPARED_IMAGES", {})
    prediction, traj, server = run_scripted(row, [SUBMIT])
    assert traj["info"]["exit_status"] == "infra_error" and prediction["model_patch"] == ""
    assert f"base commit {'0' * 40} is not in the repository" in traj["info"]["exit_detail"]
    assert not server.requests
    assert container.PREPARED_IMAGES == {}, "a failed start proves nothing about the image"


def test_old_observations_can_be_left_out_of_requests_but_stay_in_the_trajectory(bundled_rows, run_scripted):
    view = {"tool_calls": [{"name": "str_replace_editor", "arguments": {"command": "view", "path": TEMPERATURE}}]}
    _, traj, server = run_scripted(bundled_rows[UNITCONV], [view] * 4 + [SUBMIT], keep_observations=2)
    outputs = [[m["content"] for m in request["body"]["messages"] if m["role"] == "tool"]
               for request in server.requests]
    assert [len(shown) for shown in outputs] == [0, 1, 2, 3, 4]
    # rewritten two at a time: with 3 outputs none is left out yet, so the prefix of the step before still holds
    assert all("def to_celsius" in output for output in outputs[3])
    assert all(output.startswith("[The output of this earlier tool call (") for output in outputs[4][:2])
    assert all("def to_celsius" in output for output in outputs[4][2:])
    assert all("def to_celsius" in output for output in observations(traj)[:4])
