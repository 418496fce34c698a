"""Shared fixtures. Docker tests use the real engine; under CI a missing engine is a failure, not a skip."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# The scripted provider's key: a secret-looking value that must never reach any file the harness writes.
os.environ.setdefault("SCRIPTED_API_KEY", "sk-scripted-3f9a1c7e5b2d4086")


def docker_client_or_none():
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.ping()
        return client
    except Exception:  # noqa: BLE001 - any failure means "no engine here"
        return None


@pytest.fixture(scope="session")
def docker_client():
    client = docker_client_or_none()
    if client is None:
        if os.environ.get("CI"):
            pytest.fail("no Docker engine answers; .ci/run must start dockerd before the tests")
        pytest.skip("no Docker engine answers (start dockerd to run this test)")
    return client


SKIPPED: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped:
        SKIPPED.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    """After the suite, no container labelled patchmix may remain; under CI, no test may have been skipped."""
    if os.environ.get("CI") and SKIPPED:
        print(f"\nSKIPPED TESTS under CI count as failures: {', '.join(SKIPPED)}")
        session.exitstatus = 1
    client = docker_client_or_none()
    if client is None:
        return
    # sparse: no inspect per container, which fails when another process removes one meanwhile
    left = client.containers.list(all=True, sparse=True, filters={"label": "patchmix"})
    if left:
        names = ", ".join((c.attrs.get("Names") or [c.id[:12]])[0].lstrip("/") for c in left)
        print(f"\nLEAKED CONTAINERS labelled patchmix: {names}")
        session.exitstatus = 1


TASKS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tasks")
SCRIPTED_PRICES = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}


@pytest.fixture(scope="session")
def bundled_rows(docker_client):
    """The bundled tasks' dataset rows, their images built if missing."""
    from pathlib import Path

    from harness.tasks.images import build_images

    rows = build_images(Path(TASKS_DIR), log=lambda *args: None)
    return {row["instance_id"]: row for row in rows}


def make_scripted_model(server, name: str = "agent", **overrides):
    from harness.agent.config import ModelConfig

    settings = {"name": f"openai/{name}", "api_base": server.api_base, "api_key_env": "SCRIPTED_API_KEY",
                "retry_wait": 0.01, "retries": 3, **SCRIPTED_PRICES, **overrides}
    return ModelConfig(**settings)


@pytest.fixture
def run_scripted(tmp_path):
    """Run one agent on a row with a scripted model; returns (prediction, trajectory dict, server)."""
    import json

    from harness.agent.config import AgentConfig, ContainerConfig, LimitsConfig
    from harness.agent.attempt import run_instance
    from harness.scripted.server import ScriptedServer

    def run(row, replies, limits=None, container=None, loop_last=False, keep_observations=0, **model_overrides):
        script = {"models": {"agent": [{"match": "", "replies": replies, "loop_last": loop_last}]}}
        with ScriptedServer(script) as server:
            config = AgentConfig(model=make_scripted_model(server, **model_overrides),
                                 limits=LimitsConfig(**(limits or {})),
                                 container=ContainerConfig(**{"command_timeout": 20, **(container or {})}),
                                 keep_observations=keep_observations)
            path = tmp_path / f"{row['instance_id']}.traj.json"
            prediction, _ = run_instance(row, config, path, "scripted-agent")
        return prediction, json.loads(path.read_text()), server

    return run
