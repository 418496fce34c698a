"""Reproduction signal on a bundled task: a scripted agent, given only the issue, writes a script that fails on the
original code; the check keeps it, it passes with the gold patch and not with a candidate that changes nothing
that matters, the pick goes to the candidate it passes on, and nothing of the answer key reaches a request or a
container command."""

from __future__ import annotations

import numpy as np
import pytest

from harness.agent.config import AgentConfig, ContainerConfig
from harness.scripted.server import ScriptedServer
from harness.select.execute import pick_with_regressions
from harness.select.pool import Candidate
from harness.select.regression import check_regressions
from harness.select.reproduce import SCRIPT, make_public_row, write_reproduction
from harness.select.selector import Pick
from tests.conftest import make_scripted_model
from tests.select.selectkit import COMMENT_ONLY, find_answer_key, get_texts

REPRODUCTION = """from datetime import date

from daterange import iter_dates

found = list(iter_dates(date(2024, 2, 27), date(2024, 3, 1)))
assert found[-1] == date(2024, 3, 1), f"the end of the range is missing: {found}"
assert list(iter_dates(date(2024, 5, 5), date(2024, 5, 5))), "a one-day range is empty"
"""
WRITE = {"tool_calls": [{"name": "str_replace_editor", "arguments": {
    "command": "create", "path": f"/testbed/{SCRIPT}", "file_text": REPRODUCTION}}]}
RUN = {"tool_calls": [{"name": "bash", "arguments": {"command": f"python {SCRIPT}"}}]}
SUBMIT = {"tool_calls": [{"name": "submit", "arguments": {}}]}


@pytest.mark.docker
def test_a_scripted_agents_reproduction_fails_on_the_original_code_and_passes_on_gold(bundled_rows, tmp_path):
    row = bundled_rows["patchmix__daterange-1"]
    assert set(make_public_row(row)) == {"instance_id", "repo", "problem_statement", "image", "base_commit"}
    script = {"models": {"reproducer": [{"match": "", "replies": [WRITE, RUN, SUBMIT]}]}}
    with ScriptedServer(script) as server:
        config = AgentConfig(model=make_scripted_model(server, "reproducer"),
                             container=ContainerConfig(command_timeout=20))
        reproduction = write_reproduction(row, config, tmp_path / "reproduce.traj.json")
    assert reproduction.script == REPRODUCTION and reproduction.exit_status == "submitted"
    assert reproduction.cost > 0
    again = write_reproduction(row, config, tmp_path / "reproduce.traj.json")  # the server is gone: read back
    assert (again.script, again.exit_status, again.cost) == (REPRODUCTION, "submitted", 0.0)
    first = server.requests[0]["body"]["messages"]
    assert "Do not fix the issue" in first[1]["content"] and SCRIPT in first[1]["content"]
    run_output = [m for m in server.requests[2]["body"]["messages"] if m["role"] == "tool"][-1]["content"]
    assert "AssertionError" in run_output  # the agent saw its script fail on the original code

    result = check_regressions(row, {"gold": row["patch"], "comment": COMMENT_ONLY}, script=reproduction.script)
    assert result.reproduction_kept is True
    assert result.reproduces == {"gold": True, "comment": False}
    assert result.broken == {"gold": [], "comment": []}

    assert REPRODUCTION in "\n".join(result.commands)  # the script went to the container, and is checked too
    requests = get_texts([r["body"] for r in server.requests])
    assert "found = list(iter_dates(date(2024, 2, 27), date(2024, 3, 1)))" in "\n".join(requests)
    assert find_answer_key(row, "\n".join(requests)) == []
    assert find_answer_key(row, "\n".join(result.commands)) == []


@pytest.mark.docker
def test_a_script_that_passes_on_the_original_code_is_not_kept_and_the_pick_follows_a_kept_one(bundled_rows):
    row = bundled_rows["patchmix__daterange-1"]
    passing = "print('nothing to reproduce')\n"
    result = check_regressions(row, {"gold": row["patch"]}, script=passing)
    assert result.reproduction_kept is False and result.reproduces == {}

    candidates = [Candidate(row["instance_id"], "comment", COMMENT_ONLY), Candidate(row["instance_id"], "gold",
                                                                                    row["patch"])]
    combiner_pick = Pick(row["instance_id"], candidates[0], candidates, np.zeros((2, 3)), np.array([2.0, 1.0]))
    assert pick_with_regressions(combiner_pick, row).chosen.system == "comment"  # no script: nothing to tell
    checked = pick_with_regressions(combiner_pick, row, script=REPRODUCTION)
    assert checked.chosen.system == "gold"
    reasons = {r["system"]: r["reproduces"] for r in checked.get_reasons()["candidates"]}
    assert reasons == {"comment": False, "gold": True}
