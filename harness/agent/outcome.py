"""What a finished run leaves besides its trajectory: the patch (labelled, with what was dropped), the python
the agent's shell ran, the flags on its commands and the integrity scan of its patch (`info.integrity`).

Files the row's eval script executes (its test command, `setup.py` when it installs; `harness.agent.integrity.evalscript`)
are dropped from the patch like test infrastructure, with the reason `eval_script` (kept, and flagged, under
`container.keep_test_infrastructure`). The eval script is the harness's: the agent never sees it.

A patch that holds a secret's value is refused: the run keeps no patch and says which variable's value was in
it. It is never masked, since a rewritten patch is not what the model wrote.
"""

from __future__ import annotations

import logging

from unidiff import PatchSet

from harness import exceptions as ex
from harness.agent.integrity.evalscript import list_executed_files
from harness.agent.integrity.commandflags import flag_steps
from harness.agent.integrity.scan import scan_patch
from harness.agent.environment.patch import split_sections
from harness.exceptions import EnvironmentEnded, InfraError
from harness.secrets import find_secret

logger = logging.getLogger("patchmix")


def get_test_files(row: dict) -> set[str]:
    """Paths the task's test patch touches: never part of a model's patch."""
    paths = set()
    for patched in PatchSet(row.get("test_patch") or ""):
        paths.update(p.split("/", 1)[1] for p in (patched.source_file, patched.target_file) if "/" in p)
    paths.discard("dev/null")
    return paths


def collect_patch(env, row: dict, exit_status: str, steps: list[dict] | None = None,
                  deadline: float | None = None) -> dict:
    """The patch of every edit since the run started, labelled `complete` when submitted and
    `breaker:<status>` otherwise, with the shell's python and the command flags of the run. An altered or
    deleted snapshot raises `EnvironmentEnded` (the run ends `env_broken`)."""
    try:
        result = env.make_patch(get_test_files(row), deadline)  # waits for a start still under way
    except EnvironmentEnded:
        raise
    except InfraError as error:
        extra = {"environment": env.python_env, "flags": flag_steps(steps or [])}
        return {"patch": "", "patch_label": None, "patch_dropped": [], "patch_error": str(error), **extra}
    extra = {"environment": env.python_env, "flags": flag_steps(steps or [])}
    if not env.config.keep_test_infrastructure:
        result = drop_executed_files(result, list_executed_files(row.get("eval_script") or "", env.config.workdir))
    extra["integrity"] = scan_safely(result.patch, row, env.config.workdir)
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


def scan_safely(patch: str, row: dict, workdir: str) -> list[dict]:
    """The integrity scan of the patch; a scan that fails flags the patch with why, and the run goes on."""
    try:
        return scan_patch(patch, row.get("eval_script") or "", get_test_files(row), workdir)
    except Exception as error:  # noqa: BLE001 - a bug of the scan must not cost the run its patch
        logger.error("the integrity scan of %s failed: %s", row.get("instance_id"), error)
        return [{"path": "", "line": 0, "reason": "scan_error",
                 "detail": f"the scan failed ({type(error).__name__}: {error}); read the patch yourself"}]


def drop_executed_files(result, executed: set[str]):
    """The patch without the files the eval script executes, each listed in `dropped` as `eval_script`."""
    kept, dropped = [], []
    for section in split_sections(result.patch.encode("utf-8", "surrogateescape")):
        path = read_section_path(section.decode("utf-8", "surrogateescape"))
        (dropped if path in executed else kept).append((path, section))
    if not dropped:
        return result
    patch = b"".join(section for _, section in kept).decode("utf-8", "surrogateescape")
    return type(result)(patch, result.dropped + [{"path": path, "reason": "eval_script"} for path, _ in dropped])


def read_section_path(section: str) -> str:
    """The path of one file's part of a git diff (`diff --git a/X b/X`; quoted paths as git writes them)."""
    header = section.split("\n", 1)[0][len("diff --git "):]
    if header.startswith('"'):
        return header.split('" "b/', 1)[-1].rstrip('"')
    return header[len("a/"):(len(header) - 1) // 2] if " b/" in header else header
