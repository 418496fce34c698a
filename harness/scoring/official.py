"""Scoring with the official SWE-bench harness (swebench 5.x): run in patchmix's isolated containers
(`harness.scoring.isolated`, the default) or in the harness's own (`swebench.harness.run_evaluation`).

Either runs as a subprocess in a scratch directory: it writes `logs/` relative to its working directory
and lowers the open-file limit of its own process, neither of which should touch ours. Both take the same
arguments and leave the same files.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from harness.exceptions import PatchmixError
from harness.fileio import write_text_atomic
from harness.pipeline.benchmarks import find_benchmark
from harness.pipeline.dataset import load_rows
from harness.scoring.containers import ISOLATED, OFFICIAL, OFFICIAL_CONTAINERS_FLAG
from swebench.harness.constants import (APPLY_PATCH_FAIL, END_TEST_OUTPUT, LOG_INSTANCE, LOG_REPORT,
    RUN_EVALUATION_LOG_DIR, START_TEST_OUTPUT)

HARNESS_MODULE = "swebench.harness.run_evaluation"
ISOLATED_MODULE = "harness.scoring.isolated"
MODULES = {ISOLATED: ISOLATED_MODULE, OFFICIAL: HARNESS_MODULE}
LIMIT_KEYS = ("mem_limit", "pids_limit", "cpus")
"""The container settings of a run's config (`defaults.container`) that its isolated scoring containers take."""
NEEDS_NETWORK = "the eval script failed for want of network, which the isolated scoring container does not have"
LOG_TAIL_LINES = 40
GENERIC_ERROR = "evaluation error"
PRO_SCRIPTS_MISSING = "SWE-bench Pro scripts missing"
"""How `harness.scoring.pro` begins the message of an instance whose run_script.sh or parser.py is not found."""
IMAGE_UNAVAILABLE = "Image unavailable"
"""How an instance log begins when the instance was not run because its image could not be had."""
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class EvaluationFailed(PatchmixError):
    """The harness process failed or wrote no report; the message carries the tail of its output."""


def get_test_output_markers() -> tuple[str, str]:
    """The lines that an eval script prints around the test output, which grading cuts the log at."""
    return START_TEST_OUTPUT, END_TEST_OUTPUT


def evaluate_predictions(
    predictions_path: str | Path,
    dataset_path: str | Path,
    run_id: str,
    scratch_dir: str | Path,
    workers: int = 1,
    timeout: int = 1800,
    instance_ids: list[str] | None = None,
    split: str = "test",
    containers: str = ISOLATED,
    limits: dict | None = None,
    pro_scripts_dir: str | Path | None = None,
    part: str | None = None,
) -> dict:
    """Score a predictions file (.json/.jsonl) against a SWE-bench 5.x dataset with the official harness, in
    `containers`: ISOLATED (patchmix's, with the `limits` of LIMIT_KEYS given, else the agent's defaults) or
    OFFICIAL (the harness's own). SWE-bench Pro rows are scored with the run scripts of `pro_scripts_dir`
    (`harness.scoring.pro`), in isolated containers only.

    Returns the harness's run report (resolved_ids, unresolved_ids, error_ids, empty_patch_ids, ...). Per
    instance results stay in `<scratch_dir>/logs/run_evaluation/<run_id>/`; an instance that already has a
    report.json there is not run again, so a rerun with the same run_id and scratch_dir resumes. Calls on disjoint
    instances of one run id may run at once when each names its `part`: its own run report and output log.
    """
    predictions_path, scratch = Path(predictions_path).resolve(), Path(scratch_dir).resolve()
    model_name = read_model_name(predictions_path)
    scratch.mkdir(parents=True, exist_ok=True)
    dataset_path, split = write_readable_dataset(str(dataset_path), split, scratch)
    report_dir = scratch / "parts" / part if part else scratch
    command = make_harness_command(predictions_path, dataset_path, run_id, scratch, workers, timeout, instance_ids,
                                   split, containers, limits, pro_scripts_dir, report_dir)
    log_path = get_log_path(scratch, f"{run_id}.{part}" if part else run_id)
    returncode = run_logged(command, scratch, log_path)
    report_path = find_run_report(report_dir, model_name, run_id)
    if returncode != 0 or not report_path.is_file():
        raise EvaluationFailed(
            f"the SWE-bench harness ({containers} containers) exited with code {returncode} and "
            f"{describe_report(report_path)}; "
            f"full output in {log_path}, last lines:\n{read_tail(log_path)}"
        )
    return json.loads(report_path.read_text())


def write_readable_dataset(dataset: str, split: str, scratch: Path) -> tuple[str, str]:
    """A dataset the harness's own loader can read: a benchmark name (`multilingual`) or a gzip-compressed file
    is written out as plain JSON lines in `scratch` (the rows as patchmix reads them); anything else as it is."""
    if not (find_benchmark(dataset) or dataset.endswith(".gz")):
        return dataset, split
    return write_dataset_copy(load_rows(dataset, split), scratch), "test"


def write_dataset_copy(rows: list[dict], scratch: Path) -> str:
    """The rows as a JSON-lines file in `scratch`, named by their content (written once); its absolute path."""
    text = "".join(json.dumps(row, sort_keys=True, default=str) + "\n" for row in rows)
    path = Path(scratch) / f"dataset.{hashlib.sha256(text.encode()).hexdigest()[:12]}.jsonl"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
    return str(path.resolve())


def read_model_name(predictions_path: Path) -> str:
    """The `model_name_or_path` of the first prediction: the harness names its report after it."""
    predictions = read_predictions(predictions_path)
    if not predictions:
        raise EvaluationFailed(f"{predictions_path} holds no predictions; the harness needs at least one")
    return predictions[0].get("model_name_or_path") or "None"


