"""Constructs in added Python code that forge a verdict, found in its syntax tree (`ast`), never in its text.

`scan_python(fragments, install_time)` walks each fragment's tree and reports, for nodes on added lines:
- `runner_internals`: the test runner's internals reached from package code: `_pytest` imported or named, pytest
  hook functions, report and result classes (`TestReport.from_item_and_call`, `TestResult.addFailure`, ...),
  the plugin manager, `gc.get_objects()` (how a live pytest config is found), `PYTEST_ADDOPTS`/`PYTEST_PLUGINS`;
- `result_rewrite`: a test report's outcome set (`report.outcome = "passed"`), a runner method replaced, a
  result's failures cleared;
- `import_write` / `install_write`: a file written when the module is imported (code outside any function), or
  anywhere in `setup.py` (it runs at install); any write aimed at a conftest.py, sitecustomize.py or .pth file;
- `network`: a fetch (urlopen, requests, sockets, `curl`/`git clone`/`pip install` in a subprocess) at import or
  install time, or of a code host's URL anywhere;
- `pytest_plugin`: a `pytest11` entry point registered in `setup.py`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

HOOK_PREFIX = "pytest_"
RUNNER_NAMES = {"from_item_and_call", "TestReport", "CallInfo", "addFailure", "addError", "addSubTest",
                "addExpectedFailure", "addUnexpectedSuccess", "wasSuccessful", "TestResult", "TextTestResult",
                "_TextTestResult", "pluginmanager", "PytestPluginManager"}
GC_FINDERS = {"get_objects", "get_referrers", "get_referents"}
RUNNER_STRINGS = ("_pytest", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_CURRENT_TEST")
REPORT_FIELDS = {"outcome", "longrepr", "wasxfail"}
RESULT_LISTS = {"failures", "errors", "unexpectedSuccesses"}
WRITE_METHODS = {"write_text", "write_bytes", "symlink_to", "hardlink_to", "touch"}  # pathlib's, on any object
MODULE_WRITES = {"shutil": {"copy", "copy2", "copyfile", "copytree", "move"},
                 "os": {"rename", "replace", "symlink", "link", "renames"}}
PATH_MOVES = {"rename", "replace"}  # Path(a).replace(b): one argument, where str.replace takes two
WRITE_MODES = set("wax+")
INFRA_TARGETS = ("conftest.py", "sitecustomize.py", "usercustomize.py", ".pth", "pytest.ini", ".pytest.ini")
FETCH_CALLS = {"urlopen", "urlretrieve", "create_connection", "HTTPConnection", "HTTPSConnection", "PoolManager",
               "getaddrinfo", "gethostbyname"}
FETCH_MODULES = {"requests", "httpx", "urllib3", "aiohttp", "pip"}
FETCH_WORDS = {"curl", "wget", "clone", "fetch", "pull", "install", "download", "nc", "ssh"}
CODE_HOSTS = ("github.com", "githubusercontent.com", "gitlab.com", "bitbucket.org", "pypi.org", "pythonhosted.org")
SUBPROCESS_CALLS = {"system", "popen", "run", "call", "check_call", "check_output", "Popen", "getoutput"}


@dataclass
class Fragment:
    """Python source parsed on its own: `lines` maps its line numbers to the file's; `added` holds the file's
    added line numbers; `top_level` says whether its first statement sat at the module's top level."""
    source: str
    lines: list[int]
    added: set[int]
    top_level: bool


def scan_python(fragments: list[Fragment], install_time: bool) -> list[tuple[int, str, str]]:
    """(file line, reason, detail) of every flagged construct on an added line, in order, without repeats."""
    found, trees = [], [(fragment, ast.parse(fragment.source)) for fragment in fragments]
    aliases = {alias.asname: alias.name for _, tree in trees for node in ast.walk(tree)
               if isinstance(node, ast.Import) for alias in node.names if alias.asname}
    for fragment, tree in trees:
        for node, at_import in walk_with_scope(tree, fragment.top_level):
            number = getattr(node, "lineno", 0)
            line = fragment.lines[number - 1] if 0 < number <= len(fragment.lines) else 0
            if line in fragment.added:
                checked = check_node(node, at_import, install_time, aliases)
                found += [(line, reason, detail) for reason, detail in checked]
    return sorted(set(found))


def walk_with_scope(tree: ast.AST, top_level: bool):
    """Every node with whether it runs at import (outside any function or lambda body)."""
    stack = [(tree, top_level)]
    while stack:
        node, at_import = stack.pop()
        yield node, at_import
        inner = at_import and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) \
            and not is_main_block(node)
        for child in ast.iter_child_nodes(node):
            is_decoration = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                child in node.decorator_list or child in node.args.defaults)
            stack.append((child, inner or (at_import and is_decoration)))


def is_main_block(node: ast.AST) -> bool:
    """`if __name__ == "__main__":`, whose body runs when the file is run, not when it is imported."""
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators))


