"""What `patchmix evaluate RUN` reads from a run folder: its predictions files (iter_<k>/<label>/preds.jsonl)
and, from the config.yaml the run was made with, the dataset, split, Pro run scripts and container limits to
score them with. Each error says how to put the folder right."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from harness.exceptions import PatchmixError
from harness.pipeline.dataset import LOCAL_SUFFIXES
from harness.scoring.official import LIMIT_KEYS
from harness.scoring.verdicts import PredsFile

ITERATION_DIR = re.compile(r"^iter_(\d+)$")


def find_preds_files(run_dir: Path) -> list[PredsFile]:
    """Every iter_<k>/<label>/preds.jsonl of the run, by iteration then label."""
    if not run_dir.is_dir():
        raise PatchmixError(f"no run folder at {run_dir}; run `patchmix run CONFIG` first, "
                            "or pass the folder it made (runs/<name>)")
    found = []
    for path in run_dir.glob("iter_*/*/preds.jsonl"):
        match = ITERATION_DIR.match(path.parent.parent.name)
        if match:
            iteration, label = int(match[1]), path.parent.name
            found.append(PredsFile(iteration, label, path, run_dir / "eval" / f"iter_{iteration}" / label))
    if not found:
        raise PatchmixError(f"{run_dir} holds no predictions (iter_<k>/<model>/preds.jsonl); "
                            "run `patchmix run CONFIG` first")
    return sorted(found, key=lambda preds: (preds.iteration, preds.label))


def read_run_config(run_dir: Path) -> dict:
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise PatchmixError(f"{path} does not exist, so the dataset to score against is unknown; "
                            "evaluate a folder made by `patchmix run CONFIG`")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise PatchmixError(f"{path} is not valid YAML ({error}); restore the config the run was made with") from None
    if not isinstance(config, dict):
        raise PatchmixError(f"{path} is not a pipeline config; restore the config the run was made with")
    return config


def get_dataset(config: dict, run_dir: Path) -> tuple[str, str]:
    """The dataset (a local path, made absolute, or a Hugging Face id) and split that config.yaml names."""
    dataset = config.get("dataset") or {}
    name = dataset.get("path") if isinstance(dataset, dict) else None
    if not name:
        raise PatchmixError(f"{run_dir / 'config.yaml'} names no dataset.path; restore the config the run was "
                            "made with")
    split = str(dataset.get("split") or "test")
    if not str(name).endswith(LOCAL_SUFFIXES):
        return str(name), split
    path = Path(name) if Path(name).is_absolute() else (run_dir / name).resolve()
    if not path.is_file():
        raise PatchmixError(f"the dataset {path} named in {run_dir / 'config.yaml'} no longer exists; "
                            "put it back, or set dataset.path in that file to where it is now")
    return str(path), split


def get_pro_scripts_dir(config: dict) -> str | None:
    """The folder of SWE-bench Pro's run scripts that config.yaml names (`dataset.pro_scripts_dir`), or None."""
    dataset = config.get("dataset") if isinstance(config.get("dataset"), dict) else {}
    return str(dataset["pro_scripts_dir"]) if dataset.get("pro_scripts_dir") else None


def get_container_limits(config: dict) -> dict:
    """The limits of the run's agent containers (config `defaults.container`), which its scoring containers take."""
    defaults = config.get("defaults") if isinstance(config.get("defaults"), dict) else {}
    container = defaults.get("container") if isinstance(defaults.get("container"), dict) else {}
    return {key: container[key] for key in LIMIT_KEYS if key in container}
