"""The default executor: agent runs in threads of this process, containers on this machine's Docker."""

from __future__ import annotations

from harness.agent.environment.removal import remove_own_containers
from harness.agent.attempt import run_instance


class LocalExecutor:
    kind = "local"

    def get_slots(self, workers: int) -> int:
        return workers

    def run_instance(self, *args, **kwargs):
        return run_instance(*args, **kwargs)

    def stop(self) -> None:
        remove_own_containers()  # runs still under way end at once

    def close(self) -> None:
        return None
