"""SWE-bench Pro in patchmix, with real parts: the bundled Pro tasks' images (built in Pro's layout), Pro's
scoring steps in the isolated container (`harness.scoring.pro`) against Pro's official evaluator run in a
container of the same image, a missing scripts folder as an evaluation error that says what to do, and a
scripted fixer run through the pipeline on a Pro task: it works in /app with the image's environment, its patch
is resolved by the Pro evaluator, and no answer-key text reaches the model while requirements and interface do."""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest
from unidiff import PatchSet

from harness.agent.config import ContainerConfig
from harness.tasks.proimages import PRO_DIR, ROWS_FILE, build_pro_images, get_pro_scripts_dir
from harness.scripted.server import ScriptedServer
from harness.pipeline.launch import run_pipeline
from harness.pipeline.progress import Progress
from harness.pipeline.prorows import convert_pro_row
from harness.scoring.official import evaluate_predictions, read_error_reasons
from harness.scoring.pro import score_pro_instance
from harness.scoring.evaluation import evaluate_run

from tests.pipeline.pipelinekit import PRICE, write_config

pytestmark = pytest.mark.docker

OFFICIAL_DIR = Path("/work/shared/data/swe-bench-pro")
SCRIPTS = get_pro_scripts_dir()
VARIANTS = ("gold", "empty", "partial", "breaking")
TIMEOUT = 600


@pytest.fixture(scope="module")
def pro_rows(docker_client) -> dict[str, dict]:
    """The bundled Pro tasks' rows in Pro's form, by repository name, their images built if missing."""
    rows = build_pro_images(PRO_DIR, log=lambda *args: None, client=docker_client)
    return {row["repo"].split("/")[1]: row for row in rows}


def get_patch(row: dict, variant: str) -> str:
    if variant == "gold":
        return row["patch"]
    if variant == "empty":
        return ""
    return (PRO_DIR / "sources" / row["repo"].split("/")[1] / "variants" / f"{variant}.patch").read_text()


