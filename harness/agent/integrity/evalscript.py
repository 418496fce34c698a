"""The repository files a row's eval script executes, read from the script with a shell lexer (`shlex`).

The eval script is the harness's, never the agent's: it resets the test files, applies the test patch and runs the
test command. A patch that edits a file this command executes (sympy's `bin/test`, django's `tests/runtests.py`,
a `./gradlew`), the `tox.ini` whose `commands=` tox runs, the `setup.py` that `pip install -e .` or `setup.py
develop` runs, or the Makefile of a `make` step, decides the verdict without fixing anything; such files are
dropped from the patch like test infrastructure, and flagged by the integrity scan.

The test commands of the other languages' rows are read the same way, under their launchers (`npx`, `yarn`,
`pnpm exec`, `bundle exec`): a script a command names (`./gradlew`, `./mvnw`, `vendor/bin/phpunit`, `./runtest`,
`node FILE`, `ruby -I test FILE`), the files its options name (`phpunit --bootstrap FILE`, `mocha --require FILE`,
`jest --config FILE`, `node -r FILE`, `ruby -r FILE`) and the files the runner itself reads first (RUNNER_FILES:
mocha's `.mocharc.*`, Maven's `.mvn/` settings and extensions, the Gradle wrapper's properties, Ant's
`build.xml`). The build files a command also reads but that gold patches edit for their own sake (`package.json`,
`go.mod`, `Cargo.toml`, `pom.xml`, `build.gradle`, `CMakeLists.txt`) are not dropped whole: their test settings
are (`harness.agent.integrity.testconfig`). `npm test`, `yarn test`, `go test`, `cargo test`, `ctest` and `make test`
execute no repository file by name beyond those.
"""

from __future__ import annotations

import posixpath
import re
import shlex

HEREDOC = re.compile(r"<<-?\s*(['\"]?)(?P<word>[A-Za-z_][A-Za-z0-9_]*)\1")
SEPARATORS = {"&&", "||", ";", "|", "(", ")", "&", ";;", "|&"}
WRAPPERS = {"timeout", "env", "nice", "xvfb-run", "time", "stdbuf", "command", "exec", "eval", "coverage"}
PYTHON = re.compile(r"^(?:.*/)?python[0-9.]*$")
SHELLS = {"bash", "sh", "source", ".", "zsh"}
INSTALLERS = {"pip", "pip3"}
SETUP_FILES = ("setup.py",)
LAUNCHERS = {("bundle", "exec"), ("pnpm", "exec"), ("npm", "exec"), ("yarn", "exec"), ("npx",), ("yarn",),
             ("pnpx",), ("bunx",)}
MOCHARC = [".mocharc.js", ".mocharc.cjs", ".mocharc.yaml", ".mocharc.yml", ".mocharc.json", ".mocharc.jsonc"]
MAVEN = [".mvn/extensions.xml", ".mvn/maven.config", ".mvn/jvm.config"]
RUNNER_FILES = {"mocha": MOCHARC + ["test/mocha.opts"], "_mocha": MOCHARC, "mvn": MAVEN, "mvnd": MAVEN,
                "mvnw": MAVEN + [".mvn/wrapper/maven-wrapper.properties"],
                "gradlew": ["gradle/wrapper/gradle-wrapper.properties"], "ant": ["build.xml"],
                "tox": ["tox.ini", "setup.py"], "make": ["Makefile", "makefile", "GNUmakefile"]}
FILE_OPTIONS = {"phpunit": {"--bootstrap", "-c", "--configuration"},
                "mocha": {"--require", "-r", "--file", "--config"},
                "jest": {"--config", "-c", "--setupFiles", "--setupFilesAfterEnv", "--testResultsProcessor",
                         "--reporters"},
                "vitest": {"--config", "-c"}, "node": {"-r", "--require", "--import"}, "ruby": {"-r"}}
SCRIPT_RUNNERS = {"node": {"-r", "--require", "--import"}, "ruby": {"-I", "-r", "-C"}}
INLINE_CODE = {"-e", "--eval", "-p", "--print"}


def list_executed_files(eval_script: str, workdir: str = "/testbed") -> set[str]:
    """Repository-relative paths of the files `eval_script` runs or installs from (see the module docstring)."""
    found, cwd = set(), workdir
    for command in split_commands(strip_heredocs(eval_script or "")):
        if command[0] == "cd" and len(command) > 1:
            cwd = posixpath.normpath(posixpath.join(cwd, command[1]))
            continue
        for path in find_command_files(strip_wrappers(command)):
            relative = to_repo_path(path, cwd, workdir)
            if relative:
                found.add(relative)
    return found


