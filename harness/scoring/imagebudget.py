"""`patchmix evaluate` within the run's image budget (config.yaml's `images`: `max_disk_gb`, `prefetch`, `pull`,
pacing and retries), through the run's own image cache and record (`harness.pipeline.imagecache`,
`runs/<name>/images.json`), so the record stays the one list of what patchmix pulled for the folder.

Before scoring, the instances the harness will run (every predictions file, retries and repetitions included;
empty patches run nothing) are planned as uses of their rows' images. A harness call whose images are all here
and none of them pulled by patchmix runs as before, in one piece. Otherwise its instances are scored image by
image (`workers` at once): each image is acquired (pulled just before, a few ahead, within the budget), its
instances scored, and the image released, which removes it once no planned use remains if patchmix pulled it.
Images that were here before are never removed. An image that cannot be had ends its instances as evaluation
errors whose reason is one line (`image ... could not be pulled: ...`); the other instances go on.

swebench 5.0.2's own `run_evaluation` has no cache level or clean flag: it pulls a missing image and keeps it,
and never removes one. With `--official-containers` the images are therefore pulled here first, so it finds them,
and removed here after.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import docker
import requests
from pydantic import ValidationError

from harness.agent.environment.pulls import get_image_size
from harness.exceptions import PatchmixError
from harness.pipeline.config import ImagesConfig
from harness.pipeline.dataset import get_image_name, load_rows
from harness.pipeline.imagecache import ImageCache, ImageUnavailable
from harness.pipeline.imagerecord import RECORD_NAME, ImageRecord
from harness.pipeline.imageruns import apply_image_names
from harness.scoring.official import IMAGE_UNAVAILABLE, read_model_name, read_predictions, write_dataset_copy
from harness.scoring.verdicts import COUNT_KEYS
from swebench.harness.constants import LOG_INSTANCE, RUN_EVALUATION_LOG_DIR

RESULT_KEYS = ("completed_ids", "empty_patch_ids", "error_ids")


class ScoringImages:
    """The images of a run's scoring: planned, pulled as needed within the budget, removed once scored."""

    def __init__(self, config: ImagesConfig, run_dir: Path, images: dict[str, str], client, log=print):
        self.images, self.client = images, client
        self.cache = ImageCache(config, ImageRecord(Path(run_dir) / RECORD_NAME), client, say=log)
        self.log = log
        self.stop = threading.Event()

    def plan(self, instance_ids: list[str]) -> None:
        """The instances the harness will run, once per run of each, in scoring order."""
        self.cache.plan([self.images[i] for i in instance_ids if i in self.images], set())

    def wrap(self, evaluate: Callable[..., dict]) -> Callable[..., dict]:
        """`evaluate` (the harness call) made to score image by image when images must be pulled or removed."""
        def evaluate_within_budget(predictions_path, dataset_path, run_id, scratch_dir, workers=1,
                                   instance_ids=None, **options):
            patches = {p["instance_id"]: p.get("model_patch") or "" for p in read_predictions(Path(predictions_path))}
            ids = list(instance_ids or patches)
            run = [i for i in ids if patches.get(i) and i in self.images]
            if not any(self.needs_care(self.images[i]) for i in run):
                self.forget(run)
                return evaluate(predictions_path, dataset_path, run_id, scratch_dir, workers=workers,
                                instance_ids=instance_ids, **options)
            groups = group_by_image(run, self.images)
            rest = [i for i in ids if i not in run]

            def score(item):
                number, (image, group) = item
                return self.score_group(evaluate, image, group, predictions_path, dataset_path, run_id, scratch_dir,
                                        f"part{number}", options)

            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                reports = list(pool.map(score, enumerate(groups.items(), start=1)))
            if rest:
                reports.append(evaluate(predictions_path, dataset_path, run_id, scratch_dir, workers=1,
                                        instance_ids=rest, part="rest", **options))
            return merge_reports(reports)

        return evaluate_within_budget

    def needs_care(self, image: str) -> bool:
        """Whether scoring `image` pulls it first or removes it after (missing here, or pulled by patchmix)."""
        return image in self.cache.ours or get_image_size(self.client, image) is None

    def score_group(self, evaluate, image: str, ids: list[str], predictions_path, dataset_path, run_id: str,
                    scratch_dir, part: str, options: dict) -> dict:
        """The instances of one image scored while the image is held; an image that cannot be had makes them
        evaluation errors with its reason in their instance logs."""
        with self.cache.cv:
            unforeseen = len(ids) - self.cache.uses[image]
        if unforeseen > 0:
            self.cache.expect(image, unforeseen)
        try:
            if not self.cache.acquire(image, self.stop):
                raise ImageUnavailable(f"image {image}: scoring stopped before it was pulled")
        except ImageUnavailable as error:
            self.forget(ids[1:])  # acquire forgot one use
            write_unavailable(Path(scratch_dir), run_id, read_model_name(Path(predictions_path)), ids, str(error))
            return {"submitted_ids": sorted(ids), "error_ids": sorted(ids)}
        try:
            return evaluate(predictions_path, dataset_path, run_id, scratch_dir, workers=1, instance_ids=ids,
                            part=part, **options)
        finally:
            self.forget(ids[1:])
            self.cache.release(image)

    def forget(self, ids: list[str]) -> None:
        for instance_id in ids:
            if instance_id in self.images:
                self.cache.forget(self.images[instance_id])

    def close(self) -> None:
        """Drop every use still planned (a crashed harness call leaves some), so that the images patchmix pulled
        and no longer needs are removed; stop pulling."""
        with self.cache.cv:
            left = Counter({name: count for name, count in self.cache.uses.items() if count > 0})
        for name, count in left.items():
            for _ in range(count):
                self.cache.forget(name)
        self.stop.set()
        if sum(self.cache.pulls.values()) or self.cache.removed:
            self.log(self.cache.describe())
        self.cache.close()


