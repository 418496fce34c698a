"""The tools the model sees: schemas and descriptions are data in `tools/<name>/config.yaml`; this module
checks the model's calls against them and carries them out in the environment.
"""

from __future__ import annotations

import copy
import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness.exceptions import InfraError, ToolError
from harness.resources import get_bundled_dir

TOOLS_DIR = get_bundled_dir("tools")
DEFAULT_TOOLS = ("bash", "str_replace_editor", "submit")
JSON_TYPES = {"string": str, "integer": int, "array": list, "object": dict, "boolean": bool, "number": (int, float)}


class BadToolCall(ToolError):
    """The call itself is malformed (unknown tool, bad JSON, missing or mistyped argument): a format error."""


@dataclass
class ToolSpec:
    name: str
    description: str
    parameters: dict

    def get_schema(self) -> dict:
        """The schema as sent to the model; a copy, since specs are shared by every run of the process."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": copy.deepcopy(self.parameters)}}


@dataclass
class Observation:
    text: str
    timed_out: bool = False
    submitted: bool = False
    seconds: float = 0.0


def load_tools(tools_dir: Path = TOOLS_DIR, names: tuple[str, ...] = DEFAULT_TOOLS) -> dict[str, ToolSpec]:
    """The tools' schemas by name (read once per process: every run of a pipeline uses the same)."""
    return dict(read_tools(Path(tools_dir), tuple(names)))


@functools.lru_cache(maxsize=None)
def read_tools(tools_dir: Path, names: tuple[str, ...]) -> dict[str, ToolSpec]:
    specs = {}
    for name in names:
        path = Path(tools_dir) / name / "config.yaml"
        if not path.is_file():
            raise FileNotFoundError(f"tool {name!r} has no schema at {path}: restore the tools/ folder")
        data = yaml.safe_load(path.read_text())
        specs[name] = ToolSpec(data["name"], data["description"].strip(), data["parameters"])
    return specs


def parse_call(call: dict, specs: dict[str, ToolSpec]) -> dict:
    """The arguments of a tool call, checked against its schema; BadToolCall says what to fix."""
    if not call["name"]:
        raise BadToolCall(f"Your tool call named no tool (its function was empty). Call one of: {', '.join(specs)}.")
    spec = specs.get(call["name"])
    if spec is None:
        raise BadToolCall(f"There is no tool named {call['name']!r}. Call one of: {', '.join(specs)}.")
    try:
        args = json.loads(call["arguments"] or "{}")
    except json.JSONDecodeError as error:
        raise BadToolCall(
            f"The arguments of your {spec.name} call are not valid JSON ({error.msg} at character {error.pos}). "
            "Send the arguments as one JSON object, with strings escaped."
        ) from None
    if not isinstance(args, dict):
        raise BadToolCall(f"The arguments of {spec.name} must be a JSON object, not {type(args).__name__}.")
    check_arguments(spec, args)
    return args


def check_arguments(spec: ToolSpec, args: dict) -> None:
    properties = spec.parameters.get("properties", {})
    missing = [name for name in spec.parameters.get("required", []) if name not in args]
    if missing:
        raise BadToolCall(f"{spec.name} needs the argument(s) {', '.join(missing)}; call it again with them.")
    unknown = [name for name in args if name not in properties]
    if unknown:
        raise BadToolCall(f"{spec.name} takes no argument {', '.join(unknown)}; it takes {', '.join(properties)}.")
    for name, value in args.items():
        check_value(spec.name, name, value, properties[name])


def check_value(tool: str, name: str, value, schema: dict) -> None:
    expected = JSON_TYPES.get(schema.get("type", ""), object)
    if value is not None and (not isinstance(value, expected) or (expected is int and isinstance(value, bool))):
        raise BadToolCall(f"{tool}: argument {name} must be of type {schema['type']}, got {type(value).__name__}.")
    if "enum" in schema and value not in schema["enum"]:
        raise BadToolCall(f"{tool}: {name} must be one of {', '.join(schema['enum'])}, not {value!r}.")


class ToolBox:
    """Carries out checked tool calls in one environment."""

    def __init__(self, env, editor, command_timeout: float):
        self.env = env
        self.editor = editor
        self.command_timeout = command_timeout

    def run(self, name: str, args: dict, deadline: float | None = None) -> Observation:
        """Carry out one call; a command is cut at `deadline` (the end of the run's wall time) if that comes
        first. A container that failed is explained by the environment (`explain`: the agent's own doing or not)."""
        try:
            observation = self.dispatch(name, args, deadline)
        except InfraError as error:
            raise self.env.explain(error) from error
        self.env.raise_if_ended()  # ended meanwhile (over its disk allowance): what the call returned is void
        return observation

    def dispatch(self, name: str, args: dict, deadline: float | None) -> Observation:
        if name == "submit":
            return Observation("Submitted.", submitted=True)
        if name == "bash":
            return self.run_bash(args["command"], deadline)
        try:
            return Observation(self.editor.run(**args))
        except ToolError as error:
            return Observation(f"Error: {error}")

    def run_bash(self, command: str, deadline: float | None = None) -> Observation:
        left = None if deadline is None else max(1.0, deadline - time.monotonic())
        timeout = self.command_timeout if left is None else min(self.command_timeout, left)
        result = self.env.execute(command, timeout=timeout)
        if result.timed_out and timeout < self.command_timeout:
            text = f"{result.output}\n[The command was killed when the run's wall-time limit ran out.]"
            return Observation(text.strip(), timed_out=True, seconds=result.elapsed)
        if result.timed_out:
            text = (f"{result.output}\n[The command was killed after {self.command_timeout:g} s, the time limit of one "
                    "call. Run long jobs in the background, or narrow them (fewer tests, smaller input).]")
            return Observation(text.strip(), timed_out=True, seconds=result.elapsed)
        return Observation(format_output(result.output, result.exit_code), seconds=result.elapsed)


def format_output(output: str, exit_code: int | None) -> str:
    if not output.strip():
        if exit_code == 0:
            return "The command ran successfully and printed nothing."
        return f"The command printed nothing and exited with code {exit_code}."
    return output if exit_code == 0 else f"{output.rstrip()}\n[exit code: {exit_code}]"
