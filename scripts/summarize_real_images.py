"""Collect the figures of the real-image work into one results file (a development tool).

    python scripts/summarize_real_images.py OUT_DIR... --results scripts/real_images_results.json

Each OUT_DIR is a `scripts/build_real_images.py --validate` output folder, optionally with a `replay/` folder
written by `patchmix replay ... --out OUT_DIR/replay`, or a `patchmix replay --out` folder itself. Prints a
table; writes the per-instance figures, with what differs between each replayed and recorded patch.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def read_folder(folder: Path) -> dict:
    validations = [json.loads(p.read_text()) for p in folder.glob("*-validation.json")]
    left_out = {k: v for p in folder.glob("*-left-out.json") for k, v in json.loads(p.read_text()).items()}
    replay_path = next((p for p in (folder / "replay" / "replay.json", folder / "replay.json") if p.is_file()),
                       folder / "replay.json")
    replay = json.loads(replay_path.read_text()) if replay_path.is_file() else {"results": []}
    return {"validations": validations, "left_out": left_out, "replay": replay}


def summarise_replay(results: list[dict]) -> dict:
    rows = [{"instance_id": r["instance_id"], "match": r["match"], "resolved": r.get("resolved"),
             "same_verdict": r.get("same_verdict"), "actions": r.get("actions"),
             "timed_out": sum(1 for o in r.get("outcomes", []) if o.get("timed_out")),
             "difference": describe_difference(r.get("patch") or "", r.get("recorded_patch") or "")}
            for r in results]
    return {"replayed": len(rows), "same_patch": sum(r["match"] == "same" for r in rows),
            "same_patch_normalised": sum(r["match"] in ("same", "same_normalised") for r in rows),
            "same_verdict": sum(bool(r["same_verdict"]) for r in rows), "per_instance": rows}


def describe_difference(replayed: str, recorded: str) -> str:
    """What differs between the replayed and the recorded patch, in a few words ("" when nothing does)."""
    if replayed == recorded:
        return ""
    mine, theirs = replayed.splitlines(), recorded.splitlines()
    if len(mine) == len(theirs):
        differing = [(a, b) for a, b in zip(mine, theirs) if a != b]
        if all(a.startswith("index ") and b.startswith("index ") for a, b in differing):
            # `git diff` abbreviates blob ids to a length that grows with the number of objects in the repository
            return "only the abbreviated blob ids of `index` lines (a repository with fewer objects)"
        if all(a.rstrip() == b.rstrip() for a, b in differing):
            return "trailing whitespace only"
    mine_files, theirs_files = split_files(replayed), split_files(recorded)
    same = [path for path in mine_files if theirs_files.get(path) == mine_files[path]]
    if len(same) == len(mine_files) and len(theirs_files) > len(mine_files):
        extra = sorted(set(theirs_files) - set(mine_files))
        return f"the recorded patch also changes {', '.join(extra)}; the files the replay changed are the same"
    return f"{len(set(mine) ^ set(theirs))} lines differ"


def split_files(patch: str) -> dict[str, list[str]]:
    """A patch's per-file blocks by path, without `index` lines (their blob ids' abbreviation varies)."""
    blocks: dict[str, list[str]] = {}
    path = None
    for line in patch.splitlines():
        if line.startswith("diff --git "):
            path = line.split(" b/", 1)[-1]
            blocks[path] = []
        elif path is not None and not line.startswith("index "):
            blocks[path].append(line)
    return blocks


def collect(folders: list[Path]) -> dict:
    parts = [read_folder(folder) for folder in folders]
    checked = [v for part in parts for v in part["validations"]]
    valid = sorted({i for v in checked for i in v["valid"]})
    invalid = {i: "gold not resolved" for v in checked for i in v["gold_not_resolved"]}
    invalid.update({i: "no-op resolved" for v in checked for i in v["noop_resolved"]})
    left_out = {k: v for part in parts for k, v in part["left_out"].items()}
    replay = summarise_replay([r for part in parts for r in part["replay"]["results"]])
    return {"validated": len(valid), "valid_ids": valid, "invalid": invalid, "left_out": left_out,
            "replay": replay}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--results", type=Path, required=True)
    args = parser.parse_args()
    summary = collect(args.folders)
    args.results.write_text(json.dumps(summary, indent=1) + "\n")
    replay = summary["replay"]
    print(f"images valid (gold resolves, no-op does not): {summary['validated']}; invalid: {len(summary['invalid'])}"
          f"; left out: {len(summary['left_out'])}")
    print(f"replays: {replay['replayed']}; same patch: {replay['same_patch']} (normalised: "
          f"{replay['same_patch_normalised']}); same verdict: {replay['same_verdict']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
