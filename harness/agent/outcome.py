"""What a finished run leaves besides its trajectory: the patch (labelled, with what was dropped), the python
the agent's shell ran, and the flags on its commands.

A patch that holds a secret's value is refused: the run keeps no patch and says which variable's value was in
it. It is never masked, since a rewritten patch is not what the model wrote.
"""

from __future__ import annotations

import logging

from unidiff import PatchSet

from harness import exceptions as ex
from harness.agent.flags import flag_steps
from harness.exceptions import InfraError
from harness.secrets import find_secret

logger = logging.getLogger("patchmix")


def get_test_files(row: dict) -> set[str]:
    """Paths the task's test patch touches: never part of a model's patch."""
    paths = set()
    for patched in PatchSet(row.get("test_patch") or ""):
        paths.update(p.split("/", 1)[1] for p in (patched.source_file, patched.target_file) if "/" in p)
    paths.discard("dev/null")
    return paths


def collect_patch(env, row: dict, exit_status: str, steps: list[dict] | None = None) -> dict:
    """The patch of every edit since the run started, labelled `complete` when submitted and
    `breaker:<status>` otherwise, with the shell's python and the command flags of the run."""
    try:
        result = env.make_patch(get_test_files(row))  # waits for a start still under way
    except InfraError as error:
        extra = {"environment": env.python_env, "flags": flag_steps(steps or [])}
        return {"patch": "", "patch_label": None, "patch_dropped": [], "patch_error": str(error), **extra}
    extra = {"environment": env.python_env, "flags": flag_steps(steps or [])}
    secret = find_secret(result.patch)
    if secret:
        message = (f"the patch was refused: it holds the value of ${secret}, a secret; no patch is kept for "
                   f"{row['instance_id']} (the model wrote the key into a file)")
        logger.error(message)
        return {"patch": "", "patch_label": None, "patch_dropped": result.dropped, "patch_refused": message, **extra}
    label = None
    if result.patch:
        label = "complete" if exit_status == ex.SUBMITTED else f"breaker:{exit_status}"
    return {"patch": result.patch, "patch_label": label, "patch_dropped": result.dropped, **extra}
