"""Recorded trajectories as lists of actions, without a model: patchmix's own `*.traj.json` and mini-swe-agent's.

A `Recording` holds what a replay needs: the instance, the scaffold that ran it, its actions in order, the patch
it recorded (None when the file does not say) and how it ended. Formats read:
- patchmix (`"format": "patchmix-traj-1"`): every tool call of every step, as the model sent it; calls the
  loop refused as malformed are kept, marked, and not run again;
- mini-swe-agent v1 (a `*.traj.json` with `info.submission`, or a `.jsonl(.gz)` with one trajectory a line
  holding `instance_id`, `exit_status` and `messages`): each assistant turn with exactly one ```bash block is
  one command (a turn with none or several was refused by mini-swe-agent as a format error and ran nothing);
  the submission is the output of the command that printed COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.exceptions import PatchmixError

PATCHMIX = "patchmix"
MINI = "mini-swe-agent"
MINI_ACTION = re.compile(r"```bash\s*\n(.*?)\n```", re.DOTALL)
"""mini-swe-agent's default `action_regex`."""
MINI_SUBMIT_WORDS = ("COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT", "MINI_SWE_AGENT_FINAL_OUTPUT")


@dataclass
class Action:
    tool: str
    arguments: dict = field(default_factory=dict)
    malformed: bool = False
    raw_arguments: str = ""


@dataclass
class Recording:
    instance_id: str
    scaffold: str
    actions: list[Action]
    patch: str | None
    exit_status: str | None
    source: str = ""
    command_timeout: float | None = None


def read_recordings(path: str | Path) -> list[Recording]:
    """Every trajectory in the file (one for a `.traj.json`, one per line for a `.jsonl` or `.jsonl.gz`)."""
    path = Path(path)
    if not path.is_file():
        raise PatchmixError(f"trajectory file {path} does not exist")
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as lines:
            return [parse_recording(json.loads(line), f"{path}:{n}") for n, line in enumerate(lines, 1)
                    if line.strip()]
    return [parse_recording(json.loads(path.read_text(encoding="utf-8")), str(path))]


def parse_recording(data: dict, source: str) -> Recording:
    if data.get("format", "").startswith("patchmix-traj"):
        return parse_patchmix(data, source)
    if "messages" in data:
        return parse_mini(data, source)
    raise PatchmixError(f"{source} is neither a patchmix trajectory (`format: patchmix-traj-1`) nor a "
                        "mini-swe-agent one (`messages`); pass one of those")


def parse_patchmix(data: dict, source: str) -> Recording:
    actions = [make_patchmix_action(call) for step in data.get("steps", []) for call in step.get("tool_calls", [])]
    info = data.get("info", {})
    timeout = (data.get("config") or {}).get("container", {}).get("command_timeout")
    return Recording(data["instance_id"], PATCHMIX, actions, info.get("patch"), info.get("exit_status"), source,
                     timeout)


def make_patchmix_action(call: dict) -> Action:
    raw = call.get("arguments") or "{}"
    try:
        arguments = json.loads(raw)
    except json.JSONDecodeError:
        return Action(call.get("name") or "", {}, True, raw)
    return Action(call.get("name") or "", arguments if isinstance(arguments, dict) else {},
                  bool(call.get("malformed")) or not isinstance(arguments, dict), raw)


def parse_mini(data: dict, source: str) -> Recording:
    messages = data["messages"]
    actions = [Action("bash", {"command": found[0].strip()}) for message in messages
               if message.get("role") == "assistant" and len(found := MINI_ACTION.findall(get_text(message))) == 1]
    info = data.get("info") or {}
    instance_id = data.get("instance_id") or info.get("instance_id") or Path(source).name.split(".")[0]
    exit_status = data.get("exit_status") or info.get("exit_status")
    return Recording(instance_id, MINI, actions, find_mini_submission(data, exit_status), exit_status, source, 60.0)


def get_text(message: dict) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):  # multimodal form: a list of parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content


def find_mini_submission(data: dict, exit_status: str | None) -> str | None:
    """The patch mini-swe-agent submitted: `info.submission`, else its last message when it ended Submitted."""
    info = data.get("info") or {}
    if "submission" in info:
        return info["submission"]
    if exit_status != "Submitted" or not data["messages"]:
        return None
    last = data["messages"][-1]
    return get_text(last) if last.get("role") == "user" else None


def is_mini_submit(command: str) -> bool:
    return command.lstrip().startswith(tuple(f"echo {word}" for word in MINI_SUBMIT_WORDS))
