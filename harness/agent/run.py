"""One agent run on one instance: container up, agent loop, patch out, trajectory and prediction on disk.

The trajectory is saved after every step at the cost of that step (`trajectory`), so a crash loses at most the
step under way.
Every exit yields the patch of what was edited: submitted, cut off by a breaker (labelled with its exit
status), or nothing at all when no file changed.
"""

from __future__ import annotations

from pathlib import Path

from harness import exceptions as ex
from harness.agent.loop import Agent
from harness.agent.config import AgentConfig
from harness.agent.editor import Editor
from harness.agent.container import Environment
from harness.exceptions import InfraError
from harness.agent.model import Model
from harness.agent.outcome import collect_patch
from harness.agent.prompts import get_prompt_variables, render
from harness.agent.summary import summarize_run
from harness.agent.tools import ToolBox, load_tools
from harness.agent.trajectory import Trajectory, now

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
        with Environment(row["image"], config.container, labels=labels, base_commit=row["base_commit"]) as env:
            toolbox = ToolBox(env, Editor(env, config.container.max_output_chars), config.container.command_timeout)
            agent = Agent(model, toolbox, load_tools(), config.limits, on_step=traj.save, on_cost=on_cost,
                          keep_observations=config.keep_observations)
            state = agent.run(system, task)
            traj.save(state, **summarize_run(agent, config.summary_template, config.prompts_dir))
            return collect_patch(env, row, state.exit_status, state.steps)
    except InfraError as error:
        traj.save(exit_status=ex.INFRA_ERROR, exit_detail=f"the container failed: {error}")
        return {"patch": "", "patch_label": None, "patch_dropped": [], "patch_error": str(error)}
