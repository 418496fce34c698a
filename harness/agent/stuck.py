"""The stuck-loop breaker: a run that repeats itself ends with `stuck_limit` (its patch salvaged).

Every tool call is an event. With a limit N (0 = off) the run is stuck when its last events are
- the same call with the same output N times in a row (`repeat`);
- two calls alternating, A-B-A-B..., N times each (`alternation`, 2N events);
- N errors in a row with the same text, whatever the calls (`error`): an editor or argument error, or a
  command that exited non-zero.
One repetition before the limit the model is told, once per run, that it is repeating itself; if it goes on,
the run ends. Pure bookkeeping: no model, no container.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from harness import exceptions as ex
from harness.exceptions import RunEnded

WARNING = ("You are repeating yourself: {what}. Doing the same again will not give a different result. Step back, "
           "think about what you have learned, and try something different; if your fix is done, call submit. "
           "If you repeat yourself once more, the run ends here.")
DESCRIPTIONS = {
    "repeat": "your last {count} tool calls were the same call with the same output",
    "alternation": "your last {events} tool calls alternated between the same two calls with the same outputs",
    "error": "your last {count} tool calls failed with the same error",
}
ERROR_MARKS = ("Error:", "[exit code:", "exited with code")


@dataclass(frozen=True)
class Event:
    call: str
    """The tool name and its arguments, canonical."""
    output: str
    error: bool


def make_event(outcome: dict) -> Event:
    """One tool call's record (as the loop keeps it) as an event."""
    try:
        arguments = json.dumps(json.loads(outcome["arguments"] or "{}"), sort_keys=True)
    except (json.JSONDecodeError, TypeError):
        arguments = str(outcome["arguments"])
    output = outcome.get("observation") or ""
    error = bool(outcome.get("malformed")) or any(mark in output for mark in ERROR_MARKS)
    return Event(f"{outcome['name']} {arguments}", output, error)


def count_repeats(events: list[Event]) -> int:
    """How many of the last events are the same call with the same output."""
    count = 0
    for event in reversed(events):
        if event != events[-1]:
            break
        count += 1
    return count


def count_alternations(events: list[Event]) -> int:
    """How many times each of two different calls occurs in the trailing A-B-A-B run (0 if none)."""
    if len(events) < 2 or events[-1] == events[-2]:
        return 0
    length = 2
    while length < len(events) and events[-length - 1] == events[-length + 1]:
        length += 1
    return length // 2


def count_same_errors(events: list[Event]) -> int:
    """How many of the last events are errors with the same text."""
    count = 0
    for event in reversed(events):
        if not (event.error and event.output == events[-1].output):
            break
        count += 1
    return count if events and events[-1].error else 0


def measure(events: list[Event]) -> tuple[str, int]:
    """The pattern the last events repeat most, and how many times."""
    found = {"repeat": count_repeats(events), "alternation": count_alternations(events),
             "error": count_same_errors(events)}
    pattern = max(found, key=lambda name: found[name])
    return pattern, found[pattern]


@dataclass
class StuckDetector:
    limit: int
    """Repetitions that end the run (0: off)."""
    events: list[Event] = field(default_factory=list)
    warned: bool = False

    def add(self, outcome: dict) -> None:
        if self.limit > 0:
            self.events.append(make_event(outcome))

    def check(self) -> list[dict]:
        """Raise RunEnded(stuck_limit) at the limit; one repetition before it, the warning to append (once)."""
        if self.limit <= 0 or not self.events:
            return []
        pattern, count = measure(self.events)
        what = DESCRIPTIONS[pattern].format(count=count, events=2 * count)
        if count >= self.limit:
            raise RunEnded(ex.STUCK_LIMIT, f"stuck: {what}")
        if count >= max(2, self.limit - 1) and not self.warned:
            self.warned = True
            return [{"role": "user", "content": WARNING.format(what=what)}]
        return []
