"""Which changed files are tests, decided from the task's test patch and test-file name patterns, never from a
folder's name alone: `django/test/`, `sympy/testing/` and `matplotlib/testing/` are library code.

A file is a test file when
- the task's test patch touches it (`test_file` in the patch's `dropped`), or
- it lies under a test folder of the task's own tests: a folder named test, tests or testing (`__tests__`,
  `spec`) above a file the test patch touches (django's `tests/`, sympy's `sympy/core/tests/`), or
- the patch creates it and its name follows a test runner's naming rule (pytest's `test_*.py` and `*_test.py`,
  Go's `*_test.go`, the JavaScript runners' `*.test.js`/`*.spec.ts`, RSpec's `*_spec.rb`, minitest's
  `*_test.rb`, PHPUnit's and JUnit's `*Test.php`/`*Test.java`, Kotlin's and Groovy's `*Test.kt`/`*Spec.groovy`,
  gtest's and other C/C++ `*_test.cc`/`*_unittest.cpp`), or it lies where a build tool keeps tests only: a
  `__tests__` folder (jest), Maven's and Gradle's `src/test/`, a Rust crate's `tests/` folder (integration tests;
  a `tests` folder under `src/` is a module of the library, `#[cfg(test)]` code stays in its source file), Go's
  `testdata/`. An edit of an existing test-named file elsewhere is kept: gold patches update tests the task does
  not run (3 of the 100 Pro gold patches do), and the harness runs only the task's. Library code named like
  tests is never matched: Go's `testing/` helper packages, `src/testing/` of a Rust crate, a `test-utils` crate.
"""

from __future__ import annotations

import fnmatch
import posixpath

TEST_DIR_NAMES = {"test", "tests", "testing", "__tests__", "spec"}
TEST_NAME_PATTERNS = ("test_*.py", "*_test.py", "*_test.go", "*.test.[jt]s", "*.test.[jt]sx", "*.test.[mc][jt]s",
                      "*.spec.[jt]s", "*.spec.[jt]sx", "*.spec.[mc][jt]s", "*_spec.rb", "*_test.rb", "*Test.php",
                      "*Test.java", "*Tests.java", "*Test.kt", "*Tests.kt", "*Spec.groovy", "*Test.groovy",
                      "*_test.c", "*_test.cc", "*_test.cpp", "*_unittest.cc", "*_unittest.cpp")
TEST_ONLY_DIRS = {"__tests__"}


def is_test_name(path: str) -> bool:
    """Named as a test, or placed where a build tool keeps nothing but tests (see the module docstring)."""
    name, parts = posixpath.basename(path), path.split("/")[:-1]
    if any(fnmatch.fnmatchcase(name, pattern) for pattern in TEST_NAME_PATTERNS) or TEST_ONLY_DIRS & set(parts):
        return True
    if any(parts[i:i + 2] == ["src", "test"] for i in range(len(parts))):
        return True
    return name.endswith(".rs") and "tests" in parts and "src" not in parts[:parts.index("tests")]


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
