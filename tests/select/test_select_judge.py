"""The judge over the real litellm client and the scripted provider: it is shown one representative per group of
changes (with the run's summary), its choice wins, it may abstain, its cost is counted and its budget holds, a
failing provider makes it step aside, and nothing of the answer key is in what it is sent."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.scripted.server import ScriptedServer
from harness.select.judge import Judge, judge_pick, parse_choice
from harness.select.pool import Candidate
from harness.select.selector import Pick
from harness.select.static import profile_patch
from tests.conftest import TASKS_DIR, make_scripted_model
from tests.select.selectkit import COMMENT_ONLY, find_answer_key, get_texts

ROW = next(row for row in map(json.loads, (Path(TASKS_DIR) / "bundled.jsonl").read_text().splitlines())
           if row["instance_id"] == "patchmix__daterange-1")


def choose(label: str, reason: str = "it keeps the end of the range") -> dict:
    return {"tool_calls": [{"name": "choose", "arguments": {"candidate": label, "reason": reason}}]}


def make_pick(summary: str = "") -> Pick:
    """The combiner ranks a comment-only change first, then the gold patch and the gold patch reformatted (one
    group), then a change with nothing in it."""
    regrouped = ROW["patch"].replace("while current <= end:", "while current<=end:  # closed range")
    candidates = [Candidate(ROW["instance_id"], "comment", COMMENT_ONLY),
                  Candidate(ROW["instance_id"], "gold", ROW["patch"], summary=summary),
                  Candidate(ROW["instance_id"], "gold-reformatted", regrouped),
                  Candidate(ROW["instance_id"], "nothing", "")]
    return Pick(ROW["instance_id"], candidates[0], candidates, np.zeros((4, 3)), np.array([4.0, 3.0, 2.0, 1.0]),
                keys=[profile_patch(c.patch).key for c in candidates])


def test_the_judges_choice_wins_and_its_cost_is_counted():
    script = {"models": {"judge": [{"match": "", "replies": [choose("B")]}]}}
    with ScriptedServer(script) as server:
        judge = Judge(make_scripted_model(server, "judge"))
        picked = judge_pick(make_pick(summary="Changed: iter_dates includes its end."), ROW, judge)
    assert picked.chosen.system == "gold"
    assert len(server.requests) == 1 and len(server.bills) == 1
    reasons = picked.get_reasons()
    assert reasons["judge"]["cost"] > 0 and reasons["judge"]["cost"] == judge.spent
    assert reasons["judge"]["reason"] == "it keeps the end of the range"
    marks = {r["system"]: r.get("judge") for r in reasons["candidates"]}
    assert marks == {"comment": "shown", "gold": "chosen", "gold-reformatted": "chosen", "nothing": None}
    prompt = "\n".join(get_texts(server.requests[0]["body"]["messages"]))
    assert prompt.count("<candidate label=") == 2  # one per group; the empty change is not shown
    assert ROW["problem_statement"].strip() in prompt and "iter_dates includes its end" in prompt
    assert "while current<=end:" not in prompt  # the group's best-scoring member represents it
    assert find_answer_key(ROW, prompt) == []


def test_a_judge_that_abstains_leaves_the_pick_and_a_spent_budget_stops_the_asking():
    """Its own budget, then the run folder's: once either is spent no call is made."""
    script = {"models": {"judge": [{"match": "", "replies": [choose("abstain", "neither is clearly right")]}]}}
    with ScriptedServer(script) as server:
        judge = Judge(make_scripted_model(server, "judge"), budget=1e-9)
        first = judge_pick(make_pick(), ROW, judge)
        second = judge_pick(make_pick(), ROW, judge)
    assert first.chosen.system == second.chosen.system == "comment"
    assert {r.get("judge") for r in first.get_reasons()["candidates"]} == {"abstained", None}
    assert len(server.requests) == 1  # the first call spent the budget
    assert second.notes["judge"]["skipped"] == "the judge's budget of $0.00 is spent"
    assert second.get_reasons()["candidates"][0]["judge"] == "not asked"
    with ScriptedServer(script) as server:
        spent_run = Judge(make_scripted_model(server, "judge"), is_spent=lambda: True)
        third = judge_pick(make_pick(), ROW, spent_run)
    assert third.notes["judge"]["skipped"] == "the run's budget is spent" and not server.requests


