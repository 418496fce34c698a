"""Picking with the execution signal: the combiner's ranking, minus the candidates that do not apply or break a
test that passed on the original code (harness.select.regression). When every candidate is dropped, the
combiner's pick stands (there is nothing better to submit)."""

from __future__ import annotations

import numpy as np

from harness.agent.config import ContainerConfig
from harness.select.regression import check_regressions
from harness.select.selector import Pick

ROW_KEYS = ("instance_id", "image", "base_commit")


def pick_with_regressions(chosen: Pick, row: dict, config: ContainerConfig | None = None, client=None) -> Pick:
    """The best-scoring candidate that survives the regression check, with each candidate's result in extra."""
    patches = {c.system: c.patch for c in chosen.candidates if c.patch.strip()}
    row = {key: row[key] for key in ROW_KEYS if key in row}  # the answer key never goes further
    result = check_regressions(row, patches, config, client) if patches else None
    extra = {system: {"applies": result.applies.get(system, False), "broken_tests": len(result.broken.get(system, [])),
                      "dropped": result.is_dropped(system)} for system in patches} if result else {}
    order = np.argsort(-chosen.scores, kind="stable")
    kept = [i for i in order if chosen.candidates[i].system in extra and not extra[chosen.candidates[i].system]["dropped"]]
    winner = chosen.candidates[kept[0]] if kept else chosen.chosen
    return Pick(chosen.instance_id, winner, chosen.candidates, chosen.rows, chosen.scores, extra)
