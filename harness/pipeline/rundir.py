"""The run folder: where each result lives, what is finished, and which config made it.

    runs/<name>/config.yaml                          the resolved config
    runs/<name>/iter_<k>/<model>/<instance>.traj.json
    runs/<name>/iter_<k>/<model>/preds.jsonl         made from the finished trajectories
    runs/<name>/instances.json                       each instance's repository and language
    runs/<name>/run.log
"""

from __future__ import annotations

import threading
from pathlib import Path

import yaml
from pydantic import ValidationError

from harness.agent.trajectory import read_info, read_trajectory
from harness.languages import get_row_language
from harness.pipeline.config import PipelineConfig
from harness.pipeline.fingerprint import check_fingerprints, save_fingerprints
from harness.pipeline.load import describe_yaml_error
from harness.exceptions import REDONE_WHEN_CHANGED, RETRYABLE_STATUSES, ConfigError
from harness.fileio import read_json, write_json_atomic, write_jsonl_atomic, write_text_atomic
from harness.secrets import redact_data

INSTANCES_FILE = "instances.json"
# Settings that change how a run is carried out but not what it produces: they may change between resumes.
RUNTIME_KEYS = ("workers", "budget", "provider_concurrency", "instances", "images", "executor", "select")
MODEL_RUNTIME_KEYS = ("api_base", "api_key_env", "request_timeout", "retries", "retry_wait", "retry_max_wait",
                      "rate_limit_patience", "timeout_tries")


def get_model_name(run_name: str, iteration: int, label: str) -> str:
    """The `model_name_or_path` of one predictions file: unique per run, iteration and model."""
    return f"{run_name}__iter{iteration}__{label}"


