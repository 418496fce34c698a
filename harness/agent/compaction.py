"""Context compaction: when the prompt nears the model's context window, the older steps of the conversation as
sent are replaced by a summary the model writes (a template in `prompts/`, `compaction_template`).

The conversation sent keeps its head (system prompt and task), then the summary as a user message, then the
latest step (the last assistant turn and what followed it). The summary request is the head, the older steps
(every open tool call answered) and the template's instruction; it leaves the latest step out, so that it is
smaller than the prompt that did not fit. Nothing older can be summarised when the latest step follows the head
(or only an earlier summary): then compaction cannot make room and the run ends `context_limit`.
The trajectory keeps every message; the loop records the compaction as a step of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from harness import exceptions as ex
from harness.agent.prompts import render
from harness.agent.steps import make_step_record
from harness.agent.recap import close_open_calls
from harness.exceptions import ContextOverflow, RunEnded

HEAD = 2
"""Messages always kept: the system prompt and the task."""
SUMMARY_INTRO = ("[Earlier steps of this conversation were replaced by this summary of them, which you wrote "
                 "when the conversation neared your context window:]\n\n{summary}")
DEFAULT_FRACTION = 0.8
"""Share of the context window at which a run compacts when `compaction` is simply on."""


@dataclass
class Compaction:
    prompt: str
    """The rendered instruction that asks for the summary."""
    threshold: int | None
    """Prompt tokens at which the run compacts before its next query (None: only when the provider says the
    prompt no longer fits)."""


def find_tail(view: list[dict]) -> int | None:
    """Index where the kept latest step starts, or None when no older assistant turn could be summarised."""
    turns = [i for i, message in enumerate(view) if message["role"] == "assistant" and i >= HEAD]
    if len(turns) < 2:
        return None
    return turns[-1]


def make_summary_request(view: list[dict], tail: int, prompt: str) -> list[dict]:
    return [*close_open_calls(view[:tail]), {"role": "user", "content": prompt}]


def make_compacted_view(view: list[dict], tail: int, summary: str) -> list[dict]:
    return [*view[:HEAD], make_summary_message(summary), *view[tail:]]


def make_summary_message(summary: str) -> dict:
    return {"role": "user", "content": SUMMARY_INTRO.format(summary=summary.strip())}


def estimate_tokens(view: list[dict], last_tokens: int, last_chars: int, chars_per_token: int = 4) -> int:
    """The prompt's tokens now: the last call's count plus what was added since (characters / 4)."""
    return last_tokens + max(0, len(json.dumps(view)) - last_chars) // chars_per_token


def make_compaction(template: str, prompts_dir, window: int | None, setting: bool | float) -> Compaction | None:
    """The run's compaction, or None when `setting` is False."""
    if setting is False:
        return None
    return Compaction(prompt=render(template, {}, prompts_dir), threshold=get_threshold(window, setting))


def get_threshold(window: int | None, setting: bool | float) -> int | None:
    """Tokens at which to compact: `setting` False is off, True is DEFAULT_FRACTION, a number a fraction."""
    if not window or setting is False:
        return None
    fraction = DEFAULT_FRACTION if setting is True else float(setting)
    return int(window * fraction)


def is_near_window(agent) -> bool:
    """Whether the agent's next prompt reaches its compaction threshold."""
    threshold = agent.compaction.threshold if agent.compaction else None
    if not threshold or not agent.last_prompt[0]:
        return False
    return estimate_tokens(agent.view, *agent.last_prompt) >= threshold


def compact(agent, reason: str) -> bool:
    """Replace the older steps of the agent's view by the model's summary of them, recorded as a step of its
    own; False when nothing older can be summarised. Ends the run `context_limit` when the summary does not fit."""
    tail = find_tail(agent.view)
    if tail is None:
        return False
    agent.check_limits()
    try:
        reply = agent.ask(make_summary_request(agent.get_prompt(), tail, agent.compaction.prompt))
    except ContextOverflow as error:
        raise RunEnded(ex.CONTEXT_LIMIT, f"the summary request for compaction did not fit: {error}") from None
    agent.failed_cost = 0.0  # the reply's cost includes its failed attempts
    agent.charge_reply(reply)
    summary = (reply.message.get("content") or "").strip() or "(the model wrote no summary)"
    record_compaction(agent, reply, tail, reason, summary)
    agent.view = make_compacted_view(agent.view, tail, summary)
    agent.last_prompt = (0, 0)
    return True


def record_compaction(agent, reply, tail: int, reason: str, summary: str) -> None:
    """The summary in the trajectory's messages (marked `compaction`) and the call as a step of its own."""
    agent.state.messages.append({**make_summary_message(summary), "compaction": True})
    record = make_step_record(len(agent.state.steps) + 1, reply)
    record["compaction"] = {"reason": reason, "replaced_messages": tail - HEAD, "summary": summary}
    agent.state.steps.append(record)
    agent.on_step(agent.state)
