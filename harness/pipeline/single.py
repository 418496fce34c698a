"""Helpers of `patchmix run-one`: its config from a file plus flags, and its predictions file."""

from __future__ import annotations

from pathlib import Path

from harness.agent.config import AgentConfig
from harness.exceptions import ConfigError
from harness.fileio import read_jsonl, write_jsonl_atomic
from harness.pipeline.rundir import is_finished_info


def make_single_config(data: dict, args) -> AgentConfig:
    model = dict(data.get("model") or {})
    if args.model:
        model["name"] = args.model
    if args.api_base:
        model["api_base"] = args.api_base
    if "name" not in model:
        raise ConfigError("no model given: pass --model NAME or set model.name in the config")
    return AgentConfig(**{**data, "model": model})


def save_prediction(path: Path, prediction: dict, info: dict) -> bool:
    """Insert or replace the prediction of this instance in a preds.jsonl file, as the pipeline does: only for a
    finished run; a run to redo (`infra_error`, `interrupted`, `model_unavailable`) leaves no row. Returns
    whether a row was written."""
    rows = read_jsonl(path) if Path(path).is_file() else []
    rows = [row for row in rows if row["instance_id"] != prediction["instance_id"]]
    finished = is_finished_info(info)
    if finished:
        rows.append(prediction)
    if finished or Path(path).is_file():
        write_jsonl_atomic(path, rows)
    return finished
