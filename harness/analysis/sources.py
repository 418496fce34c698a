"""`patchmix analyze`: the same overlap and oracle tables for results patchmix did not produce.

A source is given as `LABEL=PATH` (or just `PATH`; the label is then the file's stem). The kind of file is
detected from its content:

- a SWE-bench harness run report: a JSON object with `resolved_ids`;
- a per-instance report: a JSON object `{instance_id: {"resolved": bool, ...}}`;
- a `results.json` of a SWE-bench experiments submission: a JSON object with `"resolved": [ids]`;
- a JSON list of resolved instance ids;
- a CSV matrix with an `instance_id` column and one 0/1 column per run; each column is its own source.

Entry points: `analyze_sources(specs, out_dir, total)` and `render_analysis(result)`.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from harness.analysis import tables as an
from harness.analysis import charts
from harness.analysis.breakdown import GROUPINGS, UNKNOWN, break_down, render_breakdown
from harness.languages import get_row_language
from harness.pipeline.dataset import load_rows
from harness.exceptions import ConfigError
from harness.fileio import write_json_atomic, write_text_atomic

ACCEPTED = (
    "accepted: a SWE-bench run report (JSON with resolved_ids), a per-instance report "
    '({id: {"resolved": bool}}), a results.json ({"resolved": [ids]}), a JSON list of ids, '
    "or a CSV with an instance_id column and 0/1 columns"
)
MAX_PAIR_ROWS = 28


class SourceError(ConfigError):
    """A source file that is missing or of no accepted shape; the message is one line."""


@dataclass(frozen=True)
class Source:
    label: str
    path: str
    kind: str
    resolved: frozenset[str]
    known: frozenset[str]
    """Instance ids the source mentions at all (resolved or not); a list of ids knows only its resolved ones."""


# ---------------------------------------------------------------- loading


def parse_spec(spec: str) -> tuple[str | None, Path]:
    """`LABEL=PATH` -> (LABEL, PATH); a bare path (even one holding '=') -> (None, PATH)."""
    if "=" not in spec or Path(spec).exists():
        return None, Path(spec)
    label, path = spec.split("=", 1)
    if not label:
        raise SourceError(f"{spec}: empty label; write LABEL=PATH or just PATH")
    return label, Path(path)


def load_sources(specs: list[str]) -> list[Source]:
    """Load every spec; labels must come out unique."""
    if not specs:
        raise SourceError("no sources given; pass one or more LABEL=PATH (or PATH) arguments")
    sources = [source for spec in specs for source in load_source(spec)]
    seen = set()
    for source in sources:
        if source.label in seen:
            raise SourceError(f"two sources are labelled {source.label!r}; give them distinct labels: LABEL=PATH")
        seen.add(source.label)
    return sources


def load_source(spec: str) -> list[Source]:
    label, path = parse_spec(spec)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SourceError(f"{path}: cannot read it ({error.__class__.__name__}: {error})") from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return read_csv_sources(text, path, label)
    return [read_json_source(data, path, label or path.stem)]


def read_json_source(data, path: Path, label: str) -> Source:
    kind = detect_json_kind(data)
    if kind is None:
        raise SourceError(f"{path}: a JSON {type(data).__name__} of no known shape; {ACCEPTED}")
    resolved, known = READERS[kind](data)
    return Source(label, str(path), kind, frozenset(resolved), frozenset(known | resolved))


def detect_json_kind(data) -> str | None:
    """Name the shape of parsed JSON, or None when it is none of the accepted ones."""
    if isinstance(data, list):
        return "id_list" if all(isinstance(item, str) for item in data) else None
    if not isinstance(data, dict) or not data:
        return None
    if is_id_list(data.get("resolved_ids")):
        return "run_report"
    if is_id_list(data.get("resolved")):
        return "results_json"
    if all(isinstance(v, dict) and isinstance(v.get("resolved"), bool) for v in data.values()):
        return "instance_report"
    return None


def is_id_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def read_id_list(data: list) -> tuple[set[str], set[str]]:
    return set(data), set(data)


def read_run_report(data: dict) -> tuple[set[str], set[str]]:
    """Resolved ids, and every id under a `*_ids` key (submitted, completed, unresolved, empty patch, ...)."""
    known = {i for key, value in data.items() if key.endswith("_ids") and is_id_list(value) for i in value}
    return set(data["resolved_ids"]), known


def read_results_json(data: dict) -> tuple[set[str], set[str]]:
    known = {i for value in data.values() if is_id_list(value) for i in value}
    return set(data["resolved"]), known


def read_instance_report(data: dict) -> tuple[set[str], set[str]]:
    return {i for i, entry in data.items() if entry["resolved"]}, set(data)


READERS = {
    "id_list": read_id_list,
    "run_report": read_run_report,
    "results_json": read_results_json,
    "instance_report": read_instance_report,
}


def read_csv_sources(text: str, path: Path, label: str | None) -> list[Source]:
    """One source per 0/1 column of a CSV matrix keyed by `instance_id`."""
    rows = list(csv.DictReader(io.StringIO(text)))
    columns = [c for c in (rows[0].keys() if rows else []) if c != "instance_id"]
    if not rows or "instance_id" not in rows[0] or not columns:
        raise SourceError(f"{path}: neither JSON nor a CSV with an instance_id column and run columns; {ACCEPTED}")
    known = frozenset(row["instance_id"] for row in rows)
    return [
        Source(name_column(label, column, len(columns)), str(path), "csv_column",
               frozenset(read_csv_column(rows, column, path)), known)
        for column in columns
    ]


def name_column(label: str | None, column: str, count: int) -> str:
    if label is None:
        return column
    return label if count == 1 else f"{label}/{column}"


def read_csv_column(rows: list[dict], column: str, path: Path) -> set[str]:
    resolved = set()
    for number, row in enumerate(rows, start=2):
        value = (row.get(column) or "").strip()
        if value not in ("0", "1"):
            raise SourceError(f"{path}:{number}: column {column!r} holds {value!r}, not 0 or 1; {ACCEPTED}")
        if value == "1":
            resolved.add(row["instance_id"])
    return resolved


# ---------------------------------------------------------------- analysis


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
