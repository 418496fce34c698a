"""Selection with execution on real SWE-bench images: does the regression signal, as features of the fitted
combiner, pick better than the best single system and the static selector? (a development tool)

    python scripts/study_selection_execution.py --rows OUT/sympy__sympy.jsonl OUT/pytest-dev__pytest.jsonl \
        --cache /tmp/execution --systems 8 [--run] [--workers 2] \
        --results scripts/selection_execution_results.json

With `--run`, for every instance of the rows (images built by `scripts/build_real_images.py`), the candidates of
candidates-2024's top `--systems` systems (by resolved count in systems.csv) go through patchmix's regression
check (harness.select.regression) in a container of the instance's image: the repository's own tests of the
modules the candidates change (found from the source tree, never from the answer key) are run on the original
code, then with each distinct candidate applied. One JSON per instance in `--cache` (a rerun resumes).

Then, held out (k-fold over instances; and leave-systems-out, each fold also holding out half of the systems and
fitting the combiner on the others), over several seeds: the best single system (chosen on the training side),
the static selector (execution columns left at 0), the static selector with the regression filter after it
(what `patchmix select --dataset` did before: drop what breaks a test), the selector with execution as features
of the fitted combiner (and the filter after it), and the oracle of the pool picked from. Verdicts are the
published ones of candidates-2024 (re-scored on these images: scripts/real_images_results.md).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import signal
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from harness.cli import raise_interrupt  # noqa: E402
from harness.select.crossfit import fallback  # noqa: E402
from harness.select.features import EXECUTION_FEATURES, get_execution_columns  # noqa: E402
from harness.select.pool import Candidate  # noqa: E402
from harness.select import regression  # noqa: E402
from harness.select.regression import check_regressions  # noqa: E402
from harness.select.selector import fit_selector, make_views, pick  # noqa: E402

DATA = Path("/work/shared/data/candidates-2024")
ROW_KEYS = ("instance_id", "repo", "image", "base_commit")  # what the check may see of a row: no answer key


def read_top_systems(count: int) -> list[str]:
    with open(DATA / "systems.csv", newline="") as handle:
        systems = sorted(csv.DictReader(handle), key=lambda s: -int(s["n_resolved"]))
    return [s["system"] for s in systems[:count]]


def read_verified_ids() -> list[str]:
    with gzip.open(DATA / "candidates.jsonl.gz", "rt") as handle:
        return sorted({json.loads(line)["instance_id"] for line in handle})


def read_candidates(ids: set[str], systems: list[str]) -> dict[str, dict[str, dict]]:
    """instance -> system -> {patch, resolved}, for the given systems (a missing one counts as an empty patch)."""
    found: dict[str, dict[str, dict]] = {i: {} for i in ids}
    with gzip.open(DATA / "candidates.jsonl.gz", "rt") as handle:
        for line in handle:
            record = json.loads(line)
            if record["instance_id"] in ids and record["system"] in systems:
                found[record["instance_id"]][record["system"]] = {
                    "patch": record.get("model_patch") or "", "resolved": bool(record.get("resolved"))}
    for by_system in found.values():
        for system in systems:
            by_system.setdefault(system, {"patch": "", "resolved": False})
    return found


UNINFORMATIVE = {"tests": [], "passed_before": 0, "distinct_patches": 0, "seconds": 0.0, "applies": {},
                 "broken_tests": {}, "not_run": True}
"""An instance whose candidates all resolve or all fail: every method picks the same verdict there and the
listwise fit learns nothing from it, so its check is not run; its candidates count as checked with no signal."""


def is_informative(by_system: dict[str, dict]) -> bool:
    """Whether the candidates' verdicts differ (an empty patch counts as failing). Deciding what to run from the
    verdicts is the study's economy, not the selector's: no pick reads it."""
    return len({bool(c["resolved"]) and bool(c["patch"].strip()) for c in by_system.values()}) > 1


def run_instance(row: dict, candidates: dict[str, dict], cache: Path) -> dict:
    """The regression check of the instance's distinct non-empty patches, cached as JSON."""
    path = cache / f"{row['instance_id']}.json"
    if path.is_file():
        return json.loads(path.read_text())
    distinct: dict[str, str] = {}  # patch -> the first system with it
    for system, candidate in sorted(candidates.items()):
        if candidate["patch"].strip():
            distinct.setdefault(candidate["patch"], system)
    started = time.monotonic()
    result = check_regressions({key: row[key] for key in ROW_KEYS if key in row},
                               {system: patch for patch, system in distinct.items()})
    record = {"instance_id": row["instance_id"], "tests": result.tests, "passed_before": len(result.passed_before),
              "distinct_patches": len(distinct), "seconds": round(time.monotonic() - started, 1),
              "applies": {s: result.applies.get(s, False) for s in distinct.values()},
              "broken_tests": {s: result.broken.get(s, []) for s in distinct.values()}}
    path.write_text(json.dumps(record, indent=1))
    return record


