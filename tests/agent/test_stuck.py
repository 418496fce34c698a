"""The stuck-loop breaker: each pattern trips at its threshold, with the right patch or none, after one warning;
a varied run never trips it. Scripted model over real HTTP, real container."""

from __future__ import annotations

import pytest

from harness.agent.stuck import StuckDetector, WARNING

UNITCONV = "patchmix__unitconv-1"
TEMPERATURE = "/testbed/unitconv/temperature.py"
FIX = {"tool_calls": [{"name": "str_replace_editor", "arguments": {
    "command": "str_replace", "path": TEMPERATURE,
    "old_str": "return value - 32 * 5 / 9", "new_str": "return (value - 32) * 5 / 9"}}]}
LS = {"tool_calls": [{"name": "bash", "arguments": {"command": "ls unitconv"}}]}
HEAD = {"tool_calls": [{"name": "bash", "arguments": {"command": "head -3 unitconv/temperature.py"}}]}
SUBMIT = {"tool_calls": [{"name": "submit", "arguments": {}}]}
WARNED = WARNING.split(":")[0]


def bash(command: str) -> dict:
    return {"tool_calls": [{"name": "bash", "arguments": {"command": command}}]}


def count_warnings(traj: dict) -> int:
    return sum(1 for m in traj["messages"] if m["role"] == "user" and WARNED in m["content"])


def outcome(name: str, arguments: str, observation: str, malformed: bool = False) -> dict:
    return {"name": name, "arguments": arguments, "observation": observation, "malformed": malformed}


def feed(detector: StuckDetector, outcomes: list[dict]) -> list[str]:
    """Feed one outcome per step; what happened after each: '' (nothing), 'warn' or the exit status."""
    seen = []
    for item in outcomes:
        detector.add(item)
        try:
            seen.append("warn" if detector.check() else "")
        except Exception as end:  # noqa: BLE001 - RunEnded, checked by its status
            seen.append(end.exit_status)
            break
    return seen


@pytest.mark.parametrize("limit, outcomes, expected", [
    (3, [outcome("bash", '{"command": "ls"}', "a b")] * 5, ["", "warn", "stuck_limit"]),
    (4, [outcome("bash", '{"command": "ls"}', "a b")] * 5, ["", "", "warn", "stuck_limit"]),
    (3, [outcome("bash", '{"command": "ls"}', "a"), outcome("bash", '{"command": "pwd"}', "/")] * 4,
     ["", "", "", "warn", "", "stuck_limit"]),
    (3, [outcome("bash", '{"command": "false"}', "[exit code: 1]"),
         outcome("bash", '{"command": "(false)"}', "[exit code: 1]"),
         outcome("bash", '{"command": "test -e /x"}', "[exit code: 1]")], ["", "warn", "stuck_limit"]),
    (0, [outcome("bash", '{"command": "ls"}', "a b")] * 6, [""] * 6),
])
def test_each_pattern_trips_at_its_threshold_after_one_warning(limit, outcomes, expected):
    assert feed(StuckDetector(limit), outcomes) == expected


def test_the_same_call_with_a_new_output_is_progress_and_the_warning_comes_once():
    calls = [outcome("bash", '{"command": "pytest"}', f"{n} failed") for n in range(8)]
    assert feed(StuckDetector(3), calls) == [""] * 8
    detector = StuckDetector(4)
    repeats = [outcome("bash", '{"command": "ls"}', "a")] * 3 + [outcome("bash", '{"command": "pwd"}', "/")]
    assert feed(detector, repeats + [outcome("bash", '{"command": "id"}', "root")] * 3) == \
        ["", "", "warn", "", "", "", ""]  # the second near-miss gets no second warning; the limit is 4
    assert feed(detector, [outcome("bash", '{"command": "id"}', "root")]) == ["stuck_limit"]


@pytest.mark.docker
def test_repeated_call_trips_with_the_salvaged_patch(bundled_rows, run_scripted):
    prediction, traj, server = run_scripted(bundled_rows[UNITCONV], [FIX, LS], loop_last=True,
                                            limits={"stuck_limit": 3, "step_limit": 20})
    info = traj["info"]
    assert info["exit_status"] == "stuck_limit" and info["steps"] == 1 + 3
    assert info["patch_label"] == "breaker:stuck_limit" and "(value - 32) * 5 / 9" in prediction["model_patch"]
    assert count_warnings(traj) == 1
    # The warning reached the model: the request after the second `ls` carries it, the earlier ones do not.
    warned = [any(WARNED in (m.get("content") or "") for m in r["body"]["messages"]) for r in server.requests]
    assert warned == [False, False, False, True]


@pytest.mark.docker
def test_alternation_trips_with_no_patch_when_nothing_was_edited(bundled_rows, run_scripted):
    replies = [LS, HEAD] * 10
    prediction, traj, _ = run_scripted(bundled_rows[UNITCONV], replies, limits={"stuck_limit": 3, "step_limit": 30})
    info = traj["info"]
    assert info["exit_status"] == "stuck_limit" and info["steps"] == 6 and "alternated" in info["exit_detail"]
    assert prediction["model_patch"] == "" and info["patch_label"] is None
    assert count_warnings(traj) == 1


@pytest.mark.docker
def test_same_error_from_different_calls_trips(bundled_rows, run_scripted):
    replies = [FIX, bash("false"), bash("(false)"), bash("test -e /nowhere"), bash("! true")]
    prediction, traj, _ = run_scripted(bundled_rows[UNITCONV], replies, limits={"stuck_limit": 3, "step_limit": 30})
    info = traj["info"]
    assert info["exit_status"] == "stuck_limit" and info["steps"] == 4 and "same error" in info["exit_detail"]
    assert info["patch_label"] == "breaker:stuck_limit" and prediction["model_patch"]


@pytest.mark.docker
def test_a_varied_run_never_trips_it(bundled_rows, run_scripted):
    replies = [LS, HEAD, bash("grep -n F unitconv/temperature.py"), FIX, bash("git diff --stat"), LS,
               bash("python -c 'import unitconv'"), HEAD, SUBMIT]
    prediction, traj, _ = run_scripted(bundled_rows[UNITCONV], replies, limits={"stuck_limit": 3})
    assert traj["info"]["exit_status"] == "submitted" and traj["info"]["steps"] == len(replies)
    assert count_warnings(traj) == 0 and prediction["model_patch"]
