"""The isolated scoring run (`harness.scoring.isolated`) against the official harness's own
(`swebench.harness.run_evaluation`): the same verdicts and report fields on every bundled task and every kind of
patch, in a container with no network and few capabilities; an eval script that fails for want of network is an
evaluation error that says so."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from harness.agent.environment.container_options import KEPT_CAPABILITIES
from harness.tasks.rows import write_rows
from harness.scoring.official import (ISOLATED, NEEDS_NETWORK, OFFICIAL, evaluate_predictions, read_error_reasons,
    read_instance_reports)

from tests.scoring.scoringkit import PATCH_THAT_DOES_NOT_APPLY, Log, make_run

pytestmark = pytest.mark.docker

TASKS_DIR = Path(__file__).resolve().parents[2] / "tasks"
RUN_ID = "same-predictions"
START = ">>>>> Start Test Output"
EDITS = {
    "partial": {
        "daterange": [("daterange/core.py", "while current < end:", "while current < end or current == start:")],
        "iniparse": [("iniparse/parser.py", "parts[1].strip()", 'parts[1].strip() + "=" * (len(parts) - 2)')],
        "slugkit": [("slugkit/slug.py", "text.lower()", 'text.lower().replace("ü", "u")')],
        "unitconv": [("unitconv/temperature.py", "return value - 32 * 5 / 9",
                      "return (value - 32) * 5 / 9 if value > 100 else value - 32 * 5 / 9")],
        "wrapkit": [("wrapkit/wrap.py", "len(word) < width:", "len(word) < width + (width == 7):")],
    },
    "regression": {
        "daterange": [("daterange/core.py", "max((end - start).days + 1, 0)", "(end - start).days + 1")],
        "iniparse": [("iniparse/parser.py", 'if "=" not in line:', "if False:")],
        "slugkit": [("slugkit/text.py", "slug[:cut] if cut > 0 else slug[:max_length]", "slug[:max_length]")],
        "unitconv": [("unitconv/temperature.py", "return value * 9 / 5 + 32", "return value * 9 / 5")],
        "wrapkit": [("wrapkit/wrap.py", 'raise ValueError("width must be at least 1")', "return []")],
    },
}
"""Per task: edits of the base sources that fix part of the issue, and (on top of the gold patch) ones that
break a test that passed before."""
GARBAGE = "this is not a patch\n"
STALE = PATCH_THAT_DOES_NOT_APPLY


# ---------------------------------------------------------------- patches of every kind


def get_task(instance_id: str) -> str:
    return instance_id.split("__", 1)[1].rsplit("-", 1)[0]


def git(repo: Path, *args: str, stdin: str | None = None) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(command, cwd=repo, input=stdin, capture_output=True, text=True, check=True).stdout


def make_patch(task: str, edits: list[tuple[str, str, str]], on: str = "") -> str:
    """The diff of `edits` made to the task's base sources (after applying the patch `on`)."""
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        shutil.copytree(TASKS_DIR / task / "repo", repo)
        git(repo, "init", "-q")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "base")
        if on:
            git(repo, "apply", "-", stdin=on)
        for path, old, new in edits:
            text = (repo / path).read_text()
            assert old in text, f"{task}: {old!r} is not in {path}"
            (repo / path).write_text(text.replace(old, new, 1))
        return git(repo, "diff")


def make_fuzzy(patch: str) -> str:
    """The gold patch without its blob ids and with its first context line changed: `git apply` (plain, 3-way,
    reject) refuses it and only the harness's last resort, `patch --fuzz`, applies it."""
    lines = [line for line in patch.splitlines() if not line.startswith("index ")]
    first_context = next(i for i, line in enumerate(lines) if line.startswith(" ") and i > 3)
    lines[first_context] += "  # not in the file"
    return "\n".join(lines) + "\n"


def make_corrupt(patch: str) -> str:
    """The gold patch with its first hunk header cut short (no closing `@@`): no command of the harness reads it."""
    lines = patch.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("@@ "))
    lines[header] = lines[header].replace(" @@", "", 1)
    return "\n".join(lines) + "\n"


def make_kinds(row: dict) -> dict[str, str]:
    task, gold = get_task(row["instance_id"]), row["patch"]
    readme = (TASKS_DIR / task / "repo" / "README.md").read_text().splitlines()[0]
    return {
        "gold": gold,
        "empty": "",
        "noop": make_patch(task, [("README.md", readme, readme + "\n\nTouched by a patch that fixes nothing.")]),
        "partial": make_patch(task, EDITS["partial"][task]),
        "regression": make_patch(task, EDITS["regression"][task], on=gold),
        "garbage": GARBAGE,
        "stale": STALE,
        "corrupt": make_corrupt(gold),
        "fuzzy": make_fuzzy(gold),
    }


