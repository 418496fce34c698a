"""Re-score published candidates on the images built here: the images' fidelity figure (a development tool).

    python scripts/rescore_real_images.py --rows OUT/sympy__sympy.jsonl OUT/pytest-dev__pytest.jsonl \
        --top 3 --out /tmp/fidelity --results scripts/real_images_fidelity.json \
        [--notes scripts/real_images_fidelity_notes.json]

For every instance of the rows (written by `scripts/build_real_images.py`), the candidates of the top systems of
candidates-2024 (ranked by resolved count in systems.csv) go through the official harness (swebench 5.x
`swebench.harness.run_evaluation`, its own containers, one run id per system, from a scratch folder in `--out`)
and each verdict is compared with the one the SWE-bench maintainers published. Empty patches count as unresolved
without running. A rerun resumes: the harness skips candidates that have a report.json.

Every disagreement is listed with what the harness saw (patch applied or not, FAIL_TO_PASS and PASS_TO_PASS
tests that failed, the test log); `--notes` maps "instance_id|system" to the explanation written after reading
that log. Nothing of this is needed by the project's tests.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import re
import sys
import time
from pathlib import Path

from harness.scoring.logs import INSTANCE_REPORT, RUN_EVALUATION_LOG_DIR, TEST_OUTPUT
from harness.scoring.official import OFFICIAL, EvaluationFailed, evaluate_predictions

DATA = Path("/work/shared/data/candidates-2024")
SYSTEMS_CSV = DATA / "systems.csv"
CANDIDATES = DATA / "candidates.jsonl.gz"
EMPTY, RESOLVED, UNRESOLVED, ERROR, NOT_RUN = "empty", "resolved", "unresolved", "error", "not_run"
"""A candidate's verdict here; NOT_RUN: the harness had not graded it (a run stopped for time), left out of
the shares."""


def read_rows(paths: list[Path]) -> dict[str, dict]:
    rows = {}
    for path in paths:
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                rows[row["instance_id"]] = row
    return rows


def rank_systems(top: int, names: list[str] | None) -> list[str]:
    """The `top` systems of systems.csv by resolved count (or `names`, in that order)."""
    systems = sorted(csv.DictReader(SYSTEMS_CSV.open()), key=lambda s: -int(s["n_resolved"]))
    known = [s["system"] for s in systems]
    for name in names or []:
        if name not in known:
            raise SystemExit(f"unknown system {name!r}; the systems are the `system` column of {SYSTEMS_CSV}")
    return names or known[:top]


def read_candidates(systems: list[str], ids: set[str]) -> dict[str, dict[str, dict]]:
    """system -> instance_id -> {model_patch, resolved (published)}."""
    chosen: dict[str, dict[str, dict]] = {system: {} for system in systems}
    with gzip.open(CANDIDATES, "rt") as lines:
        for line in lines:
            candidate = json.loads(line)
            if candidate["system"] in chosen and candidate["instance_id"] in ids:
                chosen[candidate["system"]][candidate["instance_id"]] = candidate
    return chosen


def get_run_id(system: str) -> str:
    return "fidelity-" + re.sub(r"[^A-Za-z0-9_.-]", "_", system)


def score_system(system: str, candidates: dict[str, dict], dataset: Path, scratch: Path, workers: int,
                 log) -> dict:
    """Runs the official harness on the system's non-empty candidates; returns run facts (seconds, failures)."""
    preds = [{"instance_id": i, "model_name_or_path": system, "model_patch": c["model_patch"]}
             for i, c in sorted(candidates.items()) if (c["model_patch"] or "").strip()]
    if not preds:
        return {"seconds": 0.0, "harness_failures": []}
    path = scratch / "preds" / f"{get_run_id(system)}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(p) + "\n" for p in preds))
    started, failures = time.monotonic(), []
    for attempt in range(2):
        try:
            evaluate_predictions(path, dataset, get_run_id(system), scratch, workers=workers, timeout=1800,
                                 instance_ids=[p["instance_id"] for p in preds], containers=OFFICIAL)
            break
        except EvaluationFailed as error:
            # Its final run report lists every container and image and fails when another process removes one
            # meanwhile; the per-instance report.json files are written before that and are what is read here.
            failures.append(str(error).splitlines()[0])
            log(f"{system}: the harness failed (attempt {attempt + 1}); per-instance reports are read anyway")
    return {"seconds": round(time.monotonic() - started, 1), "harness_failures": failures}


