"""The package layout follows the pipeline: imports only go down it. (That the agent loop imports neither
litellm nor docker is checked in test_model.py.)

Stage order: the top-level leaves (every module directly in `harness/` but `cli`) < scripted < agent < pipeline
< scoring < tasks < analysis < route < select < workflow < demo < cli. A module may import from its own package, from earlier stages and
from the leaves; a leaf only from other leaves. Every import counts, at module level or inside a function.
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
