"""Selection on systems it has never seen, as a user meets it (issue 26, point 5).

The selector is fitted on one set of candidates-2024's systems with their verdicts and applied to a disjoint set
with no verdicts: fitted on the earlier half of the systems by date and applied to the later half (and the
reverse, and random halves). Its picks are compared with the best single system of the new set, chosen in
hindsight and as a user would (the highest stated resolve rate), with and without stated priors (`select.priors`).

Two settings:
- all 500 instances: the fit uses the fitting systems' verdicts on the same instances (a published pool of the
  same benchmark); the priors are the new systems' published rates (systems.csv: on these same 500 instances,
  so the stated-best system is the best in hindsight);
- held out (5 folds over instances, 3 seeds): the fit uses the fitting systems' verdicts on the training
  instances only, and the priors are the new systems' rates on the training instances (rates published on other
  instances than those picked on); figures on the held-out instances, summed over folds, mean over seeds.

    python3 scripts/study_unseen_systems.py ../shared/data/candidates-2024 [--seeds 3] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import time
from dataclasses import replace
from pathlib import Path

from harness.select.crossfit import fallback
from harness.select.pool import load_pool
from harness.select.selector import fit_selector, make_views, pick
from harness.select.stated import ANCHOR, use_priors

METHODS = ("best (hindsight)", "best (stated)", "fallback (stated)", "fallback (no priors)",
           "selector (no priors)", "combiner (priors, no anchor)", "selector (priors)", "selector top-5 (priors)",
           "oracle")

ANCHORS = (0.0, 0.5, 1.0, 1.5, 2.0, ANCHOR, 3.0)  # the anchor's effect, all instances


def read_systems(folder: Path) -> dict[str, dict]:
    with open(folder / "systems.csv", newline="") as handle:
        return {row["system"]: row for row in csv.DictReader(handle)}


def make_splits(systems: dict[str, dict], random_seeds: tuple[int, ...]) -> dict[str, tuple[list, list]]:
    """name -> (systems fitted on, systems applied to)."""
    by_date = sorted(systems, key=lambda s: (systems[s]["date"], s))
    half = len(by_date) // 2 + 1
    splits = {"by date: fit on earlier, apply to later": (by_date[:half], by_date[half:]),
              "by date: fit on later, apply to earlier": (by_date[-half:], by_date[:-half])}
    for seed in random_seeds:
        shuffled = random.Random(seed).sample(sorted(systems), len(systems))
        splits[f"random halves (seed {seed})"] = (sorted(shuffled[:half]), sorted(shuffled[half:]))
    return splits


def restrict(views: dict, systems: list[str]) -> dict:
    return {i: view.restrict(systems) for i, view in views.items()}


def rates_on(views: dict, ids: list[str], systems: list[str]) -> dict[str, float]:
    counts = {s: 0 for s in systems}
    for i in ids:
        for c in views[i].candidates:
            counts[c.system] += bool(c.resolved)
    return {s: n / len(ids) for s, n in counts.items()}


def score_apply(fitted, views_new: dict, test: list[str], priors: dict[str, float], hindsight: str) -> dict:
    """What each method resolves on `test` with a selector `fitted` on other systems; the selector's variants
    are made as the select stage makes them (`use_priors`)."""
    systems = sorted({c.system for v in views_new.values() for c in v.candidates})
    variants = {"selector (no priors)": (None, None), "selector (priors)": (priors, None),
                "selector top-5 (priors)": (priors, 5)}
    totals, lines = dict.fromkeys(METHODS, 0), {}
    for variant, (stated, top_k) in variants.items():
        selector = replace(fitted, systems=fitted.reliability.rank(systems))
        lines[variant] = use_priors(selector, stated, systems, top_k)
        totals[variant] = sum(bool(pick(selector, views_new[i], i).chosen.resolved) for i in test)
        if variant == "selector (priors)":
            reliability, unanchored = selector.reliability, replace(selector, anchor=0.0)
            totals["combiner (priors, no anchor)"] = sum(
                bool(pick(unanchored, views_new[i], i).chosen.resolved) for i in test)
    stated_best = reliability.rank(systems)[0]
    anchored = replace(fitted, reliability=reliability, systems=reliability.rank(systems))
    sweep = {}
    for anchor in ANCHORS:
        anchored.anchor = anchor
        sweep[f"{anchor:.2f}"] = sum(bool(pick(anchored, views_new[i], i).chosen.resolved) for i in test)
    for i in test:
        view = views_new[i]
        by_system = {c.system: c for c in view.candidates}
        totals["best (hindsight)"] += bool(by_system[hindsight].resolved)
        totals["best (stated)"] += bool(by_system[stated_best].resolved)
        totals["fallback (stated)"] += fallback(view, reliability)
        totals["fallback (no priors)"] += fallback(view, fitted.reliability)
        totals["oracle"] += any(c.resolved for c in view.candidates)
    return {"totals": totals, "stated_best": stated_best, "unknown_line": lines["selector (no priors)"],
            "line_with_priors": lines["selector (priors)"], "anchor_sweep": sweep}


def study_split(views: dict, fit_systems: list[str], new_systems: list[str], published: dict[str, float],
                seeds: int, folds: int = 5) -> dict:
    views_fit, views_new = restrict(views, fit_systems), restrict(views, new_systems)
    instances = sorted(views)
    all_rates = rates_on(views_new, instances, new_systems)
    hindsight = max(new_systems, key=lambda s: (all_rates[s], s))
    whole = score_apply(fit_selector(views_fit, instances, None, 0), views_new, instances,
                        {s: published[s] for s in new_systems}, hindsight)
    held = dict.fromkeys(METHODS, 0.0)
    for seed in range(seeds):
        order = random.Random(seed).sample(instances, len(instances))
        for fold in range(folds):
            test = order[fold::folds]
            train = [i for i in order if i not in set(test)]
            priors = rates_on(views_new, train, new_systems)
            result = score_apply(fit_selector(views_fit, train, None, seed), views_new, test, priors, hindsight)
            for method, value in result["totals"].items():
                held[method] += value / seeds
    return {"fit_systems": len(fit_systems), "new_systems": len(new_systems), "hindsight_best": hindsight,
            "stated_best": whole["stated_best"], "unknown_line": whole["unknown_line"],
            "line_with_priors": whole["line_with_priors"], "anchor_sweep": whole["anchor_sweep"],
            "all_instances": whole["totals"], "held_out": held}


def format_table(results: dict[str, dict], instances: int) -> str:
    lines = []
    for setting, title in (("all_instances", f"all {instances} instances, priors = published rates"),
                           ("held_out", "held out (5 folds x seeds, mean), priors = rates on the training instances")):
        lines += [f"\n### {title}\n", "| split | " + " | ".join(METHODS) + " | priors - best (hindsight) |",
                  "|---" * (len(METHODS) + 2) + "|"]
        for name, result in results.items():
            totals = result[setting]
            cells = [f"{totals[m]:.1f}" if setting == "held_out" else str(totals[m]) for m in METHODS]
            gain = totals["selector (priors)"] - totals["best (hindsight)"]
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {gain:+.1f} |")
    lines += [f"\n### the anchor (all instances, priors): selector (priors) resolved for each anchor; the stage "
              f"uses {ANCHOR:.2f}\n", "| split | " + " | ".join(next(iter(results.values()))["anchor_sweep"]) + " |",
              "|---" * (len(ANCHORS) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(str(v) for v in r["anchor_sweep"].values()) + " |"
              for name, r in results.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="candidates-2024 (candidates.jsonl.gz and systems.csv)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the held-out folds (default 3)")
    parser.add_argument("--random-splits", type=int, nargs="*", default=[1, 2], help="seeds of random halves")
    parser.add_argument("--out", help="also write the figures as JSON here")
    args = parser.parse_args()
    started = time.monotonic()
    folder = Path(args.folder)
    systems = read_systems(folder)
    views = make_views(load_pool([str(folder / "candidates.jsonl.gz")]))
    published = {s: int(row["n_resolved"]) / 500 for s, row in systems.items()}
    results = {}
    for name, (fit_systems, new_systems) in make_splits(systems, tuple(args.random_splits)).items():
        results[name] = study_split(views, fit_systems, new_systems, published, args.seeds)
        result = results[name]
        print(f"{name}: fit on {result['fit_systems']}, apply to {result['new_systems']}; best in hindsight "
              f"{result['hindsight_best']}, stated best {result['stated_best']}; "
              f"stage's line without priors: {result['unknown_line']!r}; with priors: "
              f"{result['line_with_priors']!r}", flush=True)
    print(format_table(results, len(views)))
    print(f"\n({time.monotonic() - started:.0f} s)")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
