"""The pipeline's select stage (`select:` in its config): after the last iteration, the rules' picks and, when
the config says where its weights come from, the fitted selector's picks go to `runs/<name>/selected/`. After
scoring, `refresh_verdicts` gives those picks the verdicts of the candidates they are, so the report's
`## Selection` table counts what they resolve. Nothing here reads a verdict to choose a patch of the same run.
When the stage runs (after `patchmix run`, and again after `patchmix evaluate`) is `harness.workflow`'s business."""

from __future__ import annotations

from pathlib import Path

from harness.fileio import read_json, read_jsonl, write_json_atomic
from harness.pipeline.config import PipelineConfig
from harness.pipeline.ledger import LEDGER_NAME
from harness.select.picks import Checks, run_selection
from harness.select.pool import read_run_folder
from harness.select.rules import format_selection, select_patches

COMBINED = Path("selected") / "combined"


def run_select_stage(run_dir: Path, config: PipelineConfig) -> str:
    """Pick one patch per instance with the rules, and with the selector when the stage names one (then checked
    as it asks: tests, reproduction, judge; with the pipeline's models, defaults and prompts, their calls in the
    run's ledger and within its budget); returns lines to print."""
    stage = config.select
    lines = [format_selection(select_patches(run_dir))]
    if stage.selector or stage.fit_on:
        lines.append(run_selection([str(run_dir)], run_dir / COMBINED, stage.fit_on or None,
                                   Path(stage.selector) if stage.selector else None, stage.top_k,
                                   make_stage_checks(config, run_dir),
                                   Path(stage.clusters) if stage.clusters else None, config.dataset.path,
                                   stage.priors, [Path(p) for p in stage.execution] or None))
    return "\n".join(lines)


def make_stage_checks(config: PipelineConfig, run_dir: Path):
    """The checks the select stage asks for, or None."""
    stage, dataset = config.select, config.dataset.path
    if not dataset or not (stage.execute or stage.judge):
        return None
    return Checks(dataset, stage.execute, config.get_agent_config(None, stage.reproduce) if stage.reproduce else None,
                  config.models.get(stage.judge or ""), stage.judge_budget, config.defaults.container,
                  config.prompts_dir, run_dir / LEDGER_NAME, config.budget)


def refresh_verdicts(run_dir: Path) -> bool:
    """Bring the picks in `run_dir/selected/` up to date with the run's verdicts: the rules are applied again
    (they read no verdict, so they pick the same patches) and each of the selector's picks takes the verdict of
    the candidate with the same instance and patch. False when selection never ran in this folder."""
    if not (run_dir / "selected" / "summary.json").is_file():
        return False
    select_patches(run_dir)
    summary_path = run_dir / COMBINED / "summary.json"
    if summary_path.is_file():
        verdicts = {(c.instance_id, c.patch): c.resolved for c in read_run_folder(run_dir) if c.resolved is not None}
        picks = [(row["instance_id"], row["model_patch"]) for row in read_jsonl(run_dir / COMBINED / "preds.jsonl")]
        scored = [verdicts[pick] for pick in picks if pick in verdicts]
        write_json_atomic(summary_path, {**read_json(summary_path), "scored": len(scored), "resolved": sum(scored)})
    return True
