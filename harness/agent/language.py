"""Which rows are Python repositories: the start-up check of the agent's python (`harness.agent.prepare`) only
means something there. A Go, Rust or JavaScript repository is never held to it, whatever python its image has.

The row decides, with no container: SWE-bench Pro's `repo_language`; else the swebench 5.x `log_parser`, Python
when it is one of swebench's Python parsers; else (the classic SWE-bench columns, which are all Python) Python.
"""

from __future__ import annotations

from harness.agent.config import ContainerConfig

PYTHON_LOG_PARSERS = frozenset({
    "parse_log_pytest", "parse_log_pytest_options", "parse_log_pytest_v2", "parse_log_django", "parse_log_seaborn",
    "parse_log_sympy", "parse_log_matplotlib", "parse_log_astroid", "parse_log_flask", "parse_log_marshmallow",
    "parse_log_pvlib", "parse_log_pyvista", "parse_log_sqlfluff", "parse_log_xarray", "parse_log_pydicom",
    "parse_log_requests", "parse_log_pylint", "parse_log_astropy", "parse_log_scikit", "parse_log_sphinx",
})
"""The parsers of swebench's `log_parsers.python` (swebench 5.0.2); a test compares them with swebench's."""


def is_python_row(row: dict) -> bool:
    """Whether the row's repository is a Python one (see the module's note for how the row tells)."""
    language = row.get("repo_language")
    if language:
        return str(language).strip().lower() == "python"
    parser = row.get("log_parser")
    if parser:
        return parser in PYTHON_LOG_PARSERS
    return True


def get_container_config(row: dict, config: ContainerConfig) -> ContainerConfig:
    """The container settings for this row: the python check off for a repository in another language."""
    if config.check_python and not is_python_row(row):
        return config.model_copy(update={"check_python": False})
    return config
