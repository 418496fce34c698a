"""Open-weight models behind a local OpenAI-compatible server, through the real litellm client over HTTP
against the scripted server playing what llama.cpp's server does: messages every server's chat template renders,
`tool_choice` sent, a 500 that repeats ends the run instead of being redone forever, repeated timeouts end
`model_timeout`, a cut-off call recognised by its token count, every attempt in the trajectory from the start,
and `run-one` writing predictions as the pipeline does. The real llama.cpp server is in test_llamacpp.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from harness import exceptions as ex
from harness.agent.config import ModelConfig
from harness.agent.loop import CUT_OFF
from harness.agent.model.query import Model
from harness.agent.trajectory import read_trajectory
from harness.analysis.report import write_report
from harness.analysis.show import show_run
from harness.cli import main
from harness.scripted.server import ScriptedServer
from harness.pipeline.launch import run_pipeline
from harness.pipeline.progress import Progress

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "tasks" / "bundled.jsonl"
TASK = "patchmix__unitconv-1"
PRICES = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
BASH_LS = {"tool_calls": [{"name": "bash", "arguments": {"command": "ls"}}]}
SUBMIT = {"tool_calls": [{"name": "submit", "arguments": {}}]}
TOOLS = [{"type": "function", "function": {"name": "bash", "description": "run", "parameters": {
    "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}}]
MESSAGES = [{"role": "system", "content": "sys"}, {"role": "user", "content": "fix it"}]


def make_model(server, **overrides) -> Model:
    settings = {"name": "openai/local", "api_base": server.api_base, "api_key_env": "SCRIPTED_API_KEY",
                "retry_wait": 0.01, "retries": 6, **PRICES, **overrides}
    return Model(ModelConfig(**settings))


def serve(*replies, strict_template: bool = True) -> ScriptedServer:
    return ScriptedServer({"models": {"local": [{"match": "", "replies": list(replies),
                                                 "strict_template": strict_template}]}})


def outcome_of(call):
    try:
        return call()
    except ex.RunEnded as ended:
        return ended


def test_a_tool_call_turn_goes_back_with_empty_content_and_tool_choice_auto_is_sent():
    with serve(BASH_LS, SUBMIT) as server:
        model = make_model(server)
        first = model.query(MESSAGES, TOOLS)
        messages = MESSAGES + [first.message, {"role": "tool", "tool_call_id": first.tool_calls[0]["id"],
                                               "content": "convert.py"}]
        second = model.query(messages, TOOLS)  # before: `content: null` -> HTTP 500 from the template, 6 times
    assert second.tool_calls[0]["name"] == "submit" and len(server.requests) == 2
    sent = [m for m in server.requests[1]["body"]["messages"] if m["role"] == "assistant"]
    assert sent[0]["content"] == "" and sent[0]["tool_calls"][0]["function"]["name"] == "bash"
    assert [r["body"].get("tool_choice") for r in server.requests] == ["auto", "auto"]


def test_tool_choice_is_configurable_per_model_and_none_sends_none():
    forced = {"type": "function", "function": {"name": "bash"}}
    with serve(BASH_LS, BASH_LS) as server:
        make_model(server, tool_choice=forced).query(MESSAGES, TOOLS)
        make_model(server, tool_choice=None).query(MESSAGES, TOOLS)
    assert server.requests[0]["body"]["tool_choice"] == forced and "tool_choice" not in server.requests[1]["body"]


def test_the_same_http_500_twice_ends_provider_error_with_the_servers_message_after_two_tries():
    with serve({**BASH_LS, "error": {"preset": "llamacpp_template_error", "times": 100}}) as server:
        outcome = outcome_of(lambda: make_model(server).query(MESSAGES, TOOLS))
    assert isinstance(outcome, ex.RunEnded) and outcome.exit_status == ex.PROVIDER_ERROR
    assert "'dict object' has no attribute 'content'" in outcome.detail and "\n" not in outcome.detail
    assert len(server.requests) == 2  # before: 6 tries, then infra_error, redone by every resume


def test_a_different_500_each_time_is_still_retried():
    replies = [{**BASH_LS, "error": {"status": 500, "message": "worker 3 crashed", "times": 1}}]
    with ScriptedServer({"models": {"local": [{"match": "", "replies": replies}]}}) as server:
        reply = make_model(server).query(MESSAGES, TOOLS)
    assert reply.attempts == 2


def test_a_request_that_times_out_again_ends_model_timeout_with_the_advice():
    with serve({**BASH_LS, "error": {"stall": 3, "times": 100}}) as server:
        outcome = outcome_of(lambda: make_model(server, request_timeout=0.5, max_tokens=512).query(MESSAGES, TOOLS))
    assert isinstance(outcome, ex.RunEnded) and outcome.exit_status == ex.MODEL_TIMEOUT
    assert "raise request_timeout or lower max_tokens (512)" in outcome.detail
    assert len(server.requests) == 2  # before: 6 tries queued behind each other, then infra_error


def test_a_cut_off_call_is_recognised_by_its_token_count_whatever_the_finish_reason():
    cut = {"tool_calls": [{"name": "bash", "raw_arguments": '{ "command" :'}], "finish_reason": "tool_calls",
           "usage": {"prompt_tokens": 26, "completion_tokens": 8}}
    with serve(cut) as server:
        reply = make_model(server, max_tokens=8).query(MESSAGES, TOOLS)
    assert reply.finish_reason == "tool_calls" and reply.tokens_out == 8 and reply.cut_off
    with serve(BASH_LS) as server:
        assert not make_model(server, max_tokens=8000).query(MESSAGES, TOOLS).cut_off


def make_pipeline(tmp_path: Path, api_base: str, name: str, **model) -> Path:
    config = {
        "name": name, "dataset": {"path": str(DATASET)}, "instances": {"ids": [TASK]},
        "defaults": {"limits": {"step_limit": 6, "wall_time_limit": 60}, "container": {"command_timeout": 30}},
        "models": {"local": {"name": "openai/local", "api_base": api_base, "api_key_env": "SCRIPTED_API_KEY",
                             "retry_wait": 0.01, **PRICES, **model}},
        "iterations": [{"models": ["local"]}], "workers": 1, "images": {"pull": False},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.docker
def test_a_slow_local_run_is_on_disk_from_the_start_with_every_attempt_shown_by_show_and_the_browser(
        bundled_rows, tmp_path):
    seen = {}
    traj_path = tmp_path / "runs" / "slow" / "iter_1" / "local" / f"{TASK}.traj.json"

    def look(model, step, reply):  # the server reads the trajectory while the run waits for its answer
        if step == 0 and "first" not in seen:
            seen["first"] = read_trajectory(traj_path)

    cut = {"tool_calls": [{"name": "bash", "raw_arguments": '{"command": "echo cut >> NOTES'}],
           "finish_reason": "tool_calls", "usage": {"prompt_tokens": 300, "completion_tokens": 16}}
    slow = {"tool_calls": [{"name": "bash", "arguments": {"command": "echo fixed >> NOTES.txt"}}],
            "error": {"stall": 6, "times": 1}}
    script = {"models": {"local": [{"match": "", "replies": [cut, slow, SUBMIT], "strict_template": True}]}}
    with ScriptedServer(script, on_reply=look) as server:
        path = make_pipeline(tmp_path, server.api_base, "slow", max_tokens=16, request_timeout=3.0)
        assert run_pipeline(path, runs_dir=tmp_path / "runs", progress=Progress(live=False)) == 0
    first = seen["first"]  # before: no file until the first step ended
    assert first["info"]["exit_status"] is None and first["messages"] == []
    assert first["attempts"] == [{"step": 1, "attempt": 1, "status": "pending",
                                  "started_at": first["attempts"][0]["started_at"]}]
    traj = json.loads(traj_path.read_text())
    assert traj["info"]["exit_status"] == "submitted" and traj["steps"][0]["cut_off"] is True
    assert CUT_OFF in [m["content"] for m in traj["messages"] if m["role"] == "user"]  # not the JSON hint
    assert [(a["step"], a["attempt"], a["status"]) for a in traj["attempts"]] == [
        (1, 1, "ok"), (2, 1, "timeout"), (2, 2, "ok"), (3, 1, "ok")]
    assert traj["attempts"][1]["cost"] > 0 and traj["info"]["cost"] == pytest.approx(
        sum(step["cost"] for step in traj["steps"]))
    console = Console(record=True, width=200)
    show_run(tmp_path / "runs" / "slow", TASK, console=console, pager=False)
    shown = console.export_text()
    assert "model call: step 2, attempt 1: timeout after" in shown and "step 2, attempt 2: ok" in shown
    write_report(tmp_path / "runs" / "slow")
    page = next((tmp_path / "runs" / "slow" / "report" / "site" / "instances").glob("*.html")).read_text()
    assert "step 2, attempt 1: timeout after" in page


@pytest.mark.docker
def test_model_timeout_is_final_and_redone_only_once_request_timeout_changed(bundled_rows, tmp_path):
    script = {"models": {"local": [{"match": "", "replies": [{**SUBMIT, "error": {"stall": 3, "times": 2}}]}]}}
    runs = tmp_path / "runs"
    with ScriptedServer(script) as server:
        path = make_pipeline(tmp_path, server.api_base, "to", request_timeout=1.0)
        assert run_pipeline(path, runs_dir=runs, progress=Progress(live=False)) == 0
        traj_path = runs / "to" / "iter_1" / "local" / f"{TASK}.traj.json"
        info = json.loads(traj_path.read_text())["info"]
        assert info["exit_status"] == "model_timeout" and "raise request_timeout" in info["exit_detail"]
        assert len(server.requests) == 2 and info["cost"] > 0  # the timed-out calls' prompts are charged
        ledger = [json.loads(line) for line in (runs / "to" / "ledger.jsonl").read_text().splitlines()]
        assert info["cost"] == pytest.approx(sum(e["cost"] for e in ledger if e["event"] == "end"))
        assert run_pipeline(path, runs_dir=runs, progress=Progress(live=False)) == 0
        assert len(server.requests) == 2  # not redone: nothing changed
        path = make_pipeline(tmp_path, server.api_base, "to", request_timeout=10.0)
        assert run_pipeline(path, runs_dir=runs, progress=Progress(live=False)) == 0
    assert len(server.requests) == 3
    assert json.loads(traj_path.read_text())["info"]["exit_status"] == "submitted"


@pytest.mark.docker
def test_run_one_writes_no_prediction_for_an_infra_error_run_like_the_pipeline(bundled_rows, tmp_path, capsys):
    script = {"models": {"local": [{"match": "", "replies": [{**SUBMIT, "error": {"status": 503, "times": 100}}]}]}}
    with ScriptedServer(script) as server:
        config = tmp_path / "agent.yaml"
        config.write_text(yaml.safe_dump({"model": {"api_key_env": "SCRIPTED_API_KEY", "retries": 2,
                                                    "retry_wait": 0.01, **PRICES}}))
        code = main(["run-one", "--dataset", str(DATASET), "--instance", TASK, "--model", "openai/local",
                     "--api-base", server.api_base, "--config", str(config), "--output", str(tmp_path / "out")])
    assert code == 3
    err = capsys.readouterr().err
    assert "no prediction written" in err and "infra_error" in err
    assert not (tmp_path / "out" / "preds.jsonl").exists()  # before: an empty-patch row


def test_a_malformed_call_in_the_history_goes_to_a_server_of_ones_own_with_object_arguments():
    bad = {"tool_calls": [{"name": "bash", "raw_arguments": '{"command": "ls'}]}
    with serve(bad, BASH_LS) as server:
        model = make_model(server)
        first = model.query(MESSAGES, TOOLS)
        messages = MESSAGES + [first.message, {"role": "tool", "tool_call_id": first.tool_calls[0]["id"],
                                               "content": "Error: not valid JSON"}]
        model.query(messages, TOOLS)
    assert first.message["tool_calls"][0]["function"]["arguments"] == '{"command": "ls'  # kept as written
    sent = next(m for m in server.requests[1]["body"]["messages"] if m["role"] == "assistant")
    assert sent["tool_calls"][0]["function"]["arguments"] == "{}"


@pytest.mark.docker
def test_a_run_whose_calls_come_without_their_function_ends_format_limit_with_every_attempt_kept(
        bundled_rows, run_scripted):
    _, traj, server = run_scripted(bundled_rows[TASK], [{"tool_calls": [{"null_function": True}]}],
                                   limits={"format_limit": 2})
    assert traj["info"]["exit_status"] == "format_limit"  # before: infra_error after 3 tries, redone forever
    assert [(a["step"], a["attempt"], a["status"]) for a in traj["attempts"]] == [(1, 1, "error"), (1, 2, "error")]
    assert "without its function" in json.dumps(server.requests[-1]["body"]["messages"]) and len(server.requests) == 2
