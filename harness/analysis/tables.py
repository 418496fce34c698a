"""Pure analysis of resolved-instance sets: sets in, tables out.

Nothing here reads files or draws. A "sets" argument is a mapping from a label (a model, a run, a source) to
the set of instance ids it resolved; the functions return plain dicts and lists that serialise to JSON as
they are. Terms, as in the method this project follows:

- overlap: how many instances all of the sets resolve, exactly k of them, none of them;
- baseline of an iteration: the instances every model of the iteration resolved (the strict intersection;
  for a one-model iteration, that model's resolved set);
- new fixes of iteration k: in the baseline of k but not in the baseline of k-1; regressions: the reverse;
- oracle: the instances resolved by any candidate (the union), per iteration or over several.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations

Sets = Mapping[str, "set[str] | frozenset[str]"]

# Status of one instance for one (iteration, model), from the harness's run report.
RESOLVED = "resolved"
UNRESOLVED = "unresolved"
EMPTY_PATCH = "empty_patch"
EVAL_ERROR = "eval_error"
NOT_EVALUATED = "not_evaluated"
NOT_RUN = "not_run"
INSTANCE_STATUSES = (RESOLVED, UNRESOLVED, EMPTY_PATCH, EVAL_ERROR, NOT_EVALUATED, NOT_RUN)
# Statuses that carry no verdict: the instance was attempted but the harness gave no answer for it.
UNSCORED_STATUSES = (EVAL_ERROR, NOT_EVALUATED)


def get_union(sets: Sets) -> set[str]:
    """Instances resolved by at least one of the sets (the oracle of those candidates)."""
    return set().union(*sets.values()) if sets else set()


def get_intersection(sets: Sets) -> set[str]:
    """Instances resolved by every one of the sets (empty when there are no sets)."""
    if not sets:
        return set()
    first, *rest = sets.values()
    return set(first).intersection(*rest)


def get_baseline(sets: Sets) -> set[str]:
    """The baseline of one iteration: the strict intersection of its models' resolved sets."""
    return get_intersection(sets)


def describe_baseline(labels: Sequence[str]) -> str:
    """Say in words which rule gave an iteration's resolved count."""
    if len(labels) == 1:
        return f"resolved by {labels[0]}"
    return f"resolved by all {len(labels)} models (intersection)"


def get_resolve_counts(sets: Sets) -> Counter:
    """For each instance resolved by at least one set, how many of the sets resolve it."""
    counts: Counter = Counter()
    for resolved in sets.values():
        counts.update(set(resolved))
    return counts


def get_overlap(sets: Sets, total: int) -> dict:
    """How many of `total` instances all sets resolve, exactly k of them (k = 0..n), and none of them."""
    union_size = len(get_union(sets))
    if total < union_size:
        raise ValueError(f"total {total} is smaller than the {union_size} instances the sets resolve")
    by_count = Counter(get_resolve_counts(sets).values())
    exactly = {k: by_count.get(k, 0) for k in range(1, len(sets) + 1)}
    exactly = {0: total - union_size, **exactly}
    return {
        "labels": list(sets),
        "total": total,
        "all": exactly[len(sets)] if sets else 0,
        "exactly": exactly,
        "none": exactly[0],
        "any": union_size,
    }


def get_pairwise_overlap(sets: Sets) -> list[dict]:
    """One row per pair of sets: resolved by both, by only one of the two, and the Jaccard index."""
    rows = []
    for a, b in combinations(sets, 2):
        set_a, set_b = set(sets[a]), set(sets[b])
        both, either = len(set_a & set_b), len(set_a | set_b)
        rows.append({
            "a": a,
            "b": b,
            "both": both,
            "only_a": len(set_a - set_b),
            "only_b": len(set_b - set_a),
            "jaccard": round(both / either, 4) if either else None,
        })
    return rows


def get_pairwise_matrix(sets: Sets) -> list[list[int]]:
    """Square matrix of shared solves; the diagonal holds each set's own size."""
    values = [set(v) for v in sets.values()]
    return [[len(a & b) for b in values] for a in values]


def get_unique_solves(sets: Sets) -> dict[str, list[str]]:
    """For each set, the instances it resolves that no other set resolves (sorted ids)."""
    counts = get_resolve_counts(sets)
    return {label: sorted(i for i in resolved if counts[i] == 1) for label, resolved in sets.items()}


def get_intersections(sets: Sets) -> list[tuple[tuple[str, ...], int]]:
    """The exclusive intersections that occur: (labels that resolve, number of instances), largest first."""
    members: Counter = Counter()
    for instance in get_union(sets):
        members[tuple(label for label, resolved in sets.items() if instance in resolved)] += 1
    return sorted(members.items(), key=lambda item: (-item[1], len(item[0]), item[0]))


def get_iteration_deltas(baselines: Sequence[set[str]]) -> list[dict]:
    """New fixes and regressions of each iteration against the one before (none for the first)."""
    rows = []
    for before, after in zip(baselines, baselines[1:]):
        new_fixes, regressions = sorted(after - before), sorted(before - after)
        rows.append({
            "new_fixes": len(new_fixes),
            "regressions": len(regressions),
            "net_change": len(new_fixes) - len(regressions),
            "new_fix_ids": new_fixes,
            "regression_ids": regressions,
        })
    return rows


def get_cumulative_unions(unions: Sequence[set[str]]) -> list[set[str]]:
    """The oracle up to each iteration: the union of every candidate of iterations 1..k."""
    cumulative, seen = [], set()
    for union in unions:
        seen = seen | union
        cumulative.append(seen)
    return cumulative


def get_instance_statuses(attempted: Iterable[str], report: Mapping | None) -> dict[str, str]:
    """Classify each attempted instance with the harness's run report (None: not evaluated at all)."""
    if report is None:
        return {instance: NOT_EVALUATED for instance in attempted}
    buckets = (
        (RESOLVED, "resolved_ids"),
        (EMPTY_PATCH, "empty_patch_ids"),
        (UNRESOLVED, "unresolved_ids"),
        (EVAL_ERROR, "error_ids"),
    )
    lookup = {}
    for status, key in reversed(buckets):  # earlier buckets win when an id is listed twice
        lookup.update({instance: status for instance in report.get(key, [])})
    return {instance: lookup.get(instance, NOT_EVALUATED) for instance in attempted}


def count_values(values: Iterable[str], order: Sequence[str] = ()) -> dict[str, int]:
    """Count values; keys in `order` come first (when present), the rest alphabetically."""
    counts = Counter(values)
    known = [key for key in order if key in counts]
    return {key: counts[key] for key in known + sorted(set(counts) - set(known))}


def divide_or_none(numerator: float, denominator: float | None) -> float | None:
    """numerator / denominator, or None when the denominator is missing or zero."""
    if not denominator:
        return None
    return numerator / denominator


def make_markdown_table(headers: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A GitHub markdown table; None shows as an en dash, floats with at most 4 significant decimals."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(format_cell(value) for value in row) + " |")
    return "\n".join(lines)


def format_cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def format_percent(part: int | None, whole: int | None) -> str:
    if part is None or not whole:
        return "–"
    return f"{100 * part / whole:.1f}%"


def format_dollars(value: float | None) -> str:
    if value is None:
        return "–"
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"
