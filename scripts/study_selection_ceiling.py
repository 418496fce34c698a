"""How far static signals can carry selection on a scored pool (issue 10's target), measured three ways.

1. Where the gap is: the instances the most reliable system leaves unresolved while another system resolves them,
   split by whether that system made a change.
2. Consensus against the top system, with hindsight (in sample, the upper bound of the rule family): switch from
   the top system's patch to the candidate most others agree with (Jaccard of changed tokens above T, or the same
   change key) whenever it has M more agreeing systems than the top's; the net instances won, for every T and M.
3. A non-linear combiner held out: gradient-boosted trees on the selector's own features plus the system's rank
   and the top candidate's features (k-fold over instances, priors cross-fitted as the selector's are), against
   the fallback rule (the most reliable system that made a change).

    python3 scripts/study_selection_ceiling.py ../shared/data/candidates-2024/candidates.jsonl.gz [--top 3 5 all]
"""

from __future__ import annotations

import argparse
import random

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from harness.select.features import get_features
from harness.select.pool import load_pool
from harness.select.priors import fit_reliability
from harness.select.selector import INNER_FOLDS, make_views

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


def get_rows(view, reliability, systems):
    view = view.restrict(systems)
    features = get_features(view, reliability)
    rank = np.array([[systems.index(c.system)] for c in view.candidates], float)
    top = np.repeat(features[:1], len(features), 0)
    return np.hstack([features, rank, top, view.similar[:, :1]]), np.array([bool(c.resolved) for c in view.candidates])


def score_trees(views, top_k: int | None, seeds: int, folds: int = 5) -> tuple[float, float]:
    """Mean held-out resolved of (gradient-boosted trees, fallback) over seeds."""
    instances, every = sorted(views), sorted({c.system for v in views.values() for c in v.candidates})
    trees = fallback = 0
    for seed in range(seeds):
        order = instances[:]
        random.Random(seed).shuffle(order)
        for fold in range(folds):
            test = set(order[fold::folds])
            train = [i for i in order if i not in test]
            x, y = [], []
            for inner in range(INNER_FOLDS):
                held = set(train[inner::INNER_FOLDS])
                reliability = fit_reliability([c for i in train if i not in held for c in views[i].candidates])
                systems = reliability.rank(every)[:top_k]
                for instance in sorted(held):
                    rows, resolved = get_rows(views[instance], reliability, systems)
                    x.append(rows), y.append(resolved)
            model = HistGradientBoostingClassifier(max_depth=3, max_iter=150, learning_rate=0.05, random_state=seed)
            model.fit(np.vstack(x), np.concatenate(y))
            reliability = fit_reliability([c for i in train for c in views[i].candidates])
            systems = reliability.rank(every)[:top_k]
            for instance in sorted(test):
                rows, resolved = get_rows(views[instance], reliability, systems)
                trees += resolved[int(np.argmax(model.predict_proba(rows)[:, 1]))]
                changed = [k for k, p in enumerate(views[instance].restrict(systems).profiles) if not p.empty] or [0]
                fallback += resolved[changed[0]]
    return trees / seeds, fallback / seeds


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
