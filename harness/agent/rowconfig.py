"""What a dataset row changes of an agent run's config: where its repository is, and whether its image's python
is the repository's (a row of another language has no python environment to check)."""

from __future__ import annotations

from harness.agent.config import AgentConfig

PYTHON = "python"


def fit_config_to_row(config: AgentConfig, row: dict) -> AgentConfig:
    """`config` with the row's `workdir` (SWE-bench Pro's repositories are at /app) in place of
    `container.workdir`, and `container.check_python` off for a row whose `repo_language` is not python."""
    changes = {}
    if row.get("workdir") and row["workdir"] != config.container.workdir:
        changes["workdir"] = row["workdir"]
    if row.get("repo_language") and str(row["repo_language"]).lower() != PYTHON and config.container.check_python:
        changes["check_python"] = False
    if not changes:
        return config
    return config.model_copy(update={"container": config.container.model_copy(update=changes)})
