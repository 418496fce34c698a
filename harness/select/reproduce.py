"""Reproduction signal, first half: an agent writes a script that reproduces the issue, from the issue text alone.

The agent is the ordinary agent loop (harness.agent.attempt) with the `reproduce.j2` task: it reads the repository
in the instance's container, writes `reproduce_issue.py` and submits. Only that file is kept from its patch. The
row it is given holds the issue and where the image is, nothing of the answer key (no test patch, no test names,
no gold patch, no hints), so neither its prompts nor its container commands can carry them.

The second half, keeping the script only if it fails on the original code and then running it on each candidate,
is in harness.select.regression (one container for both execution signals).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from unidiff import PatchSet
from unidiff.errors import UnidiffParseError

from harness.agent.config import AgentConfig
from harness.agent.prompts import PROMPT_FIELDS
from harness.agent.attempt import run_instance
from harness.agent.trajectory import read_info
from harness.pipeline.rundir import is_finished_info

SCRIPT = "reproduce_issue.py"
TEMPLATE = "reproduce.j2"
PUBLIC_KEYS = (*PROMPT_FIELDS, "image", "base_commit", "workdir", "repo_language")


@dataclass
class Reproduction:
    """What the reproduction agent left: the script (empty when it wrote none), how its run ended, what it cost."""

    script: str
    exit_status: str | None
    cost: float


def make_public_row(row: dict) -> dict:
    """The row as the reproduction agent may see it: the issue, the repository and its image."""
    return {key: row[key] for key in PUBLIC_KEYS if key in row}


def extract_script(patch: str, path: str = SCRIPT) -> str:
    """The content of the new file `path` in `patch`; empty when the patch does not add it."""
    try:
        files = PatchSet(patch)
    except UnidiffParseError:
        return ""
    for patched in files:
        if patched.path == path and patched.is_added_file:
            return "".join(line.value for hunk in patched for line in hunk if line.is_added)
    return ""


def write_reproduction(row: dict, config: AgentConfig, traj_path: Path, model_name: str = "reproduce",
                       **hooks) -> Reproduction:
    """Run the reproduction agent on `row` with `config` (its model, limits and container); the trajectory goes
    to `traj_path`; `hooks` are run_instance's (limiter, on_cost, on_call, stop). A finished trajectory already
    at `traj_path` is read instead (a stage run again on resume pays nothing again; its cost then reads 0)."""
    if traj_path.is_file():
        info = read_info(traj_path)
        if is_finished_info(info):
            return Reproduction(extract_script(info.get("patch") or ""), info.get("exit_status"), 0.0)
    config = config.model_copy(update={"instance_template": TEMPLATE})
    prediction, info = run_instance(make_public_row(row), config, traj_path, model_name,
                                    extra_variables={"script": SCRIPT}, header={"role": "reproduce"}, **hooks)
    return Reproduction(extract_script(prediction["model_patch"]), info.get("exit_status"), info.get("cost") or 0.0)
