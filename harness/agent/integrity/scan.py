"""The integrity scan of a patch: what in it could forge a pass without fixing anything.

It works from the patch text alone (what the diff adds, with its context), so it applies the same way to a patch
patchmix collected and to one from anywhere else (a candidates pool, a predictions file). A flag does not change a
verdict: it goes with the patch into the run record (`info.integrity`), the report, the run browser and selection.
Each flag is `{"path", "line", "reason", "detail"}`; the reasons:

- those of `harness.agent.integrity.pyscan` for Python code (`runner_internals`, `result_rewrite`, `import_write`,
  `install_write`, `network`, `pytest_plugin`); `network` also for a fetch of a literal URL added to the source of
  the other languages (`harness.agent.integrity.netscan`);
- `test_config`: the patch changes how tests run or are collected (a test section of tox.ini, setup.cfg,
  pyproject.toml or pytest.ini, a pytest11 entry point, package.json test scripts and jest/mocha settings, Maven's
  test plugins and properties, Cargo.toml test targets, go.mod local replaces, Gradle test blocks, CTest commands,
  Rake test tasks, a Vite config's test section, a conftest.py, .pth, mocha, jest, vitest or karma config, .rspec,
  phpunit.xml, .cargo/config.toml, go.env, CTest files; `harness.agent.integrity.testconfig`, `harness.agent.integrity.configdiff`);
  the detail names the result-rewriting settings it adds (a reporter, `require`, `printerClass`, ...);
- `eval_script_file`: the patch edits a file the row's eval script executes (`harness.agent.integrity.evalscript`);
- `scan_error`: the scan itself failed on this patch (`harness.agent.outcome.scan_safely`); read it yourself.

The task's test files (those its test patch touches) are not scanned: the harness resets them. Other files named as
tests are: a test module the runner collects runs its module-level code with the tests. A new Python file at the
repository's root that nothing imports (an agent's reproduction script) is inert and not scanned.
"""

from __future__ import annotations

import posixpath
import re
import textwrap
from dataclasses import dataclass, field

from harness.agent.integrity import configdiff, langconfig, netscan, pyscan, testconfig
from harness.agent.integrity.evalscript import list_executed_files

RUNNER_PACKAGES = {"_pytest", "pytest", "unittest", "pluggy"}
HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(?P<start>\d+)(?:,\d+)? @@")
INI_SECTION = re.compile(r"^\[(?P<name>[^#;\]]+)\]\s*(?:[#;].*)?$")
TOML_TABLE = re.compile(r"^\[\[?\s*(?P<name>[^\]]+?)\s*\]\]?\s*(?:#.*)?$")
SUSPECT_KEYS = {"addopts", "python_files", "python_classes", "python_functions", "testpaths", "norecursedirs",
                "pytest11", "commands", "plugins", "confcutdir", "required_plugins", "usefixtures", "ini_options",
                "pytest", "rootdir", "console_output_style", "xfail_strict", "deps", "setenv"}


@dataclass
class Line:
    kind: str  # "+", "-" or " "
    number: int  # in the new file (for "-": the new line it precedes)
    text: str


@dataclass
class FileDiff:
    path: str
    created: bool = False
    deleted: bool = False
    binary: bool = False
    hunks: list[list[Line]] = field(default_factory=list)


def scan_patch(patch: str, eval_script: str = "", test_files: set[str] = frozenset(),
               workdir: str = "/testbed") -> list[dict]:
    """Every integrity flag of `patch` (see the module docstring); [] for a clean or empty patch. `eval_script`
    (the row's, run in `workdir`) names the files the scoring run executes."""
    executed = list_executed_files(eval_script, workdir) if eval_script else set()
    diffs = read_diff(patch)
    imported = pyscan.list_imported_modules([f for d in diffs if d.path.endswith(".py") for f in make_fragments(d)])
    flags = []
    for diff in diffs:
        if diff.path in test_files or is_inert_script(diff, imported, executed):
            continue
        flags += scan_file(diff, executed)
    return flags


def is_inert_script(diff: FileDiff, imported: set[str], executed: set[str]) -> bool:
    """A new Python file at the repository's root that nothing in the patch imports and the eval script does not
    run (an agent's reproduction script): nothing executes it while the tests run."""
    name = diff.path
    return (diff.created and "/" not in name and name.endswith(".py") and name not in executed
            and name[:-3] not in imported and not testconfig.is_whole_test_config(name) and name != "setup.py")


