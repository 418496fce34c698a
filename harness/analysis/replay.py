"""`patchmix replay`: recorded trajectories replayed on their instances' images, patches compared with the
recorded ones, and (with `--evaluate`) the official verdicts of the replayed patches compared with the recorded.

A patch comparison is `same` (byte for byte), `same_normalised` (equal once `index` lines, trailing spaces and
trailing blank lines are set aside: git abbreviates blob ids to a length that depends on the repository's size),
`different`, or `no_record` (the trajectory holds no patch and no predictions file was given).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

from harness.agent.recordings import Recording, read_recordings
from harness.agent.playback import replay_recording
from harness.exceptions import InfraError, PatchmixError
from harness.fileio import write_json_atomic, write_jsonl_atomic
from harness.pipeline.dataset import check_rows_evaluable, load_rows
from harness.scoring.official import ISOLATED, EvaluationFailed, evaluate_predictions


def replay_files(paths: list[str], dataset: str, out: Path, ids: list[str] | None = None,
                 predictions: str | None = None, resolved: str | None = None, evaluate: bool = False,
                 log=print) -> dict:
    """Replays every trajectory of `paths` whose instance is in `dataset`; writes `<out>/replay.json`."""
    rows = {row["instance_id"]: row for row in load_rows(dataset)}
    recordings = select_recordings([r for path in paths for r in read_recordings(path)], rows, ids)
    check_rows_evaluable([rows[r.instance_id] for r in recordings])
    recorded = read_predictions(predictions) if predictions else {}
    results = [replay_one(recording, rows[recording.instance_id], recorded, log) for recording in recordings]
    summary = {"dataset": dataset, "replayed": len(results), "patches": dict(Counter(r["match"] for r in results)),
               "results": results}
    if evaluate:
        add_verdicts(summary, dataset, out, read_resolved(resolved) if resolved else None)
    write_json_atomic(Path(out) / "replay.json", summary)
    return summary


def select_recordings(recordings: list[Recording], rows: dict, ids: list[str] | None) -> list[Recording]:
    chosen = [r for r in recordings if (not ids or r.instance_id in ids) and r.instance_id in rows]
    if not chosen:
        raise PatchmixError("no trajectory is of an instance of the dataset (or of --ids); pass the dataset "
                            "whose rows name these instances' images")
    return chosen


def replay_one(recording: Recording, row: dict, recorded: dict[str, str], log) -> dict:
    reference = recorded.get(recording.instance_id, recording.patch)
    try:
        result = replay_recording(recording, row)
    except InfraError as error:
        log(f"{recording.instance_id}: the container failed: {error}")
        return {"instance_id": recording.instance_id, "match": "infra_error", "error": str(error)}
    result.update(match=compare_patches(result["patch"], reference), recorded_patch=reference)
    log(f"{recording.instance_id}: {result['match']} ({result['actions']} actions, {result['seconds']} s)")
    return result


def compare_patches(replayed: str, recorded: str | None) -> str:
    if recorded is None:
        return "no_record"
    if replayed == recorded:
        return "same"
    return "same_normalised" if normalise_patch(replayed) == normalise_patch(recorded) else "different"


def normalise_patch(patch: str) -> str:
    lines = [line.rstrip() for line in (patch or "").splitlines() if not line.startswith("index ")]
    return "\n".join(lines).strip()


def read_predictions(path: str) -> dict[str, str]:
    """instance_id -> model_patch of a SWE-bench predictions file (.jsonl or a .json list or mapping)."""
    text = Path(path).read_text(encoding="utf-8")
    if path.endswith(".jsonl"):
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        data = json.loads(text)
        rows = list(data.values()) if isinstance(data, dict) else data
    return {row["instance_id"]: row.get("model_patch") or "" for row in rows}


def read_resolved(path: str) -> set[str]:
    """Resolved ids from a JSON list or a harness report (`resolved_ids`)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return set(data["resolved_ids"] if isinstance(data, dict) else data)


def add_verdicts(summary: dict, dataset: str, out: Path, recorded: set[str] | None) -> None:
    """Scores the replayed patches with the official harness; compares with the recorded verdicts if given."""
    results = [r for r in summary["results"] if "patch" in r]
    preds = [{"instance_id": r["instance_id"], "model_name_or_path": "replay", "model_patch": r["patch"]}
             for r in results]
    write_jsonl_atomic(Path(out) / "preds.jsonl", preds)
    digest = hashlib.sha256(json.dumps(preds, sort_keys=True).encode()).hexdigest()[:10]
    report = score_twice(Path(out) / "preds.jsonl", dataset, f"replay-{digest}", Path(out) / "scratch",
                         [p["instance_id"] for p in preds])
    resolved = set(report.get("resolved_ids", []))
    for result in results:
        result["resolved"] = result["instance_id"] in resolved
        if recorded is not None:
            result["same_verdict"] = result["resolved"] == (result["instance_id"] in recorded)
    summary["resolved"] = len(resolved)
    if recorded is not None:
        summary["same_verdict"] = sum(r.get("same_verdict", False) for r in results)


def score_twice(preds: Path, dataset: str, run_id: str, scratch: Path, ids: list[str], workers: int = 2,
                containers: str = ISOLATED) -> dict:
    """The official harness's report; a harness that fails once is run again with the same run id, which grades
    only what it had not (its final report lists every container and image, and fails when another process
    removes one meanwhile). `containers`: the isolated scoring containers, or the harness's own (OFFICIAL:
    with a network, for eval scripts that reinstall the repository from PyPI)."""
    try:
        return evaluate_predictions(preds, dataset, run_id, scratch, workers=workers, instance_ids=ids,
                                    containers=containers)
    except EvaluationFailed:
        return evaluate_predictions(preds, dataset, run_id, scratch, workers=workers, instance_ids=ids,
                                    containers=containers)


def format_replay(summary: dict) -> str:
    lines = [f"{summary['replayed']} trajectories replayed; patches: "
             + ", ".join(f"{count} {match}" for match, count in sorted(summary["patches"].items()))]
    if "resolved" in summary:
        lines.append(f"replayed patches resolved: {summary['resolved']}")
    if "same_verdict" in summary:
        lines.append(f"same verdict as recorded: {summary['same_verdict']} of {summary['replayed']}")
    lines += [f"  {r['instance_id']}: {r['match']}" for r in summary["results"] if r["match"] != "same"]
    return "\n".join(lines)
