"""How far static signals can carry selection on a scored pool (issue 10's target), measured three ways.

1. Where the gap is: the instances the most reliable system leaves unresolved while another system resolves them,
   split by whether that system made a change.
2. Consensus against the top system, with hindsight (in sample, the upper bound of the rule family): switch from
   the top system's patch to the candidate most others agree with (Jaccard of changed tokens above T, or the same
   change key) whenever it has M more agreeing systems than the top's; the net instances won, for every T and M.
3. A non-linear combiner held out: gradient-boosted trees on the selector's own features beside the top
   candidate's (k-fold over instances, the selector's cross-fitted training rows), against the fallback rule
   (the most reliable system that made a change).

    python3 scripts/study_selection_ceiling.py ../shared/data/candidates-2024/candidates.jsonl.gz [--top 3 5 all]
"""

from __future__ import annotations

import argparse
import random

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from harness.select.crossfit import fallback
from harness.select.features import get_features
from harness.select.pool import load_pool
from harness.select.priors import fit_reliability
from harness.select.selector import get_training_rows, make_views

THRESHOLDS, MARGINS = (0.5, 0.7, 0.9), (1, 2, 3, 4, 6)


def count_gap(views, systems) -> dict[str, int]:
    split = {"top resolves": 0, "top empty, another resolves": 0, "top changed, another resolves": 0}
    for view in views.values():
        view = view.restrict(systems)
        if view.candidates[0].resolved:
            split["top resolves"] += 1
        elif any(c.resolved for c in view.candidates):
            split["top empty, another resolves" if view.profiles[0].empty else "top changed, another resolves"] += 1
    return split


def count_consensus_switches(views, systems, threshold: float, margin: int) -> tuple[int, int]:
    """(switches, net instances won) of overruling the top system by consensus, in sample."""
    switches = won = 0
    for view in views.values():
        view = view.restrict(systems)
        changed = np.array([not p.empty for p in view.profiles])
        if not changed[0]:
            continue
        agree = ((view.similar > threshold) | (view.same > 0)) & changed[None, :] & changed[:, None]
        support = agree.sum(1)
        rival = int(np.argmax(np.where(np.arange(len(support)) == 0, -1, support)))
        if rival and support[rival] >= support[0] + margin:
            switches += 1
            won += int(bool(view.candidates[rival].resolved)) - int(bool(view.candidates[0].resolved))
    return switches, won


def add_top(rows: np.ndarray) -> np.ndarray:
    """Each candidate's features beside those of the instance's most reliable candidate (the first row)."""
    return np.hstack([rows, np.repeat(rows[:1], len(rows), 0)])


def score_trees(views, top_k: int | None, seeds: int, folds: int = 5) -> tuple[float, float]:
    """Mean held-out resolved of (gradient-boosted trees, fallback) over seeds; the training rows are the
    selector's own (`get_training_rows`: priors cross-fitted on the other training instances)."""
    instances, every = sorted(views), sorted({c.system for v in views.values() for c in v.candidates})
    trees = fallen_back = 0
    for seed in range(seeds):
        order = random.Random(seed).sample(instances, len(instances))
        for fold in range(folds):
            test = order[fold::folds]
            train = [i for i in order if i not in set(test)]
            reliability = fit_reliability([c for i in train for c in views[i].candidates])
            systems = reliability.rank(every)[:top_k]
            training = get_training_rows(views, train, systems, seed)
            model = HistGradientBoostingClassifier(max_depth=3, max_iter=150, learning_rate=0.05, random_state=seed)
            model.fit(np.vstack([add_top(rows) for rows, _ in training]), np.concatenate([y for _, y in training]))
            for instance in test:
                view = views[instance].restrict(systems)
                scores = model.predict_proba(add_top(get_features(view, reliability)))[:, 1]
                trees += bool(view.candidates[int(np.argmax(scores))].resolved)
                fallen_back += fallback(view, reliability)
    return trees / seeds, fallen_back / seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pool", help="a scored candidates file or run folder")
    parser.add_argument("--top", nargs="+", default=["3", "5", "all"], help="pool sizes (systems) or 'all'")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the held-out trees (default 3)")
    args = parser.parse_args()
    views = make_views(load_pool([args.pool]))
    ranked = fit_reliability([c for v in views.values() for c in v.candidates]).rank(
        sorted({c.system for v in views.values() for c in v.candidates}))
    for top in args.top:
        top_k = None if top == "all" else int(top)
        systems = ranked[:top_k]
        print(f"\n## {top} systems ({len(views)} instances; top system {systems[0]})")
        print("gap (in sample):", ", ".join(f"{name} {n}" for name, n in count_gap(views, systems).items()))
        print("consensus overrules the top system, in sample: switches / net instances won")
        for threshold in THRESHOLDS:
            cells = [count_consensus_switches(views, systems, threshold, m) for m in MARGINS]
            print(f"  T={threshold}: " + "  ".join(f"M={m}: {s}/{w:+d}" for m, (s, w) in zip(MARGINS, cells)))
        trees, fallback = score_trees(views, top_k, args.seeds)
        print(f"held out ({args.seeds} seeds x 5 folds): gradient-boosted trees {trees:.1f}, fallback {fallback:.1f}")


if __name__ == "__main__":
    main()
