"""The isolated scoring run: the official harness's steps, in a container patchmix makes and hardens.

`swebench.harness.run_evaluation` scores in containers with the default network and an added SYS_ADMIN capability,
and the candidate's code runs there (imports, `pip install -e .`, test collection). Here each instance is scored in
a container made like an agent's (`harness.agent.environment.container_options.make_container_options`: no network,
capabilities dropped, no-new-privileges, memory, pids and CPU limits, labelled `patchmix`), and the rest is the
harness's own: its patch commands in its order (`GIT_APPLY_CMDS`, a pristine tree between tries, the reverse
check), the row's `eval_script` through `make_test_spec`, its image assets, its timeout, its grading
(`get_eval_report`, the parser registry) and its run report (`make_run_report`). The files are those of the
harness, at the same places: `logs/run_evaluation/<run_id>/<model>/<instance>/` (patch.diff, eval.sh,
test_output.txt, report.json, run_instance.log) and `<report_dir>/<model>.<run_id>.json`.

Run it as the harness is run, from a scratch folder (`harness.scoring.official.evaluate_predictions` does):
`python -m harness.scoring.isolated --dataset_name D --split S --predictions_path P --run_id R ...`.

Rows in SWE-bench Pro's form (`eval_type` "pro", `harness.pipeline.prorows`) are scored in the same container by
Pro's own steps (`harness.scoring.pro`), with the run scripts of `--pro_scripts_dir`.

Two departures, both from faults rather than verdicts: an eval script that fails for want of network ends
as an evaluation error whose log says so (`NEEDS_NETWORK`), never as a silent unresolved; and the tree's
`git diff`, logged before and after the tests, is decoded with replacement, so text that is not UTF-8 gives a
verdict instead of the harness's crash.
"""

from __future__ import annotations

import argparse
import json
import socket
from pathlib import Path, PurePosixPath

import docker
import requests

from harness.agent.config import ContainerConfig
from harness.pipeline.dataset import convert_loaded_rows
from harness.pipeline.prorows import PRO
from harness.scoring.pro import score_pro_instance
from harness.scoring.sandbox import check_network, score_in_container
from swebench.harness.constants import APPLY_PATCH_FAIL, APPLY_PATCH_PASS, CONTAINER_PATCH_FILE, LOG_TEST_OUTPUT
from swebench.harness.docker_utils import copy_to_container, exec_run_with_timeout
from swebench.harness.grading import get_eval_report
from swebench.harness.reporting import make_run_report
from swebench.harness.run_evaluation import (GIT_APPLY_CMDS, _inject_asset_restore, _stage_image_assets,
    get_dataset_from_preds, load_instances, write_run_metadata)
from swebench.harness.utils import EvaluationError, get_predictions_from_file, make_test_spec, run_threadpool
from swebench.image_builder.constants import CONTAINER_USER, CONTAINER_WORKDIR

DOCKER_TIMEOUT = 1800


# ---------------------------------------------------------------- one instance


def score_instance(spec, pred: dict, client, run_id: str, timeout: int, config: ContainerConfig):
    """The harness's `run_instance` in a hardened container (`harness.scoring.sandbox`): (instance_id, report),
    or None with the reason in the instance's run_instance.log."""
    def steps(container, log_dir: Path, logger) -> dict:
        apply_patch(container, spec.instance_id, pred, log_dir, logger)
        return run_tests(container, spec, pred, log_dir, timeout, logger)

    return score_in_container(spec.instance_id, spec.image, pred, client, run_id, config, steps)


def apply_patch(container, instance_id: str, pred: dict, log_dir: Path, logger) -> None:
    """The prediction's patch applied as the harness applies it: each of its commands in turn from a pristine
    tree, then its check that the patch is in fact applied; EvaluationError with its message when none does."""
    patch_file = log_dir / "patch.diff"
    patch_file.write_text(pred["model_patch"] or "")
    copy_to_container(container, patch_file, PurePosixPath(CONTAINER_PATCH_FILE))
    for attempt, command in enumerate(GIT_APPLY_CMDS):
        if attempt:
            run_in_tree(container, ["/bin/bash", "-c", "git checkout -- . ; git clean -fd"])
        result = run_in_tree(container, f"{command} {CONTAINER_PATCH_FILE}")
        if result.exit_code == 0:
            logger.info(f"{APPLY_PATCH_PASS}:\n{decode(result.output)}")
            return
        logger.info(f"Failed to apply patch to container: {command}")
    if run_in_tree(container, f"git apply --check --reverse {CONTAINER_PATCH_FILE}").exit_code == 0:
        logger.info(f"{APPLY_PATCH_PASS}: verified already applied")
        return
    logger.info(f"{APPLY_PATCH_FAIL}:\n{decode(result.output)}")
    raise EvaluationError(instance_id, f"{APPLY_PATCH_FAIL}:\n{decode(result.output)}", logger)


def run_in_tree(container, command):
    return container.exec_run(command, workdir=CONTAINER_WORKDIR, user=CONTAINER_USER)


