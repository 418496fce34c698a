"""Priors the user states: each model's (or system's) published resolve rate, for systems the selector has no
scored history of (`select.priors` in the pipeline config, `patchmix select --priors FILE`).

A selector fitted on other systems knows nothing of the reliability of the systems it picks among: each gets the
fitting pool's rate, so the ranking among them is by name. A stated rate takes the place of that default: the
system's reliability prior is its stated rate, shrunk toward its own verdicts when it has some, so the selector
falls back to the stated-best system that made a change where the other signals do not clearly say otherwise:
when a system picked among has no scored history, the combiner (fitted on other systems, whose signals beyond
the priors need not carry over) must score a rival ANCHOR above the stated-best system's change to overrule it.
A key names a system exactly (`iter_1/gpt`, a candidates file's `system`) or a model label (`gpt`: every
`iter_<k>/gpt` of a run folder).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from pathlib import Path

from harness.pipeline.load import read_priors_file
from harness.select.priors import SHRINK, Reliability
from harness.select.selector import Selector

FALLBACK_RULE = "the first system by name that made a change"
ANCHOR = math.log(10)
"""In the combiner's score units (log-odds): a rival must be 10 times as likely as the stated-best system's change
to be the resolving candidate for the selector to pick it over that change."""


def read_priors(path: Path) -> dict[str, float]:
    """`patchmix select --priors FILE`: a YAML or JSON mapping `model label or system: published resolve rate`."""
    return read_priors_file(Path(path), "--priors")


def find_prior(priors: dict[str, float], system: str) -> float | None:
    """The stated rate of a system: by its exact name, else by its model label (`[label:]iter_<k>/<model>`)."""
    if system in priors:
        return priors[system]
    return priors.get(system.rpartition(":")[2].rpartition("/")[2])


def apply_priors(reliability: Reliability, priors: dict[str, float], systems: list[str]) -> Reliability:
    """The reliability with each of `systems` that has a stated rate taking it as its prior: its own verdicts
    (when the fit saw any) are shrunk toward the stated rate instead of the pool's."""
    resolved, seen = Counter(), Counter()
    for (system, _), (r, n) in reliability.counts.items():
        resolved[system] += r
        seen[system] += n
    rates = dict(reliability.systems)
    for system in systems:
        stated = find_prior(priors, system)
        if stated is not None:
            rates[system] = (resolved[system] + SHRINK * stated) / (seen[system] + SHRINK)
    return replace(reliability, systems=rates)


def use_priors(selector: Selector, priors: dict[str, float] | None, systems: list[str],
               top_k: int | None = None) -> str:
    """Give `selector` the stated priors of the pool's `systems` and let it pick among the `top_k` most reliable
    of them (as it does without priors when it was fitted on other systems only), anchored to the stated-best
    change when one of those has no scored history; returns the line to print when none of the systems picked
    among has history or a stated prior ("" otherwise)."""
    history = set(selector.reliability.systems)
    if priors:
        selector.reliability = apply_priors(selector.reliability, priors, systems)
    if priors or not set(selector.systems) & set(systems):  # fitted on other systems: pick among the pool's
        selector.systems = selector.reliability.rank(systems)[:top_k or None]
    if priors and any(s not in history for s in selector.systems):
        selector.anchor = ANCHOR
    return describe_unknown(selector.reliability, selector.systems)


def describe_unknown(reliability: Reliability, systems: list[str]) -> str:
    """One line when none of `systems` has scored history or a stated prior ("" otherwise)."""
    if not systems or any(s in reliability.systems for s in systems):
        return ""
    return (f"none of the {len(systems)} systems picked among has scored history or a stated prior: nothing tells "
            f"the selector which is reliable, so its picks are no better than its fallback rule ({FALLBACK_RULE}) "
            "beyond what agreement between changes adds; state each model's published resolve rate "
            "(select.priors, or patchmix select --priors FILE)")