def read_predictions(path: Path) -> list[dict]:
    if not path.is_file():
        raise EvaluationFailed(f"predictions file {path} does not exist")
    text = path.read_text()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if path.suffix == ".json":
        data = json.loads(text)
        return list(data.values()) if isinstance(data, dict) else data
    raise EvaluationFailed(f"predictions file {path} must end in .json or .jsonl")


def make_harness_command(predictions_path, dataset_path, run_id, scratch, workers, timeout, instance_ids,
                         split="test", containers=ISOLATED, limits=None, pro_scripts_dir=None, report_dir=None):
    """The harness's command line. Never `--task_repo`: our images are built ahead, by harness.tasks.images."""
    if containers not in MODULES:
        raise PatchmixError(f"unknown scoring containers {containers!r}; use {ISOLATED!r} or {OFFICIAL!r}")
    if pro_scripts_dir and containers != ISOLATED:
        raise PatchmixError("SWE-bench Pro rows are scored by Pro's steps in isolated containers only; score them "
                            f"without {OFFICIAL_CONTAINERS_FLAG}")
    dataset = str(dataset_path)
    if Path(dataset).suffix in (".json", ".jsonl", ".parquet"):
        dataset = str(Path(dataset).resolve())
    command = [
        sys.executable, "-m", MODULES[containers],
        "--dataset_name", dataset,
        "--split", split,
        "--predictions_path", str(predictions_path),
        "--run_id", run_id,
        "--max_workers", str(workers),
        "--timeout", str(timeout),
        "--report_dir", str(report_dir or scratch),
    ]
    if instance_ids:
        command += ["--instance_ids", *instance_ids]
    if containers == ISOLATED:
        command += [arg for key in LIMIT_KEYS if key in (limits or {}) for arg in (f"--{key}", str(limits[key]))]
        command += ["--pro_scripts_dir", str(Path(pro_scripts_dir).resolve())] if pro_scripts_dir else []
    return command


def get_log_path(scratch_dir: str | Path, run_id: str) -> Path:
    """Where `evaluate_predictions` keeps the harness's stdout and stderr for `run_id`."""
    return Path(scratch_dir).resolve() / f"run_evaluation.{run_id}.log"


def run_logged(command: list[str], cwd: Path, log_path: Path) -> int:
    """Run `command` in `cwd` with stdout and stderr going to `log_path`; return its exit code."""
    path = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}
    with open(log_path, "w") as log:
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        return subprocess.run(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode


def find_run_report(report_dir: Path, model_name: str, run_id: str) -> Path:
    """Where `swebench.harness.reporting.make_run_report` writes: `<model with / as __>.<run_id>.json`."""
    return Path(report_dir) / f"{model_name.replace('/', '__')}.{run_id}.json"


def describe_report(report_path: Path) -> str:
    return "wrote its report" if report_path.is_file() else f"wrote no report at {report_path}"


def read_tail(log_path: Path, lines: int = LOG_TAIL_LINES) -> str:
    if not log_path.is_file():
        return "(no output)"
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])


def read_instance_reports(scratch_dir: str | Path, run_id: str) -> dict[str, dict]:
    """Per-instance report.json contents of a run, keyed by instance id (tests_status included).

    The harness writes them to `logs/run_evaluation/<run_id>/<model>/<instance_id>/report.json`.
    """
    run_dir = Path(scratch_dir) / RUN_EVALUATION_LOG_DIR / run_id
    reports = {}
    for path in sorted(run_dir.glob(f"*/*/{LOG_REPORT}")):
        reports.update(json.loads(path.read_text()))
    return reports


def read_error_reasons(scratch_dir: str | Path, run_id: str, instance_ids: list[str]) -> dict[str, dict]:
    """Why the harness gave no verdict for each of `instance_ids` in `run_id`: {id: {reason, log}}.

    Read from each instance's run_instance.log: a patch that did not apply, an image that was not found, tests
    that timed out; anything else is a plain "evaluation error" whose details are in that log.
    """
    run_dir = Path(scratch_dir).resolve() / RUN_EVALUATION_LOG_DIR / run_id
    reasons = {}
    for instance_id in instance_ids:
        logs = sorted(run_dir.glob(f"*/{instance_id}/{LOG_INSTANCE}"))
        if not logs:
            reasons[instance_id] = {"reason": "the harness wrote no instance log", "log": str(run_dir)}
            continue
        reason = classify_instance_log(logs[0].read_text(errors="replace"))
        reasons[instance_id] = {"reason": reason, "log": str(logs[0])}
    return reasons


def classify_instance_log(text: str) -> str:
    if APPLY_PATCH_FAIL in text:
        return "patch did not apply"
    if NEEDS_NETWORK in text:
        return text[text.index(NEEDS_NETWORK):].splitlines()[0]
    if PRO_SCRIPTS_MISSING in text:
        return text[text.index(PRO_SCRIPTS_MISSING):].splitlines()[0]
    if text.startswith(IMAGE_UNAVAILABLE):
        return text.splitlines()[0][len(IMAGE_UNAVAILABLE) + 2:]
    if "Image " in text and " not found for " in text:
        return "image not found"
    if "Test timed out" in text:
        return "tests timed out"
    if "UnicodeDecodeError" in text and "codec can't decode" in text:
        return ("the harness could not decode non-UTF-8 text in the repository's `git diff` after applying the "
                "patch (a limit of swebench's run_instance; the patch carries such text byte-exact)")
    return GENERIC_ERROR
