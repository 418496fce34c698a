"""Writes docs/reference/config.md, the reference of every config key, from the pydantic models themselves: each
key's path, type, default and description (the docstring under the field, which `use_attribute_docstrings` makes
its description). tests/test_docs.py fails when the file differs from what this script writes.

    python scripts/write_config_reference.py           # (re)write docs/reference/config.md
    python scripts/write_config_reference.py --check   # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.agent.config import AgentConfig  # noqa: E402 - after the repository is on the path
from harness.pipeline.config import PipelineConfig  # noqa: E402

TARGET = ROOT / "docs" / "reference" / "config.md"
HEADER = """\
# Config reference

<!-- Written by scripts/write_config_reference.py from the field docstrings in harness/agent/config.py and
harness/pipeline/config.py; do not edit by hand: edit a docstring, then run the script. -->

Every key of a pipeline config (`patchmix run CONFIG`) and of an agent config (`patchmix run-one --config`), with
its type, its default and what it does. Unknown keys are refused at start with the key's name; `${NAME}` in a
value is replaced by that environment variable. `<label>` stands for a key of `models`, `[]` for any item of a
list. A worked example is in [the pipeline guide](../guides/pipeline.md).
"""


def describe_type(annotation) -> str:
    """A type as a reader writes it in YAML terms: `int`, `str | None`, `list[str]`, `"local" | "ray"`, a model's name."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is type(None):
        return "None"
    if origin is typing.Literal:
        return " | ".join(f'"{arg}"' for arg in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(describe_type(arg) for arg in args)
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(describe_type(arg) for arg in args)}]"
    return getattr(annotation, "__name__", str(annotation))


def describe_default(field) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default is PydanticUndefined else field.default
    if isinstance(value, BaseModel):
        return "(its keys' defaults)"
    if value is None:
        return "None"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, str) else str(value)


def find_model(annotation) -> tuple[type[BaseModel] | None, str]:
    """The config model a field holds, and the suffix its keys take: `` (the model), `.<label>` (a mapping of
    them) or `[]` (a list of them); (None, "") for a plain value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, ""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            model, suffix = find_model(arg)
            if model:
                return model, suffix
    if origin is dict and args:
        model, _ = find_model(args[-1])
        return (model, ".<label>") if model else (None, "")
    if origin is list and args:
        model, _ = find_model(args[0])
        return (model, "[]") if model else (None, "")
    return None, ""


def clean(text: str) -> str:
    """A docstring as one table cell: one line, pipes escaped, and `<` outside code spans escaped so that a
    placeholder such as runs/<name>/ is not read as an HTML tag."""
    parts = " ".join(text.split()).replace("|", "\\|").split("`")
    return "`".join(part if index % 2 else part.replace("<", "&lt;") for index, part in enumerate(parts))


def list_rows(model: type[BaseModel], prefix: str, seen: dict) -> list[str]:
    """Table rows of every key under `model`, depth first; a model met before at another path is not spelled out
    again: its row says where its keys are."""
    rows = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        if not field.description:
            raise SystemExit(f"{model.__name__}.{name} has no docstring: add one under the field in its config module")
        inner, suffix = find_model(field.annotation)
        description = clean(field.description)
        if inner and inner in seen:
            description += f" Its keys are those of `{seen[inner]}`."
        rows.append(f"| `{path}` | {clean(describe_type(field.annotation))} | {clean(describe_default(field))} "
                    f"| {description} |")
        if inner and inner not in seen:
            seen[inner] = path + suffix
            rows += list_rows(inner, f"{path}{suffix}.", seen)
    return rows


def make_section(title: str, model: type[BaseModel], seen: dict) -> str:
    doc = clean(model.__doc__ or "")
    table = ["| key | type | default | description |", "|---|---|---|---|", *list_rows(model, "", seen)]
    return f"## {title}\n\n{doc}\n\n" + "\n".join(table) + "\n"


def make_reference() -> str:
    seen = {}  # the agent config's parts are spelled out once, in the pipeline config's table
    pipeline = make_section("Pipeline config (`patchmix run CONFIG`)", PipelineConfig, seen)
    agent = make_section("Agent config (`patchmix run-one --config YAML`)", AgentConfig, seen)
    return f"{HEADER}\n{pipeline}\n{agent}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1, writing nothing, if the file is out of date")
    args = parser.parse_args()
    text = make_reference()
    if args.check:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET.relative_to(ROOT)} is out of date: run python scripts/write_config_reference.py")
            return 1
        return 0
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
