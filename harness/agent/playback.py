"""Replay a recorded trajectory without a model: its actions, in order, in a fresh container of the instance's
image, through patchmix's own container, tools and editor; then the patch, measured as a run measures it.

Each action runs as its scaffold ran it: a patchmix tool call goes to the same tool (`bash` in the persistent
shell, `str_replace_editor`, `submit` ends the replay); a mini-swe-agent command runs in a fresh login shell
started at the working directory (`cd WORKDIR && bash -lc COMMAND`, as its `docker exec -w WORKDIR ... bash -lc`
did), so nothing but the files carries over from one command to the next.

The patch of a patchmix recording is collected as the run collected it (`collect_patch`: the task's test files
and test infrastructure dropped); that of a mini-swe-agent recording is the whole difference from the start, test
files included, as its `git add -A && git diff --cached` submission was.
"""

from __future__ import annotations

import shlex
import time

from harness.agent.config import ContainerConfig
from harness.agent.environment.docker_environment import Environment
from harness.agent.tools.editor import Editor
from harness.agent.outcome import collect_patch
from harness.agent.recordings import MINI, Action, Recording
from harness.agent.tools.calls import BadToolCall, ToolBox, load_tools, parse_call

MINI_TIMEOUT = 60.0
"""mini-swe-agent's command timeout in its SWE-bench config."""


def replay_recording(recording: Recording, row: dict, container: ContainerConfig | None = None) -> dict:
    """Runs the recording's actions on `row`'s image; returns the replayed patch and what each action did."""
    config = make_container_config(recording, container or ContainerConfig())
    started = time.monotonic()
    with Environment(row["image"], config, labels={"patchmix.instance": row["instance_id"],
                                                   "patchmix.replay": "1"}, base_commit=row["base_commit"]) as env:
        toolbox = ToolBox(env, Editor(env, config.max_output_chars), config.command_timeout)
        outcomes = run_actions(recording, toolbox, config.workdir)
        patch = make_replay_patch(env, row, recording)
    return {"instance_id": recording.instance_id, "scaffold": recording.scaffold, "actions": len(recording.actions),
            "outcomes": outcomes, "seconds": round(time.monotonic() - started, 1), **patch}


def make_container_config(recording: Recording, base: ContainerConfig) -> ContainerConfig:
    """The recording's own command timeout; a mini-swe-agent replay keeps every file in its patch."""
    timeout = recording.command_timeout or base.command_timeout
    keep = base.keep_test_infrastructure or recording.scaffold == MINI
    return base.model_copy(update={"command_timeout": timeout, "keep_test_infrastructure": keep,
                                   "check_python": False})


def run_actions(recording: Recording, toolbox: ToolBox, workdir: str) -> list[dict]:
    specs = load_tools()
    outcomes = []
    for action in recording.actions:
        outcome = run_action(action, recording.scaffold, toolbox, specs, workdir)
        outcomes.append(outcome)
        if outcome.get("submitted"):
            break
    return outcomes


def run_action(action: Action, scaffold: str, toolbox: ToolBox, specs: dict, workdir: str) -> dict:
    """One recorded action; a call its loop refused as malformed is not run (it ran nothing then either)."""
    if action.malformed:
        return {"tool": action.tool, "skipped": "malformed"}
    if scaffold == MINI:
        observation = toolbox.run("bash", {"command": make_fresh_shell_command(action.arguments["command"], workdir)})
    else:
        try:
            arguments = parse_call({"name": action.tool, "arguments": action.raw_arguments}, specs)
        except BadToolCall as error:
            return {"tool": action.tool, "skipped": f"bad call: {error}"}
        observation = toolbox.run(action.tool, arguments)
    return {"tool": action.tool, "timed_out": observation.timed_out, "submitted": observation.submitted,
            "output": observation.text[-2000:]}


def make_fresh_shell_command(command: str, workdir: str) -> str:
    """`command` in a new login shell at `workdir`, as mini-swe-agent runs each command."""
    return f"cd {shlex.quote(workdir)} && bash -lc {shlex.quote(command)}"


def make_replay_patch(env: Environment, row: dict, recording: Recording) -> dict:
    if recording.scaffold == MINI:
        result = env.make_patch()
        return {"patch": result.patch, "patch_dropped": result.dropped}
    info = collect_patch(env, row, recording.exit_status or "")
    return {"patch": info["patch"], "patch_dropped": info.get("patch_dropped", [])}
