"""Where the money went: cost per resolved instance per iteration and per model, the share of spend in runs that
ended without a patch, and what agreement-based skipping saved (runs, an estimate in dollars, and how many of
the skipped instances the carried-forward patch resolved). Pure functions of the cells and the summary rows.

A skipped run costs nothing; its saving is estimated as the mean cost of the runs the same (iteration, model)
did carry out, or of the whole iteration's runs when that model ran none, or left blank when nothing ran.
"""

from __future__ import annotations

from harness.analysis import tables as an
from harness.analysis.runread import Cell
from harness.exceptions import SKIPPED_AGREED, SKIPPED_ROUTED


def is_skipped(info: dict) -> bool:
    """Not run: an agreed patch carried forward, or a routed iteration sent the instance to other models."""
    return info.get("exit_status") in (SKIPPED_AGREED, SKIPPED_ROUTED)


def count_routed(infos) -> int:
    return sum(info.get("exit_status") == SKIPPED_ROUTED for info in infos)


def get_mean_run_cost(infos: list[dict]) -> float | None:
    """The mean cost of the runs that were carried out (not skipped)."""
    costs = [float(info.get("cost") or 0) for info in infos if not is_skipped(info)]
    return sum(costs) / len(costs) if costs else None


def summarise_cell_spend(cell: Cell, row: dict, iteration_mean: float | None) -> dict:
    infos = list(cell.infos.values())
    skipped = sorted(i for i, info in cell.infos.items() if is_skipped(info))
    mean = get_mean_run_cost(infos)
    mean = iteration_mean if mean is None else mean
    cost = sum(float(info.get("cost") or 0) for info in infos)
    no_patch = sum(float(info.get("cost") or 0) for info in infos if not info.get("patch"))
    resolved = set(row["resolved_ids"]) if row["resolved_ids"] is not None else None
    return {
        "iteration": cell.iteration, "model": cell.model, "cost": round(cost, 6),
        "runs": len(infos) - len(skipped), "skipped": len(skipped), "skipped_ids": skipped,
        "saved_estimate": None if mean is None else round(mean * len(skipped), 6),
        "routed": count_routed(infos),
        "routed_saved_estimate": None if mean is None else round(mean * count_routed(infos), 6),
        "skipped_resolved": None if resolved is None else len(resolved & set(skipped)),
        "resolved_skipped_ids": sorted((resolved or set()) & set(skipped)),
        "no_patch_cost": round(no_patch, 6), "no_patch_share": an.divide_or_none(no_patch, cost),
    }


def summarise_iteration_spend(entry: dict, cells: list[dict]) -> dict:
    skipped_ids = set().union(*(set(c["skipped_ids"]) for c in cells)) if cells else set()
    evaluated = all(c["skipped_resolved"] is not None for c in cells)
    saved = [c["saved_estimate"] for c in cells if c["skipped"]]
    no_patch = sum(c["no_patch_cost"] for c in cells)
    return {
        "iteration": entry["iteration"], "cost": entry["cost"], "resolved_by_any": entry["resolved_by_any"],
        "cost_per_resolved": entry["cost_per_resolved"],
        "runs": sum(c["runs"] for c in cells), "skipped_runs": sum(c["skipped"] for c in cells),
        "routed_runs": sum(c.get("routed", 0) for c in cells),
        "routed_saved_estimate": round(sum(c.get("routed_saved_estimate") or 0 for c in cells), 6),
        "skipped_instances": len(skipped_ids),
        "skipped_instances_resolved": len(get_skipped_resolved(cells)) if evaluated else None,
        "saved_estimate": None if None in saved else round(sum(saved), 6),
        "no_patch_cost": round(no_patch, 6), "no_patch_share": an.divide_or_none(no_patch, entry["cost"]),
    }


def get_skipped_resolved(cells: list[dict]) -> set[str]:
    """Skipped instances whose carried-forward patch some model of the iteration had resolved."""
    return set().union(*(set(c["resolved_skipped_ids"]) for c in cells)) if cells else set()