def read_verdict(scratch: Path, system: str, instance_id: str) -> dict:
    """What the harness found for one candidate: resolved or not, and the tests that failed."""
    folder = scratch / RUN_EVALUATION_LOG_DIR / get_run_id(system) / system / instance_id
    report_path = folder / INSTANCE_REPORT
    if not report_path.is_file():
        reason = read_error_reason(folder / "run_instance.log")
        return {"verdict": NOT_RUN if reason is None else ERROR, "log": str(folder / "run_instance.log"),
                "reason": reason or "not graded (the run was stopped before it)"}
    report = json.loads(report_path.read_text())[instance_id]
    status = report.get("tests_status", {})
    facts = {"verdict": RESOLVED if report["resolved"] else UNRESOLVED,
             "patch_applied": report.get("patch_successfully_applied"),
             "fail_to_pass_failed": status.get("FAIL_TO_PASS", {}).get("failure", []),
             "pass_to_pass_failed": status.get("PASS_TO_PASS", {}).get("failure", []),
             "log": str(folder / TEST_OUTPUT)}
    return facts


def read_error_reason(log_path: Path) -> str | None:
    """Why the harness gave no verdict, from its instance log; None when it had not finished (or started)."""
    if not log_path.is_file():
        return None
    text = log_path.read_text(errors="replace")
    for marker in ("Patch Apply Failed", "Test timed out", "Error building image", "not found", "Traceback"):
        if marker in text:
            return marker
    return None


def compare(systems: list[str], candidates: dict, scratch: Path, notes: dict[str, str]) -> list[dict]:
    results = []
    for system in systems:
        for instance_id, candidate in sorted(candidates[system].items()):
            published = bool(candidate["resolved"])
            if (candidate["model_patch"] or "").strip():
                facts = read_verdict(scratch, system, instance_id)
            else:
                facts = {"verdict": EMPTY}
            ours = facts["verdict"] == RESOLVED
            result = {"instance_id": instance_id, "system": system, "published_resolved": published, **facts,
                      "reproduced": facts["verdict"] not in (ERROR, NOT_RUN) and ours == published}
            if facts["verdict"] != NOT_RUN and not result["reproduced"]:
                result["explanation"] = notes.get(f"{instance_id}|{system}", "not yet explained")
            results.append(result)
    return results


def summarise(results: list[dict], rows: dict, systems: list[str], runs: dict) -> dict:
    not_run = [r for r in results if r["verdict"] == NOT_RUN]
    results = [r for r in results if r["verdict"] != NOT_RUN]
    run = [r for r in results if r["verdict"] != EMPTY]
    per_system = {}
    for system in systems:
        mine = [r for r in results if r["system"] == system]
        per_system[system] = {
            "candidates": len(mine), "not_run": sum(r["system"] == system for r in not_run),
            "empty": sum(r["verdict"] == EMPTY for r in mine),
            "published_resolved": sum(r["published_resolved"] for r in mine),
            "resolved_here": sum(r["verdict"] == RESOLVED for r in mine),
            "reproduced": sum(r["reproduced"] for r in mine), **runs.get(system, {})}
    return {
        "instances": len(rows), "systems": systems,
        "candidates": len(results), "not_run": [(r["instance_id"], r["system"]) for r in not_run],
        "empty": len(results) - len(run), "scored": len(run),
        "errors": sum(r["verdict"] == ERROR for r in results),
        "reproduced": sum(r["reproduced"] for r in results),
        "reproduced_share": round(sum(r["reproduced"] for r in results) / max(len(results), 1), 4),
        "reproduced_scored": sum(r["reproduced"] for r in run),
        "reproduced_scored_share": round(sum(r["reproduced"] for r in run) / max(len(run), 1), 4),
        "per_system": per_system,
        "disagreements": [r for r in results if not r["reproduced"]],
        "published_empty_resolved": sum(r["verdict"] == EMPTY and r["published_resolved"] for r in results),
        "per_candidate": results,
    }


