"""The agent loop: query the model, carry out its tool calls, append the observations, check the breakers.

It imports neither litellm nor docker (nor a module that does): the model and the tool box are handed in. Control flow lives in
`run()`: every way out of a step is an `InterruptAgentFlow` carrying the messages to append, and the run
ends on `RunEnded`, whose exit status comes from the fixed vocabulary in `harness.exceptions`.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass, field

from harness import exceptions as ex
from harness.agent.config import LimitsConfig
from harness.exceptions import ContextOverflow, FormatError, InfraError, InterruptAgentFlow, RunEnded
from harness.agent.compaction import Compaction, compact, is_near_window
from harness.agent.steps import make_step_record
from harness.agent.stuck import StuckDetector
from harness.agent.tools.calls import BadToolCall, parse_call

ELIDED = ("[The output of this earlier tool call ({chars} characters) is left out to save context; "
          "run the command again if you need it.]")
CACHE_ANCHOR = "cache_anchor"
"""Marks the last message that the next rewrite of old observations leaves as it is (a cache breakpoint there
keeps the prefix before the rewrite readable); the model seam takes it off before sending."""
SHORT_OBSERVATION = 200
"""Characters of an observation that is always sent in full, however old."""
NO_TOOL_CALL = ("Your reply called no tool. Every reply must call one of the tools ({tools}). "
                "To finish, call submit.")
CUT_OFF = ("Your last reply was cut off at the output-token limit (max_tokens) before it was complete, so none "
           "of its tool calls was run. Keep replies shorter: write a long file in several smaller edits, and "
           "think in fewer words.")
CALL_NOT_RUN = "This call was not run: the reply that made it was cut off at the output-token limit."


class ReplyCutOff(InterruptAgentFlow):
    """The reply ended at `max_tokens` (finish_reason `length`, or as many tokens as `max_tokens`): the model is
    told so; not a format error."""


@dataclass
class AgentState:
    messages: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    cost: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0
    """Prompt tokens the provider read from its cache (part of `tokens_in`)."""
    cost_uncached: float = 0.0
    """What the run's calls would have cost with nothing cached."""
    format_errors: int = 0
    timeouts: int = 0
    started: float = field(default_factory=time.monotonic)
    exit_status: str | None = None
    exit_detail: str = ""


def elide_old_observations(messages: list[dict], keep: int) -> list[dict]:
    """The conversation as sent to the model: at least the last `keep` tool outputs in full, older ones replaced
    by a short note `keep` at a time (0 keeps all), so that between two rewrites the prompt's prefix stays the
    same for `keep` steps and the provider's cache can serve it. The trajectory keeps every output in full."""
    if keep <= 0:
        return messages
    tool_indexes = [i for i, message in enumerate(messages) if message["role"] == "tool"]
    elided = max(0, len(tool_indexes) - keep) // keep * keep
    old = set(tool_indexes[:elided])
    sent = [
        {**m, "content": ELIDED.format(chars=len(m["content"]))}
        if i in old and len(m["content"]) > SHORT_OBSERVATION else m
        for i, m in enumerate(messages)
    ]
    if elided:  # the prefix up to here stays the same until the next rewrite: a provider may cache it there
        sent[tool_indexes[elided - 1]] = {**sent[tool_indexes[elided - 1]], CACHE_ANCHOR: True}
    return sent


