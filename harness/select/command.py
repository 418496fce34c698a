"""`patchmix select`: pick with the fitted selector and write predictions and reasons; `--evaluate`: held-out
figures on a scored pool. Thin glue between the pool, the selector, the evaluation and the files."""

from __future__ import annotations

import time
from pathlib import Path

from harness.exceptions import PatchmixError
from harness.fileio import read_json, write_json_atomic, write_jsonl_atomic, write_text_atomic
from harness.select.combiner import Combiner
from harness.select.evaluate import evaluate
from harness.select.pool import is_scored, load_pool
from harness.select.priors import Reliability
from harness.select.selector import Pick, Selector, fit_selector, make_views, pick
from harness.select.summary import format_summaries, plot_summaries, summarise


def parse_top_k(value: str) -> int | None:
    """`all` or a positive number of systems."""
    if value == "all":
        return None
    if not value.isdigit() or int(value) < 1:
        raise PatchmixError(f"--top-k {value!r}: give a positive number of systems or 'all'")
    return int(value)


def run_evaluation(sources: list[str], top_ks: list[int | None], seeds: int, folds: int,
                   leave_systems_out: bool, out: Path) -> str:
    """Held-out figures for each top-k pool (k-fold over instances, and leave-systems-out when asked)."""
    started = time.monotonic()
    pool = load_pool(sources)
    if not is_scored(pool):
        raise PatchmixError("the pool has candidates without a verdict: --evaluate needs a scored pool "
                            "(`patchmix evaluate RUN` first, or a candidates file with `resolved`)")
    views = make_views(pool)
    summaries = []
    for top_k in top_ks:
        name = f"top-{top_k}" if top_k else "all systems"
        summaries.append(summarise(evaluate(views, top_k, seeds, folds), f"{name}, k-fold"))
        if leave_systems_out:
            summaries.append(summarise(evaluate(views, top_k, seeds, folds, True), f"{name}, systems out"))
    write_json_atomic(out / "evaluation.json", summaries)
    text = format_summaries(summaries)
    write_text_atomic(out / "evaluation.md", text + "\n")
    chart = plot_summaries(summaries, out / "evaluation.png")
    return (f"{len(pool)} candidates, {len(views)} instances; {seeds} seeds x {folds} folds "
            f"({time.monotonic() - started:.0f} s)\n\n{text}\n\nfigures in {out}/evaluation.md, .json; chart {chart}")


def save_selector(selector: Selector, path: Path) -> None:
    write_json_atomic(path, {"systems": selector.systems, "reliability": {
        "base": selector.reliability.base, "systems": selector.reliability.systems,
        "counts": [[s, r, *c] for (s, r), c in selector.reliability.counts.items()]},
        "combiner": selector.combiner.to_json()})


def load_selector(path: Path) -> Selector:
    try:
        data = read_json(path)
        counts = {(s, r): (resolved, seen) for s, r, resolved, seen in data["reliability"]["counts"]}
        reliability = Reliability(data["reliability"]["base"], data["reliability"]["systems"], counts)
        return Selector(reliability, data["systems"], Combiner.from_json(data["combiner"]))
    except (OSError, KeyError, TypeError, ValueError) as error:
        raise PatchmixError(f"{path}: not a selector written by `patchmix select` ({error}); fit one again") from error


def check_picks(picks: list[Pick], dataset: str) -> list[Pick]:
    """Each pick re-made with the regression signal, in the instance's container (rows of `dataset`)."""
    from harness.pipeline.dataset import load_rows
    from harness.select.execute import pick_with_regressions

    rows = {row["instance_id"]: row for row in load_rows(dataset)}
    missing = [p.instance_id for p in picks if p.instance_id not in rows]
    if missing:
        raise PatchmixError(f"{dataset} has no row for {missing[0]} (and {len(missing) - 1} more): give the "
                            "dataset the candidates were made on")
    return [pick_with_regressions(p, rows[p.instance_id]) for p in picks]


def run_selection(sources: list[str], out: Path, fit_on: list[str] | None, selector_file: Path | None,
                  top_k: int | None, dataset: str | None = None) -> str:
    """Pick one candidate per instance; write preds.jsonl, reasons.jsonl and selector.json into `out`."""
    pool = load_pool(sources)
    views = make_views(pool)
    if selector_file:
        selector, origin = load_selector(selector_file), f"the selector in {selector_file}"
    else:
        training = views if not fit_on else make_views(load_pool(fit_on))
        if not fit_on and not is_scored(pool):
            raise PatchmixError("the pool is not scored: give --fit-on SCORED_POOL (or --selector FILE) to fit "
                                "the selector on verdicts, or `patchmix evaluate RUN` first")
        selector = fit_selector(training, sorted(training), top_k)
        origin = "fitted on " + (", ".join(fit_on) if fit_on else "this pool's own verdicts (in sample)")
    systems = sorted({c.system for v in views.values() for c in v.candidates})
    if not set(selector.systems) & set(systems):  # fitted on other systems: pick among this pool's
        selector.systems = selector.reliability.rank(systems)[:top_k or None]
    picks = [p for p in (pick(selector, view, i) for i, view in views.items()) if p is not None]
    if dataset:
        picks = check_picks(picks, dataset)
    write_jsonl_atomic(out / "preds.jsonl", [{"instance_id": p.instance_id, "model_name_or_path": "select",
                                               "model_patch": p.chosen.patch} for p in picks])
    write_jsonl_atomic(out / "reasons.jsonl", [p.get_reasons() for p in picks])
    save_selector(selector, out / "selector.json")
    resolved = [p.chosen.resolved for p in picks if p.chosen.resolved is not None]
    write_json_atomic(out / "summary.json", {"picked": len(picks), "scored": len(resolved),
                                             "resolved": sum(resolved), "selector": origin,
                                             "executed": bool(dataset)})
    verdict = f"; {sum(resolved)} of {len(resolved)} scored picks resolve" if resolved else ""
    return (f"{len(picks)} instances picked among {len(selector.systems)} systems, selector {origin}{verdict}\n"
            f"predictions {out / 'preds.jsonl'}, reasons {out / 'reasons.jsonl'}, selector {out / 'selector.json'}")