def summarise_models(rows: list[dict], cells: list[dict]) -> list[dict]:
    """Per model label, over every iteration it worked: cost, resolved, $ per resolved, no-patch share."""
    found = []
    for label in dict.fromkeys(row["model"] for row in rows):
        mine = [row for row in rows if row["model"] == label]
        cost = sum(row["cost"] for row in mine)
        no_patch = sum(c["no_patch_cost"] for c in cells if c["model"] == label)
        evaluated = all(row["resolved"] is not None for row in mine)
        resolved = sum(row["resolved"] for row in mine) if evaluated else None
        found.append({"model": label, "iterations": [row["iteration"] for row in mine], "cost": round(cost, 6),
                      "resolved": resolved, "cost_per_resolved": an.divide_or_none(cost, resolved),
                      "no_patch_share": an.divide_or_none(no_patch, cost)})
    return found


def summarise_spend(cells: list[Cell], rows: list[dict], iterations: list[dict]) -> dict:
    """The `spend` part of summary.json."""
    by_key = {(row["iteration"], row["model"]): row for row in rows}
    cell_rows = []
    for entry in iterations:
        mine = [cell for cell in cells if cell.iteration == entry["iteration"]]
        mean = get_mean_run_cost([info for cell in mine for info in cell.infos.values()])
        for cell in mine:
            cell_rows.append(summarise_cell_spend(cell, by_key[(cell.iteration, cell.model)], mean))
    per_iteration = [summarise_iteration_spend(entry, [c for c in cell_rows if c["iteration"] == entry["iteration"]])
                     for entry in iterations]
    total = sum(entry["cost"] for entry in iterations)
    no_patch = sum(c["no_patch_cost"] for c in cell_rows)
    return {"cells": cell_rows, "iterations": per_iteration, "models": summarise_models(rows, cell_rows),
            "no_patch_cost": round(no_patch, 6), "no_patch_share": an.divide_or_none(no_patch, total),
            "skipped_runs": sum(e["skipped_runs"] for e in per_iteration),
            "routed_runs": sum(e.get("routed_runs", 0) for e in per_iteration),
            "routed_saved_estimate": round(sum(e.get("routed_saved_estimate") or 0 for e in per_iteration), 6),
            "saved_estimate": sum(e["saved_estimate"] or 0 for e in per_iteration)}


def format_runs(count: int) -> str:
    return f"{count} run" + ("" if count == 1 else "s")


def format_share(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def render_spend(summary: dict) -> str:
    """The report's section on spend per resolved instance, spend without a patch and skipping."""
    spend = summary.get("spend")
    if not spend:
        return ""
    rows = [(e["iteration"], an.format_dollars(e["cost"]), e["resolved_by_any"],
             an.format_dollars(e["cost_per_resolved"]), format_share(e["no_patch_share"]), e["runs"],
             e["skipped_runs"], an.format_dollars(e["saved_estimate"]) if e["skipped_runs"] else "–",
             f"{e['skipped_instances_resolved']} of {e['skipped_instances']}" if e["skipped_instances"] else "–")
            for e in spend["iterations"]]
    headers = ("iteration", "cost", "resolved by any model", "$ / resolved", "spend with no patch", "runs",
               "runs skipped (agreed or routed)", "$ saved (est.)", "skipped instances resolved")
    models = [(m["model"], ", ".join(map(str, m["iterations"])), an.format_dollars(m["cost"]), m["resolved"],
               an.format_dollars(m["cost_per_resolved"]), format_share(m["no_patch_share"])) for m in spend["models"]]
    agreed = spend["skipped_runs"] - spend.get("routed_runs", 0)
    text = (f"{format_share(spend['no_patch_share'])} of the spend went to runs that ended without a patch."
            + render_routed(spend)
            + (f" Skipping instances whose earlier patches agreed saved {format_runs(agreed)}, about "
               f"{an.format_dollars(spend['saved_estimate'] - spend.get('routed_saved_estimate', 0))} (each skipped "
               "run priced at the mean cost of the runs its model did in that iteration); a skipped run's "
               "carried-forward patch counts, at no cost, for what it resolves." if agreed else ""))
    return "\n\n".join([
        "## Spend per resolved instance", text, an.make_markdown_table(headers, rows),
        an.make_markdown_table(("model", "iterations", "cost", "resolved (sum over iterations)", "$ / resolved",
                                "spend with no patch"), models),
    ])


def render_routed(spend: dict) -> str:
    """A sentence on what routing saved, or nothing when no iteration was routed."""
    routed = spend.get("routed_runs", 0)
    if not routed:
        return ""
    return (f" Routing ran each instance only on its routed models: {format_runs(routed)} not started against "
            f"running every model, about {an.format_dollars(spend['routed_saved_estimate'])} saved (each priced at "
            "the mean cost of the runs its model did in that iteration).")
