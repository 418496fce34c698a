"""`patchmix select`: pick with the fitted selector and write predictions and reasons; `--evaluate`: held-out
figures on a scored pool. Thin glue between the pool, the selector, the evaluation and the files."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from harness.agent.config import AgentConfig, ContainerConfig, ModelConfig
from harness.languages import is_python_row
from harness.exceptions import PatchmixError
from harness.pipeline.dataset import load_rows
from harness.pipeline.ledger import Budget, Ledger
from harness.pipeline.load import expand_env
from harness.fileio import write_json_atomic, write_jsonl_atomic, write_text_atomic
from harness.select.clusters import IssueClusters, place_issues, read_issue_clusters
from harness.select.crossfit import evaluate
from harness.select.combiner import Combiner
from harness.select.execresults import EXECUTION_FILE, attach_execution, list_execution
from harness.select.execute import pick_with_regressions
from harness.select.judge import Judge, judge_pick
from harness.select.pool import Candidate, is_scored, load_pool
from harness.select.reproduce import write_reproduction
from harness.select.selector import Pick, Selector, fit_selector, make_views, pick
from harness.select.scorecard import format_summaries, plot_summaries, summarise
from harness.select.stated import use_priors


def parse_top_k(value: str) -> int | None:
    """`all` or a positive number of systems."""
    if value == "all":
        return None
    if not value.isdigit() or int(value) < 1:
        raise PatchmixError(f"--top-k {value!r}: give a positive number of systems or 'all'")
    return int(value)


def run_evaluation(sources: list[str], top_ks: list[int | None], seeds: int, folds: int,
                   leave_systems_out: bool, out: Path, clusters: Path | None = None, issues: str | None = None) -> str:
    """Held-out figures for each top-k pool (k-fold over instances, and leave-systems-out when asked); with
    `clusters` (a routing profile) and `issues`, the per-cluster prior is one more signal."""
    started = time.monotonic()
    pool = load_pool(sources)
    if not is_scored(pool):
        raise PatchmixError("the pool has candidates without a verdict: --evaluate needs a scored pool "
                            "(`patchmix evaluate RUN` first, or a candidates file with `resolved`)")
    placed = place_clusters([pool], read_issue_clusters(clusters) if clusters else None, issues)
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
            f"({time.monotonic() - started:.0f} s){placed}\n\n{text}\n\n"
            f"figures in {out}/evaluation.md, .json; chart {chart}")


def place_clusters(pools: list[list[Candidate]], clusters: IssueClusters | None, issues: str | None) -> str:
    """Each candidate's issue cluster, when clusters are asked for; a line to print ("" when not)."""
    if clusters is None:
        return ""
    if not issues:
        raise PatchmixError("issue clusters need the issues' texts: give --issues DATASET (a .jsonl or .json with "
                            "instance_id, repo and problem_statement per row)")
    return "\n" + place_issues(pools, clusters, issues)


@dataclass
class Checks:
    """What runs on each pick after the combiner; every one needs the rows of `dataset` (the issue, the image)."""

    dataset: str
    execute: bool = True  # the regression signal (the repository's tests) in the instance's container
    reproduce: AgentConfig | None = None  # the reproduction agent: model, limits, container (needs execute)
    judge: ModelConfig | None = None
    judge_budget: float | None = None  # dollars; None: no cap
    container: ContainerConfig | None = None  # the execution signals' containers (None: the defaults)
    prompts_dir: str | None = None  # searched before the shipped prompts, for the judge's template
    ledger: Path | None = None  # a run folder's cost ledger: every call of the checks goes there too
    budget: float = 0.0  # the run folder's budget (read from `ledger`): once spent, no more calls (0: none)


def load_models(path: Path) -> dict[str, ModelConfig]:
    """The `models:` section of a YAML file (a pipeline config serves: `${VAR}` is expanded the same way), by
    label."""
    try:
        data = yaml.safe_load(expand_env(Path(path).read_text())) or {}
        return {label: ModelConfig(**{"label": label, **settings}) for label, settings in data["models"].items()}
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError, ValidationError) as error:
        first = str(error).splitlines()[0]
        raise PatchmixError(f"{path}: no usable `models:` section ({first}); give a pipeline config or a YAML "
                            "file with `models: {LABEL: {name: ..., api_base: ..., api_key_env: ...}}`") from None


def make_checks(dataset: str | None, models_file: str | None = None, reproduce: str | None = None,
                judge: str | None = None, judge_budget: float | None = None) -> Checks | None:
    """The checks `patchmix select` was asked for; a clear error for a missing piece."""
    if not (reproduce or judge):
        return Checks(dataset) if dataset else None
    if not dataset or not models_file:
        raise PatchmixError("--reproduce and --judge need --dataset (the issues and images) and --models FILE "
                            "(a YAML file with a `models:` section, e.g. the pipeline config)")
    models = load_models(Path(models_file))
    for label in (reproduce, judge):
        if label and label not in models:
            raise PatchmixError(f"{models_file} has no model {label!r} (it has: {', '.join(models) or 'none'})")
    return Checks(dataset, True, AgentConfig(model=models[reproduce]) if reproduce else None, models.get(judge or ""),
                  judge_budget)


