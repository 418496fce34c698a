"""The judge: any litellm model reads the issue and one representative of each group of candidates (the diff and,
when there is one, a short summary of the run that made it) and names the one it thinks resolves the issue, or
abstains. Its calls cost money: each is counted in `spent`, and once `budget` is spent the judge is not asked
again. Only the issue text and the candidates reach it, never the answer key.

`judge_pick` applies it to a pick: the candidates are grouped by the change they make (`Pick.keys`),
the best-scoring member of each of the top groups represents it, and the judge's choice wins unless it abstains.
After the execution signals, the candidates they dropped are not shown (nor, when a kept reproduction script
passes on some, the others).
"""

from __future__ import annotations

import json
import re
import string
import threading
from dataclasses import dataclass, replace

import numpy as np

from harness.agent.config import ModelConfig
from harness.agent.model.query import Model
from harness.agent.prompts import render
from harness.exceptions import InfraError, RunEnded
from harness.select.flagged import CLOSE_MARGIN
from harness.select.selector import Pick

TEMPLATE = "judge.j2"
TOP_GROUPS = 4
CHOOSE = {"type": "function", "function": {
    "name": "choose",
    "description": "Name the candidate that resolves the issue, or abstain.",
    "parameters": {"type": "object", "required": ["candidate"], "properties": {
        "candidate": {"type": "string", "description": "a candidate's label, or `abstain`"},
        "reason": {"type": "string", "description": "one or two sentences"}}}}}
TEXT_CHOICE = re.compile(r"\b(?i:choose|choice|pick)\W+(?:(?i:candidate)\W+)?([A-Z]|(?i:abstain))\b")
"""A choice in words, read from the last one: "I choose B", "Choice: abstain" (a capital label only)."""


@dataclass
class Representative:
    patch: str
    summary: str = ""


@dataclass
class Verdict:
    """The judge's answer: the index of the chosen representative, or None (it abstained, failed, or was not
    asked: `skipped` says why)."""

    choice: int | None
    cost: float = 0.0
    reason: str = ""
    skipped: str | None = None


def parse_choice(tool_calls: list[dict], content: str | None, count: int) -> tuple[int | None, str]:
    """(index or None, reason) from a `choose` call, else from a reply in words ("I choose B")."""
    label, reason = None, content or ""
    for call in tool_calls:
        if call["name"] == "choose":
            try:
                arguments = json.loads(call["arguments"] or "{}")
            except json.JSONDecodeError:
                continue
            label, reason = str(arguments.get("candidate", "")).strip(), str(arguments.get("reason", ""))
            break
    if label is None:
        found = TEXT_CHOICE.findall(content or "")
        label = found[-1] if found else ""
    label = label.strip("` ").upper()
    index = string.ascii_uppercase.find(label) if len(label) == 1 else -1
    return (index if 0 <= index < count else None), reason


class Judge:
    """One judge model with a budget in dollars (None: no cap); `on_call` gets each call's ledger events and
    `is_spent` says when a wider budget (the run folder's) is spent. Safe to share between threads."""

    def __init__(self, config: ModelConfig, budget: float | None = None, on_call=None,
                 prompts_dir: str | None = None, is_spent=None):
        self.model = Model(config, on_call=on_call)
        self.budget = budget
        self.is_spent = is_spent or (lambda: False)
        self.prompts_dir = prompts_dir
        self.spent = 0.0
        self.lock = threading.Lock()

    def judge(self, row: dict, representatives: list[Representative]) -> Verdict:
        """Ask which representative resolves the issue of `row` (its `problem_statement` and `repo` are read)."""
        if len(representatives) < 2:
            return Verdict(None, skipped="fewer than two groups: nothing to judge")
        if len(representatives) > len(string.ascii_uppercase):
            raise ValueError(f"at most {len(string.ascii_uppercase)} representatives, not {len(representatives)}")
        with self.lock:
            if self.budget is not None and self.spent >= self.budget:
                return Verdict(None, skipped=f"the judge's budget of ${self.budget:.2f} is spent")
        if self.is_spent():
            return Verdict(None, skipped="the run's budget is spent")
        candidates = [{"label": string.ascii_uppercase[i], "patch": r.patch.strip(), "summary": r.summary.strip()}
                      for i, r in enumerate(representatives)]
        prompt = render(TEMPLATE, {"problem_statement": row["problem_statement"], "repo": row.get("repo", ""),
                                   "candidates": candidates}, self.prompts_dir)
        try:
            reply = self.model.query([{"role": "user", "content": prompt}], [CHOOSE])
        except (InfraError, RunEnded) as error:
            return Verdict(None, skipped=f"the judge failed: {error}")
        with self.lock:
            self.spent += reply.cost
        choice, reason = parse_choice(reply.tool_calls, reply.message.get("content"), len(representatives))
        return Verdict(choice, reply.cost, reason)


def get_eligible(chosen: Pick) -> list[int]:
    """The candidates the judge may see, best score first: not dropped by the execution signals, only those
    a kept reproduction script passes on when there are any, and no flagged one scored close to a clean one."""
    signals = [chosen.extra.get(c.system, {}) for c in chosen.candidates]
    order = [int(i) for i in np.argsort(-chosen.scores, kind="stable") if not signals[i].get("dropped")]
    reproducing = [i for i in order if signals[i].get("reproduces")]
    return drop_flagged_near_clean(reproducing or order, chosen.scores, signals)


def drop_flagged_near_clean(order: list[int], scores: np.ndarray, signals: list[dict]) -> list[int]:
    """`order` without the flagged candidates that a clean one in it scores within CLOSE_MARGIN of (the judge
    is never shown a flagged candidate that selection would not pick over a clean one)."""
    clean = [scores[i] for i in order if not signals[i].get("integrity")]
    return [i for i in order if not signals[i].get("integrity") or not any(s >= scores[i] - CLOSE_MARGIN
                                                                            for s in clean)]


def judge_pick(chosen: Pick, row: dict, judge: Judge, top_groups: int = TOP_GROUPS) -> Pick:
    """The pick after the judge compared the top `top_groups` groups of changes (best score first), each shown
    with the summary of the run that made it (`Candidate.summary`); each candidate's reasons say whether its group
    was shown and chosen, and the pick's the judge's cost."""
    groups: dict[str, list[int]] = {}
    for i in get_eligible(chosen):
        if chosen.keys[i]:
            groups.setdefault(chosen.keys[i], []).append(i)
    shown = list(groups.values())[:top_groups]
    heads = [chosen.candidates[members[0]] for members in shown]
    verdict = judge.judge(row, [Representative(c.patch, c.summary) for c in heads])
    extra = {system: dict(values) for system, values in chosen.extra.items()}
    for number, members in enumerate(shown):
        for i in members:
            extra.setdefault(chosen.candidates[i].system, {})["judge"] = (
                "not asked" if verdict.skipped else "abstained" if verdict.choice is None
                else "chosen" if verdict.choice == number else "shown")
    winner = heads[verdict.choice] if verdict.choice is not None else chosen.chosen
    notes = {**chosen.notes, "judge": {"cost": verdict.cost, "reason": verdict.reason, "skipped": verdict.skipped}}
    return replace(chosen, chosen=winner, extra=extra, notes=notes)
