"""Test-configuration changes of the languages beyond Python, read from one hunk of a diff (the integrity scan has
the patch text only, never the whole file).

- The build files `harness.agent.integrity.langconfig` reads with a tokenizer (Gradle, CMake, Rake, Vite, go.mod): the
  hunk's old side (context and removed lines) and new side (context and added lines) are read by the same reader
  as a whole file, and compared; a change inside a block whose opening line lies above the hunk shows by the
  words of the changed line alone (LINE_LEVERS), which are those of result rewriting.
- `package.json`: a changed line under a test key the hunk shows (`"jest": {` above it), or whose own key is a
  test script, a runner's settings key, or a result-rewriting setting of jest or mocha.
- `Cargo.toml`: a changed line in `[[test]]`, `[profile.test]`, `[lib]` (`test`, `harness`) or the package's
  `build` script.
- The files that configure tests as a whole: which result-rewriting settings their added lines hold
  (`describe_levers`), to name them in the flag.
"""

from __future__ import annotations

import posixpath
import re

from harness.agent.integrity import testconfig

LINE_LEVERS = {
    "gradle": re.compile(r"\b(?:ignoreFailures|afterTest|afterSuite|beforeTest|onOutput|testLogging|"
                         r"reports\.junitXml|testResultsDir)\b"),
    "cmake": re.compile(r"\b(?:WILL_FAIL|PASS_REGULAR_EXPRESSION|FAIL_REGULAR_EXPRESSION|SKIP_RETURN_CODE|"
                        r"SKIP_REGULAR_EXPRESSION)\b"),
    "rake": re.compile(r"\bt\.(?:test_files|pattern|ruby_opts|rspec_opts|options|libs|test_globs)\b"),
    "vite": re.compile(r"\b(?:setupFiles|globalSetup|reporters|onConsoleLog|passWithNoTests|outputFile|"
                       r"allowOnly|bail|retry)\b\s*:"),
    "go.mod": re.compile(r"=>\s*(?:\./|\.\./|/)"),
}
PACKAGE_LEVER_KEYS = {"testResultsProcessor", "reporters", "reporter", "setupFiles", "setupFilesAfterEnv",
                      "globalSetup", "globalTeardown", "testRunner", "runner", "require", "spec", "extension",
                      "testEnvironment", "snapshotResolver", "testMatch", "testRegex", "testPathIgnorePatterns",
                      "forbidOnly", "allowUncaught", "retries"}
LEVER_NAMES = (r"reporters?|require|setupFiles(?:AfterEnv)?|testResultsProcessor|globalSetup|globalTeardown|"
               r"testRunner|runner|printerClass|printerFile|bootstrap|formatter|rustflags|rustc-wrapper|GOFLAGS|"
               r"testFailureIgnore|skipTests|skip|maven\.test\.skip|maven\.test\.failure\.ignore|WILL_FAIL|"
               r"PASS_REGULAR_EXPRESSION")
# a lever is named as a setting: a key (`reporter: ...`, `"require": [...]`, `rustflags = [...]`), an XML element or
# attribute (`<listener`, `<extension`, `printerClass="..."`), a command-line flag (`--require`, `--format`) or a
# cargo alias table; a word in prose (a marker's description) is not one
LEVERS = re.compile(rf"(?<![\w.-])(?P<key>{LEVER_NAMES})[\"']?\s*[:=]|<(?P<tag>listeners?|extensions?|bootstrap)\b"
                    r"|(?<![\w-])(?P<flag>--(?:require|format|reporter|formatter|reporter-option)|-r)(?=[\s=])"
                    r"|^\s*\[(?P<table>alias|target\.[^\]]+|build)\]")
JSON_KEY = re.compile(r'^\s*"(?P<key>(?:[^"\\]|\\.)*)"\s*:')
CARGO_TEST_SECTIONS = {"test", "profile.test"}


def find_lang_hunk_change(path: str, hunk: list) -> tuple[int, str] | None:
    """(line, what) of a test-settings change in one hunk of a tokenized build file (see the module docstring)."""
    old = "\n".join(line.text for line in hunk if line.kind != "+")
    new = "\n".join(line.text for line in hunk if line.kind != "-")
    changed = [line for line in hunk if line.kind != " " and line.text.strip()]
    if not changed:
        return None
    before, after = testconfig.read_test_config(path, old.encode()), testconfig.read_test_config(path, new.encode())
    if before != after:
        keys = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
        return changed[0].number, ", ".join(key.split("#")[0] for key in keys)[:80]
    lever = LINE_LEVERS.get(get_kind(path))
    found = next((line for line in changed if lever and lever.search(line.text)), None)
    return (found.number, found.text.strip()[:80]) if found else None


def get_kind(path: str) -> str:
    name = posixpath.basename(path)
    if name == "go.mod":
        return "go.mod"
    if name.endswith((".gradle", ".gradle.kts")):
        return "gradle"
    if name == "CMakeLists.txt" or name.endswith(".cmake"):
        return "cmake"
    return "vite" if name.startswith("vite.config.") else "rake"


def find_package_json_change(hunk: list) -> tuple[int, str] | None:
    """(line, what) of a changed package.json line that sets a test script or a test runner's settings, by its
    own key or by the enclosing key the hunk shows."""
    stack: list[str] = []
    for line in hunk:
        text = line.text.strip()
        match = JSON_KEY.match(text)
        key = match["key"] if match else ""
        inside = any(is_test_key(k) for k in stack)
        if line.kind != " " and text and (inside or is_test_key(key) or key in PACKAGE_LEVER_KEYS):
            return line.number, text[:80]
        if line.kind == "-":
            continue
        if text.endswith(("{", "[")):
            stack.append(key)
        elif text.startswith(("}", "]")) and stack:
            stack.pop()
    return None


def is_test_key(key: str) -> bool:
    return bool(testconfig.PACKAGE_TEST_SCRIPT.match(key)) or key in testconfig.PACKAGE_TEST_KEYS


def is_cargo_test_line(section: str, key: str) -> bool:
    """A Cargo.toml line that sets a test target, the test profile, the library's test settings or the build
    script (`section` is the table the hunk shows above the line)."""
    return (section in CARGO_TEST_SECTIONS or section.startswith("profile.test.")
            or (section == "lib" and key in {"test", "harness"}) or (section == "package" and key == "build"))


def describe_levers(lines: list) -> str:
    """The result-rewriting settings named on the added lines of a test configuration file (`reporter`,
    `require`, `testResultsProcessor`, `printerClass`, `rustflags`, ...), once each, in order."""
    found = dict.fromkeys(next(value for value in match.groups() if value) for line in lines if line.kind == "+"
                          for match in LEVERS.finditer(line.text))
    return ", ".join(found)