def check_picks(picks: list[Pick], checks: Checks, out: Path, combiner: Combiner | None = None
                ) -> tuple[list[Pick], dict]:
    """Each pick re-made with the execution signals (scored again by `combiner` with them as features) and the
    judge; returns the picks and what they cost."""
    rows = {row["instance_id"]: row for row in load_rows(checks.dataset)}
    missing = [p.instance_id for p in picks if p.instance_id not in rows]
    if missing:
        raise PatchmixError(f"{checks.dataset} has no row for {missing[0]} (and {len(missing) - 1} more): give "
                            "the dataset the candidates were made on")
    ledger = Ledger(checks.ledger) if checks.ledger else None
    is_spent = Budget(checks.budget, ledger).is_spent if ledger and checks.budget else (lambda: False)

    def record(**where):
        return ledger.make_recorder(stage="select", **where) if ledger else None

    judge = Judge(checks.judge, checks.judge_budget, record(label=checks.judge.label), checks.prompts_dir,
                  is_spent) if checks.judge else None
    costs, checked = {"reproduce": 0.0, "judge": 0.0}, []
    for chosen in picks:
        row, script = rows[chosen.instance_id], ""
        # the reproduction is a Python script run with `python`: for a repository in another language, none
        if checks.reproduce and checks.execute and not is_spent() and is_python_row(row):
            traj_path = out / "reproduce" / f"{row['instance_id']}.traj.json"
            reproduction = write_reproduction(row, checks.reproduce, traj_path, on_call=record(
                label=checks.reproduce.model.label, instance=row["instance_id"]))
            script, costs["reproduce"] = reproduction.script, costs["reproduce"] + reproduction.cost
        if checks.execute:
            chosen = pick_with_regressions(chosen, row, checks.container, script=script, combiner=combiner)
        if judge:
            chosen = judge_pick(chosen, row, judge)
        checked.append(chosen)
    costs["judge"] = judge.spent if judge else 0.0
    return checked, costs


def run_selection(sources: list[str], out: Path, fit_on: list[str] | None, selector_file: Path | None,
                  top_k: int | None, checks: Checks | None = None, clusters: Path | None = None,
                  issues: str | None = None, priors: dict[str, float] | None = None,
                  execution: list[Path] | None = None) -> str:
    """Pick one candidate per instance; write preds.jsonl, reasons.jsonl and selector.json into `out`. With
    `clusters` (a routing profile) and `issues`, the fitted selector weighs the per-cluster prior too; a loaded
    selector that was fitted so places this pool's issues the same way. `priors` (model label or system ->
    published resolve rate, `harness.select.stated`) are the reliability priors of the pool's systems.
    `execution` (files written by an earlier selection with checks) gives candidates their execution signals,
    so that the selector is fitted with them as features."""
    pool = load_pool(sources)
    if execution:
        attach_execution(pool, execution)
    if selector_file:
        if clusters:
            raise PatchmixError("--clusters is for fitting a selector; a --selector FILE places issues with the "
                                "clusters it was fitted with: drop --clusters")
        selector, origin = Selector.load(selector_file), f"the selector in {selector_file}"
        placed = place_clusters([pool], selector.clusters, issues)
        views = make_views(pool)
    else:
        if not fit_on and not is_scored(pool):
            raise PatchmixError("the pool is not scored: give --fit-on SCORED_POOL (or --selector FILE) to fit "
                                "the selector on verdicts, or `patchmix evaluate RUN` first")
        fit_pool = load_pool(fit_on) if fit_on else pool
        if execution and fit_on:
            attach_execution(fit_pool, execution)
        issue_clusters = read_issue_clusters(clusters) if clusters else None
        placed = place_clusters([pool, fit_pool], issue_clusters, issues)
        views = make_views(pool)
        training = views if not fit_on else make_views(fit_pool)
        selector = fit_selector(training, sorted(training), top_k)
        selector.clusters = issue_clusters
        origin = "fitted on " + (", ".join(fit_on) if fit_on else "this pool's own verdicts (in sample)")
    systems = sorted({c.system for v in views.values() for c in v.candidates})
    unknown = use_priors(selector, priors, systems, top_k)
    picks = [p for p in (pick(selector, view, i) for i, view in views.items()) if p is not None]
    costs = {}
    if checks:
        picks, costs = check_picks(picks, checks, out, selector.combiner)
        write_jsonl_atomic(out / EXECUTION_FILE, list_execution(picks))
    write_jsonl_atomic(out / "preds.jsonl", [{"instance_id": p.instance_id, "model_name_or_path": "select",
                                               "model_patch": p.chosen.patch} for p in picks])
    write_jsonl_atomic(out / "reasons.jsonl", [p.get_reasons() for p in picks])
    selector.save(out / "selector.json")
    resolved = [p.chosen.resolved for p in picks if p.chosen.resolved is not None]
    write_json_atomic(out / "summary.json", {"picked": len(picks), "scored": len(resolved),
                                             "resolved": sum(resolved), "selector": origin,
                                             "executed": bool(checks and checks.execute),
                                             "judged": bool(checks and checks.judge), "cost": costs,
                                             **({"priors": len(priors)} if priors else {}),
                                             **({"unknown_systems": unknown} if unknown else {})})
    verdict = f"; {sum(resolved)} of {len(resolved)} scored picks resolve" if resolved else ""
    verdict += "".join(f"; {name} cost ${cost:.4f}" for name, cost in costs.items() if cost)
    note = f"\n{unknown}" if unknown else ""
    return (f"{len(picks)} instances picked among {len(selector.systems)} systems, selector {origin}{verdict}"
            f"{placed}{note}\n"
            f"predictions {out / 'preds.jsonl'}, reasons {out / 'reasons.jsonl'}, selector {out / 'selector.json'}")
