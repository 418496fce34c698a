"""Stages run one after the other: run → select (`patchmix run`) and evaluate → refresh (`patchmix evaluate`)."""

from __future__ import annotations

from pathlib import Path

from harness.exceptions import PatchmixError
from harness.pipeline.config import PipelineConfig
from harness.pipeline.launch import run_pipeline
from harness.pipeline.load import load_pipeline_config
from harness.pipeline.lock import RunLock
from harness.scoring.evaluation import evaluate_run
from harness.select.stage import refresh_verdicts, run_select_stage


def run_then_select(config_path: Path, runs_dir: Path = Path("runs"), **options) -> int:
    """`patchmix run`: the pipeline (`run_pipeline` with `options`), then its select stage once every run is
    finished, both on the config loaded once; the pipeline's exit code."""
    config = load_pipeline_config(config_path)
    code = run_pipeline(config, runs_dir=runs_dir, **options)
    picked = select_after_run(config, runs_dir, options.get("iteration")) if code == 0 else None
    if picked:
        print(picked)
    return code


def evaluate_then_refresh(run_dir: Path, **options) -> dict:
    """`patchmix evaluate`: the scoring (`evaluate_run` with `options`), then the verdicts of the picks, holding
    the run folder's lock (two evaluations of one folder would remove each other's containers)."""
    if not Path(run_dir).is_dir():
        raise PatchmixError(f"{run_dir} is not a run folder; give the folder `patchmix run` wrote (runs/<name>)")
    with RunLock(run_dir):
        summary = evaluate_run(run_dir, **options)
        if refresh_verdicts(run_dir):
            options.get("log", print)(f"the picks in {run_dir / 'selected'} now count the verdicts")
    return summary


def select_after_run(config: PipelineConfig, runs_dir: Path, iteration: int | None = None) -> str | None:
    """The select stage of the loaded pipeline `config`, once `patchmix run` has finished every run (call it
    after `run_pipeline` returned 0); None when the config has no stage or only an earlier iteration was run."""
    if config.select is None or iteration not in (None, len(config.iterations)):
        return None
    run_dir = Path(runs_dir) / config.name
    try:
        with RunLock(run_dir):
            return run_select_stage(run_dir, config)
    except PatchmixError as error:  # the runs are finished and kept; only the picks are missing
        return f"the select stage picked nothing: {error}"
