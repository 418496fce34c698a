"""The repository files a row's eval script executes, read from the script with a shell lexer (`shlex`).

The eval script is the harness's, never the agent's: it resets the test files, applies the test patch and runs the
test command. A patch that edits a file this command executes (sympy's `bin/test`, django's `tests/runtests.py`,
a `./gradlew`), the `tox.ini` whose `commands=` tox runs, the `setup.py` that `pip install -e .` or `setup.py
develop` runs, or the Makefile of a `make` step, decides the verdict without fixing anything; such files are
dropped from the patch like test infrastructure, and flagged by the integrity scan.
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
    """The command under `VAR=value` prefixes and wrappers such as `timeout 60` or `env`."""
    words = list(command)
    while words and ("=" in words[0] and not words[0].startswith("=") or words[0] in WRAPPERS
                     or words[0].startswith("-") or re.fullmatch(r"\d+[smh]?", words[0])):
        words.pop(0)
    return words


def find_command_files(words: list[str]) -> list[str]:
    if not words:
        return []
    name, args = words[0], [w for w in words[1:] if not w.startswith("-")]
    if "/" in name and not name.startswith(("/usr/", "/bin/", "/opt/", "/root/")):
        return [name]
    if PYTHON.match(name):
        return find_python_files(words[1:])
    if name in SHELLS and args:
        return [args[0]]
    if name in INSTALLERS:
        return find_install_files(words[1:])
    return {"tox": ["tox.ini", "setup.py"], "make": ["Makefile", "makefile", "GNUmakefile"]}.get(name, [])


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
