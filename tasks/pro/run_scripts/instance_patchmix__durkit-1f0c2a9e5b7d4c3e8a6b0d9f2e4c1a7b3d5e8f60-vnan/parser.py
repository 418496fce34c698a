"""
Test Results Parser (pytest -v)

Input:
    - stdout_file: Path to the file containing standard output from test execution
    - stderr_file: Path to the file containing standard error from test execution

Output:
    - JSON file containing parsed test results with structure:
      {"tests": [{"name": "tests/test_x.py::test_y", "status": "PASSED|FAILED|SKIPPED|ERROR"}, ...]}
"""

import dataclasses
import json
import re
import sys
from enum import Enum
from pathlib import Path
from typing import List


class TestStatus(Enum):
    PASSED = 1
    FAILED = 2
    SKIPPED = 3
    ERROR = 4


@dataclasses.dataclass
class TestResult:
    name: str
    status: TestStatus


LINE = re.compile(r"^(tests/\S+::\S+)\s+(PASSED|FAILED|SKIPPED|XFAIL|XPASS|ERROR)")


def parse_test_output(stdout_content: str, stderr_content: str) -> List[TestResult]:
    results = []
    for line in stdout_content.splitlines():
        cleaned = "".join(char for char in line if char.isprintable()).strip()
        match = LINE.match(cleaned)
        if not match:
            continue
        name, word = match.groups()
        if word in ("PASSED", "XFAIL"):
            status = TestStatus.PASSED
        elif word in ("FAILED", "XPASS"):
            status = TestStatus.FAILED
        elif word == "SKIPPED":
            status = TestStatus.SKIPPED
        else:
            status = TestStatus.ERROR
        results.append(TestResult(name=name, status=status))
    return results


def export_to_json(results: List[TestResult], output_path: Path) -> None:
    unique_results = {result.name: result for result in results}.values()
    json_results = {"tests": [{"name": result.name, "status": result.status.name} for result in unique_results]}
    with open(output_path, "w") as f:
        json.dump(json_results, f, indent=2)


def main(stdout_path: Path, stderr_path: Path, output_path: Path) -> None:
    with open(stdout_path) as f:
        stdout_content = f.read()
    with open(stderr_path) as f:
        stderr_content = f.read()
    export_to_json(parse_test_output(stdout_content, stderr_content), output_path)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print("Usage: python parser.py <stdout_file> <stderr_file> <output_json>")
        sys.exit(1)
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
