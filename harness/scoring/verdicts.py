"""Verdicts of scored predictions files: evaluation errors apart from unresolved, flips between repeats, a
retry merged into its report, and the lines `patchmix evaluate` prints. Pure functions of the harness's reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RESOLVED, UNRESOLVED, EMPTY, ERROR = "resolved", "unresolved", "empty", "error"
CACHED, SCORED, CRASHED, NO_PREDICTIONS = "cached", "scored", "crashed", "no predictions"
# The id lists of the harness's run report that a retry can change, and the counts kept beside them.
VERDICT_KEYS = ("completed_ids", "resolved_ids", "unresolved_ids", "error_ids", "infra_failure_ids",
                "ambiguous_failure_ids")
COUNT_KEYS = {
    "completed_instances": "completed_ids", "resolved_instances": "resolved_ids",
    "unresolved_instances": "unresolved_ids", "infra_failure_instances": "infra_failure_ids",
    "ambiguous_failure_instances": "ambiguous_failure_ids", "empty_patch_instances": "empty_patch_ids",
    "error_instances": "error_ids",
}


@dataclass(frozen=True)
class PredsFile:
    iteration: int
    label: str
    path: Path
    out_dir: Path

    @property
    def key(self) -> str:
        return f"iter_{self.iteration}/{self.label}"



def get_eval_errors(report: dict) -> list[str]:
    """Instances the harness gave no trustworthy verdict: evaluation errors and likely infrastructure failures."""
    return sorted(set(report.get("error_ids", [])) | set(report.get("infra_failure_ids", [])))


def get_verdicts(report: dict) -> dict[str, str]:
    """instance_id -> resolved, unresolved, empty or error (no verdict)."""
    verdicts = {i: RESOLVED for i in report.get("resolved_ids", [])}
    verdicts |= {i: UNRESOLVED for i in report.get("unresolved_ids", [])}
    verdicts |= {i: EMPTY for i in report.get("empty_patch_ids", [])}
    return verdicts | {i: ERROR for i in get_eval_errors(report)}


def find_flips(runs: list[dict[str, str]]) -> list[str]:
    """Instances resolved in one repetition and unresolved in another (a repetition with no verdict is no flip)."""
    ids = set().union(*runs) if runs else set()
    return sorted(i for i in ids if {RESOLVED, UNRESOLVED} <= {run.get(i) for run in runs})


def merge_retry(report: dict, retried: dict, ids: list[str]) -> dict:
    """`report` with the results of `ids` taken from the retry's report; the key set stays the harness's."""
    ids = set(ids)
    merged = dict(report)
    for key in VERDICT_KEYS:
        if key in report:
            kept = {i for i in report[key] if i not in ids}
            merged[key] = sorted(kept | (set(retried.get(key, [])) & ids))
    if "failure_reasons" in report:
        reasons = {i: r for i, r in report["failure_reasons"].items() if i not in ids}
        reasons |= {i: r for i, r in retried.get("failure_reasons", {}).items() if i in ids}
        merged["failure_reasons"] = dict(sorted(reasons.items()))
    for count_key, ids_key in COUNT_KEYS.items():
        if count_key in report and ids_key in merged:
            merged[count_key] = len(merged[ids_key])
    return merged


# ---------------------------------------------------------------- the summary


def summarise_file(preds: PredsFile, status: str, report: dict | None, meta: dict, flaky: dict | None,
                   calls: int) -> dict:
    """One predictions file's entry of the summary; evaluation errors are never counted as unresolved."""
    report = report or {}
    errors = get_eval_errors(report)
    retries = len(meta.get("retries", []))
    return {
        "iteration": preds.iteration, "label": preds.label, "status": status, "skipped": status == CACHED,
        "resolved": sorted(report.get("resolved_ids", [])),
        "unresolved": sorted(set(report.get("unresolved_ids", [])) - set(errors)),
        "empty": sorted(report.get("empty_patch_ids", [])),
        "infra_errors": errors,
        "error_reasons": {i: e["reason"] for i, e in meta.get("errors", {}).items() if i in errors},
        "flaky": (flaky or {}).get("flaky_ids", []),
        "repetitions": (flaky or {}).get("repetitions", 1 if report else 0),
        "retries": retries,
        "crash": meta.get("crash", {}).get("message") if status == CRASHED else None,
        "run_id": meta.get("run_id"),
        "report": str(preds.out_dir / "report.json") if report else None,
        "harness_calls": calls,
    }


def format_summary(summary: dict) -> list[str]:
    """A short table, then the instances with no verdict, the flips and the crashes, each on its own line."""
    entries = list(summary["files"].values())
    headers = ("iteration", "model", "resolved", "unresolved", "empty", "eval errors", "flaky", "status")
    rows = [(e["iteration"], e["label"], len(e["resolved"]), len(e["unresolved"]), len(e["empty"]),
             len(e["infra_errors"]), len(e["flaky"]) if e["repetitions"] > 1 else "-", e["status"]) for e in entries]
    widths = [max(len(str(row[i])) for row in (headers, *rows)) for i in range(len(headers))]
    lines = [f"patchmix evaluate {summary['run']}: {len(entries)} predictions files, "
             f"{summary['harness_calls']} harness calls"]
    lines += ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
              for row in (headers, *rows)]
    return lines + [line for e in entries for line in describe_problems(e)]


def describe_problems(entry: dict) -> list[str]:
    key = f"iter_{entry['iteration']}/{entry['label']}"
    lines = []
    if entry["infra_errors"]:
        again = ("scored again on the next call" if entry["retry_next_call"]
                 else f"given up after {entry['retries']} retries; change the predictions to score them again")
        named = ", ".join(f"{i} ({entry['error_reasons'].get(i, 'evaluation error')})" for i in entry["infra_errors"])
        lines.append(f"{key}: no verdict (evaluation errors, not counted as unresolved; {again}): {named}")
    if entry["flaky"]:
        lines.append(f"{key}: verdict flipped between {entry['repetitions']} repetitions: {', '.join(entry['flaky'])}")
    if entry["crash"]:
        lines.append(f"{key}: harness crashed, scored again on the next call: {entry['crash']}")
    return lines
