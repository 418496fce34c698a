"""A trajectory as a reader sees it: one entry per step, with the model's text and reasoning, its tool calls
and their observations, the notes the harness added, tokens, cost and time. Shared by the run browser and
`patchmix show`.

A trajectory stores the conversation (`messages`) and one record per model call (`steps`); every step adds one
assistant message, so the k-th assistant message is step k. Messages the harness added after a step (a format
error, a stuck warning) are that step's notes.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.agent.trajectory import read_trajectory as read_stored_trajectory
from harness.exceptions import PatchmixError

LONG_LINES = 25
LONG_CHARS = 3000


def read_trajectory(path: Path) -> dict:
    """The trajectory as a dict (a run under way included); an unreadable one is an error that names it."""
    try:
        data = read_stored_trajectory(Path(path))
    except (OSError, ValueError) as error:
        raise PatchmixError(f"cannot read trajectory {path} ({error}); rerun that instance to rewrite it") from None
    if not isinstance(data, dict):
        raise PatchmixError(f"{path} is not a trajectory (no JSON object); rerun that instance to rewrite it")
    return data


def get_issue_prompt(traj: dict) -> str:
    """The first user message: the instance prompt, which holds the issue text as the model saw it."""
    for message in traj.get("messages") or []:
        if message.get("role") == "user":
            return get_text(message.get("content"))
    return ""


def get_text(content) -> str:
    """A message's content as text (a string, or a list of parts with text)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content)
    return str(content)


def get_steps(traj: dict) -> list[dict]:
    """One dict per step: number, text, reasoning, calls [{name, arguments, observation, ...}], notes, tokens,
    cost and seconds. A step with no record (an old trajectory) still shows its messages."""
    records = [r for r in traj.get("steps") or [] if isinstance(r, dict)]
    messages = traj.get("messages") or []
    first_user = next((i for i, m in enumerate(messages) if m.get("role") == "user"), len(messages))
    steps: list[dict] = []
    for message in messages[first_user + 1:]:
        role = message.get("role")
        if role == "assistant":
            record = records[len(steps)] if len(steps) < len(records) else {}
            steps.append(make_step(len(steps) + 1, message, record))
            steps[-1]["attempts"] = describe_attempts(traj, steps[-1]["number"], quiet=True)
        elif role == "user" and message.get("compaction"):
            record = records[len(steps)] if len(steps) < len(records) else {}
            steps.append(make_compaction_step(len(steps) + 1, message, record))
            steps[-1]["attempts"] = describe_attempts(traj, steps[-1]["number"], quiet=True)
        elif steps and role == "user":
            steps[-1]["notes"].append(get_text(message.get("content")))
    return steps


def get_open_attempts(traj: dict) -> list[str]:
    """The model-call attempts of the step that has no reply yet: under way, or the one that ended the run."""
    done = len([r for r in traj.get("steps") or [] if isinstance(r, dict)])
    steps = sorted({a.get("step") for a in get_attempts(traj) if isinstance(a.get("step"), int) and a["step"] > done})
    return [line for step in steps for line in describe_attempts(traj, step)]


def get_attempts(traj: dict) -> list[dict]:
    return [a for a in traj.get("attempts") or [] if isinstance(a, dict)]


def describe_attempts(traj: dict, step: int, quiet: bool = False) -> list[str]:
    """One line per attempt of a step's model call; with `quiet`, none for a step answered at its first try."""
    attempts = [a for a in get_attempts(traj) if a.get("step") == step]
    if quiet and all(a.get("status") == "ok" for a in attempts) and len(attempts) <= 1:
        return []
    return [describe_attempt(a) for a in attempts]


def describe_attempt(attempt: dict) -> str:
    """`step 3, attempt 2: timeout after 600.0 s ($0.0012): Timeout: ...`, or `pending since ...`."""
    head = f"step {attempt.get('step')}, attempt {attempt.get('attempt')}: {attempt.get('status')}"
    if attempt.get("status") == "pending":
        return f"{head} since {attempt.get('started_at')} (waiting for the model)"
    seconds = attempt.get("seconds")
    head += f" after {seconds:.1f} s" if isinstance(seconds, (int, float)) else ""
    head += f" (${attempt['cost']:.4f})" if isinstance(attempt.get("cost"), (int, float)) and attempt["cost"] else ""
    return f"{head}: {attempt['error']}" if attempt.get("error") else head


def make_step(number: int, message: dict, record: dict) -> dict:
    calls = record.get("tool_calls")
    if calls is None:
        calls = [{"name": c.get("function", {}).get("name"), "arguments": c.get("function", {}).get("arguments"),
                  "observation": None} for c in message.get("tool_calls") or []]
    return {
        "number": record.get("step", number),
        "text": get_text(message.get("content")),
        "reasoning": record.get("reasoning") or message.get("reasoning_content") or "",
        "calls": [describe_call(call) for call in calls],
        "notes": [],
        "tokens_in": record.get("tokens_in"),
        "tokens_out": record.get("tokens_out"),
        "cost": record.get("cost"),
        "model_seconds": record.get("model_seconds"),
        "tool_seconds": record.get("tool_seconds"),
        "compaction": None,
    }


def make_compaction_step(number: int, message: dict, record: dict) -> dict:
    """A compaction: the model's summary that replaced the older steps in what the model saw from then on."""
    step = make_step(number, {"content": ""}, record)
    details = record.get("compaction") or {}
    replaced = details.get("replaced_messages")
    step["compaction"] = {"summary": details.get("summary") or get_text(message.get("content")),
                          "reason": details.get("reason") or "",
                          "replaced": f"{replaced} earlier messages" if replaced is not None else "earlier messages"}
    return step


def describe_call(call: dict) -> dict:
    """A tool call for reading: its arguments pretty-printed and flags for what went wrong."""
    observation = call.get("observation")
    observation = "" if observation is None else str(observation)
    return {
        "name": str(call.get("name") or "?"),
        "arguments": format_arguments(call.get("arguments")),
        "observation": observation,
        "long": is_long(observation),
        "malformed": bool(call.get("malformed")),
        "timed_out": bool(call.get("timed_out")),
        "submitted": bool(call.get("submitted")),
        "seconds": call.get("seconds"),
    }


def format_arguments(arguments) -> str:
    """JSON arguments as readable text: a lone `command` string as is, otherwise indented JSON whose
    multi-line strings keep their line breaks."""
    if arguments is None:
        return ""
    try:
        value = json.loads(arguments) if isinstance(arguments, str) else arguments
    except json.JSONDecodeError:
        return str(arguments)
    if not isinstance(value, dict):
        return json.dumps(value, indent=2, ensure_ascii=False)
    lines = []
    for key, item in value.items():
        if isinstance(item, str) and "\n" in item:
            lines.append(f"{key}:\n" + "\n".join("    " + line for line in item.splitlines()))
        else:
            lines.append(f"{key}: {item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)}")
    return "\n".join(lines)


def is_long(text: str) -> bool:
    return len(text) > LONG_CHARS or text.count("\n") > LONG_LINES


def get_preview(text: str, lines: int = 6) -> str:
    """The first lines of a long text, for a folded observation's summary."""
    head = text.splitlines()[:lines]
    return "\n".join(head)
