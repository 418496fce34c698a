"""The pipeline's side of images: which image each row runs (`images.name`), job order that keeps an image's
uses together, the images later iterations still need, and the record of a run whose image could not be had."""

from __future__ import annotations

import logging
import string

from harness import exceptions as ex
from harness.agent.trajectory import Trajectory, now
from harness.exceptions import ConfigError
from harness.pipeline.config import PipelineConfig
from harness.pipeline.dataset import get_image_name
from harness.pipeline.rundir import RunDir, get_model_name

logger = logging.getLogger("patchmix")


def apply_image_names(rows: list[dict], template: str | None) -> list[dict]:
    """Each row's `image` set to what it runs: `template` filled from the row's fields, or the row's own image."""
    fields = [field for _, field, _, _ in string.Formatter().parse(template or "") if field]
    for row in rows:
        row["image"] = get_image_name(row)
        missing = [field for field in fields if field not in row]
        if missing:
            raise ConfigError(f"config key images.name: {{{missing[0]}}} is not a field of the dataset's rows "
                              f"(fields: {', '.join(sorted(row))})")
        if template:
            row["image"] = template.format_map({key: str(value) for key, value in row.items()})
    return rows


def order_by_image(jobs: list) -> list:
    """Jobs grouped by image, in the order each image first appears (stable within an image)."""
    first: dict[str, int] = {}
    for number, job in enumerate(jobs):
        first.setdefault(job.row["image"], number)
    return sorted(jobs, key=lambda job: first[job.row["image"]])


def get_later_images(config: PipelineConfig, rundir: RunDir, rows: list[dict], later: list[int]) -> set[str]:
    """Images of rows with an unfinished run in one of the `later` iterations."""
    return {row["image"] for row in rows for k in later for label in config.iterations[k - 1].models
            if not rundir.is_finished(k, label, row["instance_id"])}


def record_unavailable(config: PipelineConfig, rundir: RunDir, iteration: int, label: str, row: dict,
                       reason: str) -> dict:
    """The run's record when its image could not be had: exit status `image_unavailable`, redone on resume."""
    instance_id = row["instance_id"]
    header = {"instance_id": instance_id, "model_name_or_path": get_model_name(config.name, iteration, label),
              "run": config.name, "iteration": iteration, "model": label}
    traj = Trajectory(rundir.get_traj_path(iteration, label, instance_id), header)
    traj.save(exit_status=ex.IMAGE_UNAVAILABLE, cost=0.0, steps=0, tokens_in=0, tokens_out=0, exit_detail=reason,
              patch="", patch_label=None, patch_dropped=[], finished_at=now())
    logger.warning("iteration %d %s %s: image_unavailable: %s", iteration, label, instance_id, reason)
    return traj.data["info"]
