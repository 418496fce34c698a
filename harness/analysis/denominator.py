"""What the report's percentages are of: the instances the run's config selects, not only the attempted ones.

A run stopped early (budget, Ctrl-C) attempted fewer instances than it selected; a percentage of the attempted
ones would flatter it. The selection is read again from `config.yaml` (dataset and `instances`) when the
dataset is a local file; for a Hugging Face dataset, which may need the network, the attempted instances are
the denominator and the label says so.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from harness.exceptions import PatchmixError
from harness.pipeline.dataset import LOCAL_SUFFIXES, load_rows, select_rows



def count_selected(run_dir: Path) -> int | None:
    """How many instances the run's config selects, or None when that cannot be known offline."""
    try:
        config = yaml.safe_load((Path(run_dir) / "config.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    dataset = config.get("dataset") if isinstance(config, dict) else None
    name = str((dataset or {}).get("path") or "") if isinstance(dataset, dict) else ""
    if not name.endswith(LOCAL_SUFFIXES):
        return None
    path = Path(name) if Path(name).is_absolute() else Path(run_dir) / name
    chosen = config.get("instances") or {}
    try:
        rows = select_rows(load_rows(str(path), str(dataset.get("split") or "test")), ids=chosen.get("ids"),
                           pattern=chosen.get("filter"), slice_spec=chosen.get("slice"),
                           shuffle_seed=chosen.get("shuffle_seed"))
    except (PatchmixError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return len(rows)


def describe_denominator(run_dir: Path, attempted: int) -> dict:
    """{"selected", "percent_of", "percent_label"}: the count percentages divide by, and the column header."""
    selected = count_selected(run_dir)
    if selected is None or selected < attempted:
        return {"selected": selected, "percent_of": attempted, "percent_label": f"% of {attempted} attempted"}
    return {"selected": selected, "percent_of": selected, "percent_label": f"% of {selected} selected"}
