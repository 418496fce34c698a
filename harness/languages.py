"""A dataset row's language, from the row alone: its own `language` (SWE-bench Pro: `repo_language`), else the
language of the log parser that grades it (`parse_log_gotest`: Go). The table is data, in
`datasets/benchmarks.yaml` (`languages_by_parser`, `language_aliases`); the agent asks it whether to hold a row
to the Python start-up check, the run folder and the report to group results by language.
"""

from __future__ import annotations

import functools

import yaml

from harness.resources import get_bundled_dir

TABLE_FILE = get_bundled_dir("datasets") / "benchmarks.yaml"
UNKNOWN_LANGUAGE = "unknown"
PYTHON = "python"


@functools.cache
def read_dataset_table() -> dict:
    """The whole table of benchmarks, row forms and languages (`harness.pipeline.benchmarks` reads the rest)."""
    return yaml.safe_load(TABLE_FILE.read_text(encoding="utf-8"))


@functools.cache
def read_language_table() -> tuple[dict[str, str], dict[str, str]]:
    """(log parser -> language, alias -> language) from the table."""
    table = read_dataset_table()
    parsers = {parser: language for language, names in table["languages_by_parser"].items() for parser in names}
    return parsers, dict(table["language_aliases"])


def get_python_parsers() -> frozenset[str]:
    """The log parsers of Python repositories (swebench 5.0.2's `log_parsers.python`; a test compares them)."""
    return frozenset(parser for parser, language in read_language_table()[0].items() if language == PYTHON)


def get_row_language(row: dict) -> str:
    """The row's language for reports and checks: its own, else its log parser's, else `unknown`."""
    parsers, aliases = read_language_table()
    named = str(row.get("language") or row.get("repo_language") or "").strip().lower()
    if named:
        return aliases.get(named, named)
    return parsers.get(str(row.get("log_parser") or ""), UNKNOWN_LANGUAGE)


def is_python_row(row: dict) -> bool:
    """Whether the row's repository is a Python one. A row that tells no language (the classic SWE-bench
    columns, all Python) counts as Python."""
    return get_row_language(row) in (PYTHON, UNKNOWN_LANGUAGE)