def read_images_config(config: dict, run_dir: Path) -> ImagesConfig:
    """The `images` settings of a run folder's config.yaml."""
    try:
        return ImagesConfig(**(config.get("images") or {}))
    except (TypeError, ValidationError) as error:
        lines = str(error).splitlines()
        raise PatchmixError(f"{run_dir / 'config.yaml'}: the images settings are not valid "
                            f"({' '.join(lines[:3])}); fix them as in docs/guides/images.md") from None


def name_images(dataset: str, split: str, config: ImagesConfig, scratch: Path) -> str:
    """The dataset to score: the run's own, or, with `images.name`, a copy in `scratch` whose rows name the
    images the runs ran in (the template filled from each row), so that scoring uses the same images."""
    if not config.name:
        return dataset
    return write_dataset_copy(apply_image_names(load_rows(dataset, split), config.name), scratch)


def open_scoring_images(images_config: ImagesConfig, run_dir: Path, dataset: str, split: str,
                        log=print) -> ScoringImages:
    """The scoring images of a run folder, under its config.yaml's `images` settings."""
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        raise PatchmixError(f"cannot reach the Docker engine to check the images ({error}); start dockerd") from None
    images = {row["instance_id"]: get_image_name(row) for row in load_rows(dataset, split) if get_image_name(row)}
    return ScoringImages(images_config, run_dir, images, client, log)


def group_by_image(ids: list[str], images: dict[str, str]) -> dict[str, list[str]]:
    """image -> its instances, in the order each image first appears."""
    groups: dict[str, list[str]] = {}
    for instance_id in ids:
        groups.setdefault(images[instance_id], []).append(instance_id)
    return groups


def write_unavailable(scratch: Path, run_id: str, model: str, ids: list[str], reason: str) -> None:
    """Each instance's run_instance.log, where the harness would have written it, saying why it was not run."""
    line = reason.splitlines()[0] if reason else "no reason given"
    for instance_id in ids:
        folder = scratch / RUN_EVALUATION_LOG_DIR / run_id / model.replace("/", "__") / instance_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / LOG_INSTANCE).write_text(f"{IMAGE_UNAVAILABLE}: {line}\n")


def merge_reports(reports: list[dict]) -> dict:
    """One run report from the reports of harness calls on disjoint instances (the harness's format)."""
    merged: dict = {}
    for report in reports:
        for key, value in report.items():
            if key.endswith("_ids"):
                merged[key] = sorted(set(merged.get(key, [])) | set(value))
            elif isinstance(value, dict):
                merged[key] = {**merged.get(key, {}), **value}
            else:
                merged.setdefault(key, value)
    done = {i for key in RESULT_KEYS for i in merged.get(key, [])}
    merged["incomplete_ids"] = sorted(set(merged.get("incomplete_ids", [])) - done)
    for count_key, ids_key in COUNT_KEYS.items():
        merged[count_key] = len(merged.get(ids_key, []))
    merged["submitted_instances"] = len(merged.get("submitted_ids", []))
    return merged
