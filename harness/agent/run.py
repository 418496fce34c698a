"""One agent run on one instance: container up, agent loop, patch out, trajectory and prediction on disk.

The trajectory file is rewritten (atomically) after every step, so a crash loses at most the step under way.
Every exit yields the patch of what was edited: submitted, cut off by a breaker (labelled with its exit
status), or nothing at all when no file changed.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from unidiff import PatchSet

from harness import exceptions as ex
from harness.agent.loop import Agent, AgentState
from harness.agent.config import AgentConfig
from harness.agent.editor import Editor
from harness.agent.container import Environment
from harness.exceptions import InfraError
from harness.fileio import write_json_atomic
from harness.agent.model import Model
from harness.agent.prompts import get_prompt_variables, render
from harness.agent.summary import summarize_run
from harness.secrets import redact_data
from harness.agent.tools import ToolBox, load_tools

TRAJECTORY_FORMAT = "patchmix-traj-1"


def get_test_files(row: dict) -> set[str]:
    """Paths the task's test patch touches: never part of a model's patch."""
    paths = set()
    for patched in PatchSet(row.get("test_patch") or ""):
        paths.update(p.split("/", 1)[1] for p in (patched.source_file, patched.target_file) if "/" in p)
    paths.discard("dev/null")
    return paths


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Trajectory:
    """The record of one run, saved after every step."""

    def __init__(self, path: Path, header: dict):
        self.path = Path(path)
        self.data = {"format": TRAJECTORY_FORMAT, **header, "messages": [], "steps": [],
                     "info": {"exit_status": None, "started_at": now()}}
        self.started = time.monotonic()

    def save(self, state: AgentState | None = None, **info) -> None:
        if state is not None:
            self.data["messages"], self.data["steps"] = state.messages, state.steps
            info = {"exit_status": state.exit_status, "exit_detail": state.exit_detail, "cost": state.cost,
                    "tokens_in": state.tokens_in, "tokens_out": state.tokens_out, "steps": len(state.steps),
                    **info}
        self.data["info"].update(info, wall_seconds=round(time.monotonic() - self.started, 3))
        write_json_atomic(self.path, redact_data(self.data))


def make_prediction(row: dict, model_name: str, patch: str) -> dict:
    return {"instance_id": row["instance_id"], "model_name_or_path": model_name, "model_patch": patch}


def run_instance(row: dict, config: AgentConfig, traj_path: Path, model_name: str,
                 extra_variables: dict | None = None, header: dict | None = None,
                 limiter=None, on_cost=None) -> tuple[dict, dict]:
    """Run one agent on one row. Returns (prediction, trajectory info)."""
    variables = {**get_prompt_variables(row, config.container.workdir), **(extra_variables or {})}
    traj = Trajectory(traj_path, {"instance_id": row["instance_id"], "model_name_or_path": model_name,
                                  **(header or {}), "config": config.model_dump()})
    try:
        model = Model(config.model, limiter)
        system = render(config.system_template, variables, config.prompts_dir)
        task = render(config.instance_template, variables, config.prompts_dir)
        patch_info = run_in_container(row, config, model, system, task, traj, on_cost)
    except KeyboardInterrupt:
        traj.save(exit_status=ex.INTERRUPTED, finished_at=now())
        raise
    traj.save(**patch_info, finished_at=now())
    return make_prediction(row, model_name, patch_info["patch"]), traj.data["info"]


def run_in_container(row, config: AgentConfig, model: Model, system: str, task: str, traj: Trajectory,
                     on_cost) -> dict:
    labels = {"patchmix.instance": row["instance_id"]}
    try:
        with Environment(row["image"], config.container, labels=labels) as env:
            toolbox = ToolBox(env, Editor(env, config.container.max_output_chars), config.container.command_timeout)
            agent = Agent(model, toolbox, load_tools(), config.limits, on_step=traj.save, on_cost=on_cost,
                          keep_observations=config.keep_observations)
            state = agent.run(system, task)
            traj.save(state, **summarize_run(agent, config.summary_template, config.prompts_dir))
            return collect_patch(env, row, state.exit_status)
    except InfraError as error:
        traj.save(exit_status=ex.INFRA_ERROR, exit_detail=f"the container failed: {error}")
        return {"patch": "", "patch_label": None, "patch_dropped": [], "patch_error": str(error)}


def collect_patch(env, row: dict, exit_status: str) -> dict:
    """The patch of every edit, labelled `complete` when submitted and `breaker:<status>` otherwise."""
    try:
        result = env.make_patch(row["base_commit"], get_test_files(row))
    except InfraError as error:
        return {"patch": "", "patch_label": None, "patch_dropped": [], "patch_error": str(error)}
    label = None
    if result.patch:
        label = "complete" if exit_status == ex.SUBMITTED else f"breaker:{exit_status}"
    return {"patch": result.patch, "patch_label": label, "patch_dropped": result.dropped}
