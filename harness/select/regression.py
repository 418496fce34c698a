"""Execution signals: the repository's own existing tests of the changed modules, run in the instance's container
on the original code and on each candidate. A candidate that breaks a test that passed before is dropped, unless
most candidates break it too (harness.select.breaks: then the issue asks for the change).
With a reproduction script (harness.select.reproduce), the same container runs it on the original code: it is
kept only if it fails there, and then each candidate is marked by whether the script passes with it applied.

The test runner is the repository's own (`datasets/test_commands.yaml`: pytest unless listed, sympy's `bin/test`).
The tests are found from the source tree (tracked test files named after a changed module, else every test
file), never from the instance's answer key: only the row's `image`, `base_commit` and the candidates' patches
are used. Every command sent to the container is kept in `commands`, so what reached it can be checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from harness import diffs
from harness.agent.config import ContainerConfig
from harness.agent.environment.docker_environment import Environment
from harness.select.breaks import find_common_breaks
from harness.select.testcommands import get_test_command, read_passed

MAX_TEST_FILES = 20
TEST_TIMEOUT = 600.0
MAX_TEST_OUTPUT = 5_000_000  # characters of a test run read whole: a cut in the middle would hide passing tests
SCRIPT_TIMEOUT = 120.0
SCRIPT_PATH = ".patchmix_reproduce.py"  # in the work tree, so that the repository imports as from the agent's shell


@dataclass
class RegressionResult:
    """Per candidate: whether its patch applies, and the tests that passed on the original code but not on it."""

    tests: list[str] = field(default_factory=list)  # test files run
    passed_before: list[str] = field(default_factory=list)
    applies: dict[str, bool] = field(default_factory=dict)
    broken: dict[str, list[str]] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)  # every command and stdin sent to the container
    reproduction_kept: bool | None = None  # None: no script; False: it passed on the original code (or errored)
    reproduces: dict[str, bool] = field(default_factory=dict)  # the kept script passes with the candidate

    def is_dropped(self, system: str) -> bool:
        """It does not apply, or it breaks a test that most candidates do not (harness.select.breaks)."""
        common = find_common_breaks([self.broken.get(s, []) for s, applied in self.applies.items() if applied])
        return not self.applies.get(system, False) or bool(set(self.broken.get(system, [])) - common)


class RegressionCheck:
    """One container of the instance's image, the tests found once, then each candidate in turn."""

    def __init__(self, row: dict, config: ContainerConfig | None = None, client=None):
        config = (config or ContainerConfig()).model_copy(update={"max_output_chars": MAX_TEST_OUTPUT})
        self.env = Environment(row["image"], config, {"patchmix.role": "select"}, client,
                               base_commit=row.get("base_commit"))
        self.result = RegressionResult()
        self.test_command = get_test_command(row.get("repo"))
        self.untracked_before: set[str] = set()

    def run(self, argv: list[str], stdin: str | None = None, timeout: float = 120) -> tuple[int, str]:
        self.result.commands.append(" ".join(argv) + (f"\n<stdin>\n{stdin}" if stdin else ""))
        code, output = self.env.run(argv, stdin.encode() if stdin is not None else None, timeout)
        return code, output.decode("utf-8", "replace")

    def run_tests(self) -> set[str]:
        command = f"{self.test_command.command} " + " ".join(self.result.tests)
        self.result.commands.append(command)
        output = self.env.execute(command, timeout=TEST_TIMEOUT).output
        return read_passed(self.test_command, output)

    def find_tests(self, patches: list[str]) -> list[str]:
        """Tracked test files named after a changed module (test_core.py for core.py), else all test files."""
        _, listing = self.run(["git", "-C", self.env.config.workdir, "ls-files", "*.py"])
        tests = [path for path in listing.split() if diffs.is_test_path(path)
                 and PurePosixPath(path).name.startswith("test")]
        names = get_module_names(patches)
        named = [path for path in tests if any(name in PurePosixPath(path).stem for name in names)]
        return sorted(named or tests)[:MAX_TEST_FILES]

    def run_script(self) -> bool:
        """Whether the reproduction script passes (exit status 0) on the work tree as it is."""
        command = f"timeout {SCRIPT_TIMEOUT:.0f} python {SCRIPT_PATH}"
        self.result.commands.append(command)
        return self.env.execute(command, timeout=SCRIPT_TIMEOUT + 10).exit_code == 0

    def check(self, patches: dict[str, str], script: str = "") -> RegressionResult:
        """Run the tests (and the script) on the original code, then on each candidate (applied, run, reverted)."""
        with self.env:
            self.result.tests = self.find_tests(list(patches.values()))
            before = self.run_tests() if self.result.tests else set()
            self.result.passed_before = sorted(before)
            if script:
                path = f"{self.env.config.workdir}/{SCRIPT_PATH}"
                written, _ = self.run(["sh", "-c", f"cat > {path}"], script)
                self.result.reproduction_kept = written == 0 and not self.run_script()
            self.untracked_before = self.list_untracked()
            for system, patch in patches.items():
                self.check_one(system, patch, before)
        return self.result

    def apply(self, patch: str) -> bool:
        """Apply as the official harness does: `git apply`, else `patch --fuzz=5` (a patch whose context moved a
        little still applies there, and resolves)."""
        workdir = self.env.config.workdir
        code, _ = self.run(["git", "-C", workdir, "apply", "--whitespace=nowarn", "-"], patch)
        if code != 0:
            code, _ = self.run(["patch", "--batch", "--fuzz=5", "-p1", "-d", workdir, "-i", "/dev/stdin"], patch)
        return code == 0

    def list_untracked(self) -> set[str]:
        _, listing = self.run(["git", "-C", self.env.config.workdir, "ls-files", "-z", "--others",
                               "--exclude-standard"])
        return set(filter(None, listing.split("\0")))

    def revert(self, system: str) -> None:
        """The work tree back to the original code: tracked files restored, and the files that were not there
        before the candidate (the patch's, or a half-applied patch's leftovers) removed."""
        workdir = self.env.config.workdir
        code, output = self.run(["git", "-C", workdir, "checkout", "-q", "--", "."])
        added = sorted(self.list_untracked() - self.untracked_before)
        if code == 0 and added:
            code, output = self.run(["xargs", "-0", "rm", "-rf", "--"], "".join(f"{workdir}/{p}\0" for p in added))
        if code != 0:
            raise RuntimeError(f"cannot revert {system}'s patch in {self.env.name}: {output.strip()}")

    def check_one(self, system: str, patch: str, before: set[str]) -> None:
        self.result.applies[system] = self.apply(patch)
        if not self.result.applies[system]:
            self.revert(system)  # a patch that failed half-way may have left files behind
            return
        after = self.run_tests() if self.result.tests else set()
        self.result.broken[system] = sorted(before - after)
        if self.result.reproduction_kept:
            self.result.reproduces[system] = self.run_script()
        self.revert(system)


def get_module_names(patches: list[str]) -> set[str]:
    """The names the changed modules' test files carry: a module's stem (`core` for core.py), or its package's name
    for a package's `__init__.py` (`autodoc` for sphinx/ext/autodoc/__init__.py, tested in test_ext_autodoc.py)."""
    names = set()
    for patch in patches:
        for change in diffs.source_changes(patch):
            path = PurePosixPath(change.path)
            names.add(path.parent.name if path.stem == "__init__" else path.stem)
    return names - {""}


def check_regressions(row: dict, patches: dict[str, str], config: ContainerConfig | None = None,
                      client=None, script: str = "") -> RegressionResult:
    """The regression signal of each candidate patch (system -> patch) of one instance, and the reproduction
    signal when a `script` is given."""
    return RegressionCheck(row, config, client).check(patches, script)
