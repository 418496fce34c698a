"""The report of one run: reads `runs/<run_id>/`, writes `report/summary.md`, `report/summary.json` and charts.

Reading is the only I/O besides writing the report; the numbers come from `harness.analysis.tables`. An instance the
harness gave no verdict for (no report, an evaluation error) is counted as such and named in the notes, never
silently folded into "unresolved". Entry point: `write_report(run_dir)`.
"""

from __future__ import annotations

from pathlib import Path

from harness.analysis.selection import read_selection, render_selection
from harness.analysis import tables as an
from harness.analysis import charts
from harness.durations import format_duration
from harness.exceptions import EXIT_STATUSES
from harness.fileio import write_json_atomic, write_text_atomic

from harness.analysis.attempts import render_integrity, summarise_integrity
from harness.analysis.denominator import describe_denominator
from harness.analysis.runread import get_universe, read_run
from harness.analysis.breakdown import render_breakdown, summarise_breakdowns
from harness.analysis.numbers import build_summary, get_iteration_sets
from harness.analysis.site import write_site
from harness.analysis.spend import format_share, render_spend
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
    selected = summary.get("selected")
    of_selected = f" of the {selected} the config selects" if selected else ""
    parts = [f"# patchmix report: {summary['run_id']}",
             f"{summary['instances']} instances attempted{of_selected}; evaluated: {summary['evaluated']}."]
    if summary.get("scoring"):
        parts.append(summary["scoring"])
    if summary["notes"]:
        parts.append("## Notes\n\n" + "\n".join(f"- {note}" for note in summary["notes"]))
    parts += [render_iterations(summary), render_models(summary)]
    parts += [render_breakdown(name, rows) for name, rows in (summary.get("breakdowns") or {}).items()]
    parts += [render_overlap(entry, summary["charts"]) for entry in summary["iterations"] if entry["overlap"]]
    parts += [render_changes(summary), render_oracle(summary), render_selection(summary),
              render_exit_statuses(summary), render_cost(summary),
              render_spend(summary)]
    return "\n\n".join(part for part in parts if part) + "\n"


def get_percent_of(summary: dict) -> int:
    """What percentages divide by: the selected instances when known (see `denominator`), else the attempted."""
    return summary.get("percent_of") or summary["instances"]


def get_percent_label(summary: dict) -> str:
    return summary.get("percent_label") or f"% of {summary['instances']} attempted"


def chart_link(charts_made: dict, name: str, text: str) -> str:
    return f"![{text}]({charts_made[name]})" if name in charts_made else ""


def render_iterations(summary: dict) -> str:
    total = get_percent_of(summary)
    rows = [
        (e["iteration"], ", ".join(e["models"]), e["baseline_rule"], e["resolved"],
         an.format_percent(e["resolved"], total), e["resolved_by_any"], e["cumulative_oracle"], e["new_fixes"],
         e["regressions"], e["net_change"])
        for e in summary["iterations"]
    ]
    headers = ("iteration", "models", "resolved means", "resolved", get_percent_label(summary),
               "resolved by any model",
               "oracle up to here", "new fixes", "regressions", "net")
    link = chart_link(summary["charts"], "resolved_by_iteration", "Total issues resolved by iteration")
    return "\n\n".join(filter(None, ["## Resolved by iteration", an.make_markdown_table(headers, rows), link]))


def render_models(summary: dict) -> str:
    total = get_percent_of(summary)
    unique = get_unique_counts(summary)
    rows = [
        (r["iteration"], r["model"], r["attempted"], r["resolved"], an.format_percent(r["resolved"], total),
         r[an.UNRESOLVED], r[an.EMPTY_PATCH], r[an.EVAL_ERROR], r[an.NOT_EVALUATED], r[an.NOT_RUN],
         r["infra_failure"], unique.get((r["iteration"], r["model"])))
        for r in summary["models"]
    ]
    headers = ("iteration", "model", "attempted", "resolved", get_percent_label(summary), "unresolved",
               "empty patch",
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
        an.make_markdown_table(("resolved by", "instances", f"% of {overlap['total']} attempted"), rows),
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
    total = get_percent_of(summary)
    text = (f"An oracle that picks a resolving candidate whenever one exists resolves **{oracle['resolved']}** of "
            f"{total} {get_percent_label(summary).split()[-1]} instances "
            f"({an.format_percent(oracle['resolved'], total)}){partial}.")
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
         f"{int(r['tokens_out']):,}", format_share(r.get("cache_hit_share")),
         an.format_dollars(r.get("cost_per_resolved_uncached")), format_duration(r["wall_seconds"]))
        for r in summary["models"]
    ]
    headers = ("iteration", "model", "cost", "$ / resolved", "mean steps", "tokens in", "tokens out",
               "cache hits (of tokens in)", "$ / resolved without caching", "agent time (h:mm:ss)")
    per_iteration = [(e["iteration"], an.format_dollars(e["cost"]), an.format_dollars(e["cost_per_resolved"]))
                     for e in summary["iterations"]]
    cost = summary["cost"]
    total = (f"Total {an.format_dollars(cost['total'])}; per instance resolved by the last iteration "
             f"{an.format_dollars(cost['per_final_resolved'])}; per oracle-resolved instance "
             f"{an.format_dollars(cost['per_oracle_resolved'])}.")
    return "\n\n".join([
        "## Cost", total + render_caching(cost), an.make_markdown_table(headers, rows),
        an.make_markdown_table(("iteration", "cost", "$ / instance resolved by any model"), per_iteration),
    ])


def render_caching(cost: dict) -> str:
    """What prompt caching saved: the same calls with every prompt token at the input price."""
    if cost.get("total_uncached") is None:
        return ""
    return (f" Without caching the same calls would have cost {an.format_dollars(cost['total_uncached'])} "
            f"({an.format_dollars(cost.get('per_final_resolved_uncached'))} per instance resolved by the last "
            f"iteration): caching saved {an.format_dollars(cost['saved_by_caching'])}, with "
            f"{format_share(cost.get('cache_hit_share'))} of the prompt tokens read from the providers' caches.")


def render_integrity_part(summary: dict) -> str:
    part = render_integrity(summary.get("integrity") or [])
    return "\n" + part + "\n" if part else ""


def write_report(run_dir: Path) -> Path:
    """Read the run, write report/summary.json, report/summary.md, the charts and the run browser (report/site/);
    return summary.md's path."""
    run_dir = Path(run_dir)
    cells = read_run(run_dir)
    summary = build_summary(cells, run_dir.name)
    summary |= describe_denominator(run_dir, summary["instances"])
    out_dir = run_dir / "report"
    summary["charts"] = write_charts(summary, out_dir)
    summary["integrity"] = summarise_integrity(run_dir)
    summary["selection"] = read_selection(run_dir)
    summary["breakdowns"] = summarise_breakdowns(run_dir, summary, get_universe(cells))
    write_json_atomic(out_dir / "summary.json", summary)
    write_text_atomic(out_dir / "summary.md", render_summary(summary) + render_integrity_part(summary))
    write_site(run_dir)  # report/site/: the run browser, built from the files above
    return out_dir / "summary.md"
