"""`patchmix run`: check everything that can be checked, then run the pipeline into its run folder."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import docker
import requests

from harness.pipeline.config import PipelineConfig
from harness.pipeline.dataset import check_rows_evaluable, load_rows, select_rows
from harness.pipeline.imagecache import ImageCache, NoImages
from harness.pipeline.imagerecord import RECORD_NAME, ImageRecord
from harness.pipeline.imageruns import apply_image_names
from harness.agent.environment.pulls import describe_emulation
from harness.pipeline.lock import RunLock
from harness.pipeline.outcomes import EXIT_RUNS_LEFT, count_left, describe_left
from harness.agent.environment.removal import remove_leftover_containers
from harness.exceptions import ConfigError
from harness.pipeline.executors import start_executor
from harness.pipeline.iterations import Pipeline
from harness.agent.model.query import Model
from harness.pipeline.load import load_pipeline_config
from harness.pipeline.progress import Progress
from harness.pipeline.rundir import RunDir
from harness.secrets import redact

logger = logging.getLogger("patchmix")


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def attach_run_log(path: Path) -> logging.Handler:
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler


def load_selected_rows(config: PipelineConfig) -> list[dict]:
    rows = load_rows(config.dataset.path, config.dataset.split)
    sel = config.instances
    rows = select_rows(rows, ids=sel.ids, pattern=sel.filter, slice_spec=sel.slice, shuffle_seed=sel.shuffle_seed)
    if not rows:
        raise ConfigError("config key instances: the selection matches no instance of the dataset")
    check_rows_evaluable(rows)
    return rows


def prepare(config: PipelineConfig | Path, runs_dir: Path, iteration: int | None, workers: int | None,
            executor: str | None = None):
    """The config to run (a copy: the overrides do not reach the caller's), the selected rows, the run folder."""
    config = config.model_copy(deep=True) if isinstance(config, PipelineConfig) else load_pipeline_config(config)
    if workers:
        config.workers = workers
    if executor:
        config.executor.kind = executor
    if iteration is not None and not 1 <= iteration <= len(config.iterations):
        raise ConfigError(f"--iteration {iteration}: the config has iterations 1 to {len(config.iterations)}")
    for spec in config.iterations:
        for label in spec.models:
            Model(config.models[label])  # refuses a model with no known price or an unset key variable
    rows = apply_image_names(load_selected_rows(config), config.images.name)
    return config, rows, RunDir(runs_dir / config.name)


def run_pipeline(config: PipelineConfig | Path, runs_dir: Path = Path("runs"), iteration: int | None = None,
                 workers: int | None = None, progress: Progress | None = None, executor: str | None = None) -> int:
    """Run the pipeline (a loaded config, or the path of its YAML) into its run folder, holding the folder's lock.
    Returns 0 when every planned run is finished, EXIT_RUNS_LEFT (with one line saying how many and why) when
    some are left to redo."""
    config, rows, rundir = prepare(config, runs_dir, iteration, workers, executor)
    with RunLock(rundir.root):
        rundir.check_config(config)
        rundir.save_config(config)
        rundir.save_instances(rows)
        run_in_folder(config, rows, rundir, iteration, progress)
    chosen = [(k, spec.models) for k, spec in enumerate(config.iterations, start=1) if iteration in (None, k)]
    left = count_left(rundir, chosen, [row["instance_id"] for row in rows])
    if left:
        print(f"patchmix: {describe_left(left)}", file=sys.stderr)
        return EXIT_RUNS_LEFT
    return 0


def open_images(config: PipelineConfig, rundir: RunDir, executor_kind: str):
    """The local image cache (pulls as needed, within the disk budget); on Ray, each node's business."""
    if executor_kind != "local":
        return NoImages()
    line = describe_emulation()
    if line:
        print(line, file=sys.stderr)
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        raise ConfigError(f"cannot reach the Docker engine to check the images ({error}); start dockerd") from None
    return ImageCache(config.images, ImageRecord(rundir.root / RECORD_NAME), client)


def run_in_folder(config: PipelineConfig, rows: list[dict], rundir: RunDir, iteration: int | None,
                  progress: Progress | None) -> None:
    handler = attach_run_log(rundir.root / "run.log")
    removed = remove_leftover_containers()
    logger.info("run %s: %d instances, %d iterations, %d workers; removed %d leftover containers",
                config.name, len(rows), len(config.iterations), config.workers, len(removed))
    progress = progress or Progress()
    executor = start_executor(config, rows)
    images = NoImages()
    try:
        images = open_images(config, rundir, executor.kind)
        Pipeline(config, rundir, rows, progress, executor, images).run(only=iteration)
    finally:
        images.close()
        executor.close()
        progress.print_summary()
        logger.removeHandler(handler)
        handler.close()
    print(f"results in {rundir.root}")
