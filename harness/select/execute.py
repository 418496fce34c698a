"""Picking with the execution signals: the combiner's ranking, minus the candidates that do not apply or break a
test that passed on the original code (harness.select.regression); when a reproduction script was kept (it fails
on the original code), the survivors it passes on come first. When every candidate is dropped, the combiner's
pick stands (there is nothing better to submit)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from harness.agent.config import ContainerConfig
from harness.select.flagged import choose_index
from harness.select.regression import RegressionResult, check_regressions
from harness.select.selector import Pick

ROW_KEYS = ("instance_id", "image", "base_commit")


def describe_candidate(result: RegressionResult, system: str) -> dict:
    """The execution signals of one candidate, as they go into the pick's reasons."""
    extra = {"applies": result.applies.get(system, False), "broken_tests": len(result.broken.get(system, [])),
             "dropped": result.is_dropped(system)}
    if result.reproduction_kept is not None:
        extra["reproduces"] = result.reproduces.get(system, False) if result.reproduction_kept else None
    return extra


def pick_with_regressions(chosen: Pick, row: dict, config: ContainerConfig | None = None, client=None,
                          script: str = "") -> Pick:
    """The best-scoring candidate that survives the regression check (and, with a kept reproduction `script`,
    passes it when any survivor does), with each candidate's result in extra."""
    patches = {c.system: c.patch for c in chosen.candidates if c.patch.strip()}
    row = {key: row[key] for key in ROW_KEYS if key in row}  # the answer key never goes further
    result = check_regressions(row, patches, config, client, script) if patches else None
    extra = {system: {**chosen.extra.get(system, {}), **describe_candidate(result, system)}
             for system in patches} if result else {}
    systems = [c.system for c in chosen.candidates]
    order = np.argsort(-chosen.scores, kind="stable")
    kept = [i for i in order if systems[i] in extra and not extra[systems[i]]["dropped"]]
    reproducing = [i for i in kept if extra[systems[i]].get("reproduces")]
    ranked = reproducing or kept
    if not ranked:
        return replace(chosen, extra=extra)
    flagged = [bool(extra[systems[i]].get("integrity")) for i in ranked]
    best = ranked[choose_index(chosen.scores[ranked], flagged)]
    return replace(chosen, chosen=chosen.candidates[best], extra=extra)