def load_official_evaluator(monkeypatch):
    """Pro's `swe_bench_pro_eval.py`, imported unchanged; its `from helper_code.image_uri import ...` is served
    by Pro's own `image_uri.py` from the same folder."""
    helper = types.ModuleType("helper_code")
    spec = importlib.util.spec_from_file_location("helper_code.image_uri", OFFICIAL_DIR / "image_uri.py")
    image_uri = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(image_uri)
    helper.image_uri = image_uri
    monkeypatch.setitem(sys.modules, "helper_code", helper)
    monkeypatch.setitem(sys.modules, "helper_code.image_uri", image_uri)
    spec = importlib.util.spec_from_file_location("swe_bench_pro_eval", OFFICIAL_DIR / "swe_bench_pro_eval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def get_official_verdict(official, row: dict, patch: str, out_dir: Path, prefix: str) -> tuple[bool, dict | None]:
    """Official: `eval_with_docker` (entry script from `create_entryscript`, files from
    `assemble_workspace_files`, a container of the image from `get_dockerhub_image_uri` with the workspace
    mounted, outputs by `collect_outputs_local`). Glue: the three lines of its `main` that decide resolved,
    which are not a function of their own, and None (no output.json) as False, as `main` counts it."""
    output = official.eval_with_docker(patch, row, str(out_dir), "patchmix", str(SCRIPTS), prefix=prefix, redo=True,
                                       block_network=True)
    if output is None:
        return False, None
    passed_tests = {x["name"] for x in output["tests"] if x["status"] == "PASSED"}
    f2p = set(eval(row["fail_to_pass"]))  # noqa: S307 - as the official main does, on our own rows
    p2p = set(eval(row["pass_to_pass"]))  # noqa: S307
    return (f2p | p2p) <= passed_tests, output


def get_patchmix_verdict(row: dict, patch: str, client, run_id: str) -> tuple[bool, dict]:
    pred = {"instance_id": row["instance_id"], "model_name_or_path": "equivalence", "model_patch": patch}
    result = score_pro_instance(convert_pro_row(row), pred, client, run_id, TIMEOUT, ContainerConfig(), SCRIPTS)
    assert result is not None, f"patchmix gave no verdict for {row['instance_id']} ({run_id})"
    return result[1][row["instance_id"]]["resolved"], result[1][row["instance_id"]]


@pytest.mark.parametrize("task", ["durkit", "csvline"])
def test_pro_scoring_gives_the_official_evaluators_verdicts(pro_rows, docker_client, task, tmp_path, monkeypatch):
    """For gold, empty, partial and breaking patches, `harness.scoring.pro` in patchmix's isolated container and
    Pro's official `swe_bench_pro_eval.py` give the same verdict and the same test statuses.

    Official code, unchanged (loaded from /work/shared/data/swe-bench-pro): `eval_with_docker` and all it calls:
    `prepare_run`, `assemble_workspace_files` (`load_local_script` of our run_script.sh and parser.py,
    `create_entryscript` with `load_base_docker`/`instance_docker` reading our dockerfiles/ in Pro's layout,
    `strip_binary_hunks`), `write_files_local`, `get_dockerhub_image_uri` (Pro's image_uri.py, namespace
    `patchmix`), the pull (which fails here, so its fallback to the local image is used), `docker run` of the
    entry script with the workspace mounted and `block_network`, `collect_outputs_local`.
    Test glue: importing the file (its `helper_code.image_uri` import served by Pro's own image_uri.py), the
    working directory set to tasks/pro for its relative dockerfiles/ paths, and the resolved decision, which is
    three inline lines of its `main` rather than a function, restated in `get_official_verdict` (with None, no
    output.json, counted False as `main` counts it)."""
    row = pro_rows[task]
    official = load_official_evaluator(monkeypatch)
    verdicts = {}
    for variant in VARIANTS:
        patch = get_patch(row, variant)
        monkeypatch.chdir(tmp_path)  # patchmix's logs/ go here
        ours, report = get_patchmix_verdict(row, patch, docker_client, f"equivalence-{task}-{variant}")
        monkeypatch.chdir(PRO_DIR)  # the official code reads dockerfiles/ from its working directory
        theirs, output = get_official_verdict(official, row, patch, tmp_path / "official", variant)
        assert ours == theirs, (variant, report, output)
        passed = {test["name"] for test in output["tests"] if test["status"] == "PASSED"}
        for group in ("FAIL_TO_PASS", "PASS_TO_PASS"):
            assert set(report["tests_status"][group]["success"]) == passed & set(convert_pro_row(row)[group])
        verdicts[variant] = ours
    # the four patches are told apart: only the gold one is resolved, so the equality above is not all-False
    assert verdicts == {"gold": True, "empty": False, "partial": False, "breaking": False}
    assert report["evaluator"] == "swe-bench-pro"


def test_missing_run_scripts_end_as_an_evaluation_error_that_says_where_to_point(pro_rows, tmp_path):
    rows = [convert_pro_row(row) for row in pro_rows.values()]
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps({"instance_id": row["instance_id"], "model_name_or_path": "m",
                                         "model_patch": row["patch"]}) + "\n" for row in rows))
    scripts = tmp_path / "run_scripts"
    only = pro_rows["durkit"]["instance_id"]
    (scripts / only).mkdir(parents=True)
    for name in ("run_script.sh", "parser.py"):
        (scripts / only / name).write_text((SCRIPTS / only / name).read_text())
    report = evaluate_predictions(preds, PRO_DIR / ROWS_FILE, "missing-scripts", tmp_path / "scratch", workers=2,
                                  pro_scripts_dir=scripts)
    missing = pro_rows["csvline"]["instance_id"]
    assert report["resolved_ids"] == [only] and report["error_ids"] == [missing]
    reason = read_error_reasons(tmp_path / "scratch", "missing-scripts", [missing])[missing]["reason"]
    assert "\n" not in reason and "lacks run_script.sh, parser.py" in reason
    assert "dataset.pro_scripts_dir" in reason and "SWE-bench_Pro-os checkout" in reason
    report = evaluate_predictions(preds, PRO_DIR / ROWS_FILE, "no-scripts", tmp_path / "scratch", workers=2)
    assert report["error_ids"] == sorted(row["instance_id"] for row in rows)
    reason = read_error_reasons(tmp_path / "scratch", "no-scripts", [only])[only]["reason"]
    assert reason.startswith("SWE-bench Pro scripts missing: no folder of SWE-bench Pro run scripts is set")