def test_a_provider_that_refuses_makes_the_judge_step_aside():
    script = {"models": {"judge": [{"match": "", "replies": [{"error": {"status": 400, "times": 5}}]}]}}
    with ScriptedServer(script) as server:
        picked = judge_pick(make_pick(), ROW, Judge(make_scripted_model(server, "judge")))
    assert picked.chosen.system == "comment"
    assert picked.notes["judge"]["skipped"].startswith("the judge failed: ")


def test_the_judges_reply_is_read_from_its_call_or_its_words():
    call = [{"name": "choose", "arguments": json.dumps({"candidate": "b", "reason": "r"})}]
    assert parse_choice(call, None, 2) == (1, "r")
    assert parse_choice([], "After reading both, I choose A.", 2) == (0, "After reading both, I choose A.")
    assert parse_choice([], "Candidate A looks right, but I choose candidate B.", 2)[0] == 1  # the last one
    assert parse_choice([], "I choose a careful reading: neither. Choice: abstain", 2)[0] is None
    assert parse_choice([{"name": "choose", "arguments": '{"candidate": "C"}'}], None, 2)[0] is None  # no such
    assert parse_choice([{"name": "choose", "arguments": "{not json"}], "no idea", 2)[0] is None


@pytest.mark.docker
def test_patchmix_select_with_tests_and_a_judge_from_the_command_line(bundled_rows, tmp_path, capsys):
    """`--dataset` runs the repository's tests on each candidate (both survive), then the judge chooses."""
    from harness.cli import main

    pool = [{"instance_id": ROW["instance_id"], "system": system, "model_patch": patch, "resolved": resolved}
            for system, patch, resolved in (("comment", COMMENT_ONLY, False), ("gold", ROW["patch"], True))]
    (tmp_path / "pool.jsonl").write_text("".join(json.dumps(row) + "\n" for row in pool))
    script = {"models": {"judge": [{"match": "", "replies": [choose("A")]}]}}
    with ScriptedServer(script) as server:
        model = {"name": "openai/judge", "api_base": server.api_base, "api_key_env": "SCRIPTED_API_KEY",
                 "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
        (tmp_path / "models.yaml").write_text(json.dumps({"models": {"judge": model}}))
        assert main(["select", str(tmp_path / "pool.jsonl"), "--dataset", str(Path(TASKS_DIR) / "bundled.jsonl"),
                     "--models", str(tmp_path / "models.yaml"), "--judge", "judge", "--judge-budget", "0.5",
                     "--out", str(tmp_path / "out")]) == 0
    assert "judge cost $0.0" in capsys.readouterr().out and len(server.requests) == 1
    [reason] = [json.loads(line) for line in (tmp_path / "out" / "reasons.jsonl").read_text().splitlines()]
    assert {c["system"]: c["judge"] for c in reason["candidates"]}[reason["chosen"]] == "chosen"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["judged"] and summary["executed"] and summary["cost"]["judge"] > 0
    assert {c["system"]: c["dropped"] for c in reason["candidates"]} == {"comment": False, "gold": False}


def test_a_judge_without_its_dataset_or_model_file_is_refused_in_one_line(tmp_path):
    from harness.exceptions import PatchmixError
    from harness.select.picks import make_checks

    with pytest.raises(PatchmixError, match="--reproduce and --judge need --dataset"):
        make_checks(None, None, None, "judge")
    (tmp_path / "models.yaml").write_text("models: {judge: {name: openai/judge}}\n")
    with pytest.raises(PatchmixError, match=r"has no model 'jduge' \(it has: judge\)"):
        make_checks("d.jsonl", str(tmp_path / "models.yaml"), None, "jduge")
    (tmp_path / "bad.yaml").write_text("name: x\n")
    with pytest.raises(PatchmixError, match="no usable `models:` section") as error:
        make_checks("d.jsonl", str(tmp_path / "bad.yaml"), None, "judge")
    assert "\n" not in str(error.value)
