"""Which changed files are tests, decided from the task's test patch and test-file name patterns, never from a
folder's name alone: `django/test/`, `sympy/testing/` and `matplotlib/testing/` are library code.

A file is a test file when
- the task's test patch touches it (`test_file` in the patch's `dropped`), or
- it lies under a test folder of the task's own tests: a folder named test, tests or testing (`__tests__`,
  `spec`) above a file the test patch touches (django's `tests/`, sympy's `sympy/core/tests/`), or
- the patch creates it and its name follows a test runner's naming rule (pytest's `test_*.py` and `*_test.py`,
  Go's `*_test.go`, the JavaScript runners' `*.test.js`/`*.spec.ts`, RSpec's `*_spec.rb`, PHPUnit's and JUnit's
  `*Test.php`/`*Test.java`). An edit of an existing test-named file elsewhere is kept: gold patches update tests
  the task does not run (3 of the 100 Pro gold patches do), and the harness runs only the task's.
"""

from __future__ import annotations

import fnmatch
import posixpath

TEST_DIR_NAMES = {"test", "tests", "testing", "__tests__", "spec"}
TEST_NAME_PATTERNS = ("test_*.py", "*_test.py", "*_test.go", "*.test.[jt]s", "*.test.[jt]sx", "*.test.mjs",
                      "*.test.cjs", "*.spec.[jt]s", "*.spec.[jt]sx", "*_spec.rb", "*Test.php", "*Test.java",
                      "*Tests.java", "*Test.kt")


def is_test_name(path: str) -> bool:
    name = posixpath.basename(path)
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in TEST_NAME_PATTERNS)


def list_test_dirs(test_files: set[str]) -> set[str]:
    """The test folders of the task's tests: each folder named like one above a file of the test patch."""
    dirs = set()
    for path in test_files:
        parts = path.split("/")[:-1]
        dirs.update("/".join(parts[:i + 1]) for i, part in enumerate(parts) if part in TEST_DIR_NAMES)
    return dirs


def is_test_path(path: str, test_dirs: set[str], created: bool = True) -> bool:
    """A file under one of the task's test folders, or a new file named as a test."""
    return (created and is_test_name(path)) or any(path.startswith(folder + "/") for folder in test_dirs)
