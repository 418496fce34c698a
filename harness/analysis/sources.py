"""`patchmix analyze`: the same overlap and oracle tables for results patchmix did not produce.

The sources (`LABEL=PATH` or `PATH`: run reports, per-instance reports, results.json files, lists of ids, CSV
matrices) are read by `harness.analysis.sourcefiles`; this module analyses, charts and renders them.

Entry points: `analyze_sources(specs, out_dir, total)` and `render_analysis(result)`.
"""

from __future__ import annotations

from pathlib import Path

from harness.analysis import tables as an
from harness.analysis import charts
from harness.analysis.breakdown import GROUPINGS, UNKNOWN, break_down, render_breakdown
from harness.analysis.sourcefiles import Source, SourceError, load_sources
from harness.languages import get_row_language
from harness.pipeline.dataset import load_rows
from harness.fileio import write_json_atomic, write_text_atomic

MAX_PAIR_ROWS = 28


def get_total(sources: list[Source], total: int | None) -> tuple[int, str]:
    """The denominator: `total` when given, else every instance id the sources mention."""
    union = set().union(*(s.resolved for s in sources))
    if total is None:
        return len(union.union(*(s.known for s in sources))), "instance ids known to the sources"
    if total < len(union):
        raise SourceError(f"--total {total} is smaller than the {len(union)} instances the sources resolve; "
                          "raise it or leave it out")
    return total, "--total"


def analyze(sources: list[Source], total: int | None = None) -> dict:
    """Per-source counts, overlap, pairwise overlap, unique solves and the oracle, as JSON-ready data."""
    sets = {source.label: set(source.resolved) for source in sources}
    count, total_from = get_total(sources, total)
    overlap = an.get_overlap(sets, count)
    unique = an.get_unique_solves(sets)
    oracle = an.get_union(sets)
    best = max(sources, key=lambda s: len(s.resolved))
    return {
        "sources": [{"label": s.label, "path": s.path, "kind": s.kind, "resolved": len(s.resolved),
                     "known": len(s.known), "unique": len(unique[s.label])} for s in sources],
        "total": count,
        "total_from": total_from,
        "overlap": overlap | {"exactly": {str(k): v for k, v in overlap["exactly"].items()}},
        "pairwise": an.get_pairwise_overlap(sets),
        "unique_ids": unique,
        "oracle": {"resolved": len(oracle), "percent": round(100 * len(oracle) / count, 2) if count else None,
                   "gain_over_best": len(oracle) - len(best.resolved), "best": best.label, "ids": sorted(oracle)},
        "charts": {},
    }


def write_analysis_charts(result: dict, sources: list[Source], out_dir: Path) -> dict[str, str]:
    sets = {source.label: set(source.resolved) for source in sources}
    total = result["total"]
    counts = {s.label: len(s.resolved) for s in sources}
    charts.make_horizontal_bar_chart(counts, out_dir / "resolved_per_source.png",
                                     f"Resolved per source (of {total})", "instances resolved")
    charts.make_bar_chart(result["overlap"]["exactly"], out_dir / "agreement.png",
                          "Instances by number of sources that resolve them", "instances", "sources that resolve")
    made = {"resolved_per_source": "resolved_per_source.png", "agreement": "agreement.png"}
    if len(sets) >= 2:
        charts.make_overlap_chart(sets, out_dir / "overlap.png", "Overlap of resolved instances", total)
        made["overlap"] = "overlap.png"
    if len(sets) >= 3:
        charts.make_pairwise_heatmap(sets, out_dir / "pairwise.png",
                                     "Instances resolved by both (diagonal: each source's total)")
        made["pairwise"] = "pairwise.png"
    return made


def analyze_sources(specs: list[str], out_dir: Path | None = None, total: int | None = None,
                    dataset: str | None = None) -> dict:
    """Load the sources and analyse them, broken down by language and repository (languages known only with
    the `dataset` the results are on); with `out_dir`, also write analysis.json, analysis.md and charts."""
    sources = load_sources(specs)
    known = read_dataset_facts(dataset) if dataset else {}
    if known and total is None:
        total = len(known)
    result = analyze(sources, total)
    instances = sorted(set(known) | set().union(*(s.known | s.resolved for s in sources)))
    resolved = {s.label: set(s.resolved) for s in sources} | {"oracle": set(result["oracle"]["ids"])}
    result["breakdowns"] = {name: break_down(instances, resolved, known, key) for name, key in GROUPINGS}
    if out_dir is not None:
        out_dir = Path(out_dir)
        result["charts"] = write_analysis_charts(result, sources, out_dir)
        write_json_atomic(out_dir / "analysis.json", result)
        write_text_atomic(out_dir / "analysis.md", render_analysis(result))
    return result


def read_dataset_facts(dataset: str) -> dict[str, dict]:
    """instance_id -> {"repo", "language"} of a dataset's rows (a benchmark name, a file or a Hugging Face id)."""
    return {row["instance_id"]: {"repo": str(row.get("repo") or ""), "language": get_row_language(row)}
            for row in load_rows(dataset)}


# ---------------------------------------------------------------- rendering


def render_analysis(result: dict) -> str:
    """The result as markdown (readable as plain text in a terminal)."""
    total = result["total"]
    oracle = result["oracle"]
    parts = [
        "# Resolved-instance analysis",
        f"{len(result['sources'])} sources over {total} instances ({result['total_from']}).",
        render_sources(result),
        render_agreement(result),
        render_pairs(result),
        f"## Oracle\n\nResolved by at least one source: **{oracle['resolved']}** of {total} "
        f"({an.format_percent(oracle['resolved'], total)}), {oracle['gain_over_best']} more than the best single "
        f"source ({oracle['best']}).",
    ]
    parts += [render_breakdown(name, rows) for name, rows in result.get("breakdowns", {}).items()
              if any(row["group"] != UNKNOWN for row in rows)]
    parts += [f"![{name}]({file})" for name, file in result["charts"].items()]
    return "\n\n".join(part for part in parts if part) + "\n"


def render_sources(result: dict) -> str:
    rows = [(s["label"], s["kind"], s["resolved"], an.format_percent(s["resolved"], result["total"]), s["unique"])
            for s in result["sources"]]
    return "## Sources\n\n" + an.make_markdown_table(("source", "kind", "resolved", "%", "unique solves"), rows)


def render_agreement(result: dict) -> str:
    overlap, total = result["overlap"], result["total"]
    n = len(result["sources"])
    rows = [(f"all {n}" if k == n else "none" if k == 0 else f"exactly {k}", overlap["exactly"][str(k)],
             an.format_percent(overlap["exactly"][str(k)], total)) for k in range(n, -1, -1)]
    return "## Overlap\n\n" + an.make_markdown_table(("resolved by", "instances", "%"), rows)


def render_pairs(result: dict) -> str:
    pairs = sorted(result["pairwise"], key=lambda p: (-(p["jaccard"] or 0), p["a"], p["b"]))
    if not pairs:
        return ""
    shown = pairs[:MAX_PAIR_ROWS]
    rows = [(p["a"], p["b"], p["both"], p["only_a"], p["only_b"], p["jaccard"]) for p in shown]
    table = an.make_markdown_table(("A", "B", "both", "only A", "only B", "Jaccard"), rows)
    more = len(pairs) - len(shown)
    tail = f"\n\n{more} less similar pairs are in analysis.json (pass an output folder)." if more else ""
    return "## Pairwise overlap (most similar first)\n\n" + table + tail
