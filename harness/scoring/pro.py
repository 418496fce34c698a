"""Scoring a SWE-bench Pro row as Pro's evaluator does, in patchmix's isolated scoring container.

Pro's evaluator (`swe_bench_pro_eval.py` of scaleapi/SWE-bench_Pro-os) runs one entry script per instance in a
container of its image: the ENV lines of the image's Dockerfiles exported, the repository at /app reset to the
base commit, the patch applied (`git apply -v`), the last line of `before_repo_set_cmd` (the checkout of the
test files from the gold commit), `run_script.sh` on the comma-joined `selected_test_files_to_run` with stdout and
stderr to files, then `parser.py stdout stderr output.json`; an instance is resolved when every `fail_to_pass`
and `pass_to_pass` test is PASSED in output.json. Here the same steps run in the container
`harness.scoring.isolated` makes (no network, capabilities dropped, limits), with the image's environment (what
its Dockerfiles' ENV lines set) exported the same way, and with `run_script.sh` and `parser.py` read from the
instance's folder of `scripts_dir` (the `run_scripts/` of a SWE-bench_Pro-os checkout, named by the config key
`dataset.pro_scripts_dir`).

The verdict is stored as the swebench harness stores its own (`<log dir>/report.json`, tests by status under
FAIL_TO_PASS and PASS_TO_PASS), with `"evaluator": "swe-bench-pro"`, so that the run report, the verdict cache
and `patchmix evaluate` treat it like any other. As for the other rows, a patch that does not apply is an
evaluation error ("patch did not apply"), not the unresolved verdict Pro's script would go on to give.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path, PurePosixPath

from harness.agent.config import ContainerConfig
from harness.pipeline.prorows import PRO_WORKDIR
from harness.scoring.official import PRO_SCRIPTS_MISSING
from harness.scoring.sandbox import check_network, score_in_container
from swebench.harness.constants import APPLY_PATCH_FAIL, APPLY_PATCH_PASS, LOG_TEST_OUTPUT
from swebench.harness.docker_utils import copy_to_container, exec_run_with_timeout
from swebench.harness.utils import EvaluationError

EVALUATOR = "swe-bench-pro"
WORKSPACE = PurePosixPath("/workspace")
SCRIPT_NAMES = ("run_script.sh", "parser.py")
PASSED = "PASSED"
BINARY_HUNK = re.compile(r"^(Binary files .* differ|GIT binary patch)$", re.MULTILINE)
SCRIPTS_HINT = ("point the config key dataset.pro_scripts_dir (or `--pro_scripts_dir`) at the run_scripts folder "
                "of your SWE-bench_Pro-os checkout")


def score_pro_instance(row: dict, pred: dict, client, run_id: str, timeout: int, config: ContainerConfig,
                       scripts_dir: str | Path | None):
    """(instance_id, report) for a Pro row, or None with the reason in the instance's run_instance.log (its
    report.json is then missing, which makes it an evaluation error)."""
    def steps(container, log_dir: Path, logger) -> dict:
        scripts = read_scripts(scripts_dir, row["instance_id"], logger)
        exports = make_exports(client.images.get(row["image"]).attrs["Config"].get("Env") or [])
        write_workspace(container, log_dir, {**scripts, "patch.diff": strip_binary_hunks(pred["model_patch"] or "")})
        apply_patch(container, row, exports, logger)
        return run_tests(container, row, pred, exports, log_dir, timeout, logger)

    return score_in_container(row["instance_id"], row["image"], pred, client, run_id,
                              config.model_copy(update={"workdir": PRO_WORKDIR}), steps)


def read_scripts(scripts_dir: str | Path | None, instance_id: str, logger) -> dict[str, str]:
    """run_script.sh and parser.py of the instance; EvaluationError in one line that says what to do."""
    if not scripts_dir:
        raise EvaluationError(instance_id, f"{PRO_SCRIPTS_MISSING}: no folder of SWE-bench Pro run scripts is set; "
                              f"{SCRIPTS_HINT}", logger)
    folder = Path(scripts_dir) / instance_id
    if not Path(scripts_dir).is_dir():
        raise EvaluationError(instance_id, f"{PRO_SCRIPTS_MISSING}: the folder {scripts_dir} does not exist; "
                              f"{SCRIPTS_HINT}", logger)
    missing = [name for name in SCRIPT_NAMES if not (folder / name).is_file()]
    if missing:
        raise EvaluationError(instance_id, f"{PRO_SCRIPTS_MISSING}: {folder} lacks {', '.join(missing)}, which Pro "
                              f"scores {instance_id} with; {SCRIPTS_HINT}", logger)
    return {name: (folder / name).read_text() for name in SCRIPT_NAMES}


def strip_binary_hunks(patch: str) -> str:
    """The patch without the sections of binary files, which Pro's evaluator drops before applying it."""
    sections = re.split(r"(?=^diff --git )", patch, flags=re.MULTILINE)
    return "".join(section for section in sections if section.strip() and not BINARY_HUNK.search(section))


def make_exports(environment: list[str]) -> str:
    """`export NAME=value` lines of the image's environment: what Pro's entry script gets from the ENV lines of
    the image's Dockerfiles, which make that same environment."""
    lines = []
    for item in environment:
        name, _, value = item.partition("=")
        lines.append(f"export {name}={shlex.quote(value)}")
    return "\n".join(lines)


