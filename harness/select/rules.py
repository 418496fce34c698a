"""Picking one patch per instance among all the candidates of a run, and what each way of picking resolves.

Every (iteration, model) run left a candidate patch. A strategy picks one per instance; since every candidate
was scored by the official harness, the verdict of a pick is known without scoring again, so the strategies
can be compared with each other, with the seed's choice (the last iteration) and with the oracle.

- `last`: the last iteration's patch (the seed's submission);
- `vote`: the patch most candidates agree on, after normalising away what does not change behaviour (blank
  lines, comments, surrounding context, hunk positions); ties go to the group holding a submitted patch, then
  to the later iteration;
- `last-complete`: the latest patch whose run submitted, falling back to salvaged ones.

Each picks among the unflagged candidates when there is any (the integrity scan's flags; `harness.select.flagged`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from unidiff import PatchSet
from unidiff.errors import UnidiffParseError

from harness.exceptions import PatchmixError
from harness.fileio import write_json_atomic, write_jsonl_atomic
from harness.analysis.runread import Cell, read_run
from harness.pipeline.rundir import is_finished_info
from harness.select.flagged import list_flag_reasons, prefer_clean

COMMENT = re.compile(r"^\s*(#|//)")
STRATEGIES = ("last", "vote", "last-complete")


@dataclass
class Candidate:
    iteration: int
    model: str
    patch: str
    exit_status: str
    flags: tuple = ()  # the integrity scan's flags of the patch (harness.agent.integrity.scan)


def normalize_patch(patch: str) -> tuple:
    """What a patch changes, ignoring blank lines, comments, context and positions; unparsable text as is."""
    try:
        files = PatchSet(patch)
    except UnidiffParseError:
        files = None
    if not files:
        return ("raw", patch.strip())
    changes = []
    for patched in files:
        lines = [(line.line_type, line.value.strip()) for hunk in patched for line in hunk
                 if line.line_type in "+-" and line.value.strip() and not COMMENT.match(line.value)]
        changes.append((patched.path, tuple(lines)))
    return tuple(sorted(changes))


def read_candidates(cells: list[Cell]) -> dict[str, list[Candidate]]:
    """instance_id -> its candidates with a patch, in iteration order, from the finished trajectories (a run
    that will be redone, after an infrastructure error or an interruption, is no candidate yet)."""
    found: dict[str, list[Candidate]] = defaultdict(list)
    for cell in sorted(cells, key=lambda c: (c.iteration, c.model)):
        for instance, info in sorted(cell.infos.items()):
            if is_finished_info(info) and info.get("patch"):
                flags = tuple(f"{f.get('path')}: {f.get('reason')}" for f in info.get("integrity") or []) \
                    if "integrity" in info else list_flag_reasons(info["patch"])
                found[instance].append(Candidate(cell.iteration, cell.model, info["patch"], info["exit_status"],
                                                 flags))
    return found


def pick_last(candidates: list[Candidate]) -> Candidate:
    return candidates[-1]


def pick_last_complete(candidates: list[Candidate]) -> Candidate:
    complete = [c for c in candidates if c.exit_status == "submitted"]
    return (complete or candidates)[-1]


def pick_vote(candidates: list[Candidate]) -> Candidate:
    groups: dict[tuple, list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        groups[normalize_patch(candidate.patch)].append(candidate)

    def rank(group: list[Candidate]) -> tuple:
        return (len(group), any(c.exit_status == "submitted" for c in group), max(c.iteration for c in group))

    return pick_last_complete(max(groups.values(), key=rank))


PICKERS = {"last": pick_last, "vote": pick_vote, "last-complete": pick_last_complete}


def get_resolved(cells: list[Cell]) -> dict[tuple[int, str], set[str]]:
    """(iteration, model) -> the instances the harness scored resolved, for every scored predictions file."""
    return {(c.iteration, c.model): set(c.report["resolved_ids"]) for c in cells if c.report is not None}


def select_patches(run_dir: Path) -> dict:
    """Apply every strategy; write selected/<strategy>/preds.jsonl and selected/summary.json."""
    run_dir = Path(run_dir)
    cells = read_run(run_dir) if any(run_dir.glob("iter_*")) else []
    candidates = read_candidates(cells)
    if not candidates:
        raise PatchmixError(f"{run_dir} has no finished run with a patch; run `patchmix run CONFIG` first")
    resolved = get_resolved(cells)
    summary = {"instances_with_a_candidate": len(candidates),
               "oracle": sum(1 for i, cs in candidates.items() if any(is_resolved(c, i, resolved) for c in cs)),
               "scored": bool(resolved), "strategies": {}}
    for name, pick in PICKERS.items():
        picks = {instance: pick(prefer_clean(cs, lambda c: bool(c.flags)))
                 for instance, cs in sorted(candidates.items())}
        write_jsonl_atomic(run_dir / "selected" / name / "preds.jsonl", [
            {"instance_id": i, "model_name_or_path": f"{run_dir.name}__select-{name}", "model_patch": c.patch}
            for i, c in picks.items()])
        summary["strategies"][name] = summarise_picks(picks, resolved)
    write_json_atomic(run_dir / "selected" / "summary.json", summary)
    return summary


def is_resolved(candidate: Candidate, instance: str, resolved: dict) -> bool:
    return instance in resolved.get((candidate.iteration, candidate.model), set())


def summarise_picks(picks: dict[str, Candidate], resolved: dict) -> dict:
    sources: dict[str, int] = defaultdict(int)
    for candidate in picks.values():
        sources[f"iter_{candidate.iteration}/{candidate.model}"] += 1
    scored = [i for i, c in picks.items() if (c.iteration, c.model) in resolved]
    return {"resolved": sum(1 for i in scored if is_resolved(picks[i], i, resolved)), "scored": len(scored),
            "picked_from": dict(sorted(sources.items()))}


def format_selection(summary: dict) -> str:
    lines = [f"{summary['instances_with_a_candidate']} instances have at least one candidate patch; "
             f"the oracle resolves {summary['oracle']}.", "strategy        resolved  (of scored picks)"]
    for name, entry in summary["strategies"].items():
        lines.append(f"{name:<15} {entry['resolved']:>8}  ({entry['scored']})")
    if not summary["scored"]:
        lines.append("no evaluation found: run `patchmix evaluate RUN` first to know what each pick resolves")
    return "\n".join(lines)
