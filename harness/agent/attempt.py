"""One agent run on one instance: container up, agent loop, patch out, trajectory and prediction on disk.

The trajectory is saved after every step at the cost of that step (`trajectory`), so a crash loses at most the
step under way.
Every exit yields the patch of what was edited: submitted, cut off by a breaker (labelled with its exit
status), or nothing at all when no file changed.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path

from harness import exceptions as ex
from harness.agent.compaction import make_compaction
from harness.agent.loop import Agent
from harness.agent.config import AgentConfig, fit_config_to_row
from harness.agent.tools.editor import Editor
from harness.agent.environment.docker_environment import Environment
from harness.exceptions import EnvironmentEnded, InfraError
from harness.agent.model.query import Model
from harness.agent.outcome import collect_patch
from harness.agent.prompts import get_prompt_variables, render
from harness.agent.recap import summarize_run
from harness.agent.tools.calls import ToolBox, load_tools
from harness.agent.trajectory import Trajectory, now


ENDED_BY_AGENT = (ex.ENV_BROKEN, ex.DISK_LIMIT)
PATCH_RESERVE = 30.0
"""Seconds of the run's wall time (at most a tenth of it) that the agent loop leaves for collecting the patch."""


def make_prediction(row: dict, model_name: str, patch: str) -> dict:
    return {"instance_id": row["instance_id"], "model_name_or_path": model_name, "model_patch": patch}


def run_instance(row: dict, config: AgentConfig, traj_path: Path, model_name: str,
                 extra_variables: dict | None = None, header: dict | None = None,
                 limiter=None, on_cost=None, on_call=None, stop=None) -> tuple[dict, dict]:
    """Run one agent on one row. Returns (prediction, trajectory info).

    `on_call` gets every model call's ledger events; `stop` (a threading.Event) set by the caller ends the run
    `interrupted` within a second, whatever the provider or the container does. No exception escapes but
    KeyboardInterrupt: a bug ends the run `harness_error` with its traceback in the trajectory."""
    config = fit_config_to_row(config, row)
    variables = {**get_prompt_variables(row, config.container.workdir), **(extra_variables or {})}
    traj = Trajectory(traj_path, {"instance_id": row["instance_id"], "model_name_or_path": model_name,
                                  **(header or {}), "config": config.model_dump()})
    traj.save()  # on disk from the start: a run waiting on its first model call is seen as under way
    try:
        model = Model(config.model, limiter, on_call=on_call, stop=stop)
        system = render(config.system_template, variables, config.prompts_dir)
        task = render(config.instance_template, variables, config.prompts_dir)
        patch_info = run_in_container(row, config, model, system, task, traj, on_cost)
    except KeyboardInterrupt:
        traj.save(exit_status=ex.INTERRUPTED, finished_at=now())
        raise
    except Exception as error:  # noqa: BLE001 - a bug of the harness ends this run only
        if ex.is_storage_error(error) or isinstance(error, ex.PatchmixError):
            raise  # a full or read-only disk, or a bad config (e.g. no price): for the user, not this run
        traj.save(exit_status=ex.HARNESS_ERROR, exit_detail=traceback.format_exc(), finished_at=now())
        return make_prediction(row, model_name, ""), traj.data["info"]
    if stop is not None and stop.is_set() and traj.data["info"].get("exit_status") == ex.INFRA_ERROR:
        traj.save(exit_status=ex.INTERRUPTED)  # its container was removed because the pipeline was stopping
    traj.save(**patch_info, finished_at=now())
    return make_prediction(row, model_name, patch_info["patch"]), traj.data["info"]


def get_wall_deadline(limit: float, started: float) -> tuple[float | None, float]:
    """The end of the run's wall time, and the seconds of it kept for collecting the patch after the loop."""
    if limit <= 0:
        return None, 0.0
    return started + limit, min(PATCH_RESERVE, 0.1 * limit)


def run_in_container(row, config: AgentConfig, model: Model, system: str, task: str, traj: Trajectory,
                     on_cost) -> dict:
    labels = {"patchmix.instance": row["instance_id"]}
    patch_info = None
    started = time.monotonic()  # the run's wall time starts with its container: preparation included
    deadline, reserve = get_wall_deadline(config.limits.wall_time_limit, started)
    try:
        env = Environment(row["image"], config.container, labels=labels,
                          base_commit=row["base_commit"])
        with env.start(background=True):  # once its image proved sound, it gets ready during the first model call
            toolbox = ToolBox(env, Editor(env, config.container.max_output_chars), config.container.command_timeout)
            agent = Agent(model, toolbox, load_tools(), config.limits, on_step=traj.save, on_cost=on_cost,
                          keep_observations=config.keep_observations, on_attempt=traj.record_attempt,
                          compaction=make_compaction(config.compaction_template, config.prompts_dir,
                                                     model.context_window, config.model.compaction),
                          started=started, reserve=reserve)
            state = agent.run(system, task)
            traj.save(state, **summarize_run(agent, config.summary_template, config.prompts_dir))
            if state.exit_status in ENDED_BY_AGENT:  # the container is gone: no patch, and never redone
                return {"patch": "", "patch_label": None, "patch_dropped": []}
            env.wait_started()  # a start that failed is told as such, not as a patch that could not be collected
            patch_info = collect_patch(env, row, state.exit_status, state.steps, deadline)
            if "patch_error" in patch_info:  # never `submitted` with an empty patch: redone on resume
                traj.save(exit_status=ex.INFRA_ERROR, ended_before=state.exit_status,
                          exit_detail=f"the run ended {state.exit_status} but its patch could not be collected "
                                      f"({patch_info['patch_error']}); it is redone on resume")
    except EnvironmentEnded as error:  # the agent broke what the patch is measured with (.git, the container's tools)
        traj.save(exit_status=error.exit_status, exit_detail=str(error))
        return {"patch": "", "patch_label": None, "patch_dropped": []}
    except InfraError as error:
        if patch_info is not None:  # only the removal failed: the patch is collected and the run stands
            return {**patch_info, "container_error": str(error)}
        traj.save(exit_status=ex.INFRA_ERROR, exit_detail=f"the container failed: {error}")
        return {"patch": "", "patch_label": None, "patch_dropped": [], "patch_error": str(error)}
    return patch_info
