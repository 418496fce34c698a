"""How to run a repository's own tests and read which passed, for the regression signal. The table is data, in
`datasets/test_commands.yaml`: a test command and a report format per repository, and a default (pytest).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import yaml

from harness.resources import get_bundled_dir

TABLE_FILE = get_bundled_dir("datasets") / "test_commands.yaml"
PYTEST_PASSED = re.compile(r"^PASSED (\S+)", re.M)
SYMPY_FILE = re.compile(r"^(\S+\.py)\[\d+\]")
SYMPY_PASSED = re.compile(r"^(test_\w+) ok\b")


@dataclass(frozen=True)
class TestCommand:
    command: str  # run at the repository's root, the test files appended
    report: str  # how its output lists passing tests: a key of REPORTS

    __test__ = False  # not a pytest test class


def read_passed_pytest(output: str) -> set[str]:
    return set(PYTEST_PASSED.findall(output))


def read_passed_sympy(output: str) -> set[str]:
    """`path.py[N]` opens a file's block; each `test_x ok` in it is `path.py::test_x`."""
    passed, current = set(), ""
    for line in output.splitlines():
        opened = SYMPY_FILE.match(line)
        if opened:
            current = opened.group(1)
            continue
        ok = SYMPY_PASSED.match(line)
        if ok:
            passed.add(f"{current}::{ok.group(1)}")
    return passed


REPORTS = {"pytest": read_passed_pytest, "sympy": read_passed_sympy}


@functools.cache
def read_table() -> dict:
    table = yaml.safe_load(TABLE_FILE.read_text(encoding="utf-8"))
    for name, entry in [("default", table["default"]), *table.get("repos", {}).items()]:
        if entry.get("report") not in REPORTS:
            raise ValueError(f"{TABLE_FILE}: {name} has report {entry.get('report')!r}; use one of "
                             f"{', '.join(REPORTS)}")
    return table


def get_test_command(repo: str | None) -> TestCommand:
    """The repository's test command (`owner/name`), else the default."""
    table = read_table()
    entry = table.get("repos", {}).get(repo or "", table["default"])
    return TestCommand(entry["command"], entry["report"])


def read_passed(test_command: TestCommand, output: str) -> set[str]:
    """The tests the command's output reports as passed."""
    return REPORTS[test_command.report](output)
