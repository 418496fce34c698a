"""`patchmix images list|pull|prune RUN_OR_CONFIG`: the images a pipeline's selection runs, by hand.

`list` says which are present, their size and which patchmix pulled for the run folder; `pull` pulls the missing
ones as the pipeline would (paced, rate limits waited out) and records them in the run folder, so the pipeline
removes them once no planned run needs them; `prune` removes those the run folder's record lists (`--all`: also
the selection's images that were present before, which nothing else ever removes).
"""

from __future__ import annotations

import threading
from pathlib import Path

import docker

from harness.agent.environment.pulls import get_image_size, remove_image
from harness.exceptions import ConfigError
from harness.pipeline.imagepull import PullFailed, Puller, PullRefused
from harness.pipeline.imagerecord import RECORD_NAME, ImageRecord
from harness.pipeline.imageruns import apply_image_names
from harness.pipeline.launch import load_selected_rows
from harness.pipeline.load import load_pipeline_config

GB = 1e9


def open_selection(target: Path, runs_dir: Path):
    """(images config, image names in run order, the run folder's record) of a run folder or a config file."""
    config_path = target / "config.yaml" if target.is_dir() else target
    if not config_path.is_file():
        raise ConfigError(f"{target}: neither a pipeline config file nor a run folder holding config.yaml")
    config = load_pipeline_config(config_path)
    run_root = target if target.is_dir() else runs_dir / config.name
    rows = apply_image_names(load_selected_rows(config), config.images.name)
    return config.images, list(dict.fromkeys(row["image"] for row in rows)), ImageRecord(run_root / RECORD_NAME)


def list_images(target: Path, runs_dir: Path, say=print) -> int:
    _, names, record = open_selection(target, runs_dir)
    client, ours, present = docker.from_env(), record.names(), 0
    for name in names:
        size = get_image_size(client, name)
        present += size is not None
        state = "missing" if size is None else f"{size / GB:.2f} GB" + (", pulled by patchmix" if name in ours else "")
        say(f"{name}  {state}")
    say(f"{present} of {len(names)} images present")
    return 0


def pull_missing(target: Path, runs_dir: Path, say=print) -> int:
    """Pull the selection's missing images; 3 when some could not be had (one line says how many)."""
    config, names, record = open_selection(target, runs_dir)
    client, failed = docker.from_env(), []
    puller = Puller(config, threading.Event())
    for number, name in enumerate(names, start=1):
        if get_image_size(client, name) is not None:
            continue
        try:
            record.add(name, puller.pull(name))
            say(f"[{number}/{len(names)}] pulled {name}")
        except (PullRefused, PullFailed) as error:
            failed.append(name)
            say(f"[{number}/{len(names)}] {name}: {error}")
    if failed:
        say(f"patchmix: {len(failed)} of {len(names)} images could not be pulled; their runs will end "
            "image_unavailable (check the names, images.name, or `docker login`)")
        return 3
    return 0


def prune_images(target: Path, runs_dir: Path, everything: bool = False, say=print) -> int:
    """Remove the images patchmix pulled for the run folder (and, `everything`, the selection's other images)."""
    _, names, record = open_selection(target, runs_dir)
    client, removed = docker.from_env(), 0
    for name in sorted(record.names() | (set(names) if everything else set())):
        if remove_image(client, name):
            removed += 1
            say(f"removed {name}")
        if get_image_size(client, name) is None:
            record.drop(name)
    say(f"{removed} images removed")
    return 0