def get_runs(by_system: dict[str, dict], record: dict) -> dict[str, dict]:
    """Each non-empty candidate's execution signals, from the run of the first system with the same patch."""
    first: dict[str, str] = {}
    runs = {}
    for system, candidate in sorted(by_system.items()):
        if candidate["patch"].strip():
            checked = first.setdefault(candidate["patch"], system)
            if record.get("not_run"):
                runs[system] = {"applies": True, "broken": []}
                continue
            applies = record["applies"][checked] if "applies" in record else record["systems"][checked]["applies"]
            runs[system] = {"applies": applies, "broken": record["broken_tests"].get(checked, [])}
    return runs


def make_pool(candidates: dict[str, dict[str, dict]], executed: dict[str, dict], with_execution: bool) -> list:
    pool = []
    for instance, by_system in sorted(candidates.items()):
        runs = get_runs(by_system, executed[instance]) if instance in executed else {}
        for system, candidate in sorted(by_system.items()):
            pool.append(Candidate(instance, system, candidate["patch"], candidate["resolved"],
                                  execution=runs.get(system) if with_execution else None))
    return pool


def pick_filtered(chosen, any_break: bool = False) -> int:
    """The filter after the combiner (harness.select.execute): its ranking minus candidates that do not apply or
    break a test that most candidates do not (with `any_break`, any test: the filter before this study); its own
    pick when every one is dropped. 1 if the pick resolves."""
    breaks = [bool(c.execution and c.execution["broken"]) for c in chosen.candidates] if any_break else \
        get_execution_columns(chosen.candidates)["exec_breaks"]
    kept = [i for i in np.argsort(-chosen.scores, kind="stable")
            if (run := chosen.candidates[i].execution) and run["applies"] and not breaks[i]]
    return int(bool(chosen.candidates[kept[0]].resolved if kept else chosen.chosen.resolved))


def score_fold(static: dict, executed: dict, train: list[str], test: list[str], top_k, seed: int,
               held_systems: set[str] | None) -> dict[str, dict[str, int]]:
    """crossfit.score_fold's methods, plus the filter after each selector and the selector with execution."""
    fitted = {}
    for name, views in (("static", static), ("exec", executed)):
        if held_systems is None:
            fitted[name] = fit_selector(views, train, top_k, seed)
        else:
            fit_on = sorted({c.system for v in views.values() for c in v.candidates} - held_systems)
            fitted[name] = fit_selector(views, train, None, seed, fit_systems=fit_on)
            fitted[name].systems = [s for s in fitted[name].systems if s in held_systems]
    results = {}
    for instance in test:
        plain = pick(fitted["static"], static[instance], instance)
        fed = pick(fitted["exec"], executed[instance], instance)
        # the static pick's candidates carry their execution results for the filter (not for the score)
        with_runs = {c.system: c for c in executed[instance].candidates}
        plain.candidates = [with_runs[c.system] for c in plain.candidates]
        plain.chosen = with_runs[plain.chosen.system]
        view = static[instance].restrict(fitted["static"].systems)
        best = next((c for c in view.candidates if c.system == fitted["static"].systems[0]), None)
        results[instance] = {
            "best_single": int(bool(best and best.resolved)),
            "fallback": fallback(view, fitted["static"].reliability),
            "selector": int(bool(plain.chosen.resolved)), "selector_filter_any": pick_filtered(plain, True),
            "selector_filter": pick_filtered(plain),
            "selector_exec": int(bool(fed.chosen.resolved)), "selector_exec_filter": pick_filtered(fed),
            "oracle": int(any(c.resolved for c in view.candidates))}
    return results