def scan_file(diff: FileDiff, executed: set[str]) -> list[dict]:
    def flag(line: int, reason: str, detail: str) -> dict:
        return {"path": diff.path, "line": line, "reason": reason, "detail": detail}

    if diff.path in executed:
        return [flag(0, "eval_script_file", "edits a file the eval script executes")]
    if testconfig.is_whole_test_config(diff.path):
        levers = configdiff.describe_levers([line for hunk in diff.hunks for line in hunk])
        return [flag(0, "test_config", "edits a file that configures how tests run"
                     + (f" (adds {levers})" if levers else ""))]
    if diff.path.endswith(".py") and not diff.deleted and not is_runner_code(diff.path):
        found = pyscan.scan_python(make_fragments(diff), posixpath.basename(diff.path) == "setup.py")
        return [flag(line, reason, detail) for line, reason, detail in found]
    added = [(line.number, line.text) for hunk in diff.hunks for line in hunk if line.kind == "+"]
    fetches = netscan.scan_network(diff.path, added)
    if fetches:
        return [flag(line, "network", detail) for line, detail in fetches]
    section = find_test_section_change(diff)
    return [flag(section[0], "test_config", f"changes test configuration ({section[1]})")] if section else []


def is_runner_code(path: str) -> bool:
    """A file of the test runner itself (pytest's own repository): its internals are its own code."""
    return bool(RUNNER_PACKAGES & set(path.split("/")[:-1]))


# ------------------------------------------------------------------------------------------------ the diff


def read_diff(patch: str) -> list[FileDiff]:
    """The files of a git diff with their hunks' lines numbered on the new side."""
    files, hunk, number = [], None, 0
    for raw in (patch or "").splitlines():
        if raw.startswith("diff --git "):
            files.append(FileDiff(path=read_header_path(raw)))
            hunk = None
        elif not files:
            continue
        elif hunk is None:
            number = read_file_header(files[-1], raw, number)
            if raw.startswith("@@"):
                hunk = []
                files[-1].hunks.append(hunk)
        else:
            hunk, number = read_hunk_line(files[-1], hunk, raw, number)
    return files


def read_header_path(line: str) -> str:
    """The new path of `diff --git a/X b/Y` (paths without spaces; `+++` corrects it otherwise)."""
    rest = line[len("diff --git "):]
    return rest.split(" b/", 1)[1] if " b/" in rest else rest


def read_file_header(diff: FileDiff, raw: str, number: int) -> int:
    if raw.startswith("new file mode"):
        diff.created = True
    elif raw.startswith("deleted file mode"):
        diff.deleted = True
    elif raw.startswith(("GIT binary patch", "Binary files")):
        diff.binary = True
    elif raw.startswith("+++ ") and raw[4:].startswith("b/"):
        diff.path = raw[6:].rstrip("\t")
    elif raw.startswith("@@") and HUNK.match(raw):
        return int(HUNK.match(raw)["start"])
    return number


def read_hunk_line(diff: FileDiff, hunk: list[Line], raw: str, number: int) -> tuple[list[Line] | None, int]:
    if raw.startswith("@@") and HUNK.match(raw):
        diff.hunks.append([])
        return diff.hunks[-1], int(HUNK.match(raw)["start"])
    if raw.startswith("diff --git "):
        return None, number
    kind, text = (raw[:1] or " "), raw[1:]
    if kind == "\\":
        return hunk, number
    if kind not in "+- ":
        return None, number
    hunk.append(Line(kind, number, text))
    return hunk, number + (kind != "-")


# ------------------------------------------------------------------------------------------ python fragments


def make_fragments(diff: FileDiff) -> list[pyscan.Fragment]:
    """What of the new side parses as Python: the whole file when the patch creates it, else each hunk, else
    each run of added lines, else each added line alone."""
    fragments = []
    for hunk in diff.hunks:
        new_side = [line for line in hunk if line.kind != "-"]
        added = {line.number for line in new_side if line.kind == "+"}
        if not added:
            continue
        whole = parse_fragment(new_side, added)
        fragments += [whole] if whole else parse_runs(new_side, added)
    return fragments


def parse_fragment(lines: list[Line], added: set[int]) -> pyscan.Fragment | None:
    texts = [line.text for line in lines]
    indents = [len(t) - len(t.lstrip()) for t in texts if t.strip()]
    if not indents:
        return None
    source = textwrap.dedent("\n".join(texts)) + "\n"
    try:
        compile(source, "<fragment>", "exec", dont_inherit=True, flags=0x400)  # ast.PyCF_ONLY_AST
    except (SyntaxError, ValueError, MemoryError, RecursionError):  # nested too deep for Python too: inert
        return None
    return pyscan.Fragment(source, [line.number for line in lines], added, min(indents) == 0)


