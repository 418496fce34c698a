"""The report of one run: reads `runs/<run_id>/`, writes `report/summary.md`, `report/summary.json` and charts.

Reading is the only I/O besides writing the report; the numbers come from `harness.analysis`. An instance the
harness gave no verdict for (no report, an evaluation error) is counted as such and named in the notes, never
silently folded into "unresolved". Entry point: `write_report(run_dir)`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from harness import analysis as an
from harness import charts
from harness.exceptions import EXIT_STATUSES, PatchmixError
from harness.fileio import write_json_atomic, write_text_atomic

SCHEMA_VERSION = 1
ITERATION_DIR = re.compile(r"^iter_(\d+)$")
TRAJ_SUFFIX = ".traj.json"
INFO_NUMBERS = ("cost", "steps", "tokens_in", "tokens_out", "wall_seconds")
FRACTIONAL = ("cost", "wall_seconds")


@dataclass(frozen=True)
class Cell:
    """What the run directory holds for one (iteration, model)."""

    iteration: int
    model: str
    infos: dict[str, dict] = field(default_factory=dict)
    """instance_id -> the trajectory's `info` (exit_status, cost, steps, tokens_in, tokens_out, wall_seconds)."""
    pred_ids: frozenset[str] = frozenset()
    report: dict | None = None
    """The harness's run report, or None when the cell was not evaluated."""
    report_path: str = ""


# ---------------------------------------------------------------- reading the run directory


def find_cells(run_dir: Path) -> list[tuple[int, str]]:
    """(iteration, model) pairs that have a run folder or an evaluation folder, in order."""
    found = set()
    for root in (run_dir, run_dir / "eval"):
        for iter_dir in root.glob("iter_*"):
            match = ITERATION_DIR.match(iter_dir.name)
            if match and iter_dir.is_dir():
                found |= {(int(match[1]), d.name) for d in iter_dir.iterdir() if d.is_dir()}
    return sorted(found)


def read_cell(run_dir: Path, iteration: int, model: str) -> Cell:
    folder = run_dir / f"iter_{iteration}" / model
    report_path = run_dir / "eval" / f"iter_{iteration}" / model / "report.json"
    infos = {path.name[: -len(TRAJ_SUFFIX)]: read_trajectory_info(path) for path in folder.glob(f"*{TRAJ_SUFFIX}")}
    return Cell(
        iteration=iteration,
        model=model,
        infos=infos,
        pred_ids=frozenset(read_pred_ids(folder / "preds.jsonl")),
        report=read_eval_report(report_path),
        report_path=str(report_path.relative_to(run_dir)),
    )


