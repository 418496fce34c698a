"""Results broken down by language and by repository: for each group, its instances and how many of them each
(iteration, model) and the oracle resolved. Pure functions, plus the reading of a run's `instances.json`.

A run records each instance's repository and language when it starts (`instances.json`); a folder made before
that, or results from elsewhere (`patchmix analyze`), group by the repository read off the instance id and an
`unknown` language unless a dataset says otherwise.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness.analysis import tables as an
from harness.pipeline.rundir import INSTANCES_FILE
UNKNOWN = "unknown"
REPO_FROM_ID = re.compile(r"^(?P<owner>.+?)__(?P<name>.+)-\d+$")
GROUPINGS = (("language", "language"), ("repository", "repo"))
"""(the table's name, the key of an instance's facts it groups by)"""


def get_repo_from_id(instance_id: str) -> str:
    """`owner/name` read off a SWE-bench id (`owner__name-123`), else `?`."""
    match = REPO_FROM_ID.match(instance_id)
    return f"{match['owner']}/{match['name']}" if match else "?"


def read_instances(run_dir: Path) -> dict[str, dict]:
    """instance_id -> {"repo", "language"} from the run's instances.json; {} when there is none or it is
    unreadable (the report then falls back to what the ids tell)."""
    try:
        data = json.loads((Path(run_dir) / INSTANCES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def get_facts(instance_id: str, known: dict[str, dict]) -> dict:
    facts = known.get(instance_id) or {}
    return {"repo": str(facts.get("repo") or get_repo_from_id(instance_id)),
            "language": str(facts.get("language") or UNKNOWN)}


def break_down(instances: list[str], resolved: dict[str, set[str] | None], known: dict[str, dict],
               key: str) -> list[dict]:
    """One row per group (by `key`: "language" or "repo"), largest first: its instance count and, per label of
    `resolved` (None: not evaluated), how many of its instances that label resolved."""
    groups: dict[str, set[str]] = {}
    for instance_id in instances:
        groups.setdefault(get_facts(instance_id, known)[key], set()).add(instance_id)
    rows = []
    for group, members in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])):
        counts = {label: None if ids is None else len(ids & members) for label, ids in resolved.items()}
        rows.append({"group": group, "instances": len(members), "resolved": counts})
    return rows


def summarise_breakdowns(run_dir: Path, summary: dict, instances: set[str]) -> dict[str, list[dict]]:
    """{"language": rows, "repository": rows} for a run's report: per model (its summary rows) and the oracle,
    over the `instances` the run attempted."""
    resolved = {f"iter {row['iteration']} {row['model']}": None if row["resolved_ids"] is None
                else set(row["resolved_ids"]) for row in summary["models"]}
    evaluated = [ids for ids in resolved.values() if ids is not None]
    resolved["oracle"] = set().union(*evaluated) if evaluated else None
    known = read_instances(run_dir)
    return {name: break_down(sorted(instances), resolved, known, key) for name, key in GROUPINGS}


def render_breakdown(name: str, rows: list[dict]) -> str:
    """A markdown table: group, instances, then `resolved (percent of the group)` per label."""
    if not rows:
        return ""
    labels = list(rows[0]["resolved"])
    table = [(row["group"], row["instances"],
              *(format_count(row["resolved"][label], row["instances"]) for label in labels)) for row in rows]
    return f"## Resolved by {name}\n\n" + an.make_markdown_table((name, "instances", *labels), table)


def format_count(count: int | None, total: int) -> str:
    return "–" if count is None else f"{count} ({an.format_percent(count, total)})"