def parse_runs(new_side: list[Line], added: set[int]) -> list[pyscan.Fragment]:
    runs, current = [], []
    for line in new_side + [Line(" ", -1, "")]:
        if line.kind == "+":
            current.append(line)
        elif current:
            runs.append(current)
            current = []
    fragments = []
    for run in runs:
        whole = parse_fragment(run, added)
        fragments += [whole] if whole else [f for f in (parse_fragment([line], added) for line in run) if f]
    return fragments


# ------------------------------------------------------------------------------------------- config files


def find_test_section_change(diff: FileDiff) -> tuple[int, str] | None:
    """(line, what) of the first change inside a test section of an ini, toml or package.json file, read from
    the diff: a created file is parsed whole; otherwise each changed line is placed in the section its hunk shows
    above it, and a line whose section the hunk does not show is judged by its own key."""
    name = posixpath.basename(diff.path)
    if testconfig.read_test_config(diff.path, b"") is None:
        return None
    if diff.created and diff.hunks:
        text = "\n".join(line.text for line in diff.hunks[0] if line.kind == "+") + "\n"
        parts = testconfig.read_test_config(diff.path, text.encode())
        return (1, ", ".join(sorted(parts))) if parts else None
    header = INI_SECTION if name not in {"pyproject.toml", "Cargo.toml"} else TOML_TABLE
    for hunk in diff.hunks:
        if langconfig.is_tokenized(diff.path):
            found = configdiff.find_lang_hunk_change(diff.path, hunk)
        elif name == "package.json":
            found = configdiff.find_package_json_change(hunk)
        else:
            found = find_hunk_section_change(diff.path, hunk, header)
        if found:
            return found
    return None


def find_hunk_section_change(path: str, hunk: list[Line], header: re.Pattern) -> tuple[int, str] | None:
    section = None
    for line in hunk:
        match = header.match(line.text.strip())
        if match:
            section = match["name"].strip()
        if line.kind == " " or not line.text.strip():
            continue
        if path.endswith("pom.xml"):
            if is_maven_test_line(line.text):
                return line.number, line.text.strip()[:80]
        elif section is not None and is_test_section(path, section, line.text):
            return line.number, f"[{section}]"
        elif section is None and read_key(line.text) in SUSPECT_KEYS and not path.endswith("Cargo.toml"):
            return line.number, f"{read_key(line.text)} in a section the diff does not show"
    return None


def is_test_section(path: str, section: str, text: str) -> bool:
    if path.endswith("Cargo.toml"):
        return configdiff.is_cargo_test_line(section, ".".join(read_toml_key(text)))
    if path.endswith("pyproject.toml"):
        key = read_toml_key(text)
        return testconfig.is_test_table(section.split(".") + key)
    if section == "options.entry_points":
        return read_key(text) == testconfig.PLUGIN_GROUP
    return bool(testconfig.TEST_SECTION.match(section)) or posixpath.basename(path) in {"pytest.ini", ".pytest.ini"}


def read_toml_key(text: str) -> list[str]:
    """The dotted key a toml line sets (`pytest.ini_options.addopts = "-q"` -> its three parts), read by tomllib
    from the line alone; [] when the line sets no key on its own (a continued array, a comment)."""
    try:
        data = testconfig.tomllib.loads(text.strip())
    except (testconfig.tomllib.TOMLDecodeError, UnicodeError):
        return []
    key = []
    while isinstance(data, dict) and len(data) == 1:
        name, data = next(iter(data.items()))
        key.append(name)
    return key


def read_key(text: str) -> str:
    """The first part of the key an ini or toml line sets (`addopts = -q` -> addopts), lowercased, read by
    configparser (or tomllib) from the line alone; "" for any other line."""
    parser = testconfig.make_ini_parser()
    try:
        parser.read_string("[line]\n" + text.strip() + "\n")
        keys = parser.options("line")
    except testconfig.configparser.Error:
        keys = []
    key = keys[0] if keys else ".".join(read_toml_key(text))
    return key.strip().strip('"').lower().split(".")[0]


def is_maven_test_line(text: str) -> bool:
    """A pom.xml line that is a test property or names a test plugin, read as an XML element."""
    tag, value = testconfig.read_xml_line(text)
    return value in testconfig.MAVEN_TEST_PLUGINS or any(w in tag.lower() for w in testconfig.MAVEN_TEST_WORDS)

