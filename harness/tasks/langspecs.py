"""The languages of the bundled tasks: per language, the toolchain image (Debian's packages on the Debian base),
the step that warms the build cache inside a task image, the test command of the eval script and the
swebench log parser that grades its output.

A task says its language in task.yaml (`language:`, python when absent). Only Debian's own packages are used, and
no task depends on anything from a language registry, so images build and tests run with no network.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath

from harness.exceptions import ConfigError

APT_INSTALL = ("RUN apt-get update && apt-get install -y --no-install-recommends {packages} git ca-certificates patch "
               "procps && rm -rf /var/lib/apt/lists/*")


@dataclass(frozen=True)
class Language:
    name: str
    image: str            # the toolchain image task images build on
    packages: str         # Debian packages of the toolchain ("" for python, whose image tasks.baseimages builds)
    env: str              # ENV lines of the toolchain image
    warm: str             # a RUN step in the task image, at /testbed, that fills the build caches ("" for none)
    log_parser: str       # the name in swebench's log parser registry
    names_carry_files: bool  # test names start with their file (`tests/test_x.py::test_y`), so they can be checked

    def make_test_command(self, test_files: list[str]) -> str:
        return TEST_COMMANDS[self.name](test_files)

    def make_toolchain_dockerfile(self, base: str) -> str:
        return "\n".join([f"FROM {base}", "ENV DEBIAN_FRONTEND=noninteractive",
                          APT_INSTALL.format(packages=self.packages), self.env, "STOPSIGNAL SIGKILL", ""])


def make_pytest_command(test_files: list[str]) -> str:
    return f"pytest -rA -p no:cacheprovider {join_quoted(test_files)}"


def make_gotest_command(test_files: list[str]) -> str:
    """`go test -v` on the packages (folders) of the test files, as SWE-bench Multilingual's Go rows run it."""
    packages = sorted({"./" + str(PurePosixPath(path).parent) for path in test_files})
    return f"(go test -v {join_quoted(packages)}) | cat"


def make_cargo_command(test_files: list[str]) -> str:
    """`cargo test` on the integration test targets the test files are (tests/<name>.rs runs as --test <name>)."""
    targets = " ".join(f"--test {shlex.quote(PurePosixPath(path).stem)}" for path in test_files)
    return f"(cargo test --offline {targets}) | cat"


def make_mocha_command(test_files: list[str]) -> str:
    return f"(mocha -R tap {join_quoted(test_files)}) | cat"


def join_quoted(items: list[str]) -> str:
    return " ".join(shlex.quote(item) for item in items)


TEST_COMMANDS = {"python": make_pytest_command, "go": make_gotest_command, "rust": make_cargo_command,
                 "javascript": make_mocha_command}

LANGUAGES = {
    "python": Language("python", "patchmix/python:bookworm", "", "", "", "parse_log_pytest", True),
    "go": Language("go", "patchmix/go:bookworm", "golang-go",
                   "ENV GOPROXY=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOCACHE=/root/.cache/go-build",
                   "go test -count=1 -run '^$' ./... > /dev/null", "parse_log_gotest", False),
    # the build goes outside the work tree, so that nothing it writes is ever part of a patch
    "rust": Language("rust", "patchmix/rust:bookworm", "rustc cargo",
                     "ENV CARGO_NET_OFFLINE=true CARGO_TARGET_DIR=/var/cache/cargo-target",
                     "cargo test --offline --no-run", "parse_log_cargo", False),
    "javascript": Language("javascript", "patchmix/node:bookworm", "nodejs mocha", "ENV NODE_ENV=test", "",
                           "parse_log_tap", False),
}


def get_language(name: str | None, where: str = "task.yaml") -> Language:
    """The language called `name` (python when None); a ConfigError naming the known ones otherwise."""
    language = LANGUAGES.get(name or "python")
    if language is None:
        raise ConfigError(f"{where}: unknown language {name!r}; use one of {', '.join(sorted(LANGUAGES))}")
    return language
