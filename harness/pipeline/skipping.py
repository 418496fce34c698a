"""Runs not started, each given a finished record instead: those skipped by agreement, and those a routing file
does not send the instance to (`routing` reads the file; `skip_unrouted` writes the records).

Agreement-based skipping: an iteration with `skip_if_agreed: {min_models: K}` does not run an instance whose
drawn-on patches make the same change (`harness.diffs.get_change_key`) in the runs of at least K models.

Instead, each of the iteration's models gets a finished record in the run folder, like a trajectory with no
steps: exit status `skipped_agreed`, the agreed patch, labelled `agreed:<models>`, cost 0. So resume counts it
finished, preds.jsonl holds its patch, it is scored like any prediction, later iterations see it (and count its
models when they skip in turn), and the report counts it as a saved run.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from harness import exceptions as ex
from harness.agent.trajectory import Trajectory, now
from harness.diffs import get_change_key
from harness.pipeline.config import PipelineConfig
from harness.pipeline.routing import get_routed
from harness.pipeline.rundir import RunDir, get_model_name

logger = logging.getLogger("patchmix")


def read_drawn_on(config: PipelineConfig, rundir: RunDir, iteration: int, instance_id: str) -> list[dict] | None:
    """Every drawn-on run of an instance as {iteration, model, info}; None while one is unfinished."""
    runs = []
    for earlier in config.iterations[iteration - 1].draws_on:
        for label in config.iterations[earlier - 1].models:
            if not rundir.is_finished(earlier, label, instance_id):
                return None
            runs.append({"iteration": earlier, "model": label,
                         "info": rundir.read_info(earlier, label, instance_id)})
    return runs


def get_support(run: dict) -> set[str]:
    """The models behind a run's patch: its own, or every model of an agreement it carried forward."""
    return set(run["info"].get("agreed_models") or [run["model"]])


def rank_run(run: dict) -> tuple:
    """Which run of an agreeing group gives the patch: a submitted one, then the latest."""
    return (run["info"].get("exit_status") == ex.SUBMITTED, run["iteration"])


def find_agreement(runs: list[dict], min_models: int) -> dict | None:
    """The patch that the most models agree on, if at least `min_models` do: {patch, models, runs}."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for run in runs:
        key = get_change_key(run["info"].get("patch") or "")
        if key:
            groups[key].append(run)
    if not groups:
        return None
    group = max(groups.values(), key=lambda g: (len(set().union(*map(get_support, g))), max(map(rank_run, g))))
    models = sorted(set().union(*map(get_support, group)))
    if len(models) < min_models:
        return None
    chosen = max(group, key=rank_run)
    return {"patch": chosen["info"]["patch"], "models": models,
            "runs": [{"iteration": r["iteration"], "model": r["model"], "exit_status": r["info"].get("exit_status")}
                     for r in group],
            "taken_from": {"iteration": chosen["iteration"], "model": chosen["model"]},
            "integrity": chosen["info"].get("integrity") or []}


def write_skip_record(config: PipelineConfig, rundir: RunDir, iteration: int, label: str, instance_id: str,
                      agreed: dict) -> None:
    header = {"instance_id": instance_id, "model_name_or_path": get_model_name(config.name, iteration, label),
              "run": config.name, "iteration": iteration, "model": label}
    record = Trajectory(rundir.get_traj_path(iteration, label, instance_id), header)
    record.save(exit_status=ex.SKIPPED_AGREED, cost=0.0, steps=0, tokens_in=0, tokens_out=0,
                exit_detail=f"not run: {len(agreed['models'])} models made the same change "
                            f"({', '.join(agreed['models'])}); their patch carries forward",
                patch=agreed["patch"], patch_label="agreed:" + ",".join(agreed["models"]), patch_dropped=[],
                agreed_models=agreed["models"], agreed_runs=agreed["runs"], agreed_taken_from=agreed["taken_from"],
                integrity=agreed.get("integrity") or [], finished_at=now())


def skip_agreed(config: PipelineConfig, rundir: RunDir, iteration: int, instance_id: str) -> int:
    """Write skip records for the instance's unfinished runs in this iteration when the drawn-on patches agree
    enough; returns how many were written."""
    rule = config.iterations[iteration - 1].skip_if_agreed
    if rule is None:
        return 0
    labels = [label for label in config.iterations[iteration - 1].models
              if not rundir.is_finished(iteration, label, instance_id)]
    runs = read_drawn_on(config, rundir, iteration, instance_id) if labels else None
    agreed = find_agreement(runs, rule.min_models) if runs else None
    if agreed is None:
        return 0
    for label in labels:
        write_skip_record(config, rundir, iteration, label, instance_id, agreed)
    logger.info("iteration %d %s: not run, %d models agree on one patch (%s)", iteration, instance_id,
                len(agreed["models"]), ", ".join(agreed["models"]))
    return len(labels)


def skip_unrouted(config: PipelineConfig, rundir: RunDir, iteration: int, instance_id: str) -> int:
    """Write skip records for this instance's unfinished runs of models it is not routed to; returns how many."""
    routed = get_routed(config, iteration, instance_id)
    if routed is None:
        return 0
    labels = [label for label in config.iterations[iteration - 1].models
              if label not in routed and not rundir.is_finished(iteration, label, instance_id)]
    for label in labels:
        header = {"instance_id": instance_id, "model_name_or_path": get_model_name(config.name, iteration, label),
                  "run": config.name, "iteration": iteration, "model": label}
        Trajectory(rundir.get_traj_path(iteration, label, instance_id), header).save(
            exit_status=ex.SKIPPED_ROUTED, cost=0.0, steps=0, tokens_in=0, tokens_out=0,
            exit_detail=f"not run: the routing sends this instance to {', '.join(routed)}", patch="",
            patch_label=None, patch_dropped=[], routed_models=list(routed), finished_at=now())
    if labels:
        logger.info("iteration %d %s: routed to %s, %d runs not started", iteration, instance_id,
                    ", ".join(routed), len(labels))
    return len(labels)
