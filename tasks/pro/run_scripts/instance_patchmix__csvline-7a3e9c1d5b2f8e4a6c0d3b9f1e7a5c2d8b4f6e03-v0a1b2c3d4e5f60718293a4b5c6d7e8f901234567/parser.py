"""
Test Results Parser (node --test, TAP)

The run script prints `# FILE: <path>` before each test file's TAP output; a test is named
`<path> | <test title>`.

Input:
    - stdout_file: Path to the file containing standard output from test execution
    - stderr_file: Path to the file containing standard error from test execution

Output:
    - JSON file containing parsed test results with structure:
      {"tests": [{"name": "test/x.test.js | title", "status": "PASSED|FAILED|SKIPPED|ERROR"}, ...]}
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


FILE_LINE = re.compile(r"^# FILE: (\S+)$")
TEST_LINE = re.compile(r"^(not ok|ok) \d+ - (.*?)(?:\s+#\s+(SKIP|TODO)\b.*)?$")


def parse_test_output(stdout_content: str, stderr_content: str) -> List[TestResult]:
    results = []
    current_file = ""
    for line in stdout_content.splitlines():
        line = "".join(char for char in line if char.isprintable()).rstrip()
        file_match = FILE_LINE.match(line)
        if file_match:
            current_file = file_match.group(1)
            continue
        match = TEST_LINE.match(line)  # top-level tests only: subtests are indented
        if not match or not current_file:
            continue
        verdict, title, directive = match.groups()
        if directive:
            status = TestStatus.SKIPPED
        elif verdict == "ok":
            status = TestStatus.PASSED
        else:
            status = TestStatus.FAILED
        results.append(TestResult(name=f"{current_file} | {title}", status=status))
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