def run_tests(container, spec, pred: dict, log_dir: Path, timeout: int, logger) -> dict:
    """The row's eval script (with its image assets) run within `timeout`, its output graded by swebench."""
    logger.info(f"Git diff before:\n{read_diff(container)}")
    restore = _stage_image_assets(container, spec, log_dir, logger, None)
    eval_file = log_dir / "eval.sh"
    eval_file.write_text(_inject_asset_restore(spec.eval_script, restore))
    copy_to_container(container, eval_file, PurePosixPath("/eval.sh"))
    output, timed_out, seconds = exec_run_with_timeout(container, "/bin/bash /eval.sh", timeout)
    logger.info(f"Test runtime: {seconds:_.2f} seconds")
    test_output = log_dir / LOG_TEST_OUTPUT
    test_output.write_text(output + (f"\n\nTimeout error: {timeout} seconds exceeded." if timed_out else ""))
    if timed_out:
        raise EvaluationError(spec.instance_id, f"Test timed out after {timeout} seconds.", logger)
    logger.info(f"Git diff after:\n{read_diff(container)}")
    logger.info(f"Grading answer for {spec.instance_id}...")
    report = get_eval_report(test_spec=spec, prediction=pred, test_log_path=test_output, include_tests_status=True)
    check_network(report[spec.instance_id], output, spec.instance_id, logger)
    logger.info(f"report: {report}\nResult for {spec.instance_id}: resolved: {report[spec.instance_id]['resolved']}")
    return report


def read_diff(container) -> str:
    return decode(run_in_tree(container, "git -c core.fileMode=false diff").output).strip()


def decode(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")


# ---------------------------------------------------------------- the run


def make_task(row: dict):
    """What `score_task` scores: a Pro row as it is, any other row's test spec (made here, before the workers)."""
    return row if row.get("eval_type") == PRO else make_test_spec(row)


def score_task(task, pred: dict, client, run_id: str, timeout: int, config: ContainerConfig,
               pro_scripts_dir: str | None):
    """One instance scored by its row's evaluator: Pro's steps for a Pro row, the harness's for the others."""
    if isinstance(task, dict):
        return score_pro_instance(task, pred, client, run_id, timeout, config, pro_scripts_dir)
    return score_instance(task, pred, client, run_id, timeout, config)


def run(dataset_name: str, split: str, instance_ids: list[str] | None, predictions_path: str, workers: int,
        run_id: str, timeout: int, report_dir: str, config: ContainerConfig,
        pro_scripts_dir: str | None = None) -> Path:
    """The harness's `main`, without a task repository: the instances to score, each scored, the run report."""
    Path(report_dir).mkdir(parents=True, exist_ok=True)
    predictions = get_predictions_from_file(predictions_path, dataset_name, split, None, instance_ids)
    predictions = {pred["instance_id"]: pred for pred in predictions}
    write_run_metadata(run_id, dataset_name, split, None)
    dataset = convert_loaded_rows(list(get_dataset_from_preds(dataset_name, split, instance_ids, predictions, run_id,
                                                              False)), dataset_name)
    full_dataset = convert_loaded_rows(list(load_instances(dataset_name, split, instance_ids, None)), dataset_name)
    client = docker.from_env(timeout=DOCKER_TIMEOUT)
    if dataset:
        payloads = [(make_task(row), predictions[row["instance_id"]], client, run_id, timeout, config,
                     pro_scripts_dir) for row in dataset]
        print(f"Running {len(payloads)} instances in isolated containers...")
        run_threadpool(score_task, payloads, workers)
    report_path = make_run_report(predictions, full_dataset, run_id, None, report_dir)
    try:
        add_leftovers(report_path, full_dataset, run_id, client)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        print(f"The run report lacks the leftover containers and images: docker did not list them ({error})")
    return report_path


def add_leftovers(report_path: Path, full_dataset: list[dict], run_id: str, client) -> None:
    """The fields `make_run_report` adds when given a client (containers of the run still there, the images),
    from one listing call each, without the inspection of every container and image that `make_run_report`
    does, which a container or image removed meanwhile by another process makes fail."""
    filters = {"label": ["patchmix", f"patchmix.run_id={run_id}", f"patchmix.host={socket.gethostname()}"]}
    containers = client.api.containers(all=True, filters=filters)
    names = sorted({(c.get("Names") or [c["Id"][:12]])[0].lstrip("/") for c in containers})
    images = {tag for image in client.api.images() for tag in image.get("RepoTags") or []}
    report = json.loads(Path(report_path).read_text())
    report |= {"unstopped_instances": len(names), "unstopped_containers": names,
               "unremoved_images": sorted({row.get("image", "") for row in full_dataset} & images)}
    Path(report_path).write_text(json.dumps(report, indent=4) + "\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = ContainerConfig()
    parser = argparse.ArgumentParser(description="Score predictions like swebench.harness.run_evaluation, in "
                                                 "isolated containers.")
    parser.add_argument("--dataset_name", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--instance_ids", nargs="+")
    parser.add_argument("--predictions_path", required=True)
    parser.add_argument("--max_workers", type=int, default=1)
    parser.add_argument("--run_id", required=True)
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--report_dir", default=".")
    parser.add_argument("--mem_limit", default=defaults.mem_limit)
    parser.add_argument("--pids_limit", type=int, default=defaults.pids_limit)
    parser.add_argument("--cpus", type=float, default=defaults.cpus)
    parser.add_argument("--pro_scripts_dir", help="the run_scripts folder of a SWE-bench_Pro-os checkout, for Pro rows")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = ContainerConfig(mem_limit=args.mem_limit, pids_limit=args.pids_limit, cpus=args.cpus)
    run(args.dataset_name, args.split, args.instance_ids, args.predictions_path, args.max_workers, args.run_id,
        args.timeout, args.report_dir, config, args.pro_scripts_dir)


if __name__ == "__main__":
    main()