def format_summary(summary: dict) -> str:
    lines = [f"{summary['instances']} instances, {len(summary['systems'])} systems: {summary['candidates']} "
             f"candidates graded ({summary['empty']} empty, {summary['scored']} scored, {summary['errors']} errors; "
             f"{len(summary['not_run'])} not run)",
             f"published verdicts reproduced: {summary['reproduced']} of {summary['candidates']} "
             f"({100 * summary['reproduced_share']:.1f}%); of the scored: {summary['reproduced_scored']} of "
             f"{summary['scored']} ({100 * summary['reproduced_scored_share']:.1f}%)"]
    for system, figures in summary["per_system"].items():
        lines.append(f"  {system}: {figures['reproduced']}/{figures['candidates']} reproduced ({figures['not_run']} "
                     f"not run), resolved here "
                     f"{figures['resolved_here']} (published {figures['published_resolved']}), "
                     f"{figures.get('seconds', '-')} s")
    for r in summary["disagreements"]:
        lines.append(f"  DIFF {r['instance_id']} {r['system']}: published "
                     f"{'resolved' if r['published_resolved'] else 'unresolved'}, here {r['verdict']}; "
                     f"F2P failed {len(r.get('fail_to_pass_failed', []))}, P2P failed "
                     f"{len(r.get('pass_to_pass_failed', []))}; {r['explanation']}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", nargs="+", type=Path, required=True, help="rows files of build_real_images.py")
    parser.add_argument("--top", type=int, default=3, help="the top N systems by resolved count")
    parser.add_argument("--systems", nargs="+", help="these systems instead of the top N")
    parser.add_argument("--ids", nargs="+", help="only these instances")
    parser.add_argument("--out", type=Path, required=True, help="scratch folder for the harness (resumable)")
    parser.add_argument("--results", type=Path, required=True, help="the results JSON to write")
    parser.add_argument("--notes", type=Path, help='JSON {"instance_id|system": explanation} of disagreements')
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-run", action="store_true", help="only read the verdicts already in --out")
    args = parser.parse_args()
    log = lambda text: print(text, flush=True)  # noqa: E731

    rows = read_rows(args.rows)
    if args.ids:
        rows = {i: r for i, r in rows.items() if i in args.ids}
    scratch = args.out.resolve()
    scratch.mkdir(parents=True, exist_ok=True)
    dataset = scratch / "rows.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows.values()))
    systems = rank_systems(args.top, args.systems)
    candidates = read_candidates(systems, set(rows))
    runs_path = scratch / "runs.json"
    runs = json.loads(runs_path.read_text()) if runs_path.is_file() else {}
    if not args.no_run:
        for system in systems:
            log(f"{system}: scoring {sum(bool(c['model_patch'].strip()) for c in candidates[system].values())} "
                "candidates")
            runs[system] = score_system(system, candidates[system], dataset, scratch, args.workers, log)
            runs_path.write_text(json.dumps(runs, indent=1))
            log(f"{system}: done in {runs[system]['seconds']} s")
    notes = json.loads(args.notes.read_text()) if args.notes and args.notes.is_file() else {}
    summary = summarise(compare(systems, candidates, scratch, notes), rows, systems, runs)
    args.results.write_text(json.dumps(summary, indent=1) + "\n")
    log(format_summary(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
