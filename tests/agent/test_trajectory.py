"""Trajectory persistence: O(new step) per save, one reader for finished and unfinished runs, and a run killed
at any moment still holds every step it finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from harness.agent.trajectory import Trajectory, get_steps_path, read_info, read_trajectory

WRITER = r"""
import os, sys, time
from dataclasses import dataclass, field
from harness.agent.trajectory import Trajectory

@dataclass
class State:
    messages: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    exit_status: str | None = None
    exit_detail: str = ""
    cost: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0

traj = Trajectory(sys.argv[1], {"instance_id": "x", "config": {"k": 1}})
state = State()
traj.save(state)
print("ready", flush=True)
for number in range(1, 10_000):
    state.messages.append({"role": "assistant", "content": "m%d " % number + "y" * 3000})
    state.messages.append({"role": "tool", "content": "o%d" % number})
    state.steps.append({"step": number, "cost": 0.01})
    state.cost += 0.01
    traj.save(state)
    print(number, flush=True)
"""


@dataclass
class State:
    messages: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    exit_status: str | None = None
    exit_detail: str = ""
    cost: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0


def kill_after(path, seconds: float) -> int:
    """Runs the writer, SIGKILLs it `seconds` after its first save, returns the last step it reported finished."""
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ready\n"  # the clock starts once the writer's imports are done
    time.sleep(seconds)
    os.kill(process.pid, signal.SIGKILL)
    out, _ = process.communicate()
    return int(out.split()[-1]) if out.split() else 0


def test_a_kill_at_any_moment_keeps_every_finished_step(tmp_path):
    for attempt, seconds in enumerate((0.3, 0.45, 0.6, 0.75, 0.9, 1.1, 1.3, 1.6)):
        path = tmp_path / f"k{attempt}.traj.json"
        finished = kill_after(path, seconds)
        data = read_trajectory(path)
        steps = data["steps"]
        assert len(steps) >= finished  # every step reported finished is on disk
        assert [s["step"] for s in steps] == list(range(1, len(steps) + 1))  # in order, none torn or doubled
        assert len(data["messages"]) in (2 * len(steps), 2 * len(steps) + 1, 2 * len(steps) + 2)
        assert data["messages"][2 * (finished - 1)]["content"].startswith(f"m{finished} ") if finished else True
        assert data["config"] == {"k": 1} and data["info"]["exit_status"] is None
        assert read_info(path)["steps"] >= finished - 1


def test_finished_run_is_one_json_and_reads_the_same(tmp_path, monkeypatch):
    monkeypatch.setenv("SOME_API_KEY", "sk-secret-value-123456")
    path = tmp_path / "r.traj.json"
    traj, state = Trajectory(path, {"instance_id": "r"}), State()
    for number in range(3):
        state.messages.append({"role": "tool", "content": f"out {number} sk-secret-value-123456"})
        state.steps.append({"step": number + 1})
        traj.save(state)
        under_way = read_trajectory(path)
        assert under_way["messages"] == traj.data["messages"] and under_way["steps"] == traj.data["steps"]
        assert get_steps_path(path).is_file()
    traj.save(state, patch="diff", finished_at="2026-01-01T00:00:00+00:00")
    assert not get_steps_path(path).exists()
    whole = json.loads(path.read_text())
    assert whole == read_trajectory(path) == traj.data
    assert "in_progress" not in whole and whole["info"]["patch"] == "diff" and len(whole["steps"]) == 3
    assert "sk-secret-value-123456" not in path.read_text()


def test_each_save_writes_only_what_is_new(tmp_path):
    path = tmp_path / "s.traj.json"
    traj, state = Trajectory(path, {"instance_id": "s"}), State()
    sizes = []
    for number in range(60):
        state.messages.append({"role": "tool", "content": "z" * 2000})
        state.steps.append({"step": number + 1})
        before = get_steps_path(path).stat().st_size if get_steps_path(path).exists() else 0
        traj.save(state)
        sizes.append(get_steps_path(path).stat().st_size - before)
    assert max(sizes[1:]) < 1.2 * min(sizes[1:])  # the 60th save writes as much as the 2nd, not 30 times more
    assert len(path.read_text()) < 1000  # the header stays small while the run is under way
