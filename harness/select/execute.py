"""Picking with the execution signals: the combiner's ranking (with the signals as its features: a combiner
fitted on a pool with execution results weighs them), minus the candidates that do not apply or break a
test that passed on the original code (harness.select.regression); when a reproduction script was kept (it fails
on the original code), the survivors it passes on come first. When every candidate is dropped, the combiner's
pick stands (there is nothing better to submit)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from harness.agent.config import ContainerConfig
from harness.select.combiner import Combiner
from harness.select.features import FEATURES, get_execution_columns
from harness.select.flagged import choose_index
from harness.select.regression import RegressionResult, check_regressions
from harness.select.selector import Pick

ROW_KEYS = ("instance_id", "repo", "image", "base_commit")


def describe_candidate(result: RegressionResult, system: str) -> dict:
    """The execution signals of one candidate, as they go into the pick's reasons."""
    extra = {"applies": result.applies.get(system, False), "broken_tests": len(result.broken.get(system, [])),
             "dropped": result.is_dropped(system)}
    if result.reproduction_kept is not None:
        extra["reproduces"] = result.reproduces.get(system, False) if result.reproduction_kept else None
    return extra


def rescore(chosen: Pick, result: RegressionResult, combiner: Combiner) -> Pick:
    """The pick's candidates with their execution signals, and the scores the combiner gives them now (a
    combiner fitted with execution features weighs them; what was added to the scores before, the stated
    priors' anchor, stays)."""
    candidates = [replace(c, execution={"applies": result.applies.get(c.system, False),
                                        "broken": result.broken.get(c.system, [])})
                  if c.system in result.applies else c for c in chosen.candidates]
    rows = chosen.rows.copy()
    columns = get_execution_columns(candidates)
    for name, values in columns.items():
        rows[:, FEATURES.index(name)] = values
    scores = combiner.score(rows) + (chosen.scores - combiner.score(chosen.rows))
    flagged = [bool(chosen.extra.get(c.system, {}).get("integrity")) for c in candidates]
    return replace(chosen, chosen=candidates[choose_index(scores, flagged)], candidates=candidates, rows=rows,
                   scores=scores)


def pick_with_regressions(chosen: Pick, row: dict, config: ContainerConfig | None = None, client=None,
                          script: str = "", combiner: Combiner | None = None) -> Pick:
    """The best-scoring candidate that survives the regression check (and, with a kept reproduction `script`,
    passes it when any survivor does), with each candidate's result in extra. With the selector's `combiner`,
    the candidates are scored again with their execution signals as features first."""
    patches = {c.system: c.patch for c in chosen.candidates if c.patch.strip()}
    row = {key: row[key] for key in ROW_KEYS if key in row}  # the answer key never goes further
    result = check_regressions(row, patches, config, client, script) if patches else None
    if result and combiner is not None:
        chosen = rescore(chosen, result, combiner)
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
