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


def pytest_sessionfinish(session, exitstatus):
    """After the suite, no container labelled patchmix may remain."""
    client = docker_client_or_none()
    if client is None:
        return
    left = client.containers.list(all=True, filters={"label": "patchmix"})
    if left:
        names = ", ".join(c.name for c in left)
        print(f"\nLEAKED CONTAINERS labelled patchmix: {names}")
        session.exitstatus = 1
