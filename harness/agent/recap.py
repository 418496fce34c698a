"""Summaries forward: after `submit` or a breaker, the same model writes a short structured summary of its
attempt (found, changed, verified, uncertain), which later iterations' prompts may show.

One more model call with the whole conversation and a prompt from `prompts/` (`summary_template`); no tool is
run (the tool schemas are still sent, since some providers refuse a conversation with tool calls but no tools).
Its cost is the run's cost and goes to the budget like every other call. A run that overflowed its context,
failed on infrastructure or was interrupted writes none.
"""

from __future__ import annotations

import time

from harness import exceptions as ex
from harness.agent.prompts import render
from harness.exceptions import ContextOverflow, InfraError, RunEnded

MAX_SUMMARY_CHARS = 4000
"""Characters of a summary kept; a longer one is cut with a notice."""
NO_SUMMARY_AFTER = (ex.CONTEXT_LIMIT, ex.INFRA_ERROR, ex.INTERRUPTED, ex.MODEL_TIMEOUT, ex.ENV_BROKEN, ex.DISK_LIMIT)
ENDINGS = {
    ex.SUBMITTED: "you called submit",
    ex.STEP_LIMIT: "the step limit was reached before you submitted",
    ex.COST_LIMIT: "the cost limit was reached before you submitted",
    ex.TIMEOUT_LIMIT: "too many commands in a row hit the time limit",
    ex.FORMAT_LIMIT: "too many replies in a row could not be acted on",
    ex.TIME_LIMIT: "the time limit of the run was reached",
    ex.STUCK_LIMIT: "you kept repeating yourself",
}
NOT_RUN = "This tool call was not carried out: the run had already ended."


def close_open_calls(messages: list[dict]) -> list[dict]:
    """The conversation with a tool answer for every call left unanswered (calls after `submit`), so that a
    provider accepts it."""
    answered = {m.get("tool_call_id") for m in messages if m["role"] == "tool"}
    closed = []
    for message in messages:
        closed.append(message)
        for call in message.get("tool_calls") or []:
            if call["id"] not in answered:
                closed.append({"role": "tool", "tool_call_id": call["id"], "content": NOT_RUN})
    return closed


def cut_summary(text: str) -> str:
    text = text.strip()
    if len(text) <= MAX_SUMMARY_CHARS:
        return text
    return text[:MAX_SUMMARY_CHARS] + f"\n[... {len(text) - MAX_SUMMARY_CHARS} more characters cut ...]"


def write_summary(agent, prompt: str) -> dict:
    """Ask the agent's model for the summary; add its cost to the agent's state and budget.

    Returns the trajectory info fields: `summary` (None when there is none), `summary_cost`, and
    `summary_error` when the call failed (the run itself is not failed by it)."""
    state = agent.state
    messages = [*close_open_calls(agent.get_prompt()), {"role": "user", "content": prompt}]
    deadline = agent.get_deadline()  # within the run's wall time, like every other call
    if deadline is not None and time.monotonic() >= deadline:
        return {"summary": None, "summary_cost": 0.0, "summary_error": "no time was left within the run's "
                "wall-time limit (limits.wall_time_limit)"}
    try:
        reply = agent.model.query(messages, agent.schemas, deadline=deadline)
    except (ContextOverflow, InfraError, RunEnded) as error:  # the run stands as it ended; only the summary is lost
        return {"summary": None, "summary_cost": 0.0, "summary_error": str(error)}
    state.cost += reply.cost
    state.tokens_in += reply.tokens_in
    state.tokens_out += reply.tokens_out
    agent.on_cost(reply.cost)
    text = cut_summary(reply.message.get("content") or "")
    return {"summary": text or None, "summary_cost": reply.cost,
            "summary_tokens": {"in": reply.tokens_in, "out": reply.tokens_out},
            **({} if text else {"summary_error": "the model wrote no text (it called a tool instead)"})}


def get_summary_variables(exit_status: str) -> dict:
    return {"exit_status": exit_status, "ended": ENDINGS.get(exit_status, exit_status)}


def wants_summary(template: str | None, exit_status: str | None) -> bool:
    return bool(template) and exit_status not in (None, *NO_SUMMARY_AFTER)


def summarize_run(agent, template: str | None, prompts_dir=None) -> dict:
    """The summary fields of a finished agent run: none when switched off or after an ending that has none."""
    if not wants_summary(template, agent.state.exit_status):
        return {}
    return write_summary(agent, render(template, get_summary_variables(agent.state.exit_status), prompts_dir))
