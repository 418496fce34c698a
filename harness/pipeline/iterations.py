"""The iterations of a pipeline: each (instance, model) run on a pool of workers, in order, resumable.

Iteration k's prompt holds the patches of the iterations it draws on, read from the run folder, so a later
iteration may run in a later process. A run is skipped when its trajectory says it finished; runs that ended
in an infrastructure error or were interrupted are redone; a run whose drawn-on runs are unfinished waits.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass

from harness import exceptions as ex

from harness.pipeline.skipping import read_drawn_on, skip_agreed, skip_unrouted
from harness.pipeline.config import PipelineConfig
from harness.pipeline.executors import LocalExecutor
from harness.pipeline.imagecache import ImageUnavailable, NoImages
from harness.pipeline.imageruns import get_later_images, order_by_image, record_unavailable
from harness.pipeline.ledger import LEDGER_NAME, Budget, Ledger
from harness.pipeline.outcomes import ModelStops
from harness.pipeline.earlier import make_candidate
from harness.agent.model.request import get_provider
from harness.pipeline.rundir import RunDir, get_model_name

logger = logging.getLogger("patchmix")


@dataclass
class Job:
    iteration: int
    label: str
    row: dict
    candidates: list[dict]


def collect_candidates(config: PipelineConfig, rundir: RunDir, iteration: int, instance_id: str) -> list[dict] | None:
    """The patches this run's prompt shows, unranked; None while a drawn-on run is unfinished."""
    runs = read_drawn_on(config, rundir, iteration, instance_id)
    if runs is None:
        return None
    show = config.iterations[iteration - 1].show_earlier
    candidates = [make_candidate(run["info"], run["iteration"], run["model"], config.max_patch_chars, show)
                  for run in runs]
    return [candidate for candidate in candidates if candidate]


def plan_iteration(config: PipelineConfig, rundir: RunDir, iteration: int, rows: list[dict]):
    """(jobs to run, finished infos, waiting (label, instance_id) pairs) of one iteration."""
    jobs, finished, waiting = [], [], []
    for row in rows:
        skip_unrouted(config, rundir, iteration, row["instance_id"])
        skip_agreed(config, rundir, iteration, row["instance_id"])
        for label in config.iterations[iteration - 1].models:
            if rundir.is_finished(iteration, label, row["instance_id"]):
                finished.append((label, rundir.read_info(iteration, label, row["instance_id"])))
                continue
            candidates = collect_candidates(config, rundir, iteration, row["instance_id"])
            if candidates is None:
                waiting.append((label, row["instance_id"]))
            else:
                jobs.append(Job(iteration, label, row, candidates))
    return jobs, finished, waiting


class Pipeline:
    def __init__(self, config: PipelineConfig, rundir: RunDir, rows: list[dict], progress, executor=None,
                 images=None):
        self.config, self.rundir, self.rows, self.progress = config, rundir, rows, progress
        self.executor = executor or LocalExecutor()
        self.images = images or NoImages()
        self.ledger = Ledger(rundir.root / LEDGER_NAME)
        self.budget = Budget(config.budget, self.ledger)
        self.model_stops = ModelStops()
        self.limiters = {provider: threading.Semaphore(cap) for provider, cap in config.provider_concurrency.items()}
        self.stopping = threading.Event()

    def run(self, only: int | None = None) -> None:
        chosen = [k for k in range(1, len(self.config.iterations) + 1) if only is None or only == k]
        for iteration in chosen:
            self.progress.expect(iteration, self.config.iterations[iteration - 1].models, len(self.rows))
        for iteration in chosen:
            self.run_iteration(iteration, [k for k in chosen if k > iteration])

    def run_iteration(self, iteration: int, later: list[int] = ()) -> None:
        jobs, finished, waiting = plan_iteration(self.config, self.rundir, iteration, self.rows)
        jobs = order_by_image(jobs)
        self.images.plan([job.row["image"] for job in jobs], get_later_images(self.config, self.rundir, self.rows, later))
        self.progress.begin_iteration(iteration, self.config.iterations[iteration - 1].models, jobs, finished, waiting)
        try:
            self.run_jobs(jobs)
        finally:
            self.write_preds(iteration)
            self.progress.end_iteration(iteration)

    def run_jobs(self, jobs: list[Job]) -> None:
        with ThreadPoolExecutor(max_workers=self.executor.get_slots(self.config.workers)) as pool:
            pending = {pool.submit(self.run_job, job) for job in jobs}
            try:
                while pending:
                    done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in done:
                        future.result()
                    self.progress.refresh(self.images.describe())
            except BaseException:
                self.stopping.set()
                for future in pending:
                    future.cancel()
                self.executor.stop()  # runs still under way end at once
                raise

    def run_job(self, job: Job) -> None:
        image = job.row["image"]
        if not self.is_startable(job):
            self.images.forget(image)
            return
        try:
            if not self.images.acquire(image, self.stopping):
                return
        except ImageUnavailable as error:
            info = record_unavailable(self.config, self.rundir, job.iteration, job.label, job.row, str(error))
            self.progress.finish_run(job.iteration, job.label, {**info, "instance_id": job.row["instance_id"]}, False)
            return
        try:
            self.run_agent(job)
        finally:
            self.images.release(image)

    def is_startable(self, job: Job) -> bool:
        """False (and the progress told why) when the job must not start."""
        if self.stopping.is_set():
            return False
        if self.budget.is_spent():
            logger.info("iteration %d %s %s: not started, the budget of $%g is spent",
                        job.iteration, job.label, job.row["instance_id"], self.budget.limit)
            self.progress.skip_run(job.iteration, job.label, "budget")
            return False
        if self.model_stops.is_stopped(job.label):
            self.progress.skip_run(job.iteration, job.label, "model unavailable")
            return False
        return True

    def run_agent(self, job: Job) -> None:
        instance_id = job.row["instance_id"]
        model = self.config.models[job.label]
        self.progress.start_run(job.iteration, job.label)
        logger.info("iteration %d %s %s: started with %d earlier patches in the prompt",
                    job.iteration, job.label, instance_id, len(job.candidates))
        _, info = self.executor.run_instance(
            job.row, self.config.get_agent_config(job.iteration, job.label),
            self.rundir.get_traj_path(job.iteration, job.label, job.row["instance_id"]),
            get_model_name(self.config.name, job.iteration, job.label),
            extra_variables={"candidates": job.candidates, "iteration": job.iteration,
                             "show_earlier": self.config.iterations[job.iteration - 1].show_earlier},
            header={"run": self.config.name, "iteration": job.iteration, "model": job.label},
            limiter=self.limiters.get(get_provider(model)), stop=self.stopping,
            on_call=self.ledger.make_recorder(run=self.config.name, iteration=job.iteration, label=job.label,
                                              instance=instance_id),
        )
        if info.get("exit_status") == ex.MODEL_UNAVAILABLE:
            self.model_stops.stop(job.label, info.get("exit_detail") or "")
        logger.info("iteration %d %s %s: %s after %s steps, $%.4f, patch %s", job.iteration, job.label,
                    instance_id, info.get("exit_status"), info.get("steps"), info.get("cost") or 0.0,
                    info.get("patch_label") or "none")
        self.progress.finish_run(job.iteration, job.label, {**info, "instance_id": instance_id})

    def write_preds(self, iteration: int) -> None:
        ids = [row["instance_id"] for row in self.rows]
        for label in self.config.iterations[iteration - 1].models:
            self.rundir.write_preds(iteration, label, ids, get_model_name(self.config.name, iteration, label))
