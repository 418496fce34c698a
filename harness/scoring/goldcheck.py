"""`patchmix validate-gold`: score a dataset's own gold patches on this machine, once, before spending money.

An instance whose gold patch does not resolve here (a broken image, a flaky or machine-dependent test) can
never be resolved by a model either: knowing these up front keeps them from being read as model failures.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from harness.pipeline.dataset import check_rows_evaluable, load_rows, select_rows
from harness.scoring.official import ISOLATED, evaluate_predictions
from harness.fileio import write_json_atomic, write_jsonl_atomic


def make_gold_predictions(rows: list[dict]) -> list[dict]:
    return [{"instance_id": row["instance_id"], "model_name_or_path": "gold", "model_patch": row["patch"]}
            for row in rows]


def summarise_gold(rows: list[dict], report: dict) -> dict:
    ids = [row["instance_id"] for row in rows]
    resolved = set(report.get("resolved_ids", []))
    errors = sorted(set(report.get("error_ids", [])) & set(ids))
    return {"checked": len(ids), "resolved": len(resolved & set(ids)),
            "broken_ids": sorted(set(ids) - resolved - set(errors)), "error_ids": errors}


def validate_gold(dataset: str, out_dir: Path, split: str = "test", ids: list[str] | None = None,
                  pattern: str | None = None, workers: int = 2, timeout: int = 1800,
                  containers: str = ISOLATED, pro_scripts_dir: str | Path | None = None) -> dict:
    """Score the gold patches of the selected rows in `containers` (SWE-bench Pro rows with the run scripts in
    `pro_scripts_dir`); writes and returns gold-check.json's content."""
    rows = select_rows(load_rows(dataset, split), ids=ids, pattern=pattern)
    check_rows_evaluable(rows)
    out_dir = Path(out_dir)
    predictions = make_gold_predictions(rows)
    write_jsonl_atomic(out_dir / "gold-preds.jsonl", predictions)
    digest = hashlib.sha256(json.dumps(predictions, sort_keys=True).encode()).hexdigest()[:10]
    report = evaluate_predictions(out_dir / "gold-preds.jsonl", dataset, f"gold-{digest}", out_dir / "scratch",
                                  workers=workers, timeout=timeout,
                                  instance_ids=[row["instance_id"] for row in rows], split=split, containers=containers,
                                  pro_scripts_dir=pro_scripts_dir)
    summary = {"dataset": dataset, "split": split, "containers": containers, **summarise_gold(rows, report)}
    write_json_atomic(out_dir / "gold-check.json", summary)
    return summary


def format_gold_summary(summary: dict) -> str:
    lines = [f"gold patches resolved: {summary['resolved']} of {summary['checked']}"]
    if summary["broken_ids"]:
        lines.append(f"not resolved by their own gold patch ({len(summary['broken_ids'])}): "
                     + " ".join(summary["broken_ids"]))
    if summary["error_ids"]:
        lines.append(f"evaluation errors (missing image, patch did not apply, timeout; run again to retry) "
                     f"({len(summary['error_ids'])}): " + " ".join(summary["error_ids"]))
    return "\n".join(lines)