def make_fixer_replies(row: dict) -> list[dict]:
    """Where am I and with what environment; the gold fix hunk by hunk under /app; a check that imports the
    package through the image's PYTHONPATH; submit."""
    def call(name: str, **arguments) -> dict:
        return {"tool_calls": [{"name": name, "arguments": arguments}]}

    edits = []
    for patched in PatchSet(row["patch"]):
        for hunk in patched:
            edits.append(call("str_replace_editor", command="str_replace", path=f"/app/{patched.path}",
                              old_str="".join(line.value for line in hunk.source_lines()),
                              new_str="".join(line.value for line in hunk.target_lines())))
    return [call("bash", command="pwd; echo PYTHONPATH=$PYTHONPATH"), *edits,
            call("bash", command="python -c 'from durkit import format_duration; print(format_duration(3725))'"),
            call("submit")]


def test_a_fixer_run_through_the_pipeline_on_a_pro_task_is_resolved_and_never_sees_the_answer_key(
        pro_rows, tmp_path):
    raw = pro_rows["durkit"]
    row = convert_pro_row(raw)
    script = {"models": {"fixer": [{"match": "", "replies": make_fixer_replies(row)}]}}
    with ScriptedServer(script) as server:
        model = {"name": "openai/fixer", "api_base": server.api_base, "api_key_env": "SCRIPTED_API_KEY",
                 "retry_wait": 0.01, **PRICE}
        config = {"name": "pro", "dataset": {"path": str(PRO_DIR / ROWS_FILE), "pro_scripts_dir": str(SCRIPTS)},
                  "instances": {"ids": [row["instance_id"]]}, "models": {"fixer": model},
                  "defaults": {"limits": {"step_limit": 10}, "container": {"command_timeout": 30}},
                  "iterations": [{"models": ["fixer"]}], "workers": 1}
        path = write_config(tmp_path / "pro.yaml", config)
        assert run_pipeline(path, runs_dir=tmp_path / "runs", progress=Progress(live=False)) == 0
    run_dir = tmp_path / "runs" / "pro"
    traj = json.loads(next(run_dir.glob("iter_1/fixer/*.traj.json")).read_text())
    observations = [call["observation"] for step in traj["steps"] for call in step["tool_calls"]]
    assert traj["info"]["exit_status"] == "submitted"
    assert "/app" in observations[0] and "PYTHONPATH=/app/src" in observations[0]
    assert "1h2m5s" in observations[-2]
    summary = evaluate_run(run_dir, workers=1, log=lambda *args: None)
    assert summary["files"]["iter_1/fixer"]["resolved"] == [row["instance_id"]]
    report = json.loads(next((tmp_path / "runs").rglob(f"{row['instance_id']}/report.json")).read_text())
    assert report[row["instance_id"]]["evaluator"] == "swe-bench-pro"

    sent = json.dumps([request["body"] for request in server.requests])
    def escaped(text: str) -> str:
        return json.dumps(text)[1:-1]
    assert escaped(raw["requirements"].strip()) in sent and escaped(raw["interface"].strip()) in sent
    assert escaped(raw["problem_statement"].strip()) in sent
    gold_commit = raw["before_repo_set_cmd"].strip().splitlines()[-1].split()[2]
    secrets = [raw["patch"], raw["test_patch"], raw["before_repo_set_cmd"], raw["fail_to_pass"], raw["pass_to_pass"],
               raw["selected_test_files_to_run"], gold_commit, *ast.literal_eval(raw["fail_to_pass"]),
               *ast.literal_eval(raw["pass_to_pass"])]
    secrets += [name.split("::")[-1] for name in ast.literal_eval(raw["fail_to_pass"])]
    for secret in secrets:
        assert escaped(secret.strip()) not in sent, secret