def read_trajectory_info(path: Path) -> dict:
    """The `info` block of a trajectory; an unreadable file shows up as exit status `unreadable`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {"exit_status": "unreadable"}
    info = data.get("info") if isinstance(data, dict) else None
    return info if isinstance(info, dict) else {"exit_status": "unreadable"}


def read_pred_ids(path: Path) -> set[str]:
    if not path.exists():
        return set()
    ids = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            ids.add(json.loads(line)["instance_id"])
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise PatchmixError(
                f"{path}:{number} is not a prediction with an instance_id ({error}); "
                "delete the line or rerun the iteration to rewrite the file"
            ) from error
    return ids


def read_eval_report(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise PatchmixError(f"{path} is not valid JSON ({error}); rerun `patchmix evaluate` for the run") from error
    if not isinstance(report, dict) or "resolved_ids" not in report:
        raise PatchmixError(f"{path} is not a SWE-bench run report (no resolved_ids); rerun `patchmix evaluate`")
    return report


def read_run(run_dir: Path) -> list[Cell]:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise PatchmixError(f"no run directory at {run_dir}; pass the folder `patchmix run` created (runs/<run_id>)")
    cells = [read_cell(run_dir, k, model) for k, model in find_cells(run_dir)]
    if not cells:
        raise PatchmixError(f"{run_dir} holds no iter_<k>/<model> folders; run `patchmix run` first")
    return cells


# ---------------------------------------------------------------- the summary (pure)


def get_attempted(cell: Cell) -> set[str]:
    submitted = set(cell.report.get("submitted_ids", [])) if cell.report else set()
    return set(cell.infos) | set(cell.pred_ids) | submitted


def get_universe(cells: list[Cell]) -> set[str]:
    """Every instance any cell attempted: the denominator of the run."""
    return set().union(*(get_attempted(cell) for cell in cells))


def get_cell_statuses(cell: Cell, universe: set[str]) -> dict[str, str]:
    attempted = get_attempted(cell)
    statuses = an.get_instance_statuses(attempted, cell.report)
    return statuses | {instance: an.NOT_RUN for instance in universe - attempted}


def get_resolved(cell: Cell, universe: set[str]) -> set[str] | None:
    if cell.report is None:
        return None
    return {i for i, status in get_cell_statuses(cell, universe).items() if status == an.RESOLVED}


def summarise_cell(cell: Cell, universe: set[str]) -> dict:
    """One row of the per-model table: verdict counts, exit statuses and spend."""
    statuses = an.count_values(get_cell_statuses(cell, universe).values())
    resolved = get_resolved(cell, universe)
    infra = set(cell.report.get("infra_failure_ids", [])) if cell.report else set()
    totals = {key: sum(float(info.get(key) or 0) for info in cell.infos.values()) for key in INFO_NUMBERS}
    row = {"iteration": cell.iteration, "model": cell.model, "attempted": len(get_attempted(cell))}
    row |= {status: statuses.get(status, 0) for status in an.INSTANCE_STATUSES}
    row |= {
        "resolved": None if resolved is None else len(resolved),
        "infra_failure": len(infra & get_attempted(cell)),
        "report": cell.report_path if cell.report is not None else None,
        "exit_statuses": an.count_values((i.get("exit_status", "unknown") for i in cell.infos.values()), EXIT_STATUSES),
        "cost_per_resolved": an.divide_or_none(totals["cost"], len(resolved) if resolved else None),
        "resolved_ids": None if resolved is None else sorted(resolved),
    }
    return row | {key: round(value, 6) if key in FRACTIONAL else int(value) for key, value in totals.items()}


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
    final = iterations[-1]["resolved"] if iterations else None
    return {
        "total": total,
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
        "iterations": iterations,
        "models": rows,
        "oracle": oracle,
        "cost": summarise_cost(rows, iterations, oracle),
        "charts": {},
    }


# ---------------------------------------------------------------- charts and markdown


def write_charts(summary: dict, out_dir: Path) -> dict[str, str]:
    """Draw every chart the summary has data for; returns chart name -> file name inside `out_dir`."""
    made = {}
    total = summary["instances"]
    for entry in summary["iterations"]:
        if entry["overlap"]:
            sets = get_iteration_sets(entry, summary["models"])
            name = f"overlap_iter_{entry['iteration']}.png"
            charts.make_overlap_chart(sets, out_dir / name, f"Iteration {entry['iteration']}: resolved by model", total)
            made[f"overlap_iter_{entry['iteration']}"] = name
    made |= write_iteration_charts(summary, out_dir)
    scored = {f"iter {r['iteration']} / {r['model']}": r["resolved"]
              for r in summary["models"] if r["resolved"] is not None}
    if scored:
        charts.make_horizontal_bar_chart(scored, out_dir / "resolved_per_model.png", "Resolved per model", "instances",
                                         by_size=False)
        made["resolved_per_model"] = "resolved_per_model.png"
    return made


def write_iteration_charts(summary: dict, out_dir: Path) -> dict[str, str]:
    done = [entry for entry in summary["iterations"] if entry["cumulative_oracle"] is not None]
    if not done:
        return {}
    names = [f"Iteration {entry['iteration']}" for entry in done]
    labels = [name + (f"\n(all {len(e['models'])} models)" if len(e["models"]) > 1 else "")
              for name, e in zip(names, done)]
    charts.make_bar_chart(dict(zip(labels, [e["resolved"] for e in done])), out_dir / "resolved_by_iteration.png",
                          "Total Issues Resolved by Iteration", "instances resolved")
    series = {
        "resolved (baseline)": [e["resolved"] for e in done],
        "resolved by any model": [e["resolved_by_any"] for e in done],
        "oracle up to iteration": [e["cumulative_oracle"] for e in done],
    }
    colors = (charts.RESOLVED_COLOR, charts.FIX_COLOR, charts.ORACLE_COLOR)
    charts.make_grouped_bar_chart(names, series, out_dir / "oracle_by_iteration.png",
                                  "Resolved vs oracle by iteration", "instances", colors)
    made = {"resolved_by_iteration": "resolved_by_iteration.png", "oracle_by_iteration": "oracle_by_iteration.png"}
    if len(done) > 1:
        later = done[1:]
        charts.make_fixes_regressions_chart(names[1:], [e["new_fixes"] for e in later],
                                            [e["regressions"] for e in later], out_dir / "fixes_vs_regressions.png")
        made["fixes_vs_regressions"] = "fixes_vs_regressions.png"
    return made


def render_summary(summary: dict) -> str:
    """summary.md: the report as markdown tables with links to the charts beside it."""
    parts = [f"# patchmix report: {summary['run_id']}",
             f"{summary['instances']} instances in the run; evaluated: {summary['evaluated']}."]
    if summary["notes"]:
        parts.append("## Notes\n\n" + "\n".join(f"- {note}" for note in summary["notes"]))
    parts += [render_iterations(summary), render_models(summary)]
    parts += [render_overlap(entry, summary["charts"]) for entry in summary["iterations"] if entry["overlap"]]
    parts += [render_changes(summary), render_oracle(summary), render_exit_statuses(summary), render_cost(summary)]
    return "\n\n".join(part for part in parts if part) + "\n"


def chart_link(charts_made: dict, name: str, text: str) -> str:
    return f"![{text}]({charts_made[name]})" if name in charts_made else ""


def render_iterations(summary: dict) -> str:
    total = summary["instances"]
    rows = [
        (e["iteration"], ", ".join(e["models"]), e["baseline_rule"], e["resolved"],
         an.format_percent(e["resolved"], total), e["resolved_by_any"], e["cumulative_oracle"], e["new_fixes"],
         e["regressions"], e["net_change"])
        for e in summary["iterations"]
    ]
    headers = ("iteration", "models", "resolved means", "resolved", "% of run", "resolved by any model",
               "oracle up to here", "new fixes", "regressions", "net")
    link = chart_link(summary["charts"], "resolved_by_iteration", "Total issues resolved by iteration")
    return "\n\n".join(filter(None, ["## Resolved by iteration", an.make_markdown_table(headers, rows), link]))


def render_models(summary: dict) -> str:
    total = summary["instances"]
    unique = get_unique_counts(summary)
    rows = [
        (r["iteration"], r["model"], r["attempted"], r["resolved"], an.format_percent(r["resolved"], total),
         r[an.UNRESOLVED], r[an.EMPTY_PATCH], r[an.EVAL_ERROR], r[an.NOT_EVALUATED], r[an.NOT_RUN],
         r["infra_failure"], unique.get((r["iteration"], r["model"])))
        for r in summary["models"]
    ]
    headers = ("iteration", "model", "attempted", "resolved", "% of run", "unresolved", "empty patch",
               "eval error", "not evaluated", "not run", "likely infra failure", "unique in iteration")
    link = chart_link(summary["charts"], "resolved_per_model", "Resolved per model")
    return "\n\n".join(filter(None, ["## Resolved per model", an.make_markdown_table(headers, rows), link]))


def get_unique_counts(summary: dict) -> dict[tuple[int, str], int]:
    counts = {}
    for entry in summary["iterations"]:
        for model, count in (entry["overlap"] or {}).get("unique", {}).items():
            counts[(entry["iteration"], model)] = count
    return counts


def render_overlap(entry: dict, charts_made: dict) -> str:
    overlap, k = entry["overlap"], entry["iteration"]
    n = len(entry["models"])
    rows = [(f"all {n}", overlap["all"], an.format_percent(overlap["all"], overlap["total"]))]
    counts = overlap["exactly"]
    rows += [(f"exactly {j}", counts[str(j)], an.format_percent(counts[str(j)], overlap["total"]))
             for j in range(n - 1, 0, -1)]
    rows.append(("none", overlap["none"], an.format_percent(overlap["none"], overlap["total"])))
    pairs = [(p["a"], p["b"], p["both"], p["only_a"], p["only_b"], p["jaccard"]) for p in overlap["pairwise"]]
    return "\n\n".join(filter(None, [
        f"## Iteration {k}: overlap between models",
        an.make_markdown_table(("resolved by", "instances", "% of run"), rows),
        chart_link(charts_made, f"overlap_iter_{k}", f"Iteration {k} overlap"),
        an.make_markdown_table(("model A", "model B", "both", "only A", "only B", "Jaccard"), pairs),
        an.make_markdown_table(("model", "unique solves"), overlap["unique"].items()),
    ]))


def render_changes(summary: dict) -> str:
    later = [e for e in summary["iterations"][1:] if e["new_fixes"] is not None]
    if not later:
        return ""
    rows = [(f"{e['iteration'] - 1} → {e['iteration']}", e["new_fixes"], e["regressions"], e["net_change"],
             e["resolved"]) for e in later]
    headers = ("iterations", "new fixes", "regressions", "net", "resolved after")
    link = chart_link(summary["charts"], "fixes_vs_regressions", "Regression vs new fixes between iterations")
    note = ("Each iteration is compared with the baseline of the one before: the intersection of its models' "
            "resolved sets when it has several models, the model's resolved set otherwise.")
    table = an.make_markdown_table(headers, rows)
    return "\n\n".join(filter(None, ["## New fixes and regressions", note, table, link]))


def render_oracle(summary: dict) -> str:
    oracle = summary["oracle"]
    if oracle["resolved"] is None:
        return ""
    rows = [(e["iteration"], e["resolved_by_any"], e["cumulative_oracle"]) for e in summary["iterations"]]
    partial = "" if oracle["complete"] else " (only the evaluated candidates; some are not evaluated)"
    text = (f"An oracle that picks a resolving candidate whenever one exists resolves **{oracle['resolved']}** of "
            f"{summary['instances']} ({an.format_percent(oracle['resolved'], summary['instances'])}){partial}.")
    table = an.make_markdown_table(("iteration", "resolved by any model", "oracle up to iteration"), rows)
    link = chart_link(summary["charts"], "oracle_by_iteration", "Resolved vs oracle by iteration")
    return "\n\n".join(filter(None, ["## Oracle", text, table, link]))


def render_exit_statuses(summary: dict) -> str:
    seen = {status for row in summary["models"] for status in row["exit_statuses"]}
    ordered = [s for s in EXIT_STATUSES if s in seen] + sorted(seen - set(EXIT_STATUSES))
    rows = [(r["iteration"], r["model"], *(r["exit_statuses"].get(s, 0) for s in ordered)) for r in summary["models"]]
    return "## Exit statuses\n\n" + an.make_markdown_table(("iteration", "model", *ordered), rows)


def render_cost(summary: dict) -> str:
    rows = [
        (r["iteration"], r["model"], an.format_dollars(r["cost"]), an.format_dollars(r["cost_per_resolved"]),
         round(r["steps"] / r["attempted"], 1) if r["attempted"] else None, f"{int(r['tokens_in']):,}",
         f"{int(r['tokens_out']):,}",
         an.format_duration(r["wall_seconds"]))
        for r in summary["models"]
    ]
    headers = ("iteration", "model", "cost", "$ / resolved", "mean steps", "tokens in", "tokens out",
               "agent time (h:mm:ss)")
    per_iteration = [(e["iteration"], an.format_dollars(e["cost"]), an.format_dollars(e["cost_per_resolved"]))
                     for e in summary["iterations"]]
    cost = summary["cost"]
    total = (f"Total {an.format_dollars(cost['total'])}; per instance resolved by the last iteration "
             f"{an.format_dollars(cost['per_final_resolved'])}; per oracle-resolved instance "
             f"{an.format_dollars(cost['per_oracle_resolved'])}.")
    return "\n\n".join([
        "## Cost", total, an.make_markdown_table(headers, rows),
        an.make_markdown_table(("iteration", "cost", "$ / instance resolved by any model"), per_iteration),
    ])


def write_report(run_dir: Path) -> Path:
    """Read the run, write report/summary.json, report/summary.md and the charts; return summary.md's path."""
    run_dir = Path(run_dir)
    summary = build_summary(read_run(run_dir), run_dir.name)
    out_dir = run_dir / "report"
    summary["charts"] = write_charts(summary, out_dir)
    write_json_atomic(out_dir / "summary.json", summary)
    write_text_atomic(out_dir / "summary.md", render_summary(summary))
    return out_dir / "summary.md"
