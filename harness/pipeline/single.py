"""Helpers of `patchmix run-one`: its config from a file plus flags, and its predictions file."""

from __future__ import annotations

from pathlib import Path

from harness.agent.config import AgentConfig
from harness.exceptions import ConfigError
from harness.fileio import read_jsonl, write_jsonl_atomic


def make_single_config(data: dict, args) -> AgentConfig:
    model = dict(data.get("model") or {})
    if args.model:
        model["name"] = args.model
    if args.api_base:
        model["api_base"] = args.api_base
    if "name" not in model:
        raise ConfigError("no model given: pass --model NAME or set model.name in the config")
    return AgentConfig(**{**data, "model": model})


def save_prediction(path: Path, prediction: dict) -> None:
    """Insert or replace the prediction of this instance in a preds.jsonl file."""
    rows = read_jsonl(path) if Path(path).is_file() else []
    rows = [row for row in rows if row["instance_id"] != prediction["instance_id"]] + [prediction]
    write_jsonl_atomic(path, rows)
