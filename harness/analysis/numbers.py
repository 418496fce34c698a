"""Every number of a run's report as JSON-ready data: per model, per iteration (overlap, new fixes against
regressions), the oracle and cost. Pure functions of the cells read by `runread`.
"""

from __future__ import annotations


from harness.analysis import tables as an
from harness.exceptions import EXIT_STATUSES

from harness.analysis.spend import summarise_spend
from harness.analysis.runread import (FRACTIONAL, INFO_NUMBERS, SCHEMA_VERSION, Cell, get_attempted,
    get_cell_statuses, get_resolved, get_universe)

SCORING_WAYS = {
    "isolated": "patchmix's isolated scoring containers (no network, capabilities dropped, no-new-privileges, "
                "memory, pids and CPU limits), graded by the official harness's own functions",
    "official": "the official harness's own containers (`patchmix evaluate --official-containers`: default "
                "network, SYS_ADMIN added)",
}


def summarise_cell(cell: Cell, universe: set[str]) -> dict:
    """One row of the per-model table: verdict counts, exit statuses and spend."""
    statuses = an.count_values(get_cell_statuses(cell, universe).values())
    resolved = get_resolved(cell, universe)
    infra = set(cell.report.get("infra_failure_ids", [])) if cell.report else set()
    totals = {key: sum(get_info_number(info, key) for info in cell.infos.values()) for key in INFO_NUMBERS}
    row = {"iteration": cell.iteration, "model": cell.model, "attempted": len(get_attempted(cell))}
    row |= {status: statuses.get(status, 0) for status in an.INSTANCE_STATUSES}
    row |= {
        "resolved": None if resolved is None else len(resolved),
        "infra_failure": len(infra & get_attempted(cell)),
        "report": cell.report_path if cell.report is not None else None,
        "exit_statuses": an.count_values((i.get("exit_status") or "unknown" for i in cell.infos.values()), EXIT_STATUSES),
        "cost_per_resolved": an.divide_or_none(totals["cost"], len(resolved) if resolved else None),
        "cost_per_resolved_uncached": an.divide_or_none(totals["cost_uncached"], len(resolved) if resolved else None),
        "cache_hit_share": an.divide_or_none(totals["tokens_cached"], totals["tokens_in"] or None),
        "resolved_ids": None if resolved is None else sorted(resolved),
        "scored_in": cell.scored_in,
    }
    return row | {key: round(value, 6) if key in FRACTIONAL else int(value) for key, value in totals.items()}


def get_info_number(info: dict, key: str) -> float:
    """One number of a run's info; a run recorded before caching was counted cost the same uncached."""
    value = info.get(key)
    if key == "cost_uncached" and value is None:
        value = info.get("cost")
    return float(value or 0)


def summarise_iteration(iteration: int, rows: list[dict], total: int) -> dict:
    """Baseline, union and (for several models) overlap of one iteration's models."""
    labels = [row["model"] for row in rows]
    entry = {
        "iteration": iteration,
        "models": labels,
        "baseline_rule": an.describe_baseline(labels),
        "evaluated": all(row["resolved_ids"] is not None for row in rows),
        "cost": round(sum(row["cost"] for row in rows), 6),
    }
    if not entry["evaluated"]:
        return entry | {"resolved": None, "resolved_by_any": None, "overlap": None, "cost_per_resolved": None}
    sets = {row["model"]: set(row["resolved_ids"]) for row in rows}
    resolved_by_any = an.get_union(sets)
    return entry | {
        "resolved": len(an.get_baseline(sets)),
        "resolved_by_any": len(resolved_by_any),
        "overlap": summarise_overlap(sets, total) if len(sets) > 1 else None,
        "cost_per_resolved": an.divide_or_none(entry["cost"], len(resolved_by_any)),
    }


def summarise_overlap(sets: dict[str, set[str]], total: int) -> dict:
    overlap = an.get_overlap(sets, total)
    unique = an.get_unique_solves(sets)
    return overlap | {
        "exactly": {str(k): v for k, v in overlap["exactly"].items()},
        "pairwise": an.get_pairwise_overlap(sets),
        "unique": {label: len(ids) for label, ids in unique.items()},
        "unique_ids": unique,
    }


def add_iteration_changes(iterations: list[dict], rows: list[dict]) -> None:
    """Fill new fixes, regressions and the cumulative oracle, while every earlier iteration is evaluated."""
    baselines, unions = [], []
    for entry in iterations:
        sets = get_iteration_sets(entry, rows)
        if sets is None:
            break
        baselines.append(an.get_baseline(sets))
        unions.append(an.get_union(sets))
    cumulative = an.get_cumulative_unions(unions)
    deltas = [None] + an.get_iteration_deltas(baselines)
    for i, entry in enumerate(iterations):
        entry["cumulative_oracle"] = len(cumulative[i]) if i < len(cumulative) else None
        empty = {"new_fixes": None, "regressions": None, "net_change": None, "new_fix_ids": [], "regression_ids": []}
        entry |= (deltas[i] if i < len(deltas) and deltas[i] else empty)