METHODS = ["best_single", "fallback", "selector", "selector_filter_any", "selector_filter", "selector_exec",
           "selector_exec_filter", "oracle"]
"""selector: static signals only; _filter_any: then drop a pick that breaks any test (the filter before this
study); _filter: drop one that breaks a test most candidates do not (harness.select.execute now); selector_exec:
the execution signals as features of the fitted combiner; _exec_filter: both (what `execute: true` does now)."""


def evaluate_all(candidates: dict, executed: dict, top_k: int, seeds: int, folds: int,
                 fit_beyond: bool) -> dict:
    """Every method held out on the executed instances, k-fold (picks among the top_k) and leave-systems-out (each
    fold also holds out a random half of the systems: the combiner is fitted on the others' candidates), as
    crossfit.evaluate does. With `fit_beyond`, each fold is fitted on every other instance of candidates-2024 (the
    execution signals where they were run, 0 elsewhere: a column that is constant within an instance teaches the
    listwise fit nothing, so only executed instances shape their weights); else on the other executed ones."""
    static = make_views(make_pool(candidates, executed, False))
    with_exec = make_views(make_pool(candidates, executed, True))
    instances = sorted(executed)
    others = sorted(set(static) - set(executed)) if fit_beyond else []
    systems = sorted({c.system for v in static.values() for c in v.candidates})
    figures, per_instance = {}, {}
    for name, lso in (("k-fold", False), ("leave-systems-out", True)):
        totals = {m: [] for m in METHODS}
        wins = {}
        for seed in range(seeds):
            rng = random.Random(seed)
            order = rng.sample(instances, len(instances))
            results = {}
            for fold in range(folds):
                test = order[fold::folds]
                held = set(rng.sample(systems, max(1, len(systems) // 2))) if lso else None
                train = [i for i in order if i not in set(test)] + others
                results.update(score_fold(static, with_exec, train, test, None if lso else top_k, seed, held))
            for method in METHODS:
                totals[method].append(sum(r[method] for r in results.values()))
            for instance, row in results.items():
                wins.setdefault(instance, []).append(row["selector_exec_filter"] - row["selector"])
        figures[name] = {m: {"mean": round(statistics.mean(v), 2), "min": min(v), "max": max(v)}
                         for m, v in totals.items()}
        per_instance[name] = {i: round(statistics.mean(v), 2) for i, v in wins.items() if any(v)}
    return {"figures": figures, "exec_filter_minus_static_by_instance": per_instance}


def main() -> int:
    signal.signal(signal.SIGTERM, raise_interrupt)  # a stopped study removes its container, as `patchmix` does
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", nargs="+", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--systems", type=int, default=8)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--run", action="store_true", help="run the regression checks not cached yet")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max-test-files", type=int, default=regression.MAX_TEST_FILES,
                        help="test files run per instance (the check's own cap by default; lower is faster)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--results", type=Path)
    parser.add_argument("--fit-beyond", action="store_true", help="fit each fold on every other instance of "
                        "candidates-2024 too (the executed ones held out in turn), not only the other executed ones")
    args = parser.parse_args()
    regression.MAX_TEST_FILES = args.max_test_files
    rows = {}
    for path in args.rows:
        for line in path.read_text().splitlines():
            row = json.loads(line)
            rows[row["instance_id"]] = row
    systems = read_top_systems(args.systems)
    candidates = read_candidates(set(rows), systems)
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.run:
        def run_one(instance: str) -> None:
            try:
                record = run_instance(rows[instance], candidates[instance], args.cache)
                print(f"{instance}: {len(record['tests'])} test files, {record['passed_before']} passed before, "
                      f"{record['distinct_patches']} patches, {record['seconds']} s", flush=True)
            except Exception as error:  # one instance's failure is reported, the others go on
                print(f"{instance}: FAILED {type(error).__name__}: {error}", flush=True)

        todo = [i for i in sorted(rows) if is_informative(candidates[i])]
        print(f"{len(todo)} of {len(rows)} instances have both resolving and failing candidates: only they are "
              "run (on the others every pick has the same verdict, and the fit learns nothing from them)")
        if args.workers == 1:  # in the main thread: a stop (Ctrl-C, SIGTERM) reaches the check, which removes its
            for instance in todo:  # container; a pool's threads would finish their instances first
                run_one(instance)
        else:
            with ThreadPoolExecutor(args.workers) as pool:
                list(pool.map(run_one, todo))
    executed = {i: json.loads((args.cache / f"{i}.json").read_text()) for i in rows
                if (args.cache / f"{i}.json").is_file()}
    executed.update({i: UNINFORMATIVE for i in rows if i not in executed and not is_informative(candidates[i])})
    missing = sorted(set(rows) - set(executed))
    if missing:
        print(f"{len(missing)} instances not executed yet (left out of the figures): {', '.join(missing[:5])}...")
    everywhere = read_candidates(set(read_verified_ids()), systems) if args.fit_beyond else {
        i: c for i, c in candidates.items() if i in executed}
    candidates = {i: c for i, c in candidates.items() if i in executed}
    evaluated = evaluate_all(everywhere, executed, args.top_k, args.seeds, args.folds, args.fit_beyond)
    figures = evaluated["figures"]
    split = describe_signal(candidates, executed)
    for name, methods in figures.items():
        print(f"{name} ({len(candidates)} instances, {args.seeds} seeds): " +
              ", ".join(f"{m} {v['mean']}" for m, v in methods.items()))
    print(json.dumps(split, indent=1))
    if args.results:
        args.results.write_text(json.dumps({"instances": len(candidates), "systems": systems, "top_k": args.top_k,
                                            "seeds": args.seeds, "folds": args.folds, "figures": figures,
                                            "signal": split, "features": list(EXECUTION_FEATURES),
                                            "exec_filter_minus_static_by_instance":
                                                evaluated["exec_filter_minus_static_by_instance"],
                                            "fit_beyond": args.fit_beyond}, indent=1))
    return 0


def describe_signal(candidates: dict, executed: dict) -> dict:
    """How the regression signal splits resolving and failing non-empty candidates: any broken test, and the
    feature's count (tests most candidates break left out)."""
    counts = {f"{v}_{k}": 0 for v in ("resolved", "unresolved") for k in ("breaks_any", "breaks_unshared", "clean")}
    counts.update(not_applied=0, instances_with_tests=0)
    for instance, by_system in candidates.items():
        counts["instances_with_tests"] += bool(executed[instance]["passed_before"])
        counts["not_run_uninformative"] = counts.get("not_run_uninformative", 0) + bool(executed[instance].get("not_run"))
        if executed[instance].get("not_run"):
            continue
        pool = [c for c in make_pool({instance: by_system}, executed, True) if c.execution]
        unshared = get_execution_columns(pool)["exec_breaks"]
        for candidate, alone in zip(pool, unshared):
            if not candidate.execution["applies"]:
                counts["not_applied"] += 1
                continue
            verdict = "resolved" if candidate.resolved else "unresolved"
            counts[f"{verdict}_breaks_any"] += bool(candidate.execution["broken"])
            counts[f"{verdict}_breaks_unshared"] += bool(alone)
            counts[f"{verdict}_clean"] += not candidate.execution["broken"]
    return counts


if __name__ == "__main__":
    sys.exit(main())