class Agent:
    def __init__(self, model, toolbox, specs: dict, limits: LimitsConfig, on_step=None, on_cost=None,
                 keep_observations: int = 0, on_attempt=None, compaction: Compaction | None = None,
                 started: float | None = None, reserve: float = 0.0):
        """`started`: when the run's wall time began (its container's start); `reserve`: seconds of that wall
        time kept for after the loop (the patch's collection), so that the run as a whole stays within it."""
        self.model = model
        self.toolbox = toolbox
        self.specs = specs
        self.schemas = [spec.get_schema() for spec in specs.values()]
        self.limits = limits
        self.on_step = on_step or (lambda state: None)
        self.on_cost = on_cost or (lambda dollars: None)
        self.on_attempt = on_attempt or (lambda record: None)
        self.failed_cost = 0.0
        """Dollars of the failed attempts of the model call under way (in the reply's cost once it succeeds)."""
        self.attempts_seen: dict[int, int] = {}
        """Per step, the attempts recorded so far: a step asked again (its reply was unusable) numbers on."""
        self.attempt_base = 0
        self.keep_observations = keep_observations
        self.reserve = reserve
        self.state = AgentState(started=time.monotonic() if started is None else started)
        self.view: list[dict] = []
        """The conversation as the model sees it (before `keep_observations`): the state's messages, with older
        steps replaced by a summary once the run compacted."""
        self.compaction = compaction
        self.last_prompt = (0, 0)
        """(tokens, characters) of the view at the last model call."""
        self.stuck = StuckDetector(limits.stuck_limit)

    def run(self, system: str, task: str) -> AgentState:
        self.add({"role": "system", "content": system}, {"role": "user", "content": task})
        while self.state.exit_status is None:
            try:
                self.step()
                self.state.format_errors = 0
            except FormatError as error:
                self.add(*error.messages)
                self.count_format_error()
            except RunEnded as end:
                self.add(*end.messages)
                self.end(end.exit_status, end.detail)
            except InterruptAgentFlow as flow:
                self.add(*flow.messages)
            except Exception as error:  # noqa: BLE001 - a bug of the harness ends this run only, traceback kept
                if ex.is_storage_error(error):
                    raise  # a full or read-only disk stops the pipeline
                self.end(ex.HARNESS_ERROR, traceback.format_exc())
            finally:
                self.on_step(self.state)
        return self.state

    def add(self, *messages: dict) -> None:
        self.state.messages.extend(messages)
        self.view.extend(messages)

    def get_prompt(self) -> list[dict]:
        """The messages of the next query."""
        return elide_old_observations(self.view, self.keep_observations)

    def end(self, exit_status: str, detail: str) -> None:
        self.state.exit_status, self.state.exit_detail = exit_status, detail

    def count_format_error(self) -> None:
        self.state.format_errors += 1
        if 0 < self.limits.format_limit <= self.state.format_errors:
            self.end(ex.FORMAT_LIMIT, f"{self.state.format_errors} consecutive replies could not be acted on")

    def check_limits(self) -> None:
        s, lim = self.state, self.limits
        if 0 < lim.step_limit <= len(s.steps):
            raise RunEnded(ex.STEP_LIMIT, f"{len(s.steps)} model calls reached the step limit")
        if 0 < lim.cost_limit <= s.cost:
            raise RunEnded(ex.COST_LIMIT, f"${s.cost:.4f} reached the cost limit of ${lim.cost_limit:g}")
        deadline = self.get_deadline()
        if deadline is not None and time.monotonic() >= deadline:
            raise RunEnded(ex.TIME_LIMIT, f"the run took longer than {lim.wall_time_limit:g} s")

    def step(self) -> None:
        self.check_limits()
        reply = self.query()
        self.add(reply.message)
        record = make_step_record(len(self.state.steps) + 1, reply)
        self.state.steps.append(record)
        if reply.cut_off:
            record["cut_off"] = True
            raise ReplyCutOff(*[{"role": "tool", "tool_call_id": call["id"], "content": CALL_NOT_RUN}
                                for call in reply.tool_calls], {"role": "user", "content": CUT_OFF})
        if not reply.tool_calls:
            raise FormatError({"role": "user", "content": NO_TOOL_CALL.format(tools=", ".join(self.specs))})
        self.run_calls(reply.tool_calls, record)

    def get_deadline(self) -> float | None:
        """The moment the loop's share of the run's wall time is up (the model call or command under way
        included), or None."""
        limit = self.limits.wall_time_limit
        return self.state.started + limit - self.reserve if limit > 0 else None

    def query(self):
        self.failed_cost = 0.0
        try:
            reply = self.ask_model()
        except BaseException:
            self.charge(self.failed_cost)  # failed attempts the provider may bill: never forgotten
            self.state.cost_uncached += self.failed_cost
            raise
        self.charge_reply(reply)
        return reply

    def charge_reply(self, reply) -> None:
        self.charge(reply.cost)
        self.state.tokens_in += reply.tokens_in
        self.state.tokens_out += reply.tokens_out
        self.state.tokens_cached += reply.tokens_cached
        self.state.cost_uncached += reply.cost_uncached

    def ask_model(self):
        if is_near_window(self):
            compact(self, "the prompt neared the context window")
        try:
            reply = self.ask(self.get_prompt())
        except ContextOverflow as error:
            if self.compaction is None or not compact(self, f"the provider said it no longer fits: {error}"):
                raise RunEnded(ex.CONTEXT_LIMIT, str(error)) from None
            reply = self.ask_after_compaction()
        self.last_prompt = (reply.tokens_in, len(json.dumps(self.view)))
        return reply

    def ask(self, messages: list[dict]):
        try:
            return self.model.query(messages, self.schemas, deadline=self.get_deadline(),
                                    on_attempt=self.record_attempt)
        except InfraError as error:
            raise RunEnded(ex.INFRA_ERROR, str(error)) from None

    def ask_after_compaction(self):
        try:
            return self.ask(self.get_prompt())
        except ContextOverflow as error:
            raise RunEnded(ex.CONTEXT_LIMIT, f"still too long after compaction: {error}") from None

    def record_attempt(self, record: dict) -> None:
        """One attempt of the model call of the next step, as it starts and as it ends."""
        step = len(self.state.steps) + 1
        if record.get("attempt") == 1 and record.get("status") == "pending":
            self.attempt_base = self.attempts_seen.get(step, 0)
        number = self.attempt_base + (record.get("attempt") or 1)
        self.attempts_seen[step] = max(self.attempts_seen.get(step, 0), number)
        if record.get("status") not in ("pending", "ok"):
            self.failed_cost += record.get("cost") or 0.0
        self.on_attempt({**record, "step": step, "attempt": number})

    def charge(self, dollars: float) -> None:
        if dollars:
            self.state.cost += dollars
            self.on_cost(dollars)

    def run_calls(self, calls: list[dict], record: dict) -> None:
        """Carry out the calls in order; raise FormatError if any was malformed, RunEnded on submit or a breaker."""
        malformed = False
        for call in calls:
            outcome = self.run_call(call)
            ended = outcome.pop("ended", None)
            record["tool_calls"].append(outcome)
            record["tool_seconds"] = round(record["tool_seconds"] + outcome["seconds"], 3)
            self.add({"role": "tool", "tool_call_id": call["id"], "content": outcome["observation"]})
            if ended:  # the call that ended the run stays in its trajectory
                raise RunEnded(*ended)
            malformed = malformed or outcome["malformed"]
            if outcome["submitted"]:
                raise RunEnded(ex.SUBMITTED, "the model called submit")
            self.count_timeout(outcome)
            self.stuck.add(outcome)
        self.add(*self.stuck.check())
        if malformed:
            raise FormatError()

    def run_call(self, call: dict) -> dict:
        outcome = {"name": call["name"], "arguments": call["arguments"], "malformed": False, "submitted": False,
                   "timed_out": None, "seconds": 0.0}
        try:
            args = parse_call(call, self.specs)
        except BadToolCall as error:
            return {**outcome, "malformed": True, "observation": f"Error: {error}"}
        try:
            observation = self.toolbox.run(call["name"], args, deadline=self.get_deadline())
        except InfraError as error:  # an EnvironmentEnded carries the agent's own doing: env_broken, disk_limit
            status = getattr(error, "exit_status", ex.INFRA_ERROR)
            detail = str(error) if status != ex.INFRA_ERROR else f"the container failed: {error}"
            return {**outcome, "observation": f"[The run ended during this call: {detail}]", "ended": (status, detail)}
        return {**outcome, "observation": observation.text, "submitted": observation.submitted,
                "timed_out": observation.timed_out if call["name"] == "bash" else None,
                "seconds": round(observation.seconds, 3)}

    def count_timeout(self, outcome: dict) -> None:
        if outcome["timed_out"] is None:
            return
        self.state.timeouts = self.state.timeouts + 1 if outcome["timed_out"] else 0
        if 0 < self.limits.timeout_limit <= self.state.timeouts:
            raise RunEnded(ex.TIMEOUT_LIMIT, f"{self.state.timeouts} consecutive commands hit the time limit")