def write_workspace(container, log_dir: Path, files: dict[str, str]) -> None:
    """Each file to /workspace/<name> in the container, and a copy beside the instance's log."""
    for name, content in files.items():
        local = log_dir / name
        local.write_text(content)
        copy_to_container(container, local, WORKSPACE / name)


def run_shell(container, script: str):
    return container.exec_run(["bash", "-c", script], workdir=PRO_WORKDIR, user="root")


def apply_patch(container, row: dict, exports: str, logger) -> None:
    """The first half of Pro's entry script: reset to the base commit, apply the patch (an empty one is nothing
    to apply); EvaluationError when it does not apply."""
    base = shlex.quote(row["base_commit"])
    reset = f"{exports}\ncd {PRO_WORKDIR}\ngit reset --hard {base}\ngit checkout {base}\n"
    result = run_shell(container, reset + "test ! -s /workspace/patch.diff || git apply -v /workspace/patch.diff")
    output = (result.output or b"").decode("utf-8", errors="replace")
    if result.exit_code != 0:
        logger.info(f"{APPLY_PATCH_FAIL}:\n{output}")
        raise EvaluationError(row["instance_id"], f"{APPLY_PATCH_FAIL}:\n{output}", logger)
    logger.info(f"{APPLY_PATCH_PASS}:\n{output}")


def make_test_commands(row: dict, exports: str) -> str:
    """The second half of Pro's entry script: the gold test files checked out (the last line of
    before_repo_set_cmd), run_script.sh on the selected test files, parser.py on its output."""
    checkout = row["before_repo_set_cmd"].strip().split("\n")[-1]
    files = ",".join(row["selected_test_files_to_run"])
    return (f"{exports}\ncd {PRO_WORKDIR}\n{checkout}\n"
            f"bash /workspace/run_script.sh {files} > /workspace/stdout.log 2> /workspace/stderr.log\n"
            "python /workspace/parser.py /workspace/stdout.log /workspace/stderr.log /workspace/output.json\n")


def run_tests(container, row: dict, pred: dict, exports: str, log_dir: Path, timeout: int, logger) -> dict:
    instance_id = row["instance_id"]
    script = log_dir / "entryscript.sh"
    script.write_text(make_test_commands(row, exports))
    copy_to_container(container, script, WORKSPACE / "entryscript.sh")
    output, timed_out, seconds = exec_run_with_timeout(container, "bash /workspace/entryscript.sh", timeout)
    logger.info(f"Test runtime: {seconds:_.2f} seconds")
    logs = {name: read_file(container, WORKSPACE / name) for name in ("stdout.log", "stderr.log", "output.json")}
    test_output = f"{logs['stdout.log'] or ''}\n{logs['stderr.log'] or ''}\n{output}"
    (log_dir / LOG_TEST_OUTPUT).write_text(test_output + (f"\n\nTimeout error: {timeout} seconds exceeded."
                                                          if timed_out else ""))
    if timed_out:
        raise EvaluationError(instance_id, f"Test timed out after {timeout} seconds.", logger)
    if logs["output.json"] is None:
        raise EvaluationError(instance_id, "parser.py wrote no /workspace/output.json; see test_output.txt", logger)
    (log_dir / "output.json").write_text(logs["output.json"])
    report = grade_output(row, pred, json.loads(logs["output.json"]))
    check_network(report[instance_id], test_output, instance_id, logger)
    logger.info(f"report: {report}\nResult for {instance_id}: resolved: {report[instance_id]['resolved']}")
    return report


def read_file(container, path: PurePosixPath) -> str | None:
    result = container.exec_run(["cat", str(path)], user="root")
    return (result.output or b"").decode("utf-8", errors="replace") if result.exit_code == 0 else None


def list_passed(output: dict) -> set[str]:
    return {test["name"] for test in output.get("tests", []) if test.get("status") == PASSED}


def is_resolved(output: dict, fail_to_pass: list[str], pass_to_pass: list[str]) -> bool:
    """Pro's rule: every fail_to_pass and pass_to_pass test PASSED."""
    return set(fail_to_pass) | set(pass_to_pass) <= list_passed(output)


def grade_output(row: dict, pred: dict, output: dict) -> dict:
    """The report of one instance in the swebench harness's form, from parser.py's output.json."""
    passed = list_passed(output)

    def split(names: list[str]) -> dict:
        return {"success": [n for n in names if n in passed], "failure": [n for n in names if n not in passed]}

    resolved = is_resolved(output, row["FAIL_TO_PASS"], row["PASS_TO_PASS"])
    return {row["instance_id"]: {
        "patch_is_None": pred.get("model_patch") is None, "patch_exists": bool(pred.get("model_patch")),
        "patch_successfully_applied": True, "resolved": resolved, "evaluator": EVALUATOR,
        "tests_status": {"FAIL_TO_PASS": split(row["FAIL_TO_PASS"]), "PASS_TO_PASS": split(row["PASS_TO_PASS"]),
                         "FAIL_TO_FAIL": {"success": [], "failure": []},
                         "PASS_TO_FAIL": {"success": [], "failure": []}},
    }}