@pytest.fixture(scope="module")
def all_rows(bundled_rows, docker_client):
    from harness.tasks.published import build_published_image

    published = build_published_image(docker_client, TASKS_DIR, log=lambda *args: None)
    return [bundled_rows[i] for i in sorted(bundled_rows)] + [published]


def write_predictions(path: Path, model: str, patches: dict[str, str]) -> Path:
    lines = [{"instance_id": i, "model_name_or_path": model, "model_patch": p} for i, p in patches.items()]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def score_both_ways(dataset: Path, predictions: Path, tmp_path: Path,
                    limits: dict | None = None) -> dict[str, tuple[dict, Path, float]]:
    """{containers: (run report, scratch, seconds)} of the same predictions scored in both kinds of containers,
    the isolated ones with `limits`."""
    results = {}
    for containers in (OFFICIAL, ISOLATED):
        scratch, started = tmp_path / containers, time.monotonic()
        report = evaluate_predictions(predictions, dataset, RUN_ID, scratch, workers=2, timeout=300,
                                      containers=containers, limits=limits)
        results[containers] = (report, scratch, time.monotonic() - started)
    return results


def read_instance_files(scratch: Path, name: str) -> dict[str, str]:
    folder = scratch / "logs" / "run_evaluation" / RUN_ID
    return {path.parent.name: path.read_text() for path in sorted(folder.glob(f"*/*/{name}"))}


# ---------------------------------------------------------------- the same verdicts


def test_isolated_scoring_gives_the_official_verdicts_on_every_task_and_kind_of_patch(all_rows, tmp_path):
    """One dataset holds each bundled task once per kind of patch (`<instance>.<kind>`), so each way of scoring
    is one harness call over every (task, kind)."""
    rows, patches = [], {}
    for row in all_rows:
        for kind, patch in make_kinds(row).items():
            rows.append(dict(row, instance_id=f"{row['instance_id']}.{kind}"))
            patches[rows[-1]["instance_id"]] = patch
    write_rows(rows, tmp_path / "kinds.jsonl")
    predictions = write_predictions(tmp_path / "preds.jsonl", "patchmix/kinds", patches)
    results = score_both_ways(tmp_path / "kinds.jsonl", predictions, tmp_path)
    (official, official_dir, official_s), (isolated, isolated_dir, isolated_s) = results[OFFICIAL], results[ISOLATED]
    print(f"\n{len(rows)} predictions: official harness's containers {official_s:.1f} s, isolated {isolated_s:.1f} s")

    assert isolated == official
    assert read_instance_reports(isolated_dir, RUN_ID) == read_instance_reports(official_dir, RUN_ID)
    for name in ("patch.diff", "eval.sh", "report.json"):
        assert read_instance_files(isolated_dir, name) == read_instance_files(official_dir, name), name
    reasons = {way: {i: e["reason"] for i, e in read_error_reasons(scratch, RUN_ID, official["error_ids"]).items()}
               for way, (_, scratch, _) in results.items()}
    assert reasons[ISOLATED] == reasons[OFFICIAL] and set(reasons[ISOLATED].values()) == {"patch did not apply"}
    check_kinds_did_what_they_say(official, read_instance_reports(official_dir, RUN_ID),
                                  [row["instance_id"] for row in all_rows])
    assert "git apply --verbose --reject" in read_instance_files(isolated_dir, "run_instance.log")[
        f"{all_rows[0]['instance_id']}.fuzzy"], "the fuzzy patch went down the harness's chain of commands"


def check_kinds_did_what_they_say(report: dict, per_instance: dict, ids: list[str]) -> None:
    """Each kind of patch gave the outcome it stands for, on every task (so the comparison covers them all)."""
    def ids_of(kind):
        return sorted(f"{i}.{kind}" for i in ids)

    assert set(ids_of("gold")) | set(ids_of("fuzzy")) == set(report["resolved_ids"])
    assert report["empty_patch_ids"] == ids_of("empty")
    assert report["error_ids"] == sorted(ids_of("garbage") + ids_of("stale") + ids_of("corrupt"))
    for instance_id in ids_of("noop") + ids_of("partial") + ids_of("regression"):
        assert instance_id in report["unresolved_ids"]
        status = per_instance[instance_id]["tests_status"]
        fixed, broken = status["FAIL_TO_PASS"]["success"], status["PASS_TO_PASS"]["failure"]
        kind = instance_id.rsplit(".", 1)[1]
        assert (bool(fixed), bool(status["FAIL_TO_PASS"]["failure"]), bool(broken)) == {
            "noop": (False, True, False), "partial": (True, True, False), "regression": (True, False, True)}[kind], \
            (instance_id, status)


# ---------------------------------------------------------------- the container


CAPABILITY_BITS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6, "SETUID": 7,
                   "NET_BIND_SERVICE": 10, "SYS_ADMIN": 21}
PROBE = "echo interfaces: $(ls /sys/class/net); grep -E '^(CapEff|NoNewPrivs):' /proc/self/status"