def find_difference(old, new, prefix: str = "") -> str | None:
    """The first key at which two nested dicts differ, or None."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            found = find_difference(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else str(key))
            if found:
                return found
        return None
    return None if old == new else (prefix or "(top level)")


def is_finished_info(info: dict | None) -> bool:
    """A run is finished once its final record (patch included) is on disk and it needs no redo."""
    return bool(info and info.get("finished_at") and info.get("exit_status") not in (None, *RETRYABLE_STATUSES))


def fill_defaults(config: dict) -> dict:
    """A saved config with the keys added to patchmix since it was written set to their defaults, so that a
    folder made by an earlier version resumes; as it was when it no longer validates."""
    try:
        return PipelineConfig(**config).model_dump(mode="json")
    except (ValidationError, TypeError, ValueError):
        return config


def get_result_settings(config: dict) -> dict:
    """The part of a resolved config that decides what a run produces (not where or how fast it runs)."""
    settings = {key: value for key, value in config.items() if key not in RUNTIME_KEYS}
    settings["models"] = {
        label: {key: value for key, value in model.items() if key not in MODEL_RUNTIME_KEYS}
        for label, model in (config.get("models") or {}).items()
    }
    return settings


class RunDir:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.locks: dict[tuple, threading.Lock] = {}
        self.guard = threading.Lock()
        self.models: dict[str, dict] = {}
        """The current config's models by label (set by check_config): what a final run ended under is compared
        with them (REDONE_WHEN_CHANGED)."""

    def get_traj_path(self, iteration: int, label: str, instance_id: str) -> Path:
        return self.root / f"iter_{iteration}" / label / f"{instance_id}.traj.json"

    def get_preds_path(self, iteration: int, label: str) -> Path:
        return self.root / f"iter_{iteration}" / label / "preds.jsonl"

    def read_info(self, iteration: int, label: str, instance_id: str) -> dict | None:
        return read_info(self.get_traj_path(iteration, label, instance_id))

    def is_finished(self, iteration: int, label: str, instance_id: str) -> bool:
        info = self.read_info(iteration, label, instance_id)
        return is_finished_info(info) and not self.is_changed_since(iteration, label, instance_id, info)

    def is_changed_since(self, iteration: int, label: str, instance_id: str, info: dict) -> bool:
        """A final run whose end the server's side decided (`model_timeout`, `provider_error`) is redone once
        the model settings it ended under (`request_timeout`, `api_base`) changed."""
        keys, current = REDONE_WHEN_CHANGED.get(info.get("exit_status")), self.models.get(label)
        if not keys or current is None:
            return False
        try:
            ran = read_trajectory(self.get_traj_path(iteration, label, instance_id))["config"]["model"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        # compared as written: the trajectory holds the config masked (a token in `api_base`)
        return any(ran.get(key) != redact_data(current.get(key)) for key in keys)

    def write_preds(self, iteration: int, label: str, instance_ids: list[str], model_name: str) -> int:
        """Rewrite the predictions file from the finished trajectories; returns how many it holds.

        Finished runs of instances outside `instance_ids` (a resume with a narrower `instances` selection) stay
        in the file, after the selected ones."""
        with self.get_lock(iteration, label):
            rows = []
            for instance_id in self.list_instances(iteration, label, instance_ids):
                if self.is_finished(iteration, label, instance_id):
                    patch = self.read_info(iteration, label, instance_id).get("patch") or ""
                    rows.append({"instance_id": instance_id, "model_name_or_path": model_name,
                                 "model_patch": patch})
            write_jsonl_atomic(self.get_preds_path(iteration, label), rows)
            return len(rows)

    def list_instances(self, iteration: int, label: str, instance_ids: list[str]) -> list[str]:
        """`instance_ids`, then the other instances that have a trajectory in this (iteration, model) folder."""
        probe = self.get_traj_path(iteration, label, "@")
        suffix = probe.name[1:]
        stored = sorted(path.name[:-len(suffix)] for path in probe.parent.glob(f"*{suffix}"))
        chosen = set(instance_ids)
        return list(instance_ids) + [instance_id for instance_id in stored if instance_id not in chosen]

    def get_lock(self, iteration: int, label: str) -> threading.Lock:
        with self.guard:
            return self.locks.setdefault((iteration, label), threading.Lock())

    def get_spent(self) -> float:
        """Dollars spent by every run in this folder so far, finished or not."""
        total = 0.0
        for path in self.root.glob("iter_*/*/*.traj.json"):
            try:
                total += (read_info(path) or {}).get("cost") or 0.0
            except (ValueError, KeyError, AttributeError):
                continue
        return total

    def check_config(self, config: PipelineConfig) -> None:
        """Refuse to mix results: a folder made under another config stays as it was."""
        self.models = {label: model.model_dump() for label, model in config.models.items()}
        path = self.root / "config.yaml"
        if not path.is_file():
            if any(self.root.glob("iter_*/*/*.traj.json")):
                raise ConfigError(
                    f"{self.root} holds results but no config.yaml, so it cannot be told which config made them; "
                    f"restore {path}, or move the folder away to start over (nothing in it was changed)")
            return
        try:
            old = yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            raise ConfigError(f"{path} is corrupt ({describe_yaml_error(error)}); restore it, or move the folder "
                              "away to start over (nothing in it was changed)") from None
        if not isinstance(old, dict):
            raise ConfigError(f"{path} is corrupt (it is not a mapping of config keys); restore it, or move the "
                              "folder away to start over (nothing in it was changed)")
        new = redact_data(config.model_dump(mode="json"))  # as save_config writes it: secrets masked
        key = find_difference(get_result_settings(redact_data(fill_defaults(old))), get_result_settings(new))
        if key:
            raise ConfigError(
                f"{self.root} holds results of a different config (it differs at {key}); "
                f"give the pipeline a new name, or delete that folder to start over"
            )
        check_fingerprints(self.root, config)

    def save_config(self, config: PipelineConfig) -> None:
        # masked before it is dumped, so that YAML quotes the mask (a bare `***` would read as an alias)
        text = yaml.safe_dump(redact_data(config.model_dump(mode="json")), sort_keys=False)
        write_text_atomic(self.root / "config.yaml", text)
        save_fingerprints(self.root, config)

    def save_instances(self, rows: list[dict]) -> None:
        """instances.json: the repository and language of every instance run here (merged over resumes), which
        the report and the run browser break results down by; nothing of the answer key."""
        path = self.root / INSTANCES_FILE
        try:
            known = read_json(path) if path.is_file() else {}
        except (OSError, ValueError):
            known = {}
        known = known if isinstance(known, dict) else {}
        known.update({row["instance_id"]: {"repo": str(row.get("repo") or ""), "language": get_row_language(row)}
                      for row in rows})
        write_json_atomic(path, dict(sorted(known.items())))