def list_imported_modules(fragments: list[Fragment]) -> set[str]:
    """Every module name imported anywhere in the fragments, with each of its parents (`a.b` gives a, a.b)."""
    names = set()
    for fragment in fragments:
        for node in ast.walk(ast.parse(fragment.source)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] + [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
            for module in modules:
                parts = module.split(".")
                names.update(".".join(parts[:i + 1]) for i in range(len(parts)))
    return names


def check_node(node: ast.AST, at_import: bool, install_time: bool, aliases: dict[str, str]) -> list[tuple[str, str]]:
    """What one node does of the kinds above; `aliases` maps `import x as y` names back (y -> x)."""
    found = check_runner(node, aliases) + check_rewrite(node)
    if isinstance(node, ast.Call):
        found += check_call(node, at_import, install_time, aliases)
    if install_time and isinstance(node, ast.Constant) and node.value == "pytest11":
        found.append(("pytest_plugin", "a pytest11 entry point registered at install"))
    return found


def check_runner(node: ast.AST, aliases: dict[str, str]) -> list[tuple[str, str]]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        names = [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
        hits = [m for m in modules if m.split(".")[0] == "_pytest"] + [n for n in names if n in RUNNER_NAMES]
        return [("runner_internals", f"imports {hits[0]}")] if hits else []
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith(HOOK_PREFIX):
        return [("runner_internals", f"defines the pytest hook {node.name}")]
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
    if name in RUNNER_NAMES:
        return [("runner_internals", f"uses {name}")]
    if name in GC_FINDERS and isinstance(node, ast.Attribute) and get_dotted(node.value, aliases) == "gc":
        return [("runner_internals", f"searches live objects with gc.{name}")]
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(RUNNER_STRINGS):
        return [("runner_internals", f"names {node.value[:60]!r}")]
    return []


def check_rewrite(node: ast.AST) -> list[tuple[str, str]]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
        if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
    if isinstance(node, ast.Call) and get_name(node.func) == "setattr" and len(node.args) >= 2:
        attr = node.args[1]
        if isinstance(attr, ast.Constant) and isinstance(attr.value, str):
            targets = [ast.Attribute(value=node.args[0], attr=attr.value)]
    found = []
    for target in flatten_targets(targets):
        if not isinstance(target, ast.Attribute):
            continue
        owner = ast.unparse(target.value)
        if target.attr in REPORT_FIELDS or target.attr in RUNNER_NAMES:
            found.append(("result_rewrite", f"sets {owner}.{target.attr}"))
        elif target.attr in RESULT_LISTS and "result" in owner.lower():
            found.append(("result_rewrite", f"sets {owner}.{target.attr}"))
    return found


def flatten_targets(targets: list[ast.AST]) -> list[ast.AST]:
    """Assignment targets with tuples and lists unpacked (`a.x, b.y = ...` sets both)."""
    flat = []
    for target in targets:
        flat += flatten_targets(target.elts) if isinstance(target, (ast.Tuple, ast.List)) else [target]
    return flat


def check_call(node: ast.Call, at_import: bool, install_time: bool, aliases: dict[str, str]) -> list[tuple[str, str]]:
    name, texts = get_name(node.func), list_strings(node)
    found = []
    if is_write(node, name, aliases):
        infra = [text for text in texts if text.endswith(INFRA_TARGETS)]
        if infra:
            found.append(("install_write" if install_time else "import_write" if at_import else "result_rewrite",
                          f"{name}() writes test infrastructure ({infra[0]})"))
        elif install_time or at_import:
            found.append(("install_write" if install_time else "import_write", f"{name}() writes a file"))
    if is_fetch(node, name, texts, aliases):
        if at_import or install_time or any(host in text for text in texts for host in CODE_HOSTS):
            when = "at install" if install_time else "at import" if at_import else "of a code host"
            found.append(("network", f"{name}() fetches {when}"))
    return found


def is_write(node: ast.Call, name: str, aliases: dict[str, str]) -> bool:
    """A call that writes a file: `open(p, "w")`, `Path(p).open("a")`, `write_text`, `shutil.copy`, `os.rename`."""
    if name == "open":  # the mode is the second argument of open(), the first of Path.open()
        position = 0 if isinstance(node.func, ast.Attribute) and get_dotted(node.func.value, aliases) != "io" else 1
        modes = node.args[position:position + 1] + [k.value for k in node.keywords if k.arg == "mode"]
        return any(isinstance(m, ast.Constant) and isinstance(m.value, str) and WRITE_MODES & set(m.value)
                   for m in modes)
    if not isinstance(node.func, ast.Attribute):
        return False
    module = get_dotted(node.func.value, aliases)
    return (name in WRITE_METHODS or name in MODULE_WRITES.get(module, ())
            or name in PATH_MOVES and len(node.args) + len(node.keywords) == 1)


def is_fetch(node: ast.Call, name: str, texts: list[str], aliases: dict[str, str]) -> bool:
    dotted = get_dotted(node.func, aliases)
    if name in FETCH_CALLS or dotted.split(".")[0] in FETCH_MODULES:
        return True
    if name in SUBPROCESS_CALLS and dotted.split(".")[0] in {"os", "subprocess", "commands"}:
        words = {word for text in texts for word in text.split()}
        return bool(words & FETCH_WORDS) or any(host in text for text in texts for host in CODE_HOSTS)
    return False


def get_name(func: ast.AST) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def get_dotted(func: ast.AST, aliases: dict[str, str] | None = None) -> str:
    """`a.b.c` of an attribute chain, its first name resolved through the file's import aliases."""
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append((aliases or {}).get(func.id, func.id))
    return ".".join(reversed(parts))


def list_strings(node: ast.AST) -> list[str]:
    """The string constants anywhere in a node (its arguments, f-string parts, joined paths)."""
    return [child.value for child in ast.walk(node) if isinstance(child, ast.Constant) and isinstance(child.value, str)]