def get_iteration_sets(entry: dict, rows: list[dict]) -> dict[str, set[str]] | None:
    """The resolved sets of one iteration's models, or None when one of them is not evaluated."""
    sets = {}
    for row in rows:
        if row["iteration"] == entry["iteration"]:
            if row["resolved_ids"] is None:
                return None
            sets[row["model"]] = set(row["resolved_ids"])
    return sets


def summarise_oracle(rows: list[dict], total: int) -> dict:
    evaluated = [row for row in rows if row["resolved_ids"] is not None]
    if not evaluated:
        return {"resolved": None, "percent": None, "complete": False, "ids": []}
    union = set().union(*(set(row["resolved_ids"]) for row in evaluated))
    return {
        "resolved": len(union),
        "percent": round(100 * len(union) / total, 2) if total else None,
        "complete": len(evaluated) == len(rows),
        "ids": sorted(union),
    }


def summarise_cost(rows: list[dict], iterations: list[dict], oracle: dict) -> dict:
    total = round(sum(row["cost"] for row in rows), 6)
    uncached = round(sum(row["cost_uncached"] for row in rows), 6)
    final = iterations[-1]["resolved"] if iterations else None
    return {
        "total": total, "total_uncached": uncached, "saved_by_caching": round(uncached - total, 6),
        "cache_hit_share": an.divide_or_none(sum(row["tokens_cached"] for row in rows),
                                             sum(row["tokens_in"] for row in rows) or None),
        "per_final_resolved_uncached": an.divide_or_none(uncached, final),
        "per_iteration": {str(entry["iteration"]): entry["cost"] for entry in iterations},
        "per_final_resolved": an.divide_or_none(total, final),
        "per_oracle_resolved": an.divide_or_none(total, oracle["resolved"]),
    }


def make_notes(run_dir_name: str, rows: list[dict]) -> list[str]:
    """Plain sentences about what the numbers leave out, each saying what to do about it."""
    evaluate = f"run `patchmix evaluate {run_dir_name}` first"
    if all(row["report"] is None for row in rows):
        return [f"No evaluation reports under eval/: {evaluate}. Attempts, exit statuses and cost are shown; "
                "resolution numbers are not."]
    notes = []
    for row in rows:
        cell = f"iteration {row['iteration']} / {row['model']}"
        if row["report"] is None:
            notes.append(f"{cell}: no evaluation report (eval/iter_{row['iteration']}/{row['model']}/report.json); "
                         f"{evaluate}. Numbers that need it are left blank.")
            continue
        notes.extend(make_cell_notes(cell, row))
    return notes


def make_cell_notes(cell: str, row: dict) -> list[str]:
    notes = []
    unscored = row[an.EVAL_ERROR] + row[an.NOT_EVALUATED]
    if unscored:
        notes.append(f"{cell}: {unscored} attempted instances have no verdict ({row[an.EVAL_ERROR]} evaluation "
                     f"errors, {row[an.NOT_EVALUATED]} not evaluated); they are not counted as resolved. "
                     "Re-run `patchmix evaluate` to score them.")
    if row[an.NOT_RUN]:
        notes.append(f"{cell}: {row[an.NOT_RUN]} instances of the run were never attempted by this model.")
    if row["infra_failure"]:
        notes.append(f"{cell}: {row['infra_failure']} instances likely failed evaluation for infrastructure "
                     "reasons (harness `infra_failure_ids`); counted unresolved as the harness does.")
    return notes


def describe_scoring(rows: list[dict]) -> str | None:
    """Which containers the verdicts were obtained in, per model when they differ; None when nothing is scored."""
    ways: dict[str, list[str]] = {}
    for row in rows:
        if row["scored_in"]:
            ways.setdefault(row["scored_in"], []).append(f"iteration {row['iteration']} / {row['model']}")
    if len(ways) == 1:
        way = next(iter(ways))
        return f"Verdicts obtained in {SCORING_WAYS.get(way, way)}."
    parts = [f"in {SCORING_WAYS.get(way, way)} for {', '.join(cells)}" for way, cells in sorted(ways.items())]
    return f"Verdicts obtained {'; '.join(parts)}." if parts else None


def build_summary(cells: list[Cell], run_id: str) -> dict:
    """Every number of the report, as JSON-ready data (charts are added by `write_report`)."""
    universe = get_universe(cells)
    rows = [summarise_cell(cell, universe) for cell in cells]
    iteration_numbers = sorted({row["iteration"] for row in rows})
    iterations = [
        summarise_iteration(k, [row for row in rows if row["iteration"] == k], len(universe))
        for k in iteration_numbers
    ]
    add_iteration_changes(iterations, rows)
    oracle = summarise_oracle(rows, len(universe))
    evaluated = [row["report"] is not None for row in rows]
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "instances": len(universe),
        "evaluated": "all" if all(evaluated) else "partial" if any(evaluated) else "none",
        "notes": make_notes(run_id, rows),
        "scoring": describe_scoring(rows),
        "iterations": iterations,
        "models": rows,
        "oracle": oracle,
        "cost": summarise_cost(rows, iterations, oracle),
        "spend": summarise_spend(cells, rows, iterations),
        "charts": {},
    }
