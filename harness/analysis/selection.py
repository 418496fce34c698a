"""The selection stage's result in the report: what each rule's pick and the fitted selector's pick resolve,
read from `RUN/selected/` (written by `patchmix select RUN`). Reading only."""

from __future__ import annotations

import json
from pathlib import Path

from harness.analysis import tables as an


def read_selection(run_dir: Path) -> dict | None:
    """{"rules": {name: resolved}, "selector": {...} or None}, or None when selection has not run."""
    rules_path, combined_path = run_dir / "selected" / "summary.json", run_dir / "selected" / "combined" / "summary.json"
    if not rules_path.is_file() and not combined_path.is_file():
        return None
    rules = json.loads(rules_path.read_text()) if rules_path.is_file() else {"strategies": {}}
    return {"rules": {name: entry["resolved"] for name, entry in rules["strategies"].items()},
            "selector": json.loads(combined_path.read_text()) if combined_path.is_file() else None}


def render_selection(summary: dict) -> str:
    """The `## Selection` part: one row per way of picking, beside the oracle."""
    selection = summary.get("selection")
    if not selection:
        return ""
    rows = [(name, resolved) for name, resolved in selection["rules"].items()]
    if selection["selector"]:
        rows.append((f"selector ({selection['selector']['selector']})", selection["selector"]["resolved"]))
    rows.append(("oracle", summary["oracle"]["resolved"]))
    return "## Selection\n\n" + an.make_markdown_table(("pick", "resolved"), rows)