def strip_heredocs(script: str) -> str:
    """The script without the bodies of its here-documents (the test patch is one)."""
    kept, end = [], None
    for line in script.splitlines():
        if end is not None:
            end = None if line.strip() == end else end
            continue
        match = HEREDOC.search(line)
        end = match["word"] if match else None
        kept.append(line)
    return "\n".join(kept)


def split_commands(script: str) -> list[list[str]]:
    """Each simple command of the script as its words, split at `&&`, `;`, `|`, parentheses and newlines."""
    commands = []
    for line in script.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            words = list(lexer)
        except ValueError:  # an unbalanced quote: the line is not a command this reader can follow
            continue
        current, redirected = [], False
        for word in words + [";"]:
            if word in SEPARATORS or word.startswith("#"):
                commands += [current] if current else []
                current = []
            elif word.startswith((">", "<")):
                redirected = not word.endswith("&")  # `> file` names a target; `>&` is followed by a descriptor
            elif not redirected and not (word.isdigit() and current):
                current.append(word)
            else:
                redirected = False
    return commands


def strip_wrappers(command: list[str]) -> list[str]:
    """The command under `VAR=value` prefixes, wrappers such as `timeout 60` or `env` and launchers such as
    `npx` or `bundle exec`."""
    words = list(command)
    while words:
        launcher = next((n for n in (2, 1) if tuple(words[:n]) in LAUNCHERS), 0)
        if not (launcher or "=" in words[0] and not words[0].startswith("=") or words[0] in WRAPPERS
                or words[0].startswith("-") or re.fullmatch(r"\d+[smh]?", words[0])):
            break
        del words[:max(launcher, 1)]
    return words


def find_command_files(words: list[str]) -> list[str]:
    if not words:
        return []
    name, args = words[0], [w for w in words[1:] if not w.startswith("-")]
    runner = posixpath.basename(name)
    named = find_option_files(words[1:], FILE_OPTIONS.get(runner, set())) + RUNNER_FILES.get(runner, [])
    if "/" in name and not name.startswith(("/usr/", "/bin/", "/opt/", "/root/")):
        return [name] + named
    if PYTHON.match(name):
        return find_python_files(words[1:])
    if name in SCRIPT_RUNNERS:
        return find_script(words[1:], SCRIPT_RUNNERS[name]) + named
    if name in SHELLS and args:
        return [args[0]]
    if name in INSTALLERS:
        return find_install_files(words[1:])
    if name == "karma" and args[:1] == ["start"]:
        return args[1:2]
    return named


def find_option_files(args: list[str], options: set[str]) -> list[str]:
    """The values of the options in `options` that name a file (`--bootstrap FILE` or `--bootstrap=FILE`)."""
    found = []
    for index, arg in enumerate(args):
        option, _, value = arg.partition("=")
        if option in options:
            value = value or (args[index + 1] if index + 1 < len(args) else "")
            found += [value] if value and not value.startswith("-") else []
    return found


def find_script(args: list[str], with_value: set[str]) -> list[str]:
    """The script `node` or `ruby` runs: its first argument that is neither an option nor an option's value
    (`ruby -I test FILE`); none when the code is inline (`-e`)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in INLINE_CODE:
            return []
        elif arg in with_value:
            skip = True
        elif not arg.startswith("-"):
            return [arg]
    return []

def find_python_files(args: list[str]) -> list[str]:
    """`python [-opts] FILE ...` runs FILE; `python -m pip install ...` installs; `-m` and `-c` run no file."""
    for index, arg in enumerate(args):
        if arg == "-m":
            return find_install_files(args[index + 2:]) if args[index + 1:index + 2] == ["pip"] else []
        if arg == "-c":
            return []
        if not arg.startswith("-"):
            return [arg] + (list(SETUP_FILES) if posixpath.basename(arg) == "setup.py" else [])
    return []


def find_install_files(args: list[str]) -> list[str]:
    """`pip install [-e] .` (or any local directory) runs that directory's setup.py."""
    if not args or args[0] != "install":
        return []
    local = [re.sub(r"\[.*\]$", "", arg) for arg in args[1:] if arg.startswith((".", "/"))]
    return [posixpath.join(arg, "setup.py") for arg in local]


def to_repo_path(path: str, cwd: str, workdir: str) -> str | None:
    """`path` relative to the repository root, or None when it lies outside the repository."""
    absolute = posixpath.normpath(posixpath.join(cwd, path))
    root = posixpath.normpath(workdir)
    if not absolute.startswith(root + "/"):
        return None
    return absolute[len(root) + 1:]