def read_probe(test_output: str) -> tuple[list[str], int, str]:
    interfaces = re.search(r"^interfaces: (.*)$", test_output, re.M)[1].split()
    capabilities = int(re.search(r"^CapEff:\s*([0-9a-f]+)$", test_output, re.M)[1], 16)
    return interfaces, capabilities, re.search(r"^NoNewPrivs:\s*(\d)$", test_output, re.M)[1]


def test_the_scoring_container_has_no_network_and_few_capabilities(bundled_rows, tmp_path):
    """Seen from inside, by the eval script itself: only the loopback interface, the agent's capabilities and
    no-new-privileges; the harness's own container has a network interface and SYS_ADMIN. The limits given (a
    run's `defaults.container` ones) are docker's."""
    row = bundled_rows["patchmix__unitconv-1"]
    probed = dict(row, eval_script=row["eval_script"].replace(f"echo '{START}'", f"{PROBE}\necho '{START}'", 1))
    assert probed["eval_script"] != row["eval_script"]
    write_rows([probed], tmp_path / "probe.jsonl")
    predictions = write_predictions(tmp_path / "preds.jsonl", "probe", {row["instance_id"]: row["patch"]})
    limits = {"mem_limit": "1g", "pids_limit": 256, "cpus": 1.5}
    results = score_both_ways(tmp_path / "probe.jsonl", predictions, tmp_path, limits)
    assert results[ISOLATED][0]["resolved_ids"] == results[OFFICIAL][0]["resolved_ids"] == [row["instance_id"]]

    outputs = {way: read_instance_files(scratch, "test_output.txt")[row["instance_id"]]
               for way, (_, scratch, _) in results.items()}
    interfaces, capabilities, no_new_privileges = read_probe(outputs[ISOLATED])
    assert interfaces == ["lo"] and no_new_privileges == "1"
    assert capabilities == sum(1 << CAPABILITY_BITS[name] for name in KEPT_CAPABILITIES)
    interfaces, capabilities, _ = read_probe(outputs[OFFICIAL])
    assert set(interfaces) - {"lo"} and capabilities & (1 << CAPABILITY_BITS["SYS_ADMIN"])

    log = read_instance_files(results[ISOLATED][1], "run_instance.log")[row["instance_id"]]
    settings = json.loads(re.search(r"started, isolated: (\{.*\})$", log, re.M)[1])
    assert settings["NetworkMode"] == "none" and settings["SecurityOpt"] == ["no-new-privileges"]
    assert (settings["Memory"], settings["PidsLimit"], settings["NanoCpus"]) == (2 ** 30, 256, 1_500_000_000)
    assert settings["Labels"]["patchmix"] == "1" and settings["Labels"]["patchmix.run_id"] == RUN_ID


# ---------------------------------------------------------------- an eval script that needs the network


NO_NETWORK_PIP = ("echo \"WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) "
                  "after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection "
                  "object at 0x7f3a>: Failed to establish a new connection: [Errno -3] Temporary failure in name "
                  "resolution')': /simple/requests/\" >&2")
"""What `pip install` prints in a container without network, each try (the eval script echoes it rather than
reach out). Not its final `ERROR: ...` line: stdout and stderr reach the log in either order, and when the test
output's start marker comes first, swebench's grading reads the lines up to the marker's echo as the test
output, where pytest's log parser takes a line starting `ERROR` for a test's status (a flaky verdict, in the
official harness as here)."""


def test_an_eval_script_that_fails_for_want_of_network_is_an_evaluation_error_that_says_so(bundled_rows, tmp_path):
    """A run that failed and whose eval script reached for the network has no verdict, and its one line says
    why and what to do; a run that passed anyway keeps its verdict."""
    from harness.scoring.evaluation import evaluate_run

    fails, passes = bundled_rows["patchmix__unitconv-1"], bundled_rows["patchmix__wrapkit-1"]
    rows = [dict(row, eval_script=row["eval_script"].replace(f"echo '{START}'", f"{NO_NETWORK_PIP}\necho '{START}'"))
            for row in (fails, passes)]
    write_rows(rows, tmp_path / "network.jsonl")
    run_dir = make_run(tmp_path, tmp_path / "network.jsonl", {(1, "a"): {
        fails["instance_id"]: make_patch("unitconv", EDITS["partial"]["unitconv"]),
        passes["instance_id"]: passes["patch"]}})
    log = Log()
    entry = evaluate_run(run_dir, workers=2, timeout=300, log=log, max_retries=0)["files"]["iter_1/a"]
    assert entry["resolved"] == [passes["instance_id"]] and entry["unresolved"] == []
    assert entry["infra_errors"] == [fails["instance_id"]]
    reason = entry["error_reasons"][fails["instance_id"]]
    assert reason.startswith(NEEDS_NETWORK) and "Failed to establish a new connection" in reason
    assert "--official-containers" in reason and "\n" not in reason
    assert f"{fails['instance_id']} ({reason})" in log.text()
